//! The alert document: Elastic Common Schema fields (nested objects, ECS style) plus our own
//! `iotguard.*` namespace for the model's view (score, threshold, incident, counts, attack type,
//! feature contributions, flow uids).
//!
//! One alert stands for one incident (an attacker and a burst of its alerting flows). Its
//! `event.id` is stable for the incident's life, so sinks upsert: the document is re-sent with
//! new counts, `event.end` and severity while the incident lasts, and a last time when it closes.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::risk::{AttackType, Severity};

/// The ECS version the documents follow.
pub const ECS_VERSION: &str = "8.11.0";

/// One alert: an incident's current state as an ECS document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The incident's last alerting flow time (RFC 3339), ECS `@timestamp`.
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    /// `ecs.version`.
    pub ecs: EcsVersion,
    /// What happened and how bad it is: `event.kind` is always `alert`.
    pub event: AlertEvent,
    /// The attacking (originating) host.
    pub source: Endpoint,
    /// The attacked host, when the incident has one (a horizontal scan has many: then only
    /// `iotguard.counts.destinations` says how many).
    pub destination: Endpoint,
    /// Transport and application protocol of the incident's first alerting flow.
    pub network: AlertNetwork,
    /// The sensor that saw the flows.
    pub observer: AlertObserver,
    /// The model that raised it.
    pub rule: AlertRule,
    /// A one-line summary for people.
    pub message: String,
    /// Our own fields.
    pub iotguard: AlertIotguard,
}

impl Alert {
    /// Returns the alert's id, stable for the incident's life (`event.id`).
    pub fn id(&self) -> &str {
        &self.event.id
    }

    /// Returns the alert's severity.
    pub fn severity(&self) -> Severity {
        self.iotguard.severity
    }
}

/// ECS `ecs` object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EcsVersion {
    /// The ECS version ([`ECS_VERSION`]).
    pub version: String,
}

impl Default for EcsVersion {
    fn default() -> Self {
        EcsVersion {
            version: ECS_VERSION.to_string(),
        }
    }
}

/// ECS `event` object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// The incident's id, stable while it lasts (sinks upsert by it).
    pub id: String,
    /// Always `alert`.
    pub kind: String,
    /// Always `["network", "intrusion_detection"]`.
    pub category: Vec<String>,
    /// `["info"]` while open, `["end"]` once closed.
    #[serde(rename = "type")]
    pub type_: Vec<String>,
    /// The attack type (`horizontal_scan`, `beacon`, ...).
    pub action: String,
    /// Always `iotguard.alert`.
    pub dataset: String,
    /// Numeric severity on Elastic Security's scale (see [`Severity::ecs_number`]).
    pub severity: u8,
    /// Risk score, 0–100.
    pub risk_score: f64,
    /// First alerting flow's time (RFC 3339).
    pub start: String,
    /// Last alerting flow's time (RFC 3339).
    pub end: String,
    /// Nanoseconds from start to end.
    pub duration: i64,
    /// When this version of the document was made (wall clock, RFC 3339; injectable for tests).
    pub created: String,
}

/// ECS `source` or `destination` object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ip: Option<IpAddr>,
    /// The port, when the incident used only one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub port: Option<u16>,
}

/// ECS `network` object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertNetwork {
    /// `tcp`, `udp`, `icmp`, ...
    pub transport: String,
    /// The application protocol the sensor found (`http`, `dns`), if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub protocol: Option<String>,
}

/// ECS `observer` object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertObserver {
    /// The sensor's name.
    pub name: String,
    /// Always `sensor`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// ECS `rule` object: the model that raised the alert.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    /// The model's name (`iotguard gbdt model`).
    pub name: String,
    /// A fingerprint of the model file's content.
    pub id: String,
    /// The model's version (its creation time and feature schema version).
    pub version: String,
    /// The attack type, as a rule category.
    pub category: String,
}

/// Our own namespace, `iotguard.*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertIotguard {
    /// The incident's id (as `event.id`).
    pub incident_id: String,
    /// `open` while flows may still join, `closed` once idle.
    pub state: String,
    /// The severity, by name.
    pub severity: Severity,
    /// The inferred attack type.
    pub attack_type: AttackType,
    /// The incident's highest model score.
    pub score: f32,
    /// The mean model score of its alerting flows.
    pub mean_score: f32,
    /// The model's threshold.
    pub threshold: f32,
    /// The model kind (`gbdt`, `logreg`, ...).
    pub model_kind: String,
    /// Which detector fired, when a detector runs two (`detect --baseline`, `--learn-for`):
    /// `model` (the supervised model, known attack families) or `baseline` (the baseline
    /// learned without labels, traffic unlike the network's normal). Absent with one model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<String>,
    /// Criticality of the most critical asset involved.
    pub asset_criticality: String,
    /// How many times this incident's document has been sent (1 for the first).
    pub revision: u32,
    /// Counts over the incident.
    pub counts: AlertCounts,
    /// The features that pushed the top-scoring flow's score up most, with contributions
    /// (missing values only where missing-ness is itself a reason).
    pub features: Vec<FeatureContribution>,
    /// The explanation in words: what the incident is, then the top features as sentences
    /// (the numbers are in `features` and `counts`).
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Uids of the first alerting flows (at most the configured number).
    pub uids: Vec<String>,
    /// The latest analyst verdict, filled in by the alert store when it reads the alert back
    /// (never set by the detector, so never in the documents sinks receive).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub feedback: Option<crate::store::Feedback>,
}

/// Counts over an incident's alerting flows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertCounts {
    /// Alerting flows.
    pub flows: u64,
    /// Distinct destination addresses (saturates at the configured cap).
    pub destinations: u64,
    /// Distinct destination ports (saturates at the configured cap).
    pub destination_ports: u64,
    /// Flows that failed (rejected, unanswered, reset).
    pub failed: u64,
    /// Payload bytes sent by the source.
    pub source_bytes: u64,
    /// Payload bytes sent back.
    pub destination_bytes: u64,
    /// Packets sent by the source.
    pub source_packets: u64,
    /// Packets sent back.
    pub destination_packets: u64,
}

/// One feature's part in the score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureContribution {
    /// The feature's name, from the feature schema.
    pub name: String,
    /// Its value in the flow (NaN when missing: written as `null`, read back as NaN).
    #[serde(deserialize_with = "nan_if_null")]
    pub value: f32,
    /// How much it moved the model's raw output (positive: towards malicious).
    pub contribution: f64,
}

/// Reads a missing feature value (`null`, as serde_json writes NaN) back as NaN.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
}
