//! Kafka through the real binary against a real broker (`IOTGUARD_KAFKA_BROKER`, tansu in CI):
//! `replay` writes what zeek-kafka writes. Without the variable each test prints `SKIPPED`.

use std::time::Duration;

use iotguard_kafka::{admin, read_topic, KafkaConfig};
use iotguard_testkit::kafka::{kafka_broker, unique_name};

use crate::{iotguard, ok};

#[test]
fn replay_sends_what_zeek_kafka_sends_and_reports_rejected_records() {
    let Some(broker) = kafka_broker("replay_sends_what_zeek_kafka_sends") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("conn.log");
    let mut text = std::fs::read(iotguard_testkit::testdata("zeek/conn_small.log")).unwrap();
    text.extend_from_slice(b"1577836899.5\tCbad\t10.0.0.9\tnot-a-port\t10.0.0.1\t23\ttcp\n");
    std::fs::write(&input, &text).unwrap();
    let input = input.display().to_string();
    let expected = ok(&["convert", &input, "--to", "zeek-json"]);
    let expected: Vec<&str> = expected.lines().collect();

    let topic = unique_name("replay");
    let out = iotguard(
        &[
            "replay",
            &input,
            "--kafka",
            &broker,
            "--topic",
            &topic,
            "--partitions",
            "2",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let n = expected.len();
    assert!(
        stderr.contains(&format!("replayed {n} records to {topic} on {broker} ({n} delivered; 1 rejected input records not sent)")),
        "{stderr}"
    );
    assert!(
        stderr.contains("not-a-port"),
        "the rejected record is reported: {stderr}"
    );

    let config = KafkaConfig::new(broker);
    assert_eq!(admin::partition_count(&config, &topic).unwrap(), Some(2));
    let mut got: Vec<String> = read_topic(&config, &topic, Duration::from_secs(30))
        .unwrap()
        .into_iter()
        .map(|m| {
            assert_eq!(m.key, None);
            String::from_utf8(m.payload).unwrap()
        })
        .collect();
    got.sort();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn replay_into_a_missing_topic_fails_with_a_clear_message() {
    let Some(broker) = kafka_broker("replay_into_a_missing_topic") else {
        return;
    };
    let fixture = iotguard_testkit::testdata("zeek/conn_small.log")
        .display()
        .to_string();
    let topic = unique_name("missing");
    let out = iotguard(
        &["replay", &fixture, "--kafka", &broker, "--topic", &topic],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("topic `{topic}` does not exist")),
        "{stderr}"
    );
}
