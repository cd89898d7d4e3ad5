//! `GET /health`: the server is up, and which parts it runs.

use axum::extract::State;
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
}

/// Answers 200 while the server runs, saying what it can serve.
pub(crate) async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        model: state.model().is_some(),
        alert_store: state.store().is_some(),
        pipeline: state.stats().is_some(),
    })
}
