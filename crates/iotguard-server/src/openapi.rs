//! The OpenAPI 3 document of the API, written by hand in `assets/openapi.json` and served at
//! `/api/v1/openapi.json`. Tests check that it lists exactly the router's API routes, and CI
//! runs schemathesis against a running server with it.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as served.
pub const OPENAPI_JSON: &str = include_str!("../assets/openapi.json");

/// Serves the document.
pub(crate) async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}
