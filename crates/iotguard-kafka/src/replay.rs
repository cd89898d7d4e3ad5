//! The producer side: flow records into a topic exactly as zeek-kafka writes them (one flat Zeek
//! JSON conn object per message, no key, `tag_json=F`), optionally paced at a rate.

use std::time::{Duration, Instant};

use iotguard_flow::FlowRecord;

use crate::config::KafkaConfig;
use crate::encode::JsonEncoder;
use crate::error::Result;
use crate::producer::{KafkaProducer, Outgoing, ProducerCounts};

/// Sends flow records to a topic as zeek-kafka messages.
pub struct Replayer {
    producer: KafkaProducer,
    topic: String,
    encoder: JsonEncoder,
    pace: Option<Pace>,
}

/// Spaces messages `1 / rate` seconds apart from `start`, catching up after a slow stretch.
struct Pace {
    start: Instant,
    rate: f64,
    sent: u64,
}

impl Replayer {
    /// Returns a replayer into `topic`, which must exist; `rate` paces it in records per second.
    pub fn new(config: &KafkaConfig, topic: &str, rate: Option<f64>) -> Result<Self> {
        crate::admin::require_topic(config, topic)?;
        Ok(Replayer {
            producer: KafkaProducer::new(config)?,
            topic: topic.to_string(),
            encoder: JsonEncoder::new(),
            pace: rate.filter(|r| r.is_finite() && *r > 0.0).map(|rate| Pace {
                start: Instant::now(),
                rate,
                sent: 0,
            }),
        })
    }

    /// Sends one record (waiting for its turn when paced, or while the client's queue is full).
    pub fn send(&mut self, rec: &FlowRecord) -> Result<()> {
        if let Some(pace) = &mut self.pace {
            let due = Duration::try_from_secs_f64(pace.sent as f64 / pace.rate)
                .ok()
                .and_then(|d| pace.start.checked_add(d));
            let now = Instant::now();
            if let Some(due) = due.filter(|due| *due > now) {
                std::thread::sleep(due - now);
            }
            pace.sent += 1;
        }
        self.producer.send(
            Outgoing {
                topic: &self.topic,
                key: None,
                payload: self.encoder.encode(rec),
                timestamp_ms: None,
            },
            None,
        )
    }

    /// Waits until every record sent is acknowledged and returns the counts.
    pub fn finish(mut self) -> Result<ProducerCounts> {
        self.producer.confirm()?;
        Ok(self.producer.counts())
    }
}
