//! Feature extraction: one [`FlowRecord`](iotguard_flow::FlowRecord) in, one named `f32` vector
//! out, for training, evaluation and live detection alike (one code path, no train/serve skew).
//!
//! A vector has these parts, in this order (see [`FeatureSchema`] for the names):
//!
//! 1. **Per-flow features** (names without a `_host.` prefix):
//!    duration, log-scaled byte and packet counts in both directions, ratios, bytes per packet,
//!    payload share of IP bytes, missed bytes, one-hot protocol / connection state / service,
//!    Zeek history flags, port classes and IoT port indicators. Never addresses, uid or absolute
//!    timestamps.
//! 2. **Originating host context** (`orig_host.*`): damped incremental statistics (Kitsune's
//!    AfterImage, decay `2^(-Δt/h)`, half-life `h` per horizon) kept per originator address over
//!    event time: the gap since its previous flow, and per horizon the rate, byte and packet
//!    means and spreads, failed-connection share, inter-arrival mean and coefficient of variation
//!    (beacons), approximate distinct responders and responder ports (scans).
//! 3. **Responding host context** (`resp_host.*`): the same per responder address, with distinct
//!    originators (fan-in) and distinct ports asked of it (vertical scans).
//! 4. **Network context** ([`FeatureConfig::context`], all four groups by default): per pair
//!    gap regularity (`pair.*`), destination rarity and novelty (`dst.*`), per-port fan-out over
//!    hosts (`port.*`) and service/port mismatch (`service_port.*`); see [`ContextGroup`].
//! 5. **Native columns** (`native.*`, only with [`FeatureConfig::native`]).
//!
//! ```
//! use iotguard_features::{FeatureConfig, FeatureExtractor};
//! use iotguard_flow::FlowRecord;
//!
//! let mut x = FeatureExtractor::new(FeatureConfig::default());
//! let mut row = vec![0f32; x.dim()];
//! x.extract(&FlowRecord::default(), &mut row); // streaming: one flow, one vector
//! let batch = FeatureExtractor::new(FeatureConfig::default()).extract_all([&FlowRecord::default()]);
//! assert_eq!(row.len(), batch.len());
//! assert_eq!(x.schema().names[0], "duration_s");
//! ```
//!
//! Every feature is described in words by [`describe`] (meaning, unit, a sentence for a value,
//! what a missing value means): explanations in words and `docs/glossary.md` come from there.
//!
//! Invariants: pure and deterministic (the same flows in the same order give bit-identical
//! vectors; hash seeds never influence a value), no wall clock (time is the flows' `ts`), no I/O,
//! no knowledge of the input format, bounded memory (capped host tables with LRU and idle
//! eviction), no allocation per flow once the host tables are warm.

mod config;
mod context;
mod describe;
mod extract;
mod flow;
mod host;
mod lru;
mod schema;
mod window;

pub use config::{ConfigError, FeatureConfig, DEFAULT_CONTEXT};
pub use context::{
    ContextGroup, CONTEXT_HORIZON_SECS, DST_ORIGS_CAP, MAX_PORTS, PORT_HOSTS_CAP, PORT_WINDOW_SECS,
};
pub use describe::{describe, glossary_rows, number, FeatureDoc, Scale};
pub use extract::FeatureExtractor;
pub use schema::{FeatureSchema, SCHEMA_VERSION};
