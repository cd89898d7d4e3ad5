//! `GET /api/v1/models` (the active model, its metrics, the last comparison report, live
//! precision from analyst verdicts per model version and attack type, every model version in
//! the models directory with its lineage),
//! `GET /api/v1/models/report` (that report's HTML page with its plots; `?theme=dark` for the
//! dashboard's dark page),
//! `GET /api/v1/models/explore` (the exploration of the model's training data),
//! `POST /api/v1/models/activate` (hot swap to another model file, behind the token) and
//! `POST /api/v1/models/threshold` (another threshold for the active model, behind the token).

use std::path::PathBuf;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json as JsonResponse;
use iotguard_detect::{ActiveModel, ModelHandle, Performance};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::state::AppState;

/// Where the comparison's HTML page is served.
const REPORT_URL: &str = "/api/v1/models/report";
/// Where the exploration's HTML page is served.
const EXPLORE_URL: &str = "/api/v1/models/explore";

/// The answer of `GET /api/v1/models`.
#[derive(Serialize)]
pub(crate) struct Models {
    active: Option<Value>,
    comparison: Option<Value>,
    comparison_html: Option<&'static str>,
    exploration: Option<Exploration>,
    /// Live performance from analyst verdicts (`None` without an alert store).
    performance: Option<Performance>,
    /// The model files of the models directory, newest first ([`crate::registry`]; `None`
    /// without a models directory).
    versions: Option<Vec<crate::registry::Version>>,
}

/// The exploration of the training data, as the model panel links it.
#[derive(Serialize)]
pub(crate) struct Exploration {
    /// Where its page is served.
    html: &'static str,
    /// The inputs it explored (file names).
    inputs: Vec<String>,
}

/// Reads the input names of an `explore.json` (`None` when there is no readable page).
fn exploration(dir: &std::path::Path) -> Option<Exploration> {
    #[derive(Deserialize)]
    struct Input {
        input: String,
    }
    #[derive(Deserialize)]
    struct File {
        inputs: Vec<Input>,
    }
    if !dir.join("explore.html").is_file() {
        return None;
    }
    let file: Option<File> = std::fs::read(dir.join("explore.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let file_name = |p: &str| {
        std::path::Path::new(p)
            .file_name()
            .map_or_else(|| p.to_string(), |f| f.to_string_lossy().into_owned())
    };
    Some(Exploration {
        html: EXPLORE_URL,
        inputs: file.map_or_else(Vec::new, |f| {
            f.inputs.iter().map(|i| file_name(&i.input)).collect()
        }),
    })
}

/// The body of `POST /api/v1/models/activate`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Activate {
    path: PathBuf,
}

/// The body of `POST /api/v1/models/threshold`: exactly one of the two.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetThreshold {
    /// Alert at `score >= threshold`.
    #[serde(default, deserialize_with = "present")]
    threshold: Option<f32>,
    /// The threshold whose recorded false-alert rate is at most this.
    #[serde(default, deserialize_with = "present")]
    target_far: Option<f64>,
}

/// A field that may be absent (`default`) but, when present, must be a number: an explicit
/// `null` is refused, as the OpenAPI document's `"type": "number"` says.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Describes the active model: names, threshold and what it implies, training summary, metrics, its lineage when
/// it was retrained (`iotguard retrain`), and its live precision from verdicts (`live`: its
/// row of `performance.by_model`, null without one), and the shadow on trial beside it
/// (`shadow`: its names and counts so far, null without one).
fn describe(handle: &ModelHandle, performance: Option<&Performance>) -> Value {
    let active = handle.current();
    let file = &active.loaded.file;
    let live = performance.and_then(|p| {
        p.by_model
            .iter()
            .find(|m| m.model_id == active.info.id && m.model_version == active.info.version)
    });
    json!({
        "live": live,
        "threshold_method": active.loaded.threshold.method,
        "implied": active.loaded.implied(),
        "name": active.info.name,
        "id": active.info.id,
        "version": active.info.version,
        "kind": active.info.kind,
        "path": active.info.path,
        "threshold": active.info.threshold,
        "generation": handle.generation(),
        "features": file.features.names.len(),
        "training": file.training,
        "metrics": file.metrics,
        "params": file.params,
        "lineage": file.lineage,
        "shadow": handle.shadow_status(),
    })
}

/// Builds the answer (reads files and the store: call it on the blocking pool).
fn models_answer(state: &AppState) -> Result<Models, ApiError> {
    let performance = state
        .store()
        .map(|s| s.performance())
        .transpose()
        .map_err(ApiError::internal)?;
    let dir = state.report_dir();
    let comparison = dir.and_then(|d| {
        let text = std::fs::read(d.join("report.json")).ok()?;
        serde_json::from_slice(&text).ok()
    });
    let html = dir.is_some_and(|d| d.join("report.html").is_file());
    Ok(Models {
        active: state.model().map(|h| describe(h, performance.as_ref())),
        comparison,
        comparison_html: html.then_some(REPORT_URL),
        exploration: state.explore_dir().and_then(exploration),
        performance,
        versions: state.models_dir().map(|dir| {
            let active = state.model().and_then(|h| h.info().path);
            state.registry().list(dir, active.as_deref())
        }),
    })
}

/// Answers the active model, the comparison report and the live performance.
pub(crate) async fn models(
    State(state): State<AppState>,
) -> Result<JsonResponse<Models>, ApiError> {
    let answer = tokio::task::spawn_blocking(move || models_answer(&state))
        .await
        .map_err(ApiError::internal)??;
    Ok(JsonResponse(answer))
}

/// The report page's query: `theme=dark` serves its dark variant, `light` (or none) the page
/// as written (light, or dark where the reader's system prefers it).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReportQuery {
    theme: Option<String>,
}

/// Serves the comparison report's HTML page.
pub(crate) async fn report(
    State(state): State<AppState>,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let dark = match query.theme.as_deref() {
        None | Some("light") => false,
        Some("dark") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown theme `{other}`; one of: light, dark"
            )))
        }
    };
    let dir = state.report_dir().ok_or_else(|| {
        ApiError::not_found("no comparison report: start with --report DIR (from iotguard compare)")
    })?;
    let path = dir.join("report.html");
    let html = tokio::task::spawn_blocking(move || {
        std::fs::read(&path).map_err(|e| ApiError::not_found(format!("{}: {e}", path.display())))
    })
    .await
    .map_err(ApiError::internal)??;
    let html = if dark {
        iotguard_runtime::report::dark_variant(&String::from_utf8_lossy(&html)).into_bytes()
    } else {
        html
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, crate::guard::REPORT_CSP),
            (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        ],
        html,
    )
        .into_response())
}

/// Serves the exploration's HTML page.
pub(crate) async fn explore(State(state): State<AppState>) -> Result<Response, ApiError> {
    let dir = state.explore_dir().ok_or_else(|| {
        ApiError::not_found(
            "no exploration: start with --explore DIR (from iotguard explore), or keep it in an `explore` folder beside the model file",
        )
    })?;
    let path = dir.join("explore.html");
    let html = tokio::task::spawn_blocking(move || {
        std::fs::read(&path).map_err(|e| ApiError::not_found(format!("{}: {e}", path.display())))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, crate::guard::REPORT_CSP),
            (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        ],
        html,
    )
        .into_response())
}

/// Loads another model file from the models directory and makes it the active model between
/// two flows. A path that is not a regular file inside that directory is refused with one
/// message whatever the reason (see [`crate::models_dir`]).
pub(crate) async fn activate(
    State(state): State<AppState>,
    Json(body): Json<Activate>,
) -> Result<JsonResponse<Models>, ApiError> {
    let handle = state.require_model()?.clone();
    let dir = state
        .models_dir()
        .ok_or_else(|| ApiError::unprocessable(crate::models_dir::REFUSED))?
        .to_path_buf();
    let requested = body.path;
    tokio::task::spawn_blocking(move || {
        let real = crate::models_dir::resolve(&dir, &requested)?;
        let bytes = crate::models_dir::read_capped(&real)?;
        let name = requested.display().to_string();
        let loaded = iotguard_runtime::lab::load_model_from(&name, bytes.as_slice())
            .map_err(|e| ApiError::unprocessable(format!("loading model {name}: {e}")))?;
        handle
            .swap(ActiveModel::new(loaded, Some(&real)))
            .map_err(|e| ApiError::unprocessable(e.to_string()))?;
        Ok::<_, ApiError>(())
    })
    .await
    .map_err(ApiError::internal)??;
    let answer = tokio::task::spawn_blocking(move || models_answer(&state))
        .await
        .map_err(ApiError::internal)??;
    Ok(JsonResponse(answer))
}

/// Sets the active model's threshold (`{"threshold": X}` or `{"target_far": X}`, as `detect
/// --threshold`/`--target-far` do): the model with its new threshold is swapped in between two
/// flows, so every later flow is judged by it. Refused (422) for a rate the model file cannot
/// answer, a non-finite score, both or neither.
pub(crate) async fn threshold(
    State(state): State<AppState>,
    Json(body): Json<SetThreshold>,
) -> Result<JsonResponse<Models>, ApiError> {
    use iotguard_runtime::lab::ThresholdOverride;
    let handle = state.require_model()?.clone();
    let o =
        match (body.threshold, body.target_far) {
            (Some(t), None) => ThresholdOverride::Score(t),
            (None, Some(r)) => ThresholdOverride::TargetFar(r),
            _ => return Err(ApiError::unprocessable(
                "give exactly one of `threshold` (a score) and `target_far` (a false-alert rate)",
            )),
        };
    let current = handle.current();
    let mut loaded = current.loaded.clone();
    loaded
        .override_threshold(o)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let mut next = ActiveModel::new(
        loaded,
        current.info.path.as_deref().map(std::path::Path::new),
    );
    next.info.name = current.info.name.clone();
    handle
        .swap(next)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let answer = tokio::task::spawn_blocking(move || models_answer(&state))
        .await
        .map_err(ApiError::internal)??;
    Ok(JsonResponse(answer))
}
