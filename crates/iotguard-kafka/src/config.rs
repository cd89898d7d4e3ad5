//! How to reach the broker and how the clients are set up: one place for the librdkafka
//! settings every stage relies on (manual commits, bounded queues, delivery confirmation).

use rdkafka::ClientConfig;

/// The broker connection, shared by every client a stage makes.
#[derive(Clone, Debug)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Extra librdkafka settings (`key=value`), applied last so they can override ours.
    pub options: Vec<(String, String)>,
}

impl KafkaConfig {
    /// Returns a configuration for these brokers with no extra settings.
    pub fn new(brokers: impl Into<String>) -> Self {
        KafkaConfig {
            brokers: brokers.into(),
            options: Vec::new(),
        }
    }

    /// Returns the base client configuration.
    fn base(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", "iotguard");
        config
    }

    fn with_options(&self, mut config: ClientConfig) -> ClientConfig {
        for (key, value) in &self.options {
            config.set(key, value);
        }
        config
    }

    /// Returns a producer configuration: acknowledged by all in-sync replicas, idempotent (no
    /// duplicates from retries), and a bounded local queue, so a slow broker makes `send` wait
    /// instead of memory grow.
    pub(crate) fn producer(&self) -> ClientConfig {
        let mut config = self.base();
        config
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "1")
            .set("queue.buffering.max.messages", "100000")
            .set("queue.buffering.max.kbytes", "65536")
            .set("message.timeout.ms", "30000");
        self.with_options(config)
    }

    /// Returns a consumer configuration for `group`: offsets are committed by the stage only
    /// after its outputs are confirmed (never automatically), a group seen for the first time
    /// starts at the earliest offset, the prefetch queue is bounded, fetches wait 10 ms at most,
    /// and statistics (lag per partition) arrive every second.
    pub fn consumer(&self, group: &str) -> ClientConfig {
        let mut config = self.base();
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "true")
            .set("queued.max.messages.kbytes", "16384")
            // A fetch returns after 10 ms at most even when it found nothing (the default,
            // 500 ms, puts half a second between a flow and its alert on a quiet topic).
            .set("fetch.wait.max.ms", "10")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .set("statistics.interval.ms", "1000");
        self.with_options(config)
    }

    /// Returns a configuration for metadata and topic administration.
    pub(crate) fn admin(&self) -> ClientConfig {
        self.with_options(self.base())
    }
}

/// Parses a `key=value` librdkafka setting.
///
/// ```
/// assert_eq!(
///     iotguard_kafka::parse_option("session.timeout.ms=6000"),
///     Ok(("session.timeout.ms".to_string(), "6000".to_string()))
/// );
/// assert!(iotguard_kafka::parse_option("nothing").is_err());
/// ```
pub fn parse_option(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}
