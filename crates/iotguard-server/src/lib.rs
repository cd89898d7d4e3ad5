//! The HTTP side of iotguard: a JSON API and a live dashboard over a running detection.
//!
//! - [`app`] builds the axum router: `POST /api/v1/score`, `GET /api/v1/alerts` and
//!   `/api/v1/alerts/{id}`, `GET /api/v1/stats`, `GET /api/v1/models`,
//!   `POST /api/v1/models/activate`, `GET /api/v1/live` (Server-Sent Events), `GET /health`,
//!   `GET /metrics` (Prometheus text), `GET /api/v1/openapi.json`, and the dashboard at `/`.
//! - [`AppState`] holds what the handlers read: the model handle, a reading connection to the
//!   alert store, the pipeline's stats and live feed (each optional).
//! - [`Server`] runs the router on its own threads for synchronous commands.
//!
//! Invariants: read-mostly (the only write is the model hot swap, behind a bearer token);
//! never parses flows or scores them outside `score` (which uses the detection crate's code
//! path); listens on loopback unless a token is configured, and off loopback every read needs
//! the token too unless `public_read`; answers only requests whose `Host` names this server
//! (421 otherwise); the hot swap loads only regular files inside the models directory; every answer carries a Content-Security-Policy and the other security
//! headers; every error answer is JSON (but the 421, plain text); no
//! request makes it panic; the dashboard is our own files embedded in the binary, and what it
//! receives is sampled by the server, never the whole stream.

mod api;
mod auth;
mod config;
mod dashboard;
mod error;
mod extract;
mod guard;
mod models_dir;
mod openapi;
mod registry;
mod routes;
mod server;
mod state;

pub use config::{ServerConfig, DEFAULT_LISTEN, TOKEN_ENV};
pub use error::{ApiError, Error, Result};
pub use models_dir::MAX_MODEL_BYTES;
pub use openapi::OPENAPI_JSON;
pub use routes::{app, routes, RouteKind, MAX_BODY_BYTES};
pub use server::Server;
pub use state::{AppState, AppStateBuilder, DEFAULT_MAX_LIVE_STREAMS, DEFAULT_MAX_SCORERS};
