//! [`ScoredFlow`]: one flow as the dashboard shows it, with its score and verdict.

use std::net::IpAddr;

use compact_str::CompactString;
use iotguard_flow::FlowRecord;
use serde::Serialize;

use crate::risk::Severity;
use crate::time::rfc3339;

/// One flow after scoring: the columns people look at, the score and the verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScoredFlow {
    /// The flow's start time (RFC 3339).
    pub ts: String,
    /// The sensor's uid for the flow.
    pub uid: Option<CompactString>,
    /// The sensor that saw it.
    pub sensor: Option<CompactString>,
    /// Originator address.
    pub orig_h: Option<IpAddr>,
    /// Originator port.
    pub orig_p: Option<u16>,
    /// Responder address.
    pub resp_h: Option<IpAddr>,
    /// Responder port.
    pub resp_p: Option<u16>,
    /// Transport protocol.
    pub proto: CompactString,
    /// Application protocol, if found.
    pub service: Option<CompactString>,
    /// Connection state (Zeek's `conn_state`).
    pub conn_state: Option<CompactString>,
    /// Zeek's history flags.
    pub history: Option<CompactString>,
    /// Duration in seconds.
    pub duration: Option<f64>,
    /// Payload bytes from the originator.
    pub orig_bytes: Option<u64>,
    /// Payload bytes from the responder.
    pub resp_bytes: Option<u64>,
    /// Packets from the originator.
    pub orig_pkts: Option<u64>,
    /// Packets from the responder.
    pub resp_pkts: Option<u64>,
    /// The model's score.
    pub score: f32,
    /// The threshold it was compared with.
    pub threshold: f32,
    /// Whether `score >= threshold`.
    pub is_alert: bool,
    /// The severity of the incident the flow joined, if it alerted.
    pub severity: Option<Severity>,
    /// The id of the incident the flow joined, if it alerted.
    pub incident_id: Option<String>,
    /// With a baseline beside the model: which fired (`model`, `baseline`); `score` and
    /// `threshold` are then that detector's. While a baseline is learned without a model:
    /// `learning` (score NaN, no alert).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector: Option<&'static str>,
    /// The shadow model's score, when one runs beside the model (see the `shadow` module).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow_score: Option<f32>,
}

impl ScoredFlow {
    /// Builds the scored view of a record.
    pub(crate) fn new(rec: &FlowRecord, score: f32, threshold: f32) -> ScoredFlow {
        ScoredFlow {
            ts: rfc3339(rec.ts),
            uid: rec.uid.clone(),
            sensor: rec.sensor.as_deref().map(CompactString::from),
            orig_h: rec.orig_h,
            orig_p: rec.orig_p,
            resp_h: rec.resp_h,
            resp_p: rec.resp_p,
            proto: CompactString::from(rec.proto.as_str()),
            service: rec.service.clone(),
            conn_state: rec
                .conn_state
                .as_ref()
                .map(|s| CompactString::from(s.as_str())),
            history: rec.history.clone(),
            duration: rec.duration.map(|d| d.as_secs_f64()),
            orig_bytes: rec.orig_bytes,
            resp_bytes: rec.resp_bytes,
            orig_pkts: rec.orig_pkts,
            resp_pkts: rec.resp_pkts,
            score,
            threshold,
            is_alert: score >= threshold,
            severity: None,
            incident_id: None,
            detector: None,
            shadow_score: None,
        }
    }
}
