//! `POST /api/v1/alerts/{id}/feedback` (behind the token): an analyst's verdict on an alert,
//! and `GET /api/v1/alerts/{id}/feedback`: every verdict given on it, oldest first.
//!
//! Who gave a verdict is the body's `analyst` field (the server has one shared API token, so
//! the token proves the right to judge, not who judged); without it the verdict is recorded
//! as given by `token`. When is the server's clock at the request ([`DetectConfig::clock`],
//! fixed in tests). The latest verdict is the alert's (`iotguard.feedback` in the alert
//! endpoints); the earlier ones stay as its history.
//!
//! [`DetectConfig::clock`]: iotguard_detect::DetectConfig

use axum::extract::State;
use axum::Json as JsonResponse;
use iotguard_detect::{Feedback, Verdict};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::state::AppState;

/// The longest note accepted, in characters.
pub(crate) const MAX_NOTE_CHARS: usize = 2_000;
/// The longest analyst name accepted, in characters.
pub(crate) const MAX_ANALYST_CHARS: usize = 64;
/// Who a verdict is recorded as given by when the body names nobody.
pub(crate) const DEFAULT_ANALYST: &str = "token";

/// The body of `POST /api/v1/alerts/{id}/feedback`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedbackBody {
    verdict: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    analyst: Option<String>,
}

/// The answer of both feedback endpoints.
#[derive(Serialize)]
pub(crate) struct FeedbackAnswer {
    /// The alert's id.
    alert_id: String,
    /// Its verdict now (the latest).
    feedback: Option<Feedback>,
    /// Every verdict given on it, oldest first.
    history: Vec<Feedback>,
}

/// Checks a body: a known verdict, a bounded note, a bounded one-line analyst name.
fn validate(body: FeedbackBody) -> Result<(Verdict, String, String), ApiError> {
    let verdict = Verdict::parse(&body.verdict).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown verdict `{}`: expected one of true_positive, false_positive, benign_activity",
            body.verdict
        ))
    })?;
    if body.note.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::bad_request(format!(
            "note too long: at most {MAX_NOTE_CHARS} characters"
        )));
    }
    let analyst = body
        .analyst
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| DEFAULT_ANALYST.to_string());
    if analyst.chars().count() > MAX_ANALYST_CHARS || analyst.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "bad analyst: at most {MAX_ANALYST_CHARS} characters, on one line"
        )));
    }
    Ok((verdict, body.note, analyst))
}

/// Records a verdict on an alert (404 when there is no such alert).
pub(crate) async fn post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<FeedbackBody>,
) -> Result<JsonResponse<FeedbackAnswer>, ApiError> {
    state.require_store()?;
    let (verdict, note, analyst) = validate(body)?;
    let at = state.detect_config().clock.now();
    let answer = tokio::task::spawn_blocking(move || {
        let store = state.require_store()?;
        let recorded = store
            .record_feedback(&id, verdict, &note, &analyst, at)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("no alert with id `{id}`")))?;
        tracing::info!(alert = %id, verdict = verdict.as_str(), analyst = %analyst, "verdict recorded");
        let history = store.feedback_history(&id).map_err(ApiError::internal)?;
        Ok::<_, ApiError>(FeedbackAnswer {
            alert_id: id,
            feedback: Some(recorded),
            history,
        })
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(JsonResponse(answer))
}

/// Lists the verdicts given on an alert (404 when there is no such alert and no verdict).
pub(crate) async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<JsonResponse<FeedbackAnswer>, ApiError> {
    state.require_store()?;
    let answer = tokio::task::spawn_blocking(move || {
        let store = state.require_store()?;
        let history = store.feedback_history(&id).map_err(ApiError::internal)?;
        let exists = store.get(&id).map_err(ApiError::internal)?.is_some();
        if !exists && history.is_empty() {
            return Err(ApiError::not_found(format!("no alert with id `{id}`")));
        }
        Ok(FeedbackAnswer {
            alert_id: id,
            feedback: history.last().cloned(),
            history,
        })
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(JsonResponse(answer))
}
