//! `GET /api/v1/alerts` (filtered, newest first, paged by cursor), `/api/v1/alerts/timeline`
//! (the same filters, counted per time bucket and severity), `/api/v1/alerts/{id}/flows` and
//! `GET /api/v1/alerts/{id}` (each with its latest analyst verdict), read from the alert store through the server's own connection.

use axum::extract::State;
use axum::Json as JsonResponse;
use iotguard_detect::{Alert, AlertPage, AlertQuery, Timeline};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::state::AppState;

/// Maps a store error: the filters were checked before, so a failure here is ours.
fn store_error(e: iotguard_detect::Error) -> ApiError {
    ApiError::internal(e)
}

/// Checks a cursor's shape (`END_NANOS:ID`, as `next_cursor` gives it).
fn check_cursor(cursor: Option<&str>) -> Result<(), ApiError> {
    match cursor {
        Some(c)
            if !c
                .split_once(':')
                .is_some_and(|(end, id)| end.parse::<i64>().is_ok() && !id.is_empty()) =>
        {
            Err(ApiError::bad_request(format!(
                "bad cursor `{c}`: pass the `next_cursor` of the previous page"
            )))
        }
        _ => Ok(()),
    }
}

/// Lists alerts. Query parameters: `since`, `until` (RFC 3339 or Unix seconds), `severity`
/// (exactly), `min_severity` (at least), `host` (source or destination IP), `status` (`open`:
/// no verdict yet, `acknowledged`: judged), `attack_type` (or `type`), `limit` (default 100, at most 10 000), `cursor`
/// (the previous page's `next_cursor`). Each alert carries its latest verdict in
/// `iotguard.feedback`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Query(mut query): Query<AlertQuery>,
) -> Result<JsonResponse<AlertPage>, ApiError> {
    state.require_store()?;
    check_cursor(query.cursor.as_deref())?;
    canonical_type(&mut query)?;
    let page = tokio::task::spawn_blocking(move || {
        let store = state.require_store()?;
        store.query(&query).map_err(store_error)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(JsonResponse(page))
}

/// Refuses an unknown attack type (it would match nothing, silently); a known one in any case
/// is asked for by its canonical name, as the store keeps it.
fn canonical_type(query: &mut AlertQuery) -> Result<(), ApiError> {
    if let Some(t) = &query.attack_type {
        let t = t
            .parse::<iotguard_detect::AttackType>()
            .map_err(ApiError::bad_request)?;
        query.attack_type = Some(t.as_str().to_owned());
    }
    Ok(())
}

/// The timeline's own parameter: the bucket width in seconds (absent: chosen for at most 96
/// buckets).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct BucketQuery {
    bucket: Option<u64>,
}

/// Counts the alerts the list's filters select (cursor and limit ignored) per time bucket of
/// their last flow and per severity: the dashboard's incidents-over-time chart.
pub(crate) async fn timeline(
    State(state): State<AppState>,
    Query(mut query): Query<AlertQuery>,
    Query(bucket): Query<BucketQuery>,
) -> Result<JsonResponse<Timeline>, ApiError> {
    state.require_store()?;
    canonical_type(&mut query)?;
    if bucket.bucket == Some(0) {
        return Err(ApiError::bad_request("bucket: at least 1 second"));
    }
    let answer = tokio::task::spawn_blocking(move || {
        let store = state.require_store()?;
        store.timeline(&query, bucket.bucket).map_err(|e| match e {
            // Too many buckets for the range: the caller's to fix.
            iotguard_detect::Error::Config(m) => ApiError::bad_request(m),
            e => store_error(e),
        })
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(JsonResponse(answer))
}

/// Returns one alert by its id (the incident id, `event.id`).
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<JsonResponse<Alert>, ApiError> {
    state.require_store()?;
    let found = tokio::task::spawn_blocking(move || {
        let store = state.require_store()?;
        store
            .get(&id)
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found(format!("no alert with id `{id}`")))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(JsonResponse(found))
}

/// Returns the flows the store kept of an alert (its first and last
/// [`iotguard_detect::KEPT_FLOWS`]), in the incident's order; none for an alert whose flows
/// were not kept (a store written before they were).
pub(crate) async fn flows(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<JsonResponse<iotguard_detect::AlertFlows>, ApiError> {
    state.require_store()?;
    let found = tokio::task::spawn_blocking(move || {
        let store = state.require_store()?;
        if store.get(&id).map_err(store_error)?.is_none() {
            return Err(ApiError::not_found(format!("no alert with id `{id}`")));
        }
        Ok(store
            .alert_flows(&id)
            .map_err(store_error)?
            .unwrap_or(iotguard_detect::AlertFlows {
                flows: Vec::new(),
                total: 0,
                kept_each_end: iotguard_detect::KEPT_FLOWS,
            }))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(JsonResponse(found))
}
