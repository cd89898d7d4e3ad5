//! Reading a whole topic as it is now, outside any consumer group: every partition from its
//! first offset to its high watermark. For checking what a stage wrote (dead letters, alerts),
//! in tests and by hand; not a way to consume a live stream.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::error::{Error, Result};

/// One message read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicMessage {
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The timestamp in milliseconds, if any.
    pub timestamp_ms: Option<i64>,
    /// The key.
    pub key: Option<Vec<u8>>,
    /// The value.
    pub payload: Vec<u8>,
    /// The headers, in order, values as lossy UTF-8 text.
    pub headers: Vec<(String, String)>,
}

impl TopicMessage {
    /// Returns the value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads every message of `topic` up to the high watermarks as of the call, in partition then
/// offset order; fails if they cannot all be read within `timeout`.
pub fn read_topic(
    config: &KafkaConfig,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<TopicMessage>> {
    let partitions = crate::admin::require_topic(config, topic)?;
    let mut client_config = config.admin();
    client_config
        .set("group.id", "iotguard-read-topic")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    let consumer: BaseConsumer = client_config
        .create()
        .map_err(Error::kafka("creating a reader"))?;
    let mut list = TopicPartitionList::new();
    let mut ends = Vec::new();
    for partition in 0..i32::try_from(partitions).unwrap_or(i32::MAX) {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, timeout)
            .map_err(Error::kafka(format!("reading the watermarks of `{topic}`")))?;
        if high > low {
            list.add_partition_offset(topic, partition, Offset::Offset(low))
                .map_err(Error::kafka("building the assignment"))?;
            ends.push((partition, high));
        }
    }
    let mut out = Vec::new();
    if ends.is_empty() {
        return Ok(out);
    }
    consumer
        .assign(&list)
        .map_err(Error::kafka(format!("assigning `{topic}`")))?;
    let deadline = Instant::now() + timeout;
    let done = |out: &[TopicMessage]| {
        ends.iter().all(|(p, high)| {
            out.iter()
                .filter(|m| m.partition == *p)
                .map(|m| m.offset)
                .max()
                .is_some_and(|o| o + 1 >= *high)
        })
    };
    while !done(&out) {
        if Instant::now() >= deadline {
            return Err(Error::Stage(format!(
                "kafka: reading `{topic}`: {} messages read, the rest not within {timeout:?}",
                out.len()
            )));
        }
        // Errors (end of partition, a transient fetch error) only mean "poll again".
        let Some(Ok(msg)) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let high = ends
            .iter()
            .find(|(p, _)| *p == msg.partition())
            .map_or(0, |(_, h)| *h);
        if msg.offset() >= high {
            continue;
        }
        let headers = msg
            .headers()
            .map(|h| {
                h.iter()
                    .map(|header| {
                        (
                            header.key.to_string(),
                            String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(TopicMessage {
            partition: msg.partition(),
            offset: msg.offset(),
            timestamp_ms: msg.timestamp().to_millis(),
            key: msg.key().map(<[u8]>::to_vec),
            payload: msg.payload().unwrap_or_default().to_vec(),
            headers,
        });
    }
    out.sort_by_key(|m| (m.partition, m.offset));
    Ok(out)
}
