//! [`KafkaSource`]: a Kafka topic as a source of the detector's pipeline
//! (`iotguard_detect::run_pipeline`). The pipeline calls [`Source::commit`] only after every
//! alert sink flushed; the source then waits for its dead letters and commits the offsets of
//! every message it handed out, so a crash redelivers what was not confirmed (at-least-once).
//!
//! While flows arrive, the source answers [`SourceEvent::Idle`] at least every 5 ms, which makes
//! the pipeline pass due alerts on to the sinks: an alert never waits for a full batch of
//! flows. That also gives the flow→alert latency of every flow: when the pipeline asks for the
//! event after an `Idle`, the alerts of every flow handed out before it have been sent, so the
//! source records the wall clock minus each such flow message's Kafka timestamp
//! (`flow_to_alert` in [`KafkaStats`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use iotguard_detect::source::{Source, SourceEvent};

use crate::config::KafkaConfig;
use crate::consume::ConsumeConfig;
use crate::error::Error;
use crate::group::{GroupMember, Polled};
use crate::stats::KafkaStats;

/// The longest a flow waits for the pipeline to send alerts while flows keep arriving.
const SEND_EVERY: Duration = Duration::from_millis(5);

/// A consumer group member feeding the detector.
pub struct KafkaSource {
    member: GroupMember,
    name: String,
    /// Events decoded and not yet handed out, each record with its message's Kafka timestamp.
    pending: VecDeque<(SourceEvent, Option<i64>)>,
    /// Kafka timestamps (ms) of the records handed out since the last `Idle`.
    unsent: Vec<i64>,
    /// Whether the last event handed out was an `Idle` (so the pipeline has sent since).
    idle_returned: bool,
    /// When the last `Idle` was handed out.
    last_idle: Instant,
    stop_at_end: bool,
    /// Set when the stage writing the topic (the re-key member) has finished: only then does
    /// the end of the topic mean the end of the stream.
    upstream_done: Option<Arc<AtomicBool>>,
    stats: Arc<KafkaStats>,
}

impl KafkaSource {
    /// Joins the group of `config` on its topic. With `stop_at_end`, the source ends when every
    /// assigned partition is read to its end and `upstream_done` (if given) is set.
    pub fn join(
        kafka: &KafkaConfig,
        config: &ConsumeConfig,
        stats: Arc<KafkaStats>,
        upstream_done: Option<Arc<AtomicBool>>,
    ) -> crate::Result<Self> {
        Ok(KafkaSource {
            member: GroupMember::join(kafka, config, stats.clone())?,
            name: format!("kafka {} (group {})", config.topic, config.group),
            pending: VecDeque::new(),
            unsent: Vec::new(),
            idle_returned: false,
            last_idle: Instant::now(),
            stop_at_end: config.stop_at_end,
            upstream_done,
            stats,
        })
    }

    /// Hands out an `Idle` (the pipeline then sends due alerts).
    fn idle(&mut self) -> SourceEvent {
        self.idle_returned = true;
        self.last_idle = Instant::now();
        SourceEvent::Idle
    }

    fn upstream_finished(&self) -> bool {
        self.upstream_done
            .as_ref()
            .is_none_or(|done| done.load(Ordering::SeqCst))
    }

    /// Leaves the group at once (also done when the source is dropped).
    pub fn leave(self) {
        self.member.leave();
    }
}

/// Returns the wall clock in microseconds since the epoch.
fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn to_detect_error(name: &str, e: Error) -> iotguard_detect::Error {
    iotguard_detect::Error::io(name, std::io::Error::other(e.to_string()))
}

impl Source for KafkaSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_event(&mut self) -> iotguard_detect::Result<SourceEvent> {
        // After an `Idle` the pipeline has sent the alerts of every flow handed out before it.
        if std::mem::take(&mut self.idle_returned) {
            let now = now_micros();
            for ts_ms in self.unsent.drain(..) {
                self.stats.record_flow_to_alert(now - ts_ms * 1000);
            }
        }
        if !self.unsent.is_empty() && self.last_idle.elapsed() >= SEND_EVERY {
            return Ok(self.idle());
        }
        loop {
            if let Some((event, ts_ms)) = self.pending.pop_front() {
                if let Some(ts_ms) = ts_ms {
                    self.unsent.push(ts_ms);
                }
                return Ok(event);
            }
            let pending = &mut self.pending;
            let mut rejected = Vec::new();
            let polled = self
                .member
                .poll(
                    Duration::from_millis(100),
                    &mut |rec, meta| {
                        pending.push_back((SourceEvent::Record(Box::new(rec)), meta.timestamp_ms));
                        Ok(())
                    },
                    &mut |e| rejected.push(e),
                )
                .map_err(|e| to_detect_error(&self.name, e))?;
            self.pending.extend(
                rejected
                    .into_iter()
                    .map(|e| (SourceEvent::Rejected(Box::new(e)), None)),
            );
            match polled {
                // Its events are in `pending` (a header-only message has none: poll again).
                Polled::Message => {}
                // The end-of-partition events may have come before the upstream finished.
                Polled::Idle
                    if self.stop_at_end
                        && self.upstream_done.is_some()
                        && self.upstream_finished()
                        && self.member.all_at_end() =>
                {
                    return Ok(SourceEvent::End)
                }
                Polled::Idle => return Ok(self.idle()),
                Polled::AtEnd if self.stop_at_end && self.upstream_finished() => {
                    return Ok(SourceEvent::End)
                }
                Polled::AtEnd => return Ok(self.idle()),
                Polled::Warning(text) | Polled::Assigned(text) => {
                    return Ok(SourceEvent::Notice(text))
                }
            }
        }
    }

    fn commit(&mut self) -> iotguard_detect::Result<()> {
        self.member
            .confirm_dead_letters()
            .map_err(|e| to_detect_error(&self.name, e))?;
        if let Some(warning) = self
            .member
            .commit()
            .map_err(|e| to_detect_error(&self.name, e))?
        {
            self.pending.push_back((SourceEvent::Notice(warning), None));
        }
        Ok(())
    }
}
