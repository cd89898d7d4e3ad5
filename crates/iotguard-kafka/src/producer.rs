//! One producer for every stage that writes to Kafka (replay, re-key, dead letters, alerts):
//! `send` waits while the local queue is full (backpressure, never unbounded memory), and
//! `confirm` returns only when every message sent so far is acknowledged by the broker, or
//! says how many were not.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use crate::config::KafkaConfig;
use crate::error::{Error, Result};

/// How long `confirm` waits for outstanding deliveries before giving up.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);

/// Delivery reports, counted as they arrive on the producer's thread.
#[derive(Default)]
struct Deliveries {
    delivered: AtomicU64,
    failed: AtomicU64,
    /// The first failure since the last `confirm`: its topic and reason.
    first_failure: Mutex<Option<(String, String)>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, msg)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_failure.lock().unwrap_or_else(|p| p.into_inner());
                if first.is_none() {
                    *first = Some((msg.topic().to_string(), e.to_string()));
                }
            }
        }
    }
}

/// A message to send.
#[derive(Clone, Copy, Debug)]
pub struct Outgoing<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The key (partitioning: the same key always goes to the same partition), if any.
    pub key: Option<&'a [u8]>,
    /// The value.
    pub payload: &'a [u8],
    /// The timestamp in milliseconds since the epoch; `None` lets the client stamp it now.
    pub timestamp_ms: Option<i64>,
}

/// Counts of a producer's work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProducerCounts {
    /// Messages handed to the client.
    pub sent: u64,
    /// Messages the broker acknowledged.
    pub delivered: u64,
    /// Messages that failed (refused, or timed out).
    pub failed: u64,
    /// Times `send` had to wait because the local queue was full.
    pub waits: u64,
}

/// A producer with delivery confirmation and backpressure.
pub struct KafkaProducer {
    inner: ThreadedProducer<Deliveries>,
    sent: u64,
    waits: u64,
    /// Failures already reported by an earlier `confirm`.
    failed_reported: u64,
}

impl KafkaProducer {
    /// Connects a producer (no request is made until the first send).
    pub fn new(config: &KafkaConfig) -> Result<Self> {
        let inner = config
            .producer()
            .create_with_context(Deliveries::default())
            .map_err(Error::kafka("creating the producer"))?;
        Ok(KafkaProducer {
            inner,
            sent: 0,
            waits: 0,
            failed_reported: 0,
        })
    }

    /// Sends one message, waiting while the client's queue is full.
    pub fn send(&mut self, message: Outgoing<'_>, headers: Option<OwnedHeaders>) -> Result<()> {
        let mut record: BaseRecord<'_, [u8], [u8], ()> =
            BaseRecord::to(message.topic).payload(message.payload);
        if let Some(key) = message.key {
            record = record.key(key);
        }
        if let Some(ts) = message.timestamp_ms {
            record = record.timestamp(ts);
        }
        if let Some(headers) = headers {
            record = record.headers(headers);
        }
        loop {
            match self.inner.send(record) {
                Ok(()) => {
                    self.sent += 1;
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // Backpressure: the producer thread drains the queue as the broker acks.
                    self.waits += 1;
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => {
                    return Err(Error::Kafka {
                        what: format!("sending to `{}`", message.topic),
                        source: e,
                    })
                }
            }
        }
    }

    /// Waits until every message sent so far is acknowledged; fails if any was not (since the
    /// last `confirm`), or if they are still outstanding after a minute.
    pub fn confirm(&mut self) -> Result<()> {
        self.inner
            .flush(CONFIRM_TIMEOUT)
            .map_err(Error::kafka("waiting for delivery reports"))?;
        let context = self.inner.context();
        let failed = context.failed.load(Ordering::Relaxed);
        if failed > self.failed_reported {
            let new = failed - self.failed_reported;
            self.failed_reported = failed;
            let first = context
                .first_failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            let (topic, first) = first.unwrap_or_default();
            return Err(Error::Delivery {
                topic,
                failed: new,
                first,
            });
        }
        Ok(())
    }

    /// Returns the counts so far.
    pub fn counts(&self) -> ProducerCounts {
        let context = self.inner.context();
        ProducerCounts {
            sent: self.sent,
            delivered: context.delivered.load(Ordering::Relaxed),
            failed: context.failed.load(Ordering::Relaxed),
            waits: self.waits,
        }
    }
}
