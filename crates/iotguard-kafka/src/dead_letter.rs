//! The dead-letter topic: a message that could not be decoded is republished there with its
//! original key and bytes, and headers saying why and where it came from, so nothing bad is
//! dropped silently and it can be fixed and replayed.
//!
//! Headers: `iotguard.error` (the reader's message: field and reason), `iotguard.error.kind`
//! (`malformed`, `bad_value`, ...), `iotguard.source.topic`, `iotguard.source.partition` and
//! `iotguard.source.offset` (decimal text).

use iotguard_flow::ParseError;
use rdkafka::message::{Header, OwnedHeaders};

use crate::config::KafkaConfig;
use crate::consume::MessageMeta;
use crate::error::Result;
use crate::producer::{KafkaProducer, Outgoing};

/// The header names.
pub mod header {
    /// The reason the message was rejected.
    pub const ERROR: &str = "iotguard.error";
    /// The class of the problem (`malformed`, `bad_value`, `field_count`, `line_too_long`).
    pub const ERROR_KIND: &str = "iotguard.error.kind";
    /// The topic the message was read from.
    pub const SOURCE_TOPIC: &str = "iotguard.source.topic";
    /// Its partition, as decimal text.
    pub const SOURCE_PARTITION: &str = "iotguard.source.partition";
    /// Its offset, as decimal text.
    pub const SOURCE_OFFSET: &str = "iotguard.source.offset";
}

/// A producer to the dead-letter topic.
pub(crate) struct DeadLetters {
    producer: KafkaProducer,
    topic: String,
    /// Sent but not yet confirmed.
    unconfirmed: u64,
}

impl DeadLetters {
    pub(crate) fn new(config: &KafkaConfig, topic: &str) -> Result<Self> {
        Ok(DeadLetters {
            producer: KafkaProducer::new(config)?,
            topic: topic.to_string(),
            unconfirmed: 0,
        })
    }

    /// Sends the rejected message with the error in its headers.
    pub(crate) fn send(&mut self, meta: &MessageMeta<'_>, error: &ParseError) -> Result<()> {
        let reason = match &error.field {
            Some(field) => format!(
                "{}:{}: field `{field}`: {}",
                error.input, error.line, error.reason
            ),
            None => format!("{}:{}: {}", error.input, error.line, error.reason),
        };
        let partition = meta.partition.to_string();
        let offset = meta.offset.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: header::ERROR,
                value: Some(reason.as_str()),
            })
            .insert(Header {
                key: header::ERROR_KIND,
                value: Some(error.kind.as_str()),
            })
            .insert(Header {
                key: header::SOURCE_TOPIC,
                value: Some(meta.topic),
            })
            .insert(Header {
                key: header::SOURCE_PARTITION,
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: header::SOURCE_OFFSET,
                value: Some(offset.as_str()),
            });
        self.producer.send(
            Outgoing {
                topic: &self.topic,
                key: meta.key,
                payload: meta.payload,
                timestamp_ms: meta.timestamp_ms,
            },
            Some(headers),
        )?;
        self.unconfirmed += 1;
        Ok(())
    }

    /// Waits for every dead letter to be acknowledged; returns how many were confirmed.
    pub(crate) fn confirm(&mut self) -> Result<u64> {
        self.producer.confirm()?;
        Ok(std::mem::take(&mut self.unconfirmed))
    }
}
