//! Messages that used to stop or hang a consumer: a malformed message so large that its dead
//! letter (payload plus headers) is over the producer's size limit, empty messages, and a
//! `--stop-at-end` run of a group that has already consumed its topic.

use std::sync::mpsc;
use std::time::Duration;

use iotguard_kafka::{dead_letter_header, read_topic, ConsumeConfig, KafkaProducer, Outgoing};
use iotguard_testkit::kafka::unique_name;

use crate::{consume_to_end, setup, Collect};

const GOOD: &[u8] =
    br#"{"ts":1.5,"id.orig_h":"10.0.0.1","id.orig_p":4,"id.resp_h":"10.0.0.9","id.resp_p":23,"proto":"tcp"}"#;

fn send(producer: &mut KafkaProducer, topic: &str, key: Option<&[u8]>, payload: &[u8]) {
    producer
        .send(
            Outgoing {
                topic,
                key,
                payload,
                timestamp_ms: None,
            },
            None,
        )
        .unwrap();
}

/// A ~1 MB malformed message (it fits the producer's 1 000 000-byte limit, its dead letter
/// with headers does not) is dead-lettered cut to fit, with headers saying so and its original
/// size, counted, and committed; the messages after it are read. Before: the dead letter's send
/// failed, the consumer stopped, and every restart died on the same message.
#[test]
fn an_oversized_malformed_message_is_dead_lettered_truncated_and_never_stops_the_group() {
    let Some((config, topics)) = setup("oversized_dead_letter", 1, 2) else {
        return;
    };
    let (topic, dead) = (&topics[0], &topics[1]);
    let mut big = vec![b'x'; 999_800];
    big[0] = b'{';
    let mut producer = KafkaProducer::new(&config).unwrap();
    send(&mut producer, topic, Some(b"k0"), GOOD);
    send(&mut producer, topic, Some(b"k1"), &big);
    send(&mut producer, topic, Some(b"k2"), GOOD);
    producer.confirm().unwrap();

    let mut consume = ConsumeConfig::new(unique_name("group"), topic);
    consume.dead_letter_topic = Some(dead.clone());
    let mut stage = Collect::default();
    let (result, stats, notices) = consume_to_end(&config, &consume, &mut stage);
    result.unwrap();
    assert_eq!(stage.records.len(), 2);
    assert_eq!(notices.len(), 1, "{notices:?}");
    let s = stats.snapshot();
    assert_eq!(
        (
            s.consumed,
            s.records,
            s.rejected,
            s.dead_lettered,
            s.dead_letters_truncated,
            s.committed
        ),
        (3, 2, 1, 1, 1, 3)
    );
    let letters = read_topic(&config, dead, Duration::from_secs(30)).unwrap();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.header(dead_letter_header::TRUNCATED), Some("true"));
    assert_eq!(
        letter.header(dead_letter_header::ORIGINAL_SIZE),
        Some("999800")
    );
    assert_eq!(letter.header(dead_letter_header::SOURCE_OFFSET), Some("1"));
    assert_eq!(letter.key.as_deref(), Some(&b"k1"[..]));
    assert!(
        letter.payload.len() > 990_000 && letter.payload.len() < big.len(),
        "{}",
        letter.payload.len()
    );
    assert_eq!(letter.payload[..], big[..letter.payload.len()]);
}

/// Empty and blank messages hold no flow: each is counted as rejected and dead-lettered (with
/// its offset), instead of being skipped without a trace.
#[test]
fn empty_messages_are_counted_as_rejected_and_dead_lettered() {
    let Some((config, topics)) = setup("empty_messages", 1, 2) else {
        return;
    };
    let (topic, dead) = (&topics[0], &topics[1]);
    let mut producer = KafkaProducer::new(&config).unwrap();
    send(&mut producer, topic, None, b"");
    send(&mut producer, topic, None, GOOD);
    send(&mut producer, topic, None, b" \n");
    producer.confirm().unwrap();
    let mut consume = ConsumeConfig::new(unique_name("group"), topic);
    consume.dead_letter_topic = Some(dead.clone());
    let mut stage = Collect::default();
    let (result, stats, notices) = consume_to_end(&config, &consume, &mut stage);
    result.unwrap();
    assert_eq!(stage.records.len(), 1);
    assert_eq!(
        notices,
        [
            format!("rejected {topic}/0:0: empty message"),
            format!("rejected {topic}/0:2: blank message"),
        ]
    );
    let s = stats.snapshot();
    assert_eq!(
        (
            s.consumed,
            s.records,
            s.rejected,
            s.dead_lettered,
            s.committed
        ),
        (3, 1, 2, 2, 3)
    );
    let letters = read_topic(&config, dead, Duration::from_secs(30)).unwrap();
    let offsets: Vec<Option<&str>> = letters
        .iter()
        .map(|l| l.header(dead_letter_header::SOURCE_OFFSET))
        .collect();
    assert_eq!(offsets, [Some("0"), Some("2")]);
    assert_eq!(letters[1].payload, b" \n");
}

/// A group that has already read its topic to the end, run again with stop-at-end, returns
/// (at once, with nothing consumed) instead of waiting forever for an end-of-partition event
/// that never comes.
#[test]
fn stop_at_end_returns_when_the_group_has_already_consumed_the_topic() {
    let Some((config, topics)) = setup("stop_at_end_again", 2, 1) else {
        return;
    };
    let topic = &topics[0];
    let mut producer = KafkaProducer::new(&config).unwrap();
    for _ in 0..4 {
        send(&mut producer, topic, None, GOOD);
    }
    producer.confirm().unwrap();
    let consume = ConsumeConfig::new(unique_name("group"), topic);
    let mut stage = Collect::default();
    let (result, stats, _) = consume_to_end(&config, &consume, &mut stage);
    result.unwrap();
    assert_eq!(stats.snapshot().committed, 4);
    let (tx, rx) = mpsc::channel();
    {
        let config = config.clone();
        let consume = consume.clone();
        std::thread::spawn(move || {
            let mut stage = Collect::default();
            let (result, stats, _) = consume_to_end(&config, &consume, &mut stage);
            let _ = tx.send((result.is_ok(), stats.snapshot().consumed));
        });
    }
    let again = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the second run never returned");
    assert_eq!(again, (true, 0));
}

/// A stop-at-end member does not stop while another member of its group holds partitions that
/// are not read to their end (a member killed with SIGKILL holds them until its session times
/// out). Before: it stopped at the end of its own partition, exit 0, and the other partition's
/// messages stayed unread (the fault harness saw 22,413 of 50,000 flows after kill -9 rounds).
/// Now it waits, gets the partition when the holder leaves, and reads every message.
#[test]
fn stop_at_end_waits_for_the_partitions_another_member_holds() {
    use rdkafka::consumer::{BaseConsumer, Consumer};

    let Some((config, topics)) = setup("stop_at_end_holder", 2, 1) else {
        return;
    };
    let topic = &topics[0];
    let mut producer = KafkaProducer::new(&config).unwrap();
    for i in 0..40 {
        send(&mut producer, topic, Some(format!("k{i}").as_bytes()), GOOD);
    }
    producer.confirm().unwrap();
    let partitions: std::collections::BTreeSet<i32> =
        read_topic(&config, topic, Duration::from_secs(30))
            .unwrap()
            .iter()
            .map(|m| m.partition)
            .collect();
    assert_eq!(partitions.len(), 2, "keyed messages on both partitions");

    let group = unique_name("group");
    // The holder joins, takes partitions, keeps its membership alive for 6 s without reading
    // or committing, then leaves.
    let holder: BaseConsumer = config.consumer(&group).create().unwrap();
    holder.subscribe(&[topic]).unwrap();
    let (assigned_tx, assigned_rx) = mpsc::channel();
    let holder_thread = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let mut told = false;
        while started.elapsed() < Duration::from_secs(30) {
            let _ = holder.poll(Duration::from_millis(50));
            let held = holder.assignment().map_or(0, |a| a.count());
            if !told && held > 0 {
                told = true;
                assigned_tx.send(()).unwrap();
            }
            if told && started.elapsed() > Duration::from_secs(6) {
                break;
            }
        }
        drop(holder);
    });
    assigned_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let mut stage = Collect::default();
    let (result, stats, _) =
        consume_to_end(&config, &ConsumeConfig::new(&group, topic), &mut stage);
    holder_thread.join().unwrap();
    result.unwrap();
    assert_eq!(stage.records.len(), 40);
    assert_eq!(stats.snapshot().committed, 40);
}
