//! The dead-letter topic: a message that could not be decoded is republished there with its
//! original key and bytes, and headers saying why and where it came from, so nothing bad is
//! dropped silently and it can be fixed and replayed.
//!
//! Headers: `iotguard.error` (the reader's message: field and reason), `iotguard.error.kind`
//! (`malformed`, `bad_value`, ...), `iotguard.source.topic`, `iotguard.source.partition` and
//! `iotguard.source.offset` (decimal text).
//!
//! A dead letter must be sent whatever its size: a message close to the producer's
//! `message.max.bytes` (librdkafka's default 1 000 000) becomes larger than it once the headers
//! are added, and the client refuses it. Such a dead letter is sent with its payload cut to what
//! fits (and its key cut to 1 KiB if that is not enough), with the headers
//! `iotguard.truncated` (`true`) and `iotguard.original.size` (the payload's size in bytes,
//! decimal), and counted (`dead_letters_truncated`); it is never a stop.

use iotguard_flow::ParseError;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};

use crate::config::KafkaConfig;
use crate::consume::MessageMeta;
use crate::error::{Error, Result};
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
    /// `true` when the payload (or key) was cut to fit the producer's message size limit.
    pub const TRUNCATED: &str = "iotguard.truncated";
    /// The original payload's size in bytes, as decimal text (with `TRUNCATED`).
    pub const ORIGINAL_SIZE: &str = "iotguard.original.size";
}

/// librdkafka's default `message.max.bytes`.
const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_000_000;
/// Room kept for the message's framing beside key, value and headers.
const FRAMING: usize = 1024;
/// The longest key kept when the key itself does not fit.
const MAX_KEY: usize = 1024;

/// A producer to the dead-letter topic.
pub(crate) struct DeadLetters {
    producer: KafkaProducer,
    topic: String,
    /// Sent but not yet confirmed.
    unconfirmed: u64,
    /// The producer's message size limit.
    max_bytes: usize,
    /// Dead letters sent cut.
    truncated: u64,
}

impl DeadLetters {
    pub(crate) fn new(config: &KafkaConfig, topic: &str) -> Result<Self> {
        Ok(DeadLetters {
            producer: KafkaProducer::new(config)?,
            topic: topic.to_string(),
            unconfirmed: 0,
            max_bytes: config
                .options
                .iter()
                .rev()
                .find(|(k, _)| k == "message.max.bytes")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES),
            truncated: 0,
        })
    }

    /// Returns how many dead letters were sent cut (see the module docs).
    pub(crate) fn truncated(&self) -> u64 {
        self.truncated
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
        let original = meta.payload.len().to_string();
        let base = [
            (header::ERROR, reason.as_str()),
            (header::ERROR_KIND, error.kind.as_str()),
            (header::SOURCE_TOPIC, meta.topic),
            (header::SOURCE_PARTITION, partition.as_str()),
            (header::SOURCE_OFFSET, offset.as_str()),
        ];
        let headers_len: usize = base
            .iter()
            .map(|(k, v)| k.len() + v.len() + 8)
            .sum::<usize>()
            + header::TRUNCATED.len()
            + header::ORIGINAL_SIZE.len()
            + original.len()
            + 24;
        let key_len = meta.key.map_or(0, <[u8]>::len);
        let whole = meta.payload.len() + key_len + headers_len + FRAMING <= self.max_bytes;
        let mut key = meta.key;
        let mut payload = meta.payload;
        if !whole {
            if key_len + headers_len + FRAMING > self.max_bytes / 2 {
                key = key.map(|k| &k[..k.len().min(MAX_KEY)]);
            }
            let room = self
                .max_bytes
                .saturating_sub(key.map_or(0, <[u8]>::len) + headers_len + FRAMING);
            payload = &payload[..payload.len().min(room)];
        }
        loop {
            let cut = payload.len() < meta.payload.len()
                || key.map(<[u8]>::len) != meta.key.map(<[u8]>::len);
            let mut headers = OwnedHeaders::new();
            for (k, v) in base {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v),
                });
            }
            if cut {
                headers = headers
                    .insert(Header {
                        key: header::TRUNCATED,
                        value: Some("true"),
                    })
                    .insert(Header {
                        key: header::ORIGINAL_SIZE,
                        value: Some(original.as_str()),
                    });
            }
            let sent = self.producer.send(
                Outgoing {
                    topic: &self.topic,
                    key,
                    payload,
                    timestamp_ms: meta.timestamp_ms,
                },
                Some(headers),
            );
            match sent {
                Ok(()) => {
                    if cut {
                        self.truncated += 1;
                    }
                    self.unconfirmed += 1;
                    return Ok(());
                }
                // Still too large for the client (a limit set elsewhere): cut further.
                Err(Error::Kafka {
                    source: KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge),
                    ..
                }) if !payload.is_empty() => {
                    payload = &payload[..payload.len() / 2];
                    key = key.map(|k| &k[..k.len().min(MAX_KEY)]);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits for every dead letter to be acknowledged; returns how many were confirmed.
    pub(crate) fn confirm(&mut self) -> Result<u64> {
        self.producer.confirm()?;
        Ok(std::mem::take(&mut self.unconfirmed))
    }
}
