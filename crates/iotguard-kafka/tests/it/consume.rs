//! Replay into a topic, consume in a group: every record once, commits resumed, bad messages
//! dead-lettered, nothing committed that a stage did not confirm.

use std::time::Duration;

use iotguard_kafka::{
    dead_letter_header, read_topic, ConsumeConfig, KafkaProducer, Outgoing, Replayer,
};
use iotguard_testkit::kafka::unique_name;

use crate::{consume_to_end, flow, setup, Collect};

#[test]
fn replayed_records_are_consumed_once_and_a_group_resumes_from_its_commits() {
    let Some((config, topics)) = setup("replay_consume", 3, 1) else {
        return;
    };
    let topic = &topics[0];
    // librdkafka's sticky partitioner keeps unkeyed messages on one partition for 10 ms, so a
    // fast replay of 300 may land on one partition only (seen in CI). With the linger at 0 each
    // message picks a partition at random, and the group below must read from several.
    let mut spread = config.clone();
    spread
        .options
        .push(("sticky.partitioning.linger.ms".into(), "0".into()));
    let mut replayer = Replayer::new(&spread, topic, None).unwrap();
    for i in 0..300 {
        replayer.send(&flow(i, 20)).unwrap();
    }
    let counts = replayer.finish().unwrap();
    assert_eq!(
        (counts.sent, counts.delivered, counts.failed),
        (300, 300, 0)
    );

    // What zeek-kafka writes: no key, one flat JSON conn record per message.
    let messages = read_topic(&config, topic, Duration::from_secs(30)).unwrap();
    assert_eq!(messages.len(), 300);
    assert!(messages.iter().all(|m| m.key.is_none()));
    let first: serde_json::Value = serde_json::from_slice(&messages[0].payload).unwrap();
    assert_eq!(first["id.resp_p"], 23);
    assert_eq!(first["proto"], "tcp");
    let partitions: std::collections::BTreeSet<i32> =
        messages.iter().map(|m| m.partition).collect();
    assert!(
        partitions.len() > 1,
        "unkeyed messages spread over partitions: {partitions:?}"
    );

    let group = unique_name("group");
    let consume = ConsumeConfig::new(&group, topic);
    let mut stage = Collect::default();
    let (result, stats, notices) = consume_to_end(&config, &consume, &mut stage);
    result.unwrap();
    assert!(notices.is_empty(), "{notices:?}");
    assert_eq!(stage.records.len(), 300);
    let mut uids: Vec<String> = stage
        .records
        .iter()
        .map(|(r, _, _)| r.uid.clone().unwrap().to_string())
        .collect();
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), 300, "every record exactly once");
    let snapshot = stats.snapshot();
    assert_eq!(
        (snapshot.consumed, snapshot.records, snapshot.committed),
        (300, 300, 300)
    );
    assert_eq!(snapshot.rejected, 0);

    // 50 more: the same group reads only those.
    let mut replayer = Replayer::new(&config, topic, None).unwrap();
    for i in 300..350 {
        replayer.send(&flow(i, 20)).unwrap();
    }
    replayer.finish().unwrap();
    let mut again = Collect::default();
    let (result, stats, _) = consume_to_end(&config, &consume, &mut again);
    result.unwrap();
    assert_eq!(again.records.len(), 50);
    assert_eq!(stats.snapshot().committed, 50);
    assert!(again
        .records
        .iter()
        .all(|(r, _, _)| r.uid.as_deref().unwrap() >= "C00000000000000300"));
}

#[test]
fn undecodable_messages_reach_the_dead_letter_topic_with_their_error_and_origin() {
    let Some((config, topics)) = setup("dead_letters", 1, 2) else {
        return;
    };
    let (topic, dead) = (&topics[0], &topics[1]);
    let mut producer = KafkaProducer::new(&config).unwrap();
    let payloads: [&[u8]; 5] = [
        br#"{"ts":1.5,"id.orig_h":"10.0.0.1","id.resp_p":23,"proto":"tcp"}"#,
        br#"{"ts":"#,
        br#"{"conn":{"ts":2.5,"id.orig_h":"10.0.0.2","id.resp_p":80,"proto":"tcp"},"zeek_server":"s1"}"#,
        b"3.5\tCx\t10.0.0.3\t1\t10.0.0.4\tnot-a-port\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tD\t1\t60\t0\t0\t-",
        b"4.5\tCy\t10.0.0.3\t1\t10.0.0.4\t53\tudp\t-\t-\t-\t-\tS0\t-\t-\t0\tD\t1\t60\t0\t0\t-",
    ];
    for (i, payload) in payloads.iter().enumerate() {
        let key = format!("k{i}");
        producer
            .send(
                Outgoing {
                    topic,
                    key: Some(key.as_bytes()),
                    payload,
                    timestamp_ms: None,
                },
                None,
            )
            .unwrap();
    }
    producer.confirm().unwrap();

    let mut consume = ConsumeConfig::new(unique_name("group"), topic);
    consume.dead_letter_topic = Some(dead.clone());
    let mut stage = Collect::default();
    let (result, stats, notices) = consume_to_end(&config, &consume, &mut stage);
    result.unwrap();
    let ports: Vec<Option<u16>> = stage.records.iter().map(|(r, _, _)| r.resp_p).collect();
    assert_eq!(ports, [Some(23), Some(80), Some(53)]);
    assert_eq!(notices.len(), 2, "{notices:?}");
    let snapshot = stats.snapshot();
    assert_eq!(
        (
            snapshot.consumed,
            snapshot.records,
            snapshot.rejected,
            snapshot.dead_lettered
        ),
        (5, 3, 2, 2)
    );
    assert_eq!(snapshot.committed, 5);

    let letters = read_topic(&config, dead, Duration::from_secs(30)).unwrap();
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0].payload, payloads[1]);
    assert_eq!(letters[0].key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(
        letters[0].header(dead_letter_header::SOURCE_TOPIC),
        Some(topic.as_str())
    );
    assert_eq!(
        letters[0].header(dead_letter_header::SOURCE_PARTITION),
        Some("0")
    );
    assert_eq!(
        letters[0].header(dead_letter_header::SOURCE_OFFSET),
        Some("1")
    );
    assert_eq!(
        letters[0].header(dead_letter_header::ERROR_KIND),
        Some("malformed")
    );
    assert_eq!(letters[1].payload, payloads[3]);
    assert_eq!(
        letters[1].header(dead_letter_header::SOURCE_OFFSET),
        Some("3")
    );
    assert_eq!(
        letters[1].header(dead_letter_header::ERROR_KIND),
        Some("bad_value")
    );
    let error = letters[1].header(dead_letter_header::ERROR).unwrap();
    assert!(
        error.contains("id.resp_p") && error.contains("not-a-port"),
        "{error}"
    );
}

#[test]
fn nothing_is_committed_that_the_stage_did_not_confirm() {
    let Some((config, topics)) = setup("unconfirmed", 2, 1) else {
        return;
    };
    let topic = &topics[0];
    let mut replayer = Replayer::new(&config, topic, None).unwrap();
    for i in 0..40 {
        replayer.send(&flow(i, 5)).unwrap();
    }
    replayer.finish().unwrap();

    let mut consume = ConsumeConfig::new(unique_name("group"), topic);
    consume.confirm_attempts = 2;
    let mut down = Collect {
        fail_confirm: true,
        ..Collect::default()
    };
    let (result, stats, notices) = consume_to_end(&config, &consume, &mut down);
    let err = result.unwrap_err().to_string();
    assert_eq!(err, "the sink is down");
    assert_eq!(stats.snapshot().committed, 0);
    assert_eq!(notices.len(), 1, "one retry reported: {notices:?}");

    // The records come again: at-least-once.
    let mut up = Collect::default();
    let (result, stats, _) = consume_to_end(&config, &consume, &mut up);
    result.unwrap();
    assert_eq!(up.records.len(), 40);
    assert_eq!(stats.snapshot().committed, 40);
}
