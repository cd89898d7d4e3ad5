//! A member of a consumer group, as both the [`run_consumer`](crate::run_consumer) loop and the
//! detector's [`KafkaSource`](crate::KafkaSource) use it: polls one message at a time, decodes it
//! into flow records, dead-letters what cannot be decoded, remembers what was processed, and
//! commits exactly that once the caller says its outputs are confirmed. Partitions revoked by a
//! rebalance are forgotten (their next owner reads them from the last commit).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iotguard_flow::{ErrorKind, FlowRecord, MessageDecoder, ParseError};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::consume::{ConsumeConfig, MessageMeta};
use crate::dead_letter::DeadLetters;
use crate::error::{Error, Result};
use crate::stats::KafkaStats;

/// The consumer's context: lag from the statistics, revoked partitions from rebalances.
struct GroupContext {
    stats: Arc<KafkaStats>,
    revoked: Mutex<Vec<i32>>,
    /// The partitions of the latest assignment, until the loop reports them.
    assigned: Mutex<Option<Vec<i32>>>,
}

impl ClientContext for GroupContext {
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

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            self.revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(list.elements().iter().map(|e| e.partition()));
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            let mut partitions: Vec<i32> = list.elements().iter().map(|e| e.partition()).collect();
            partitions.sort_unstable();
            *self.assigned.lock().unwrap_or_else(|p| p.into_inner()) = Some(partitions);
        }
    }
}

/// What one poll gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Polled {
    /// A message was handled (its records given to the callback, its errors reported).
    Message,
    /// Nothing arrived within the timeout.
    Idle,
    /// Every assigned partition has been read to its end.
    AtEnd,
    /// A recovered client problem, to report.
    Warning(String),
    /// A new partition assignment (after a rebalance), as a line for the operator.
    Assigned(String),
}

/// A consumer group member with decoding, dead letters and confirmed commits.
pub(crate) struct GroupMember {
    consumer: BaseConsumer<GroupContext>,
    topic: String,
    group: String,
    decoder: MessageDecoder,
    dead_letters: Option<DeadLetters>,
    names: HashMap<i32, Arc<str>>,
    decoded: Vec<Result<FlowRecord, ParseError>>,
    /// The next offset to read, per partition, for messages processed since the last commit.
    next: BTreeMap<i32, i64>,
    uncommitted: u64,
    at_end: BTreeSet<i32>,
    last_end_check: std::time::Instant,
    stats: Arc<KafkaStats>,
}

/// How often an idle member checks whether it is at the end without an end-of-partition event.
const END_CHECK_EVERY: Duration = Duration::from_millis(500);

impl GroupMember {
    /// Joins `config.group` on `config.topic` (which must exist, as must the dead-letter topic).
    pub(crate) fn join(
        kafka: &KafkaConfig,
        config: &ConsumeConfig,
        stats: Arc<KafkaStats>,
    ) -> Result<Self> {
        crate::admin::require_topic(kafka, &config.topic)?;
        let dead_letters = match &config.dead_letter_topic {
            Some(topic) => {
                crate::admin::require_topic(kafka, topic)?;
                Some(DeadLetters::new(kafka, topic)?)
            }
            None => None,
        };
        let context = GroupContext {
            stats: stats.clone(),
            revoked: Mutex::new(Vec::new()),
            assigned: Mutex::new(None),
        };
        let consumer: BaseConsumer<GroupContext> = kafka
            .consumer(&config.group)
            .create_with_context(context)
            .map_err(Error::kafka("creating the consumer"))?;
        consumer
            .subscribe(&[&config.topic])
            .map_err(Error::kafka(format!("subscribing to `{}`", config.topic)))?;
        Ok(GroupMember {
            consumer,
            topic: config.topic.clone(),
            group: config.group.clone(),
            decoder: MessageDecoder::new(&config.read),
            dead_letters,
            names: HashMap::new(),
            decoded: Vec::new(),
            next: BTreeMap::new(),
            uncommitted: 0,
            at_end: BTreeSet::new(),
            last_end_check: std::time::Instant::now(),
            stats,
        })
    }

    /// Returns how many messages were processed since the last commit.
    pub(crate) fn uncommitted(&self) -> u64 {
        self.uncommitted
    }

    /// Polls one message (waiting up to `timeout`): each decoded record goes to `on_record`,
    /// each decoding error to `on_reject` (and the message, once, to the dead-letter topic).
    pub(crate) fn poll(
        &mut self,
        timeout: Duration,
        on_record: &mut dyn FnMut(FlowRecord, &MessageMeta<'_>) -> Result<()>,
        on_reject: &mut dyn FnMut(ParseError),
    ) -> Result<Polled> {
        let polled = match self.consumer.poll(timeout) {
            // No end-of-partition event comes for a partition whose committed offset is already
            // its end (the group consumed it in an earlier run): look, at most twice a second.
            None if self.last_end_check.elapsed() >= END_CHECK_EVERY => {
                self.last_end_check = std::time::Instant::now();
                if self.all_at_end() {
                    Polled::AtEnd
                } else {
                    Polled::Idle
                }
            }
            None => Polled::Idle,
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                self.at_end.insert(partition);
                if self.all_at_end() {
                    Polled::AtEnd
                } else {
                    Polled::Idle
                }
            }
            Some(Err(e)) => {
                if let Some((code, reason)) = self.consumer.client().fatal_error() {
                    return Err(Error::Stage(format!(
                        "kafka: fatal error {code:?}: {reason}"
                    )));
                }
                Polled::Warning(format!("kafka: {e}"))
            }
            Some(Ok(msg)) => {
                self.stats.add_consumed();
                self.at_end.remove(&msg.partition());
                let meta = MessageMeta {
                    topic: msg.topic(),
                    partition: msg.partition(),
                    offset: msg.offset(),
                    timestamp_ms: msg.timestamp().to_millis(),
                    key: msg.key(),
                    payload: msg.payload().unwrap_or_default(),
                };
                let name = self
                    .names
                    .entry(meta.partition)
                    .or_insert_with(|| Arc::from(format!("{}/{}", meta.topic, meta.partition)));
                let offset = u64::try_from(meta.offset).unwrap_or(0);
                if meta.payload.iter().all(u8::is_ascii_whitespace) {
                    // An empty message (or a tombstone) holds no flow: rejected like any other
                    // message that is not one, so it is counted and dead-lettered.
                    self.decoded.push(Err(ParseError {
                        input: name.clone(),
                        line: offset,
                        kind: ErrorKind::Malformed,
                        field: None,
                        reason: if meta.payload.is_empty() {
                            "empty message".to_string()
                        } else {
                            "blank message".to_string()
                        },
                        raw: meta.payload.to_vec(),
                    }));
                } else {
                    self.decoder
                        .decode(name, offset, meta.payload, &mut self.decoded);
                }
                let mut first_error: Option<ParseError> = None;
                for result in self.decoded.drain(..) {
                    match result {
                        Ok(rec) => {
                            self.stats.add_records(1);
                            on_record(rec, &meta)?;
                        }
                        Err(e) => {
                            self.stats.add_rejected();
                            if first_error.is_none() {
                                first_error = Some(e.clone());
                            }
                            on_reject(e);
                        }
                    }
                }
                // One dead letter per message, carrying its first error.
                if let (Some(e), Some(dl)) = (&first_error, self.dead_letters.as_mut()) {
                    let truncated = dl.truncated();
                    dl.send(&meta, e)?;
                    if dl.truncated() > truncated {
                        self.stats.add_dead_letter_truncated();
                    }
                }
                self.next.insert(meta.partition, meta.offset + 1);
                self.uncommitted += 1;
                Polled::Message
            }
        };
        let revoked = std::mem::take(
            &mut *self
                .consumer
                .context()
                .revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for partition in revoked {
            // A revoked partition's uncommitted messages go to its next owner.
            self.next.remove(&partition);
            self.at_end.remove(&partition);
        }
        if polled == Polled::Idle {
            let assigned = self
                .consumer
                .context()
                .assigned
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(partitions) = assigned {
                let list: Vec<String> = partitions.iter().map(i32::to_string).collect();
                return Ok(Polled::Assigned(format!(
                    "kafka: group {} assigned partitions [{}] of {}",
                    self.group,
                    list.join(", "),
                    self.topic
                )));
            }
        }
        Ok(polled)
    }

    /// Returns true if the member has partitions, every one of them is at its end, and so is
    /// every other partition of the topic as the group committed it ([`Self::others_at_end`]).
    /// A partition is at its end when the member's position (the next offset to hand out;
    /// before the first message, the group's committed offset, else the partition's start) has
    /// reached the high watermark as the broker reports it now.
    pub(crate) fn all_at_end(&self) -> bool {
        let Ok(assigned) = self.consumer.assignment() else {
            return false;
        };
        if assigned.elements().is_empty() {
            return false;
        }
        let Ok(positions) = self.consumer.position() else {
            return false;
        };
        let mut committed: Option<TopicPartitionList> = None;
        positions.elements().iter().all(|e| {
            let Ok((low, high)) =
                self.consumer
                    .fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(5))
            else {
                return false;
            };
            let position = match e.offset() {
                Offset::Offset(position) => position,
                _ => {
                    let list = committed.get_or_insert_with(|| {
                        self.consumer
                            .committed(Duration::from_secs(5))
                            .unwrap_or_default()
                    });
                    match list
                        .find_partition(e.topic(), e.partition())
                        .map(|c| c.offset())
                    {
                        Some(Offset::Offset(c)) => c,
                        _ => low,
                    }
                }
            };
            position >= high
        }) && self.others_at_end(&assigned)
    }

    /// Returns true if every partition of the topic this member does not hold has a group
    /// offset committed at its end. Without it, a member stopping at the end of its own
    /// partitions would leave those a killed member still held (until its session timed out)
    /// unread, and `--stop-at-end` would return with part of the topic unconsumed; with it, the
    /// member waits for the rebalance that hands it those partitions, or for the members that
    /// hold them to finish.
    fn others_at_end(&self, assigned: &TopicPartitionList) -> bool {
        let Ok(metadata) = self
            .consumer
            .fetch_metadata(Some(&self.topic), Duration::from_secs(5))
        else {
            return false;
        };
        let mut others = TopicPartitionList::new();
        for topic in metadata.topics().iter().filter(|t| t.name() == self.topic) {
            for p in topic.partitions() {
                if assigned.find_partition(&self.topic, p.id()).is_none() {
                    others.add_partition(&self.topic, p.id());
                }
            }
        }
        if others.count() == 0 {
            return true;
        }
        let Ok(committed) = self
            .consumer
            .committed_offsets(others, Duration::from_secs(5))
        else {
            return false;
        };
        committed.elements().iter().all(|e| {
            let Ok((low, high)) =
                self.consumer
                    .fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(5))
            else {
                return false;
            };
            match e.offset() {
                Offset::Offset(c) => c >= high,
                // Nothing committed: at its end only if it holds nothing.
                _ => low >= high,
            }
        })
    }

    /// Waits for the dead letters to be acknowledged (the caller has confirmed its own outputs).
    pub(crate) fn confirm_dead_letters(&mut self) -> Result<()> {
        if let Some(dl) = self.dead_letters.as_mut() {
            self.stats.add_dead_lettered(dl.confirm()?);
        }
        Ok(())
    }

    /// Commits the offsets of every message processed so far; call only once every output of
    /// those messages is confirmed (and after [`confirm_dead_letters`](Self::confirm_dead_letters)).
    /// A commit the broker refuses (a rebalance moved the partition) is returned as a warning:
    /// those messages are redelivered to the partition's new owner.
    pub(crate) fn commit(&mut self) -> Result<Option<String>> {
        if self.next.is_empty() {
            self.uncommitted = 0;
            return Ok(None);
        }
        let mut list = TopicPartitionList::new();
        for (&partition, &next) in &self.next {
            list.add_partition_offset(&self.topic, partition, Offset::Offset(next))
                .map_err(Error::kafka("building the commit"))?;
        }
        let warning = match self.consumer.commit(&list, CommitMode::Sync) {
            Ok(()) => {
                self.stats.add_commit(self.uncommitted);
                None
            }
            Err(e) => {
                self.stats.add_commit_failure();
                Some(format!("kafka: committing offsets: {e}"))
            }
        };
        self.next.clear();
        self.uncommitted = 0;
        Ok(warning)
    }

    /// Leaves the group (the partitions move to the other members at once).
    pub(crate) fn leave(self) {
        self.consumer.unsubscribe();
        // Dropping the consumer closes it, which leaves the group.
        drop(self.consumer);
    }
}
