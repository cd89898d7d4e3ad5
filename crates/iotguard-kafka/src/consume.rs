//! The consume loop every Kafka stage runs: poll a topic in a consumer group, decode each message
//! into flow records, hand them to a [`Stage`], dead-letter what cannot be decoded, and commit
//! offsets only after the stage and the dead-letter topic have confirmed everything before them
//! (at-least-once: a crash between confirmation and commit redelivers, never loses).
//!
//! Backpressure: the loop handles one message at a time on its own thread; librdkafka's prefetch
//! queue is bounded (`queued.max.messages.kbytes`) and every producer waits when its queue is
//! full, so a slow sink slows consumption instead of growing memory. Shutdown: when the flag is
//! set, what was processed is confirmed and committed and the consumer leaves its group.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iotguard_flow::{FlowRecord, ParseError, ReadOptions};

use crate::config::KafkaConfig;
use crate::error::Result;
use crate::group::{GroupMember, Polled};
use crate::stats::KafkaStats;

/// Where a message came from, and its raw parts.
#[derive(Clone, Copy, Debug)]
pub struct MessageMeta<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The message's timestamp in milliseconds since the epoch (set by its producer or broker).
    pub timestamp_ms: Option<i64>,
    /// The key, if any.
    pub key: Option<&'a [u8]>,
    /// The value.
    pub payload: &'a [u8],
}

/// What the loop feeds: decoded records in, confirmed outputs out.
pub trait Stage {
    /// Takes one record decoded from the message `meta`.
    fn process(&mut self, rec: FlowRecord, meta: &MessageMeta<'_>) -> Result<()>;

    /// Passes on what is ready (alerts to sinks, messages to producers) without waiting for
    /// confirmation; called often (every few hundred messages, and whenever the topic is idle).
    fn tick(&mut self) -> Result<()> {
        Ok(())
    }

    /// Returns only when everything from the records processed so far is durable or
    /// acknowledged downstream; the offsets of those records are committed after it succeeds.
    fn confirm(&mut self) -> Result<()>;
}

/// Something the loop reports while it runs.
#[derive(Debug)]
pub enum Notice<'a> {
    /// A message that could not be decoded (also dead-lettered when a topic is set).
    Rejected(&'a ParseError),
    /// A recovered problem (a refused commit, a transient client error, a retried sink).
    Warning(String),
    /// Something the operator may want to know (a new partition assignment).
    Info(String),
}

/// How the loop runs.
#[derive(Clone, Debug)]
pub struct ConsumeConfig {
    /// The consumer group; members of one group share the topic's partitions.
    pub group: String,
    /// The topic to read.
    pub topic: String,
    /// Where undecodable messages go, if anywhere (they are reported either way).
    pub dead_letter_topic: Option<String>,
    /// Confirm and commit at least this often while messages flow.
    pub commit_interval: Duration,
    /// Confirm and commit after this many messages, whichever comes first.
    pub commit_every: u64,
    /// Stop (cleanly) once every assigned partition has been read to its end.
    pub stop_at_end: bool,
    /// How many times a failing confirmation is tried (waits doubling from 250 ms) before the
    /// loop gives up with the error, committing nothing unconfirmed.
    pub confirm_attempts: u32,
    /// How messages are decoded (sensor name, size limit).
    pub read: ReadOptions,
}

impl ConsumeConfig {
    /// Returns a configuration with the defaults: commit every second or 10 000 messages, no
    /// dead-letter topic, run until stopped.
    pub fn new(group: impl Into<String>, topic: impl Into<String>) -> Self {
        ConsumeConfig {
            group: group.into(),
            topic: topic.into(),
            dead_letter_topic: None,
            commit_interval: Duration::from_secs(1),
            commit_every: 10_000,
            stop_at_end: false,
            confirm_attempts: 6,
            read: ReadOptions::default(),
        }
    }
}

/// How often the stage's `tick` runs while messages flow.
const TICK_EVERY: u32 = 256;

/// Runs the loop until `shutdown` is set (or, with `stop_at_end`, every assigned partition is
/// read to its end); returns after the last confirmation and commit, having left the group.
///
/// Errors: the consumer cannot be created, a topic is missing, or the stage (or dead-letter
/// topic) still fails to confirm after retries; then nothing unconfirmed is committed.
pub fn run_consumer(
    kafka: &KafkaConfig,
    config: &ConsumeConfig,
    stage: &mut dyn Stage,
    stats: &Arc<KafkaStats>,
    shutdown: &AtomicBool,
    notice: &mut dyn FnMut(Notice<'_>),
) -> Result<()> {
    let mut member = GroupMember::join(kafka, config, stats.clone())?;
    let mut since_tick = 0u32;
    let mut last_commit = Instant::now();
    while !shutdown.load(Ordering::Relaxed) {
        let polled = member.poll(
            Duration::from_millis(100),
            &mut |rec, meta| stage.process(rec, meta),
            &mut |e| notice(Notice::Rejected(&e)),
        )?;
        match polled {
            Polled::Message => {
                since_tick += 1;
                if since_tick >= TICK_EVERY {
                    since_tick = 0;
                    stage.tick()?;
                }
            }
            Polled::Idle => stage.tick()?,
            Polled::AtEnd if config.stop_at_end => break,
            Polled::AtEnd => stage.tick()?,
            Polled::Warning(w) => notice(Notice::Warning(w)),
            Polled::Assigned(text) => notice(Notice::Info(text)),
        }
        if member.uncommitted() >= config.commit_every
            || (member.uncommitted() > 0 && last_commit.elapsed() >= config.commit_interval)
        {
            confirm_and_commit(&mut member, config, stage, shutdown, notice)?;
            last_commit = Instant::now();
        }
    }
    confirm_and_commit(&mut member, config, stage, shutdown, notice)?;
    member.leave();
    Ok(())
}

/// Confirms the stage and the dead letters (retrying with backoff), then commits.
fn confirm_and_commit(
    member: &mut GroupMember,
    config: &ConsumeConfig,
    stage: &mut dyn Stage,
    shutdown: &AtomicBool,
    notice: &mut dyn FnMut(Notice<'_>),
) -> Result<()> {
    let mut wait = Duration::from_millis(250);
    let mut attempt = 1;
    loop {
        let result = stage
            .tick()
            .and_then(|()| member.confirm_dead_letters())
            .and_then(|()| stage.confirm());
        match result {
            Ok(()) => break,
            Err(e) if attempt < config.confirm_attempts && !shutdown.load(Ordering::Relaxed) => {
                notice(Notice::Warning(format!(
                    "confirming outputs failed (attempt {attempt} of {}, retrying in {wait:?}): {e}",
                    config.confirm_attempts
                )));
                std::thread::sleep(wait);
                wait *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(warning) = member.commit()? {
        notice(Notice::Warning(warning));
    }
    Ok(())
}
