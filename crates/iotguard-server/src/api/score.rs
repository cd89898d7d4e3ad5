//! `POST /api/v1/score`: one flow or a batch in Zeek JSON shape → score, label, severity and
//! explanation per flow.
//!
//! State: a request is scored with a fresh [`Detector`] and a fresh feature extractor fed the
//! request's own flows in their order, so a flow's per-host context is the flows before it in
//! the same request (send a host's flows together, in time order, to give it context). The
//! live stream's host state is never read or changed. Flows are read by the same Zeek JSON
//! reader as files and Kafka messages; one that cannot be read is listed with its index and
//! reason, and the rest are scored.

use std::collections::HashMap;
use std::io::Cursor;

use axum::extract::State;
use axum::Json as JsonResponse;
use iotguard_detect::{Detector, Severity};
use iotguard_features::FeatureExtractor;
use iotguard_flow::{FlowReader, Format, ReadOptions};
use iotguard_models::Scorer;
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::state::AppState;

/// The most flows one request may hold.
pub(crate) const MAX_FLOWS: usize = 10_000;

/// The most contributions returned per flow.
const TOP_FEATURES: usize = 8;

/// What the state of a scoring request is, as the response says it.
const STATE_NOTE: &str = "per-host features from this request's own flows, in request order";

/// The answer.
#[derive(Serialize, Debug)]
pub(crate) struct ScoreResponse {
    model: String,
    state: &'static str,
    results: Vec<ScoreResult>,
    rejected: Vec<Rejected>,
}

/// One scored flow.
#[derive(Serialize, Debug)]
pub(crate) struct ScoreResult {
    index: usize,
    uid: Option<String>,
    score: f32,
    threshold: f32,
    label: &'static str,
    severity: Option<Severity>,
    risk_score: Option<f64>,
    attack_type: Option<String>,
    explanation: Vec<Contribution>,
}

/// One feature's part in a score.
#[derive(Serialize, Debug)]
pub(crate) struct Contribution {
    feature: String,
    value: Option<f32>,
    contribution: f64,
}

/// Query parameters of the request.
#[derive(serde::Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScoreOptions {
    /// Explain each flow (default true); false skips the per-flow explanation, which is most
    /// of the cost for tree models.
    explain: Option<bool>,
}

/// A flow that could not be read.
#[derive(Serialize, Debug)]
pub(crate) struct Rejected {
    index: usize,
    message: String,
}

/// Scores the flows of the body.
pub(crate) async fn score(
    State(state): State<AppState>,
    Query(options): Query<ScoreOptions>,
    Json(body): Json<Value>,
) -> Result<JsonResponse<ScoreResponse>, ApiError> {
    let explain = options.explain.unwrap_or(true);
    let flows = match body {
        Value::Array(items) => items,
        v @ Value::Object(_) => vec![v],
        _ => {
            return Err(ApiError::unprocessable(
                "expected a flow (a JSON object in Zeek JSON shape) or an array of flows",
            ))
        }
    };
    if flows.len() > MAX_FLOWS {
        return Err(ApiError::unprocessable(format!(
            "{} flows in one request; at most {MAX_FLOWS}",
            flows.len()
        )));
    }
    let model = state.require_model()?.clone();
    let mut config = state.detect_config().clone();
    config.explain &= explain;
    // Every flow's uid kept with its incident: a flow may move from its source's untyped
    // flows to a typed incident after it was scored, and is found again by its uid.
    config.max_uids = config.max_uids.max(flows.len());
    let answer = tokio::task::spawn_blocking(move || score_flows(&flows, model, config, explain))
        .await
        .map_err(ApiError::internal)??;
    Ok(JsonResponse(answer))
}

/// Reads and scores the flows (CPU work: runs on the blocking pool).
fn score_flows(
    flows: &[Value],
    model: iotguard_detect::ModelHandle,
    config: iotguard_detect::DetectConfig,
    explain: bool,
) -> Result<ScoreResponse, ApiError> {
    let active = model.current();
    let mut detector = Detector::new(model, config).map_err(ApiError::internal)?;
    let mut extractor =
        FeatureExtractor::try_new(active.loaded.features.clone()).map_err(ApiError::internal)?;
    let names = extractor.schema().names.clone();
    let mut row = vec![0f32; extractor.dim()];

    // One JSON line per item, so the reader's line number is the item's index + 1. An item
    // that is not an object is rejected here (the reader would take a JSON array apart).
    let mut lines = Vec::new();
    let mut rejected = Vec::new();
    let mut line_to_index = Vec::new();
    for (index, item) in flows.iter().enumerate() {
        if item.is_object() {
            lines.extend_from_slice(item.to_string().as_bytes());
            lines.push(b'\n');
            line_to_index.push(index);
        } else {
            rejected.push(Rejected {
                index,
                message: "not a JSON object".into(),
            });
        }
    }
    let mut reader = FlowReader::with_format(
        "request",
        Box::new(Cursor::new(lines)),
        Format::ZeekJson,
        &ReadOptions::default(),
    );
    let mut results = Vec::with_capacity(flows.len());
    let mut incidents = Vec::with_capacity(flows.len());
    while let Some(next) = reader.next() {
        let line = usize::try_from(reader.line_no()).unwrap_or(0);
        let index = line_to_index
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(line);
        match next {
            Ok(rec) => {
                let scored = detector.process(&rec);
                if explain {
                    extractor.extract(&rec, &mut row);
                }
                results.push(ScoreResult {
                    index,
                    uid: scored.uid.as_ref().map(ToString::to_string),
                    score: scored.score,
                    threshold: scored.threshold,
                    label: if scored.is_alert {
                        "malicious"
                    } else {
                        "benign"
                    },
                    severity: scored.severity,
                    risk_score: None,
                    attack_type: None,
                    explanation: if explain {
                        top_contributions(&active.loaded.model, &row, &names)
                    } else {
                        Vec::new()
                    },
                });
                incidents.push(scored.incident_id);
            }
            Err(e) => rejected.push(Rejected {
                index,
                message: format!(
                    "{}{}: {}",
                    e.kind.as_str(),
                    e.field
                        .as_deref()
                        .map(|f| format!(" in {f}"))
                        .unwrap_or_default(),
                    e.reason
                ),
            }),
        }
    }
    // An alerting flow joined an incident: its risk and attack type are the incident's, as the
    // request's flows left it (closed, so every incident has its document, untyped flows too).
    let mut alerts = Vec::new();
    detector.close_all();
    detector.drain_alerts(&mut alerts);
    let by_incident: HashMap<&str, &iotguard_detect::Alert> =
        alerts.iter().map(|a| (a.id(), a)).collect();
    let by_uid: HashMap<&str, &iotguard_detect::Alert> = alerts
        .iter()
        .flat_map(|a| a.iotguard.uids.iter().map(move |u| (u.as_str(), a)))
        .collect();
    for (result, incident) in results.iter_mut().zip(&incidents) {
        let found = result
            .uid
            .as_deref()
            .filter(|_| incident.is_some())
            .and_then(|u| by_uid.get(u))
            .or_else(|| incident.as_deref().and_then(|id| by_incident.get(id)));
        if let Some(alert) = found {
            result.risk_score = Some(alert.event.risk_score);
            result.attack_type = Some(alert.iotguard.attack_type.as_str().to_string());
            result.severity = Some(alert.iotguard.severity);
        }
    }
    rejected.sort_by_key(|r| r.index);
    Ok(ScoreResponse {
        model: active.info.kind.clone(),
        state: STATE_NOTE,
        results,
        rejected,
    })
}

/// Returns the features that moved the score most, largest first.
fn top_contributions(
    model: &iotguard_models::lab::TrainedModel,
    row: &[f32],
    names: &[String],
) -> Vec<Contribution> {
    let mut contributions = model.explain(row).contributions;
    contributions.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
    contributions
        .into_iter()
        .take(TOP_FEATURES)
        .map(|c| Contribution {
            feature: names
                .get(c.feature)
                .cloned()
                .unwrap_or_else(|| format!("feature {}", c.feature)),
            value: c.value.is_finite().then_some(c.value),
            contribution: if c.contribution.is_finite() {
                c.contribution
            } else {
                0.0
            },
        })
        .collect()
}
