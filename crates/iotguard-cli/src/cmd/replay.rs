//! `iotguard replay`: flow inputs into a Kafka topic, one zeek-kafka JSON message per record (no
//! key), as fast as the broker takes them or at `--rate` records per second. Rejected input
//! records are reported and counted as in `inspect`, never sent.

use anyhow::Context;
use clap::Args;
use iotguard_kafka::{admin, KafkaConfig, Replayer};

use super::InputArgs;
use crate::{exit, output};

/// Arguments of `replay`.
#[derive(Args, Debug)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The Kafka bootstrap servers, `host:port[,host:port...]`.
    #[arg(long, value_name = "BROKER")]
    kafka: String,
    /// The topic to write to.
    #[arg(long, value_name = "TOPIC")]
    topic: String,
    /// Send at this many records per second instead of as fast as possible.
    #[arg(long, value_name = "RECORDS_PER_SEC")]
    rate: Option<f64>,
    /// Create the topic with this many partitions when it does not exist (otherwise a missing
    /// topic is an error).
    #[arg(long, value_name = "N")]
    partitions: Option<usize>,
    /// An extra librdkafka setting, `KEY=VALUE` (repeatable).
    #[arg(long = "kafka-option", value_name = "KEY=VALUE", value_parser = iotguard_kafka::parse_option)]
    kafka_options: Vec<(String, String)>,
}

pub(crate) fn run(args: ReplayArgs) -> anyhow::Result<u8> {
    if let Some(rate) = args.rate {
        anyhow::ensure!(
            rate.is_finite() && rate > 0.0,
            "--rate must be a positive number of records per second"
        );
    }
    let config = KafkaConfig {
        brokers: args.kafka.clone(),
        options: args.kafka_options.clone(),
    };
    if let Some(partitions) = args.partitions {
        if admin::ensure_topic(&config, &args.topic, partitions)? {
            output::info(&format!(
                "created topic {} with {partitions} partition(s)",
                args.topic
            ));
        }
    }
    let mut replayer = Replayer::new(&config, &args.topic, args.rate)
        .with_context(|| format!("replaying into {} on {}", args.topic, args.kafka))?;
    // The sink keeps the first send error; the batch stops at it.
    let mut failure: Option<iotguard_kafka::Error> = None;
    let read = args.input.read(&mut |_, rec| match replayer.send(&rec) {
        Ok(()) => Ok(()),
        Err(e) => {
            let io = std::io::Error::other(e.to_string());
            failure = Some(e);
            Err(iotguard_runtime::Error::io("kafka", io))
        }
    });
    if let Some(e) = failure {
        return Err(anyhow::Error::new(e).context("sending to Kafka"));
    }
    let (_, outcome) = read?;
    let counts = replayer
        .finish()
        .context("waiting for Kafka to acknowledge")?;
    let total = outcome.total().finish(0);
    output::info(&format!(
        "replayed {} records to {} on {} ({} delivered; {} rejected input records not sent) from {} input(s)",
        counts.sent,
        args.topic,
        args.kafka,
        counts.delivered,
        total.bad_records,
        outcome.per_input.len()
    ));
    Ok(if outcome.failed_inputs.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    })
}

/// The Kafka arguments of `detect` (`--kafka BROKER --topic T` reads flows from Kafka).
#[derive(Args, Debug)]
#[command(next_help_heading = "Kafka")]
pub(crate) struct KafkaDetectArgs {
    /// Read flows from Kafka at these bootstrap servers (`host:port[,...]`), with --topic,
    /// instead of files; runs until stopped (SIGTERM or Ctrl-C commits what is confirmed and
    /// leaves the group).
    #[arg(
        long,
        value_name = "BROKER",
        requires = "topic",
        conflicts_with = "follow"
    )]
    pub(crate) kafka: Option<String>,
    /// The topic flows arrive on (zeek-kafka JSON, the `{"conn": ...}` wrapper, or Zeek TSV lines).
    #[arg(long, value_name = "TOPIC", requires = "kafka")]
    topic: Option<String>,
    /// The consumer group: detectors in one group share the topic's partitions.
    #[arg(
        long,
        value_name = "GROUP",
        default_value = "iotguard-detect",
        requires = "kafka"
    )]
    group: String,
    /// Also send alerts (ECS JSON, keyed by alert id) to this topic (created when missing).
    #[arg(long, value_name = "TOPIC", requires = "kafka")]
    alerts_topic: Option<String>,
    /// Send messages that cannot be decoded to this topic, with their error and origin in
    /// headers (created when missing).
    #[arg(long, value_name = "TOPIC", requires = "kafka")]
    dead_letter_topic: Option<String>,
    /// Re-key flows by originating host through this internal topic (created when missing)
    /// so each host's state lives on one detector of the group (group GROUP-rekey re-keys).
    #[arg(long, value_name = "TOPIC", requires = "kafka")]
    rekey_topic: Option<String>,
    /// Stop once the topic is read to its end (for batch runs and tests) instead of waiting
    /// for more.
    #[arg(long, requires = "kafka")]
    stop_at_end: bool,
    /// An extra librdkafka setting, `KEY=VALUE` (repeatable).
    #[arg(long = "kafka-option", value_name = "KEY=VALUE", value_parser = iotguard_kafka::parse_option, requires = "kafka")]
    kafka_options: Vec<(String, String)>,
}

impl KafkaDetectArgs {
    /// Starts the Kafka side of `detect`: topics checked and created, the re-key member if
    /// asked, the consumer joined.
    pub(crate) fn start(
        &self,
        read: iotguard_flow::ReadOptions,
        shutdown: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> anyhow::Result<(iotguard_kafka::KafkaSource, iotguard_kafka::KafkaDetect)> {
        let broker = self.kafka.clone().context("--kafka is required")?;
        let config = iotguard_kafka::KafkaDetectConfig {
            kafka: KafkaConfig {
                brokers: broker.clone(),
                options: self.kafka_options.clone(),
            },
            topic: self.topic.clone().context("--topic is required")?,
            group: self.group.clone(),
            alerts_topic: self.alerts_topic.clone(),
            dead_letter_topic: self.dead_letter_topic.clone(),
            rekey_topic: self.rekey_topic.clone(),
            stop_at_end: self.stop_at_end,
            read,
        };
        // The re-key member reports from its own thread: the first rejected records, then a count.
        let mut printed = 0usize;
        let notice = Box::new(move |n: iotguard_kafka::Notice<'_>| match n {
            iotguard_kafka::Notice::Rejected(e) => {
                printed += 1;
                if printed <= 20 {
                    output::warn(&format!("rejected {e}"));
                }
            }
            iotguard_kafka::Notice::Warning(w) => output::warn(&w),
            iotguard_kafka::Notice::Info(text) => output::info(&text),
        });
        iotguard_kafka::KafkaDetect::start(&config, shutdown, notice)
            .with_context(|| format!("reading flows from Kafka at {broker}"))
    }
}

/// Waits for the re-key member and reports the Kafka counters; returns them for `--json`.
pub(crate) fn finish_kafka(
    side: &mut iotguard_kafka::KafkaDetect,
) -> anyhow::Result<serde_json::Value> {
    side.finish_rekey().context("re-keying")?;
    let detect = side.stats.snapshot();
    let rekey = side.rekey_stats.as_ref().map(|s| s.snapshot());
    let total_lag: i64 = detect.lag.values().sum();
    output::info(&format!(
        "kafka: {} messages consumed, {} records, {} rejected, {} dead-lettered, {} committed, lag {total_lag}{}",
        detect.consumed,
        detect.records,
        detect.rejected + rekey.as_ref().map_or(0, |r| r.rejected),
        detect.dead_lettered + rekey.as_ref().map_or(0, |r| r.dead_lettered),
        detect.committed,
        match &rekey {
            Some(r) => format!(" (re-key: {} consumed, {} committed)", r.consumed, r.committed),
            None => String::new(),
        }
    ));
    Ok(serde_json::json!({ "detect": detect, "rekey": rekey }))
}
