//! Re-keying: unkeyed flows come out keyed by originating host, each host on one partition,
//! with the source messages' timestamps.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use iotguard_kafka::{read_topic, ConsumeConfig, RekeyStage, Replayer};
use iotguard_testkit::kafka::unique_name;

use crate::{consume_to_end, flow, setup};

#[test]
fn rekey_puts_each_host_on_one_partition_and_keeps_timestamps() {
    let Some((config, topics)) = setup("rekey", 3, 2) else {
        return;
    };
    let (source, internal) = (&topics[0], &topics[1]);
    let mut replayer = Replayer::new(&config, source, None).unwrap();
    for i in 0..200 {
        replayer.send(&flow(i, 10)).unwrap();
    }
    replayer.finish().unwrap();

    let mut stage = RekeyStage::new(&config, internal).unwrap();
    let consume = ConsumeConfig::new(unique_name("rekey"), source);
    let (result, stats, _) = consume_to_end(&config, &consume, &mut stage);
    result.unwrap();
    assert_eq!(stats.snapshot().committed, 200);

    let sent = read_topic(&config, source, Duration::from_secs(30)).unwrap();
    let out = read_topic(&config, internal, Duration::from_secs(30)).unwrap();
    assert_eq!(out.len(), 200);
    let mut partitions_of: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for m in &out {
        let key = String::from_utf8(m.key.clone().expect("keyed")).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(value["id.orig_h"], key.as_str());
        partitions_of.entry(key).or_default().insert(m.partition);
    }
    assert_eq!(partitions_of.len(), 10);
    assert!(
        partitions_of.values().all(|p| p.len() == 1),
        "{partitions_of:?}"
    );
    let used: BTreeSet<i32> = partitions_of.values().flatten().copied().collect();
    assert!(used.len() > 1, "10 hosts over 3 partitions: {used:?}");
    let stamps = |ms: &[iotguard_kafka::TopicMessage]| {
        let mut t: Vec<Option<i64>> = ms.iter().map(|m| m.timestamp_ms).collect();
        t.sort();
        t
    };
    assert_eq!(stamps(&sent), stamps(&out));
}
