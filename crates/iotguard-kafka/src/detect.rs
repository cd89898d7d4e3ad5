//! `iotguard detect --kafka`: everything the detector needs from Kafka, set up in one call. The
//! source topic is read in a consumer group; with a re-key topic, a second member (group
//! `GROUP-rekey`, on its own thread) republishes the source's flows keyed by host and the
//! detector reads the re-keyed topic instead, so each host's state lives on one detector.
//! Topics the detector writes (re-key, alerts, dead letters) are created when missing, with the
//! source's partition count.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use iotguard_flow::ReadOptions;

use crate::admin;
use crate::config::KafkaConfig;
use crate::consume::{run_consumer, ConsumeConfig, Notice};
use crate::error::{Error, Result};
use crate::rekey::RekeyStage;
use crate::sink::KafkaAlertSink;
use crate::source::KafkaSource;
use crate::stats::KafkaStats;

/// What `detect --kafka` was asked to do.
#[derive(Clone, Debug)]
pub struct KafkaDetectConfig {
    /// The broker connection.
    pub kafka: KafkaConfig,
    /// The topic flows arrive on.
    pub topic: String,
    /// The consumer group of the detectors.
    pub group: String,
    /// Where alerts go, if to Kafka.
    pub alerts_topic: Option<String>,
    /// Where undecodable messages go.
    pub dead_letter_topic: Option<String>,
    /// The internal topic of flows re-keyed by host, if re-keying.
    pub rekey_topic: Option<String>,
    /// Stop once the source topic (and the re-keyed topic after it) is read to its end.
    pub stop_at_end: bool,
    /// How messages are decoded.
    pub read: ReadOptions,
}

/// The running Kafka side of a detector (its source is returned beside it by
/// [`KafkaDetect::start`]).
pub struct KafkaDetect {
    /// The alert sink, when an alerts topic was given.
    pub sink: Option<KafkaAlertSink>,
    /// The detector's consumer counters.
    pub stats: Arc<KafkaStats>,
    /// The re-key member's counters, when re-keying.
    pub rekey_stats: Option<Arc<KafkaStats>>,
    rekey: Option<JoinHandle<Result<()>>>,
}

impl KafkaDetect {
    /// Checks and creates the topics, starts the re-key member (if any) and joins the group;
    /// returns the source for `run_pipeline` and the rest. `notice` receives the re-key
    /// member's rejected records and warnings, from its thread.
    pub fn start(
        config: &KafkaDetectConfig,
        shutdown: Arc<AtomicBool>,
        mut notice: Box<dyn FnMut(Notice<'_>) + Send>,
    ) -> Result<(KafkaSource, Self)> {
        let partitions = admin::require_topic(&config.kafka, &config.topic)?;
        for topic in [
            &config.alerts_topic,
            &config.dead_letter_topic,
            &config.rekey_topic,
        ]
        .into_iter()
        .flatten()
        {
            admin::ensure_topic(&config.kafka, topic, partitions)?;
        }
        let mut rekey_stats = None;
        let mut rekey = None;
        let mut upstream_done = None;
        let detect_topic = match &config.rekey_topic {
            None => config.topic.clone(),
            Some(internal) => {
                let stats = Arc::new(KafkaStats::default());
                let done = Arc::new(AtomicBool::new(false));
                let consume = ConsumeConfig {
                    dead_letter_topic: config.dead_letter_topic.clone(),
                    stop_at_end: config.stop_at_end,
                    read: config.read.clone(),
                    ..ConsumeConfig::new(format!("{}-rekey", config.group), &config.topic)
                };
                let mut stage = RekeyStage::new(&config.kafka, internal)?;
                let (kafka, thread_stats, thread_done) =
                    (config.kafka.clone(), stats.clone(), done.clone());
                let handle = std::thread::Builder::new()
                    .name("kafka-rekey".to_string())
                    .spawn(move || {
                        let result = run_consumer(
                            &kafka,
                            &consume,
                            &mut stage,
                            &thread_stats,
                            &shutdown,
                            &mut *notice,
                        );
                        thread_done.store(true, Ordering::SeqCst);
                        result
                    })
                    .map_err(|e| Error::Stage(format!("starting the re-key thread: {e}")))?;
                rekey = Some(handle);
                rekey_stats = Some(stats);
                upstream_done = Some(done);
                internal.clone()
            }
        };
        let stats = Arc::new(KafkaStats::default());
        let consume = ConsumeConfig {
            // With re-keying, bad messages were dead-lettered by the re-key member already.
            dead_letter_topic: if config.rekey_topic.is_some() {
                None
            } else {
                config.dead_letter_topic.clone()
            },
            stop_at_end: config.stop_at_end,
            read: config.read.clone(),
            ..ConsumeConfig::new(&config.group, detect_topic)
        };
        let source = KafkaSource::join(&config.kafka, &consume, stats.clone(), upstream_done)?;
        let sink = match &config.alerts_topic {
            Some(topic) => Some(KafkaAlertSink::new(&config.kafka, topic)?),
            None => None,
        };
        Ok((
            source,
            KafkaDetect {
                sink,
                stats,
                rekey_stats,
                rekey,
            },
        ))
    }

    /// Takes the alert sink (once), boxed for the pipeline's list of sinks.
    pub fn take_sink(&mut self) -> Option<Box<dyn iotguard_detect::AlertSink>> {
        self.sink
            .take()
            .map(|s| Box::new(s) as Box<dyn iotguard_detect::AlertSink>)
    }

    /// Waits for the re-key member to stop (it stops on the shared shutdown flag, or at the end
    /// with `stop_at_end`) and returns its result.
    pub fn finish_rekey(&mut self) -> Result<()> {
        match self.rekey.take() {
            Some(handle) => handle
                .join()
                .map_err(|_| Error::Stage("the re-key thread panicked".to_string()))?,
            None => Ok(()),
        }
    }
}
