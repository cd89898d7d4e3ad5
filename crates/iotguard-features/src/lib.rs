//! Feature extraction: one [`FlowRecord`](iotguard_flow::FlowRecord) in, one named `f32` vector
//! out, for training, evaluation and live detection alike (one code path, no train/serve skew).
//!
//! A vector has three parts, in this order (see [`FeatureSchema`] for the names):
//!
//! 1. **Per-flow features** ([`flow`](crate::FeatureSchema) names without a `.host` prefix):
//!    duration, log-scaled byte and packet counts in both directions, ratios, bytes per packet,
//!    payload share of IP bytes, missed bytes, one-hot protocol / connection state / service,
//!    Zeek history flags, port classes and IoT port indicators. Never addresses, uid or absolute
//!    timestamps.
//! 2. **Originating host context** (`orig_host.*`) and 3. **responding host context**
//!    (`resp_host.*`): damped incremental statistics (Kitsune's AfterImage, decay
//!    `2^(-Δt/h)` with half-life `h` per horizon) kept per host address over event time: rate,
//!    byte/packet means and spreads, failed-connection share, inter-arrival mean and coefficient of
//!    variation (beacons), approximate distinct peers and ports.
//!
//! Invariants: pure and deterministic (the same flows in the same order give bit-identical
//! vectors; hash seeds never influence a value), no wall clock (time is the flows' `ts`), no I/O,
//! no knowledge of the input format, bounded memory (capped host tables with LRU and idle
//! eviction), no allocation per flow once the host tables are warm.

mod config;
mod extract;
mod flow;
mod host;
mod schema;
mod window;

pub use config::{ConfigError, FeatureConfig};
pub use extract::FeatureExtractor;
pub use schema::{FeatureSchema, SCHEMA_VERSION};
