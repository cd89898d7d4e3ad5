//! [`KafkaAlertSink`]: alert documents (ECS JSON, as the other sinks write them) to a topic,
//! keyed by the alert's id, so every revision of an incident lands on one partition in order
//! and a compacted topic keeps the latest. `flush` returns only when the broker acknowledged
//! every document sent, which is what lets the source commit its offsets.

use iotguard_detect::{Alert, AlertSink, EventDocument, SinkError};

use crate::config::KafkaConfig;
use crate::producer::{KafkaProducer, Outgoing};

/// Sends alerts to a Kafka topic.
pub struct KafkaAlertSink {
    producer: KafkaProducer,
    topic: String,
    name: String,
    buf: Vec<u8>,
}

impl KafkaAlertSink {
    /// Returns a sink to `topic`, which must exist.
    pub fn new(config: &KafkaConfig, topic: &str) -> crate::Result<Self> {
        crate::admin::require_topic(config, topic)?;
        Ok(KafkaAlertSink {
            producer: KafkaProducer::new(config)?,
            topic: topic.to_string(),
            name: format!("kafka {topic}"),
            buf: Vec::with_capacity(4096),
        })
    }
}

impl AlertSink for KafkaAlertSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&mut self, alerts: &[Alert]) -> Result<(), SinkError> {
        for alert in alerts {
            self.buf.clear();
            serde_json::to_writer(&mut self.buf, alert)?;
            self.producer
                .send(
                    Outgoing {
                        topic: &self.topic,
                        key: Some(alert.id().as_bytes()),
                        payload: &self.buf,
                        timestamp_ms: None,
                    },
                    None,
                )
                .map_err(|e| SinkError::Other(e.to_string()))?;
        }
        Ok(())
    }

    fn send_events(&mut self, events: &[EventDocument]) -> Result<(), SinkError> {
        for event in events {
            self.buf.clear();
            serde_json::to_writer(&mut self.buf, event)?;
            self.producer
                .send(
                    Outgoing {
                        topic: &self.topic,
                        key: Some(event.id().as_bytes()),
                        payload: &self.buf,
                        timestamp_ms: None,
                    },
                    None,
                )
                .map_err(|e| SinkError::Other(e.to_string()))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.producer
            .confirm()
            .map_err(|e| SinkError::Other(e.to_string()))
    }
}
