//! The router: every route of the API and the dashboard, registered in one table so the
//! OpenAPI document can be checked against it (a test compares both ways).

use axum::http::{Method, StatusCode, Uri};
use axum::routing::{get, post, MethodRouter};
use axum::Router;

use crate::api;
use crate::error::ApiError;
use crate::state::AppState;

/// The largest request body accepted (a score batch of 10 000 flows fits).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Which part of the server a route belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    /// An API route, documented in the OpenAPI document.
    Api,
    /// A dashboard page or asset (not part of the API).
    Page,
}

/// The routes, in the order they are registered.
struct RouteTable {
    router: Router<AppState>,
    routes: Vec<(Method, &'static str, RouteKind)>,
}

impl RouteTable {
    fn add(
        mut self,
        method: Method,
        path: &'static str,
        kind: RouteKind,
        handler: MethodRouter<AppState>,
    ) -> RouteTable {
        self.routes.push((method, path, kind));
        self.router = self.router.route(path, handler);
        self
    }
}

fn table(state: &AppState) -> RouteTable {
    let write = axum::middleware::from_fn_with_state(state.clone(), crate::auth::require_token);
    let t = RouteTable {
        router: Router::new(),
        routes: Vec::new(),
    };
    t.add(
        Method::GET,
        "/health",
        RouteKind::Api,
        get(api::health::health),
    )
    .add(
        Method::GET,
        "/metrics",
        RouteKind::Api,
        get(api::stats::metrics),
    )
    .add(
        Method::GET,
        "/api/v1/openapi.json",
        RouteKind::Api,
        get(crate::openapi::document),
    )
    .add(
        Method::POST,
        "/api/v1/score",
        RouteKind::Api,
        post(api::score::score),
    )
    .add(
        Method::GET,
        "/api/v1/alerts",
        RouteKind::Api,
        get(api::alerts::list),
    )
    .add(
        Method::GET,
        "/api/v1/alerts/timeline",
        RouteKind::Api,
        get(api::alerts::timeline),
    )
    .add(
        Method::GET,
        "/api/v1/alerts/{id}",
        RouteKind::Api,
        get(api::alerts::get),
    )
    .add(
        Method::GET,
        "/api/v1/alerts/{id}/flows",
        RouteKind::Api,
        get(api::alerts::flows),
    )
    .add(
        Method::GET,
        "/api/v1/alerts/{id}/feedback",
        RouteKind::Api,
        get(api::feedback::history),
    )
    .add(
        Method::POST,
        "/api/v1/alerts/{id}/feedback",
        RouteKind::Api,
        post(api::feedback::post).route_layer(write.clone()),
    )
    .add(
        Method::GET,
        "/api/v1/stats",
        RouteKind::Api,
        get(api::stats::stats),
    )
    .add(
        Method::GET,
        "/api/v1/drift",
        RouteKind::Api,
        get(api::drift::drift),
    )
    .add(
        Method::GET,
        "/api/v1/models",
        RouteKind::Api,
        get(api::models::models),
    )
    .add(
        Method::GET,
        "/api/v1/models/report",
        RouteKind::Api,
        get(api::models::report),
    )
    .add(
        Method::GET,
        "/api/v1/models/explore",
        RouteKind::Api,
        get(api::models::explore),
    )
    .add(
        Method::POST,
        "/api/v1/models/activate",
        RouteKind::Api,
        post(api::models::activate).route_layer(write.clone()),
    )
    .add(
        Method::POST,
        "/api/v1/models/threshold",
        RouteKind::Api,
        post(api::models::threshold).route_layer(write),
    )
    .add(
        Method::GET,
        "/api/v1/live",
        RouteKind::Api,
        get(api::live::live),
    )
    .add(
        Method::GET,
        "/",
        RouteKind::Page,
        get(crate::dashboard::index),
    )
    .add(
        Method::GET,
        "/glossary",
        RouteKind::Page,
        get(crate::dashboard::glossary),
    )
    .add(
        Method::GET,
        "/assets/{file}",
        RouteKind::Page,
        get(crate::dashboard::asset),
    )
}

/// Builds the application: the API, the dashboard and JSON answers for unknown paths and
/// methods, security headers on every answer. The `Host` check and the read token are the
/// real server's ([`crate::Server`]), which knows where it listens. Serve it with [`crate::Server`], or call it directly in tests:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use tower::ServiceExt;
/// let app = iotguard_server::app(iotguard_server::AppState::builder().build());
/// let request = axum::http::Request::get("/health").body(axum::body::Body::empty()).unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 200);
/// # });
/// ```
pub fn app(state: AppState) -> Router {
    table(&state)
        .router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(
            crate::guard::security_headers,
        ))
        .with_state(state)
}

/// Returns every registered route: method, path (axum syntax, `{id}` for parameters), kind.
pub fn routes() -> Vec<(Method, &'static str, RouteKind)> {
    table(&AppState::builder().build()).routes
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
