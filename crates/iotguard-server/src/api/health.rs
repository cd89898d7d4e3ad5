//! `GET /health`: the server is up, which parts it runs, and whether they work: `degraded`
//! (with status 503 and the problems listed) while the last flush of the pipeline's alert sinks
//! failed or the alert store does not answer a query.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use crate::state::AppState;

/// The health answer.
#[derive(Serialize)]
pub(crate) struct Health {
    status: &'static str,
    version: &'static str,
    model: bool,
    alert_store: bool,
    pipeline: bool,
    /// The pipeline's source (absent without a pipeline).
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<iotguard_detect::SourceHealth>,
    /// What does not work, in words (empty when the status is `ok`).
    problems: Vec<String>,
}

/// Answers 200 while every part works, 503 (`degraded`) while one does not.
pub(crate) async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let st = state.clone();
    let problems = tokio::task::spawn_blocking(move || {
        let mut problems = Vec::new();
        if let Some(failure) = st.stats().and_then(iotguard_detect::Stats::sink_failure) {
            problems.push(format!(
                "the last flush of the alert sinks failed: {failure}"
            ));
        }
        if let Some(failure) = st.stats().and_then(iotguard_detect::Stats::archive_failure) {
            problems.push(format!("the flow archive failed: {failure}"));
        }
        if let Some(source) = st.stats().map(iotguard_detect::Stats::source_health) {
            match (source.state, &source.last_error) {
                (iotguard_detect::SourceState::Failed, Some(e)) => {
                    problems.push(format!("the source failed: {e}"));
                }
                (_, Some(e)) => problems.push(format!(
                    "the source could not read {} input(s), flows were lost; the last: {e}",
                    source.unreadable
                )),
                (_, None) => {}
            }
        }
        if let Some(Err(e)) = st.store().map(iotguard_detect::AlertStore::check) {
            problems.push(format!("the alert store does not answer: {e}"));
        }
        problems
    })
    .await
    .unwrap_or_else(|e| vec![format!("health check failed: {e}")]);
    let code = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(Health {
            status: if problems.is_empty() {
                "ok"
            } else {
                "degraded"
            },
            version: env!("CARGO_PKG_VERSION"),
            model: state.model().is_some(),
            alert_store: state.store().is_some(),
            pipeline: state.stats().is_some(),
            source: state.stats().map(iotguard_detect::Stats::source_health),
            problems,
        }),
    )
}
