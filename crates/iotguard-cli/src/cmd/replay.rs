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
