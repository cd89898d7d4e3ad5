//! Real-time detection: flow records in, explained and graded alerts out.
//!
//! The stages, in the order a flow meets them:
//!
//! 1. a [`Source`](source::Source) (file or folder replay with pacing, standard input, a live Zeek
//!    log folder followed through rotation with a checkpoint) yields records and rejected lines;
//! 2. the [`Detector`] turns a record into features (the model lab's
//!    [`FeatureExtractor`](iotguard_features::FeatureExtractor), per-host state), scores it with the
//!    active model ([`ModelHandle`], swappable between flows), compares the score with the
//!    threshold and folds alerting flows into incidents (one per source, pattern and target set:
//!    a scan, a flood of one host, a beacon to one server; flows forming no pattern yet are the
//!    source's `anomaly` incident);
//! 3. incidents become [`Alert`]s: Elastic Common Schema documents with a severity, a 0–100 risk
//!    score, an inferred [`AttackType`], the top features with their contributions and the flow
//!    uids; an alert's id is stable per incident so sinks upsert it while it lasts;
//! 4. [`AlertSink`]s write them: a JSON-lines file with rotation, the SQLite [`AlertStore`] (the
//!    default), a webhook; [`Stats`] counts every stage and [`LiveFeed`] fans flows (sampled) and
//!    alerts out to the dashboard.
//!
//! [`run_pipeline`] is the loop that joins them:
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//! use std::sync::atomic::AtomicBool;
//!
//! use iotguard_detect::source::replay::{Pacing, ReplaySource};
//! use iotguard_detect::{
//!     run_pipeline, AlertSink, AlertStore, DetectConfig, Detector, ModelHandle, PipelineConfig,
//!     PipelineParts, Stats,
//! };
//!
//! let model = ModelHandle::load(Path::new("model.json"))?;
//! let mut detector = Detector::new(model, DetectConfig::default())?;
//! let mut sinks: Vec<Box<dyn AlertSink>> = vec![Box::new(AlertStore::open(Path::new("alerts.db"))?)];
//! let mut source = ReplaySource::open(
//!     &[PathBuf::from("conn.log")],
//!     Default::default(),
//!     1,
//!     Pacing::Fast,
//! )?;
//! let stats = Stats::new();
//! let report = run_pipeline(
//!     &mut source,
//!     &mut detector,
//!     &mut sinks,
//!     &PipelineConfig::default(),
//!     PipelineParts {
//!         stats: &stats,
//!         feed: None,
//!         shutdown: &AtomicBool::new(false),
//!         archive: None,
//!         on_notice: &mut |notice| eprintln!("{notice:?}"),
//!     },
//! )?;
//! println!("{} flows, {} incidents", report.flows, report.incidents);
//! # Ok::<(), iotguard_detect::Error>(())
//! ```
//!
//! Invariants: the [`Detector`] is deterministic given its flows (time is the flows' time; the
//! wall clock only stamps `event.created` and is injectable); bad input is counted, reported and set aside, never a panic and never a stop;
//! memory is bounded by configuration (host tables, open incidents, uids and peers per incident).

mod alert;
pub mod baseline;
mod config;
mod detector;
mod drift;
mod error;
mod feed;
mod incident;
mod model;
mod pending;
mod pipeline;
mod reasons;
mod risk;
mod scored;
mod shadow;
pub mod sink;
pub mod source;
mod source_health;
mod stage;
mod stats;
mod store;
mod table;
mod time;
mod typing;

pub use alert::{
    Alert, AlertCounts, AlertEvent, AlertIotguard, AlertNetwork, AlertObserver, AlertRule,
    Endpoint, FeatureContribution, ECS_VERSION,
};
pub use baseline::{LearnConfig, LearnStatus, LearnUntil};
pub use config::{AssetRule, Cidr, Clock, Criticality, DetectConfig};
pub use detector::Detector;
pub use drift::{EventDocument, EventFields, EventIotguard, NO_PROFILE};
pub use error::{Error, Result};
pub use feed::{FeedConfig, FeedEvent, LiveFeed};
pub use iotguard_monitor as monitor;
pub use model::{ActiveModel, ModelHandle, ModelInfo};
pub use pipeline::{run_pipeline, Notice, PipelineConfig, PipelineParts, PipelineReport};
pub use risk::{AttackType, Severity};
pub use scored::ScoredFlow;
pub use shadow::{Shadow, ShadowCounts, ShadowStatus};
pub use sink::{AlertSink, SinkError};
pub use source_health::{SourceHealth, SourceState};
pub use stats::{HistogramSnapshot, SourceMetrics, Stage, Stats, StatsSnapshot};
pub use store::{
    AlertFlows, AlertPage, AlertQuery, AlertStore, AttackPerformance, Feedback, ModelPerformance,
    Performance, SeverityCount, Timeline, TimelineBucket, TriageStatus, Verdict, VerdictCounts,
    KEPT_FLOWS, MAX_TIMELINE_BUCKETS,
};
pub use table::IncidentTracker;
pub use time::{parse_time, rfc3339};
