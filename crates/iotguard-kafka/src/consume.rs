//! The consume loop every Kafka stage runs: poll a topic in a consumer group, decode each message
//! into flow records, hand them to a [`Stage`], dead-letter what cannot be decoded, and commit
//! offsets only after the stage and the dead-letter topic have confirmed everything before them
//! (at-least-once: a crash between confirmation and commit redelivers, never loses).
//!
//! Backpressure: the loop handles one message at a time on its own thread; librdkafka's prefetch
//! queue is bounded (`queued.max.messages.kbytes`) and every producer waits when its queue is
//! full, so a slow sink slows consumption instead of growing memory. Shutdown: when the flag is
//! set, what was processed is confirmed and committed and the consumer leaves its group.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iotguard_flow::{FlowRecord, MessageDecoder, ParseError, ReadOptions};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::dead_letter::DeadLetters;
use crate::error::{Error, Result};
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

/// The consumer's context: lag from the statistics, revoked partitions from rebalances.
struct LoopContext {
    stats: Arc<KafkaStats>,
    revoked: Mutex<Vec<i32>>,
}

impl ClientContext for LoopContext {
    fn stats(&self, statistics: Statistics) {
        let mut lag = BTreeMap::new();
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                if *partition >= 0 && p.consumer_lag >= 0 {
                    lag.insert(format!("{topic}/{partition}"), p.consumer_lag);
                }
            }
        }
        self.stats.set_lag(lag);
    }
}

impl ConsumerContext for LoopContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            self.revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(list.elements().iter().map(|e| e.partition()));
        }
    }
}

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
    crate::admin::require_topic(kafka, &config.topic)?;
    let mut dead_letters = match &config.dead_letter_topic {
        Some(topic) => {
            crate::admin::require_topic(kafka, topic)?;
            Some(DeadLetters::new(kafka, topic)?)
        }
        None => None,
    };
    let context = LoopContext {
        stats: stats.clone(),
        revoked: Mutex::new(Vec::new()),
    };
    let consumer: BaseConsumer<LoopContext> = kafka
        .consumer(&config.group)
        .create_with_context(context)
        .map_err(Error::kafka("creating the consumer"))?;
    consumer
        .subscribe(&[&config.topic])
        .map_err(Error::kafka(format!("subscribing to `{}`", config.topic)))?;

    let mut decoder = MessageDecoder::new(&config.read);
    let mut names: HashMap<i32, Arc<str>> = HashMap::new();
    let mut decoded = Vec::new();
    let mut commits = Commits::default();
    let mut at_end: BTreeSet<i32> = BTreeSet::new();
    let mut since_tick = 0u32;
    let mut last_commit = Instant::now();

    while !shutdown.load(Ordering::Relaxed) {
        match consumer.poll(Duration::from_millis(100)) {
            None => stage.tick()?,
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                at_end.insert(partition);
                stage.tick()?;
                if config.stop_at_end && all_at_end(&consumer, &at_end) {
                    break;
                }
            }
            Some(Err(e)) => {
                if let Some((code, reason)) = consumer.client().fatal_error() {
                    return Err(Error::Stage(format!(
                        "kafka: fatal error {code:?}: {reason}"
                    )));
                }
                notice(Notice::Warning(format!("kafka: {e}")));
            }
            Some(Ok(msg)) => {
                stats.add_consumed();
                at_end.remove(&msg.partition());
                let meta = MessageMeta {
                    topic: msg.topic(),
                    partition: msg.partition(),
                    offset: msg.offset(),
                    timestamp_ms: msg.timestamp().to_millis(),
                    key: msg.key(),
                    payload: msg.payload().unwrap_or_default(),
                };
                let name = names
                    .entry(meta.partition)
                    .or_insert_with(|| Arc::from(format!("{}/{}", meta.topic, meta.partition)));
                let offset = u64::try_from(meta.offset).unwrap_or(0);
                decoder.decode(name, offset, meta.payload, &mut decoded);
                let mut first_error = None;
                for result in decoded.drain(..) {
                    match result {
                        Ok(rec) => {
                            stats.add_records(1);
                            stage.process(rec, &meta)?;
                        }
                        Err(e) => {
                            stats.add_rejected();
                            notice(Notice::Rejected(&e));
                            first_error.get_or_insert(e);
                        }
                    }
                }
                // One dead letter per message, carrying its first error.
                if let (Some(e), Some(dl)) = (&first_error, dead_letters.as_mut()) {
                    dl.send(&meta, e)?;
                }
                commits.processed(meta.partition, meta.offset);
                since_tick += 1;
                if since_tick >= TICK_EVERY {
                    since_tick = 0;
                    stage.tick()?;
                }
            }
        }
        for partition in context_revoked(&consumer) {
            // A revoked partition's uncommitted messages go to its next owner.
            commits.forget(partition);
            at_end.remove(&partition);
        }
        if commits.count >= config.commit_every
            || (commits.count > 0 && last_commit.elapsed() >= config.commit_interval)
        {
            confirm_and_commit(
                &consumer,
                config,
                stage,
                &mut dead_letters,
                &mut commits,
                stats,
                shutdown,
                notice,
            )?;
            last_commit = Instant::now();
        }
    }
    confirm_and_commit(
        &consumer,
        config,
        stage,
        &mut dead_letters,
        &mut commits,
        stats,
        shutdown,
        notice,
    )?;
    consumer.unsubscribe();
    // Dropping the consumer closes it: it leaves the group so its partitions move at once.
    drop(consumer);
    Ok(())
}

/// Offsets processed since the last commit: the next offset to read, per partition.
#[derive(Default)]
struct Commits {
    next: BTreeMap<i32, i64>,
    count: u64,
}

impl Commits {
    fn processed(&mut self, partition: i32, offset: i64) {
        self.next.insert(partition, offset + 1);
        self.count += 1;
    }

    fn forget(&mut self, partition: i32) {
        self.next.remove(&partition);
    }
}

fn context_revoked(consumer: &BaseConsumer<LoopContext>) -> Vec<i32> {
    std::mem::take(
        &mut *consumer
            .context()
            .revoked
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    )
}

/// Returns true if the consumer has partitions and every one of them is at its end.
fn all_at_end(consumer: &BaseConsumer<LoopContext>, at_end: &BTreeSet<i32>) -> bool {
    match consumer.assignment() {
        Ok(list) => {
            let elements = list.elements();
            !elements.is_empty() && elements.iter().all(|e| at_end.contains(&e.partition()))
        }
        Err(_) => false,
    }
}

/// Confirms the stage and the dead letters (retrying with backoff), then commits.
#[allow(clippy::too_many_arguments)]
fn confirm_and_commit(
    consumer: &BaseConsumer<LoopContext>,
    config: &ConsumeConfig,
    stage: &mut dyn Stage,
    dead_letters: &mut Option<DeadLetters>,
    commits: &mut Commits,
    stats: &KafkaStats,
    shutdown: &AtomicBool,
    notice: &mut dyn FnMut(Notice<'_>),
) -> Result<()> {
    let mut wait = Duration::from_millis(250);
    let mut attempt = 1;
    loop {
        let result = stage.tick().and_then(|()| {
            if let Some(dl) = dead_letters.as_mut() {
                stats.add_dead_lettered(dl.confirm()?);
            }
            stage.confirm()
        });
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
    if commits.next.is_empty() {
        commits.count = 0;
        return Ok(());
    }
    let mut list = TopicPartitionList::new();
    for (&partition, &next) in &commits.next {
        list.add_partition_offset(&config.topic, partition, Offset::Offset(next))
            .map_err(Error::kafka("building the commit"))?;
    }
    match consumer.commit(&list, CommitMode::Sync) {
        Ok(()) => stats.add_commit(commits.count),
        Err(e) => {
            // A rebalance took a partition: its messages are redelivered to the new owner.
            stats.add_commit_failure();
            notice(Notice::Warning(format!("kafka: committing offsets: {e}")));
        }
    }
    commits.next.clear();
    commits.count = 0;
    Ok(())
}
