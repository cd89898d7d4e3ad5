//! Where alerts go: the [`AlertSink`] trait and its implementations, a JSON-lines file with
//! size-based rotation ([`JsonlSink`]), a webhook ([`WebhookSink`]) and the SQLite
//! [`AlertStore`](crate::AlertStore) (the default sink, in `store.rs`). The Kafka sink lives in
//! `iotguard-kafka` and implements the same trait.
//!
//! Delivery is at least once: a document may be sent again (the next revision of an incident,
//! or a replay after a crash), so receivers upsert by `event.id`.

mod dead_letter;
mod jsonl;
mod webhook;

pub use dead_letter::DeadLetterFile;
pub use jsonl::{JsonlConfig, JsonlSink};
pub use webhook::{WebhookConfig, WebhookSink};

use crate::alert::Alert;
use crate::drift::EventDocument;

/// A destination for alert documents.
///
/// [`send`](AlertSink::send) may buffer; [`flush`](AlertSink::flush) returns only once
/// everything sent so far is durable or acknowledged. Sources that track positions (the Kafka
/// consumer, the followed log) commit them only after every sink's flush succeeded.
pub trait AlertSink: Send {
    /// Returns the sink's name for reports and metrics.
    fn name(&self) -> &str;

    /// Sends alert documents (new incidents and updates of open ones, upserted by id).
    fn send(&mut self, alerts: &[Alert]) -> Result<(), SinkError>;

    /// Returns once everything sent is durable or acknowledged.
    fn flush(&mut self) -> Result<(), SinkError>;

    /// The last flush of a run: like [`flush`](AlertSink::flush), but a sink that delivers in
    /// the background (the webhook) waits for its deliveries to finish or be set aside, so that
    /// what it reports covers every alert it was sent. The sink takes no more alerts after it.
    fn close(&mut self) -> Result<(), SinkError> {
        self.flush()
    }

    /// Sends event documents (drift events: ECS `event.kind: "event"`), which are not alerts:
    /// each sink writes them where it writes alerts (a JSON-lines file or topic gets them
    /// between the alerts, the store keeps them in a table of their own, a webhook gets them
    /// in a request of their own). Rare: a few per run.
    fn send_events(&mut self, events: &[EventDocument]) -> Result<(), SinkError>;

    /// Sends the alerting flows of a batch (each with its incident id), for a sink that keeps
    /// them with their alert (the store: the first and last flows of each incident). Others
    /// ignore them.
    fn send_flows(&mut self, _flows: &[crate::scored::ScoredFlow]) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A sink failure.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite store failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// An alert could not be encoded.
    #[error("encoding an alert: {0}")]
    Encode(#[from] serde_json::Error),
    /// The webhook failed after its retries.
    #[error("webhook {url}: {reason} (after {attempts} attempts)")]
    Http {
        /// The URL.
        url: String,
        /// The last failure.
        reason: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// Alerts the sink could not deliver were kept in its dead-letter file: counted and
    /// reported, not lost (the source may commit past them).
    #[error(
        "{alerts} alerts could not be delivered ({reason}); kept in {path}{}",
        if *unresolved > 0 { format!("; {unresolved} requests still being sent") } else { String::new() }
    )]
    DeadLettered {
        /// How many documents went to the file.
        alerts: u64,
        /// The dead-letter file.
        path: String,
        /// The last failure.
        reason: String,
        /// Requests neither delivered nor dead-lettered yet (the flush did not wait for them:
        /// the source must not commit).
        unresolved: u64,
    },
    /// Alerts could be neither delivered nor kept (in memory for a retry, or in a dead-letter
    /// file): the pipeline stops the run on this error, without committing its source.
    #[error("alerts lost: {0}")]
    Lost(String),
    /// Any other failure (for sinks in other crates).
    #[error("{0}")]
    Other(String),
}

impl SinkError {
    /// Whether the failure lost alerts, so the run must stop (see [`SinkError::Lost`]).
    pub fn is_fatal(&self) -> bool {
        matches!(self, SinkError::Lost(_))
    }

    /// Whether every alert concerned was set aside (dead-lettered): counted and reported, but
    /// nothing is left to deliver, so the source may commit.
    pub fn is_set_aside(&self) -> bool {
        matches!(self, SinkError::DeadLettered { unresolved: 0, .. })
    }

    /// Builds an I/O error for a path.
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> SinkError {
        SinkError::Io {
            path: path.to_string(),
            source,
        }
    }
}
