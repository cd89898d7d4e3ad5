//! The Kafka stages against a real Kafka-protocol broker (tansu in CI, `IOTGUARD_KAFKA_BROKER`);
//! each test makes its own topics. Without the variable every test prints `SKIPPED` and passes.

mod consume;
mod faults;
mod rekey;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use iotguard_flow::{FlowRecord, Protocol, Timestamp};
use iotguard_kafka::{
    admin, run_consumer, ConsumeConfig, KafkaConfig, KafkaStats, MessageMeta, Notice, Stage,
};
use iotguard_testkit::kafka::{kafka_broker, unique_name};

/// Returns the broker config and `count` fresh topic names with `partitions` partitions each,
/// or `None` (skip) without a broker.
pub(crate) fn setup(
    test: &str,
    partitions: usize,
    count: usize,
) -> Option<(KafkaConfig, Vec<String>)> {
    let broker = kafka_broker(test)?;
    let config = KafkaConfig::new(broker);
    let topics: Vec<String> = (0..count).map(|_| unique_name(test)).collect();
    for topic in &topics {
        assert!(admin::ensure_topic(&config, topic, partitions).unwrap());
        assert_eq!(
            admin::partition_count(&config, topic).unwrap(),
            Some(partitions)
        );
    }
    Some((config, topics))
}

/// Returns flow `i` of a small synthetic network: host 10.0.0.(i % hosts) to 203.0.113.9:23.
pub(crate) fn flow(i: u64, hosts: u64) -> FlowRecord {
    FlowRecord {
        ts: Timestamp(1_700_000_000_000_000_000 + i as i64 * 1_000_000),
        uid: Some(format!("C{i:017}").into()),
        orig_h: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, (i % hosts) as u8 + 1))),
        orig_p: Some(40_000 + (i % 1000) as u16),
        resp_h: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9))),
        resp_p: Some(23),
        proto: Protocol::Tcp,
        ..FlowRecord::default()
    }
}

/// A stage that keeps what it is given; `fail_confirm` makes every confirmation fail.
#[derive(Default)]
pub(crate) struct Collect {
    pub(crate) records: Vec<(FlowRecord, i32, i64)>,
    pub(crate) confirms: u64,
    pub(crate) fail_confirm: bool,
}

impl Stage for Collect {
    fn process(&mut self, rec: FlowRecord, meta: &MessageMeta<'_>) -> iotguard_kafka::Result<()> {
        self.records.push((rec, meta.partition, meta.offset));
        Ok(())
    }

    fn confirm(&mut self) -> iotguard_kafka::Result<()> {
        if self.fail_confirm {
            return Err(iotguard_kafka::Error::Stage("the sink is down".to_string()));
        }
        self.confirms += 1;
        Ok(())
    }
}

/// Runs a consume loop to the end of the topic; returns the loop's result, the stats and the
/// notices (rejected records and warnings, as text).
pub(crate) fn consume_to_end(
    config: &KafkaConfig,
    consume: &ConsumeConfig,
    stage: &mut dyn Stage,
) -> (iotguard_kafka::Result<()>, Arc<KafkaStats>, Vec<String>) {
    let stats = Arc::new(KafkaStats::default());
    let mut notices = Vec::new();
    let consume = ConsumeConfig {
        stop_at_end: true,
        ..consume.clone()
    };
    let result = run_consumer(
        config,
        &consume,
        stage,
        &stats,
        &AtomicBool::new(false),
        &mut |n| {
            notices.push(match n {
                Notice::Rejected(e) => format!("rejected {e}"),
                Notice::Warning(w) => format!("warning {w}"),
                Notice::Info(_) => return,
            })
        },
    );
    (result, stats, notices)
}
