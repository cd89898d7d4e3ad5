//! `GET /api/v1/stats` (the pipeline's counters as JSON, with alert counts by severity) and
//! `GET /metrics` (the same counters in the Prometheus text format).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json as JsonResponse;
use serde::Serialize;

use crate::state::AppState;

/// The answer of `GET /api/v1/stats`.
#[derive(Serialize)]
pub(crate) struct StatsAnswer {
    uptime_secs: f64,
    /// The detection pipeline's counters, rates, latencies and lag; null when no pipeline runs
    /// in this process.
    pipeline: Option<iotguard_detect::StatsSnapshot>,
    /// Alerts in the store by severity; null without a store.
    alerts_by_severity: Option<BTreeMap<String, u64>>,
}

/// Returns the store's alert counts by severity, or `None` without a store (or when the
/// store cannot answer, which the stats endpoints report as missing rather than failing).
pub(crate) fn severity_counts(state: &AppState) -> Option<BTreeMap<String, u64>> {
    let counts = state.store()?.counts_by_severity(None).ok()?;
    Some(
        counts
            .into_iter()
            .map(|c| (c.severity.as_str().to_string(), c.count))
            .collect(),
    )
}

/// Answers the counters.
pub(crate) async fn stats(State(state): State<AppState>) -> JsonResponse<StatsAnswer> {
    let answer = tokio::task::spawn_blocking(move || StatsAnswer {
        uptime_secs: state.uptime_secs(),
        pipeline: state.stats().map(|s| s.snapshot()),
        alerts_by_severity: severity_counts(&state),
    })
    .await;
    JsonResponse(answer.unwrap_or(StatsAnswer {
        uptime_secs: 0.0,
        pipeline: None,
        alerts_by_severity: None,
    }))
}

/// Answers the counters in the Prometheus text exposition format (0.0.4).
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state
        .stats()
        .map(|s| s.prometheus_text())
        .unwrap_or_default();
    crate::api::drift::prometheus(&state, &mut text);
    text.push_str("# HELP iotguard_server_uptime_seconds Seconds since the server started.\n");
    text.push_str("# TYPE iotguard_server_uptime_seconds gauge\n");
    text.push_str(&format!(
        "iotguard_server_uptime_seconds {:.3}\n",
        state.uptime_secs()
    ));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
