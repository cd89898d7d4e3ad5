//! The re-key stage: zeek-kafka sends flows with no key, so any partition may hold any host. This
//! stage republishes each flow to an internal topic keyed by its originating host (`id.orig_h`
//! as text), so one partition, and so one detector of the group, sees all of a host's flows and
//! keeps that host's state. The value is the flow as zeek-kafka JSON (TSV sources come out as
//! JSON too) and the original message's timestamp is kept, so latency is measured from the
//! sensor's message. Offsets of the source are committed only after the internal topic
//! acknowledged the republished flows.

use std::fmt::Write as _;

use iotguard_flow::FlowRecord;

use crate::config::KafkaConfig;
use crate::consume::{MessageMeta, Stage};
use crate::encode::JsonEncoder;
use crate::error::Result;
use crate::producer::{KafkaProducer, Outgoing};

/// Republishes flows keyed by originating host.
pub struct RekeyStage {
    producer: KafkaProducer,
    topic: String,
    encoder: JsonEncoder,
    key: String,
}

impl RekeyStage {
    /// Returns a stage writing to `topic`, which must exist.
    pub fn new(config: &KafkaConfig, topic: &str) -> Result<Self> {
        crate::admin::require_topic(config, topic)?;
        Ok(RekeyStage {
            producer: KafkaProducer::new(config)?,
            topic: topic.to_string(),
            encoder: JsonEncoder::new(),
            key: String::new(),
        })
    }
}

impl Stage for RekeyStage {
    fn process(&mut self, rec: FlowRecord, meta: &MessageMeta<'_>) -> Result<()> {
        self.key.clear();
        // A flow without an originating host has no home; it is spread like an unkeyed message.
        if let Some(host) = rec.orig_h {
            let _ = write!(self.key, "{host}");
        }
        self.producer.send(
            Outgoing {
                topic: &self.topic,
                key: (!self.key.is_empty()).then_some(self.key.as_bytes()),
                payload: self.encoder.encode(&rec),
                timestamp_ms: meta.timestamp_ms,
            },
            None,
        )
    }

    fn confirm(&mut self) -> Result<()> {
        self.producer.confirm()
    }
}
