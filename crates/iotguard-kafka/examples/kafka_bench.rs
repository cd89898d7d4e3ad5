//! Helpers of `bench/kafka_bench.sh`: the bare consumer the detector is compared with, and the
//! progress of a consumer group.
//!
//! - `kafka_bench bare BROKER TOPIC`: reads the whole topic in a fresh consumer group with the
//!   same client settings as the detector but no decoding or processing; prints
//!   `{"messages": N, "bytes": B, "secs": S, "per_sec": R}`, timed from the first message to
//!   the last (as the detector's `consume_secs`).
//! - `kafka_bench bare-latency BROKER TOPIC COUNT`: follows the topic (fresh group) until COUNT
//!   messages arrived; prints the percentiles of receipt time minus Kafka timestamp.
//! - `kafka_bench create BROKER TOPIC PARTITIONS`: creates the topic unless it exists.
//! - `kafka_bench progress BROKER GROUP TOPIC`: prints `COMMITTED HIGH` summed over partitions.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use iotguard_kafka::{admin, KafkaConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["bare", broker, topic] => {
            let config = KafkaConfig::new(*broker);
            let high: i64 = admin::group_progress(&config, "bench-bare", topic)?
                .iter()
                .map(|(_, h)| h)
                .sum();
            let group = format!("bench-bare-{}", std::process::id());
            let consumer: BaseConsumer = config.consumer(&group).create()?;
            consumer.subscribe(&[topic])?;
            let (mut messages, mut bytes, mut first, mut last) =
                (0i64, 0usize, None, Instant::now());
            while messages < high {
                if let Some(Ok(msg)) = consumer.poll(Duration::from_millis(100)) {
                    bytes += msg.payload().map_or(0, <[u8]>::len);
                    messages += 1;
                    last = Instant::now();
                    first.get_or_insert(last);
                }
            }
            let secs = first.map_or(0.0, |f| last.duration_since(f).as_secs_f64());
            println!(
                "{{\"messages\": {messages}, \"bytes\": {bytes}, \"secs\": {secs:.3}, \"per_sec\": {:.0}}}",
                messages as f64 / secs.max(1e-9)
            );
        }
        ["bare-latency", broker, topic, count] => {
            // Follows the topic until `count` messages arrived; latency = wall clock at receipt
            // minus the message's Kafka timestamp (the broker's floor for flow->alert).
            let count: usize = count.parse()?;
            let config = KafkaConfig::new(*broker);
            let group = format!("bench-latency-{}", std::process::id());
            let consumer: BaseConsumer = config.consumer(&group).create()?;
            consumer.subscribe(&[topic])?;
            let mut latencies = Vec::with_capacity(count);
            while latencies.len() < count {
                if let Some(Ok(msg)) = consumer.poll(Duration::from_millis(100)) {
                    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64() * 1e3;
                    if let Some(ts) = msg.timestamp().to_millis() {
                        latencies.push(now_ms - ts as f64);
                    }
                }
            }
            latencies.sort_by(f64::total_cmp);
            let q = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
            println!(
                "{{\"count\": {}, \"p50_ms\": {:.1}, \"p95_ms\": {:.1}, \"p99_ms\": {:.1}, \"max_ms\": {:.1}}}",
                latencies.len(),
                q(0.5),
                q(0.95),
                q(0.99),
                q(1.0)
            );
        }
        ["create", broker, topic, partitions] => {
            admin::ensure_topic(&KafkaConfig::new(*broker), topic, partitions.parse()?)?;
        }
        ["progress", broker, group, topic] => {
            let config = KafkaConfig::new(*broker);
            let progress = admin::group_progress(&config, group, topic)?;
            let committed: i64 = progress.iter().map(|(c, _)| c.unwrap_or(0)).sum();
            let high: i64 = progress.iter().map(|(_, h)| h).sum();
            println!("{committed} {high}");
        }
        _ => {
            eprintln!("usage: kafka_bench bare BROKER TOPIC | bare-latency BROKER TOPIC COUNT | create BROKER TOPIC PARTITIONS | progress BROKER GROUP TOPIC");
            std::process::exit(2);
        }
    }
    Ok(())
}
