//! `GET /api/v1/drift`: the drift monitors' state as of their last window (per feature: PSI,
//! status `ok`/`warn`/`drift` and since when; the score's; the Page-Hinkley tests on the alert
//! rate and the mean score), and the drift gauges of `/metrics`. Both read the same
//! [`DriftBoard`](iotguard_detect::monitor::DriftBoard), so they agree.

use axum::extract::State;
use axum::Json;
use iotguard_detect::monitor::DriftStatus;
use iotguard_flow::Timestamp;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::AppState;

/// Answers the monitors' state; 503 when this server runs no detection.
pub(crate) async fn drift(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let board = state.drift().ok_or_else(|| {
        ApiError::unavailable(
            "no drift monitors: they run inside detection (`iotguard detect --serve`)",
        )
    })?;
    let b = board.snapshot();
    let mut answer = json!({
        "enabled": b.disabled.is_none(),
        "reason": b.disabled,
    });
    if let Some(status) = &b.status {
        if let (Value::Object(a), Value::Object(s)) = (&mut answer, view(status)) {
            a.extend(s);
        }
    }
    Ok(Json(answer))
}

/// The status as JSON, each `since_time_ns` also given as RFC 3339 `since` (null: since the
/// start).
fn view(status: &DriftStatus) -> Value {
    let mut v = serde_json::to_value(status).unwrap_or(Value::Null);
    let since = |o: &mut Value| {
        let t = o
            .get("since_time_ns")
            .and_then(Value::as_i64)
            .map(|ns| Timestamp(ns).to_rfc3339());
        if let Value::Object(m) = o {
            m.insert("since".to_string(), json!(t));
        }
    };
    if let Some(Value::Array(features)) = v.get_mut("features") {
        features.iter_mut().for_each(since);
    }
    if let Some(score) = v.get_mut("score") {
        since(score);
    }
    v
}

/// Appends the drift gauges to a Prometheus text: `iotguard_drift_psi{feature="..."}` per
/// feature, `iotguard_drift_score_psi`, `iotguard_drift_detected` (1 while a feature or the
/// score is at `drift`), and `iotguard_drift_events_total`. Nothing without monitors.
pub(crate) fn prometheus(state: &AppState, text: &mut String) {
    let Some(board) = state.drift() else {
        return;
    };
    let b = board.snapshot();
    if b.disabled.is_some() {
        return;
    }
    let status = b.status.as_ref();
    text.push_str(
        "# HELP iotguard_drift_detected 1 while a feature or the score is at drift as of the last window (PSI at the drift level for persist windows in a row, until it falls under the warn level).\n",
    );
    text.push_str("# TYPE iotguard_drift_detected gauge\n");
    text.push_str(&format!(
        "iotguard_drift_detected {}\n",
        u8::from(status.is_some_and(|s| s.drift_detected))
    ));
    text.push_str("# HELP iotguard_drift_events_total Drift events raised.\n");
    text.push_str("# TYPE iotguard_drift_events_total counter\n");
    text.push_str(&format!(
        "iotguard_drift_events_total {}\n",
        status.map_or(0, |s| s.events)
    ));
    let Some(status) = status else {
        return;
    };
    text.push_str(
        "# HELP iotguard_drift_psi Population stability index of the last window against the model's reference profile, per feature.\n",
    );
    text.push_str("# TYPE iotguard_drift_psi gauge\n");
    for f in &status.features {
        if let Some(psi) = f.psi {
            text.push_str(&format!(
                "iotguard_drift_psi{{feature=\"{}\"}} {psi}\n",
                f.name.replace('\\', "\\\\").replace('"', "\\\"")
            ));
        }
    }
    if let Some(psi) = status.score.state.psi {
        text.push_str(
            "# HELP iotguard_drift_score_psi Population stability index of the model's score in the last window.\n",
        );
        text.push_str("# TYPE iotguard_drift_score_psi gauge\n");
        text.push_str(&format!("iotguard_drift_score_psi {psi}\n"));
    }
}
