//! Drift monitors: is live traffic still what the model was trained on?
//!
//! A model file carries a [`ReferenceProfile`](iotguard_models::reference::ReferenceProfile)
//! from training. [`Monitor`] counts scored flows into windows of
//! [`MonitorConfig::window`] flows and compares each window with it:
//!
//! - the population stability index ([`psi()`]) per feature and for the score, over the
//!   reference's decile bins plus a missing-value cell, with a status per feature (`ok` under
//!   0.1, `warn`, `drift` from 0.25 held for [`MonitorConfig::persist`] windows in a row) and
//!   since when it holds. Like the reference, the histograms count the flows under the
//!   threshold: attack bursts are the alerts' business, and a window of 10,000 flows holding a
//!   flood would otherwise always look drifted;
//! - the share of missing values per feature (same flows; the features of one such flow in
//!   [`MonitorConfig::feature_every`], 4, are counted, which keeps the cost near 4 % of
//!   detection);
//! - two [`PageHinkley`] tests, on the window's alert rate and on its mean score (all flows).
//!
//! A window where a feature or the score newly reached `drift` (or, with
//! [`MonitorConfig::rate_events`], a test detected a change) gives a [`DriftEvent`]; the
//! detector turns it into an ECS document for the alert sinks.
//! [`DriftBoard`] shares the latest [`DriftStatus`] with the server (`GET /api/v1/drift`,
//! `/metrics`).
//!
//! ```
//! use std::sync::Arc;
//! use iotguard_models::reference::{FeatureProfile, Histogram, ReferenceProfile};
//! use iotguard_monitor::{Monitor, MonitorConfig, Status};
//!
//! let train: Vec<f32> = (0..1000).map(|i| (i % 100) as f32).collect();
//! let h = Histogram::from_values(&train);
//! let reference = ReferenceProfile {
//!     version: 1, rows: 1000, benign_rows: 1000,
//!     features: vec![FeatureProfile { name: "x".into(), histogram: h.clone() }],
//!     score: h, score_mean: 49.5, score_std: 28.9, threshold: 100.0, expected_alert_rate: 0.0,
//! };
//! let config = MonitorConfig { window: 1000, persist: 1, feature_every: 1, ..MonitorConfig::default() };
//! let mut monitor = Monitor::new(Arc::new(reference), config);
//! // Live values all above the training range (and no alert): every flow in the top bin.
//! for _ in 0..999 {
//!     assert!(!monitor.observe(&[500.0], 50.0, false));
//! }
//! assert!(monitor.observe(&[500.0], 50.0, false));
//! let event = monitor.close_window(0).expect("drift");
//! assert_eq!(event.features[0].name, "x");
//! assert_eq!(event.features[0].status, Status::Drift);
//! ```
//!
//! Invariants: pure and deterministic (no clock, no I/O: event time comes from the caller);
//! the per-flow path allocates nothing and costs one binary search per feature; memory is fixed
//! by the reference (at most 11 counters per feature). Depends on `iotguard-models` (the
//! profile type) only; `detect` depends on it, never the reverse.

mod monitor;
mod page_hinkley;
mod psi;
mod status;

pub use monitor::{DriftEvent, Monitor, MonitorConfig, MovedFeature};
pub use page_hinkley::{Change, PageHinkley};
pub use psi::{psi, Status, PSI_FLOOR};
pub use status::{Board, DetectorState, DriftBoard, DriftStatus, FeatureState, ScoreState};
