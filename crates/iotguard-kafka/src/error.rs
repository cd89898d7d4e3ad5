//! Errors of the Kafka stages: the client failing (transient or fatal, said in the message), a
//! topic missing, a sink refusing alerts. Bad records are not errors here: they are counted and
//! dead-lettered by the consume loop.

use rdkafka::error::KafkaError;

/// What went wrong talking to Kafka.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kafka client failed while doing `what`.
    #[error("kafka: {what}: {source}")]
    Kafka {
        /// What was being done (`creating the consumer`, `committing offsets`, ...).
        what: String,
        /// The client's error.
        #[source]
        source: KafkaError,
    },
    /// A topic the stage needs does not exist on the broker.
    #[error(
        "kafka: topic `{0}` does not exist (create it, or pass a partition count to create it)"
    )]
    MissingTopic(String),
    /// Messages were not delivered: the broker refused them or they timed out.
    #[error("kafka: {failed} message(s) to `{topic}` not delivered: {first}")]
    Delivery {
        /// The topic of the first failure.
        topic: String,
        /// How many deliveries failed since the last confirmation.
        failed: u64,
        /// The first failure's reason.
        first: String,
    },
    /// A stage after the consumer (an alert sink, the detector) failed; nothing is committed.
    #[error("{0}")]
    Stage(String),
}

impl Error {
    /// Wraps a client error with what was being done.
    pub(crate) fn kafka(what: impl Into<String>) -> impl FnOnce(KafkaError) -> Error {
        let what = what.into();
        move |source| Error::Kafka { what, source }
    }
}

/// The result of the Kafka stages.
pub type Result<T, E = Error> = std::result::Result<T, E>;
