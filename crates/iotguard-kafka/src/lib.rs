//! Kafka for iotguard: flows in from topics, alerts out to topics, with the guarantees an
//! operator needs.
//!
//! - [`Replayer`]: flow records into a topic as zeek-kafka writes them (the producer side).
//! - [`run_consumer`]: the consume loop every stage runs: consumer groups, messages decoded by
//!   `iotguard_flow::MessageDecoder` (zeek-kafka JSON, the `{"conn": {...}}` wrapper, Zeek TSV
//!   lines), undecodable messages to a dead-letter topic with their error and origin, offsets
//!   committed only after the [`Stage`] confirmed its outputs (at-least-once), bounded queues,
//!   clean shutdown.
//! - [`RekeyStage`]: republishes flows keyed by originating host to an internal topic, so each
//!   host's state lives on one consumer.
//! - [`admin`]: topic partition counts and creation; [`read_topic`]: a topic's messages as
//!   they are now (checking what a stage wrote); [`KafkaStats`]: the loop's counters.
//!
//! Invariants: an offset is committed only after every output of the messages before it was
//! confirmed (sinks flushed, producers acknowledged); a message that cannot be decoded is
//! counted, reported and dead-lettered, never dropped silently; no queue grows without bound.

pub mod admin;
mod config;
mod consume;
mod dead_letter;
mod detect;
mod encode;
mod error;
mod group;
mod producer;
mod read;
mod rekey;
mod replay;
mod sink;
mod source;
mod stats;

pub use config::{parse_option, KafkaConfig};
pub use consume::{run_consumer, ConsumeConfig, MessageMeta, Notice, Stage};
pub use dead_letter::header as dead_letter_header;
pub use detect::{KafkaDetect, KafkaDetectConfig};
pub use error::{Error, Result};
pub use producer::{KafkaProducer, Outgoing, ProducerCounts};
pub use read::{read_topic, TopicMessage};
pub use rekey::RekeyStage;
pub use replay::Replayer;
pub use sink::KafkaAlertSink;
pub use source::KafkaSource;
pub use stats::{KafkaStats, KafkaStatsSnapshot, LatencySnapshot};
