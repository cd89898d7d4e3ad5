//! Kafka through the real binary against a real broker (`IOTGUARD_KAFKA_BROKER`, tansu in CI):
//! `replay` writes what zeek-kafka writes. Without the variable each test prints `SKIPPED`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use iotguard_kafka::{admin, read_topic, KafkaConfig};
use iotguard_testkit::kafka::{kafka_broker, unique_name};
use serde_json::Value;

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
        stderr.contains("conn.log:13: expected 21 fields, found 7"),
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

/// A model trained on one real capture and the alerts file-mode `detect` writes for another:
/// what Kafka-mode detection is compared with.
struct Fixture {
    _dir: tempfile::TempDir,
    model: String,
    /// The capture detected: IoT-23 34-1, Mirai on 192.168.1.195 (23,145 flows).
    capture: String,
    /// File-mode detection's final document per incident.
    reference: BTreeMap<String, Value>,
    /// File mode's flows at or over the threshold.
    alert_flows: u64,
}

fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let data = iotguard_testkit::shared_data("kafka detection")?;
            let dir = tempfile::tempdir().unwrap();
            let model = dir.path().join("model.json").display().to_string();
            let train = data.join("iot23/iot23-pool-dev.conn.log.labeled");
            ok(&[
                "train",
                "--model",
                "tree",
                "--out",
                &model,
                &train.display().to_string(),
            ]);
            let capture = data
                .join("iot23/CTU-IoT-Malware-Capture-34-1.conn.log.labeled")
                .display()
                .to_string();
            let jsonl = dir.path().join("reference.jsonl");
            let report = ok(&[
                "detect",
                "--json",
                "--model",
                &model,
                "--no-alerts-db",
                "--alerts-jsonl",
                &jsonl.display().to_string(),
                &capture,
            ]);
            let reference = final_documents(&read_jsonl(&jsonl));
            let report: Value = serde_json::from_str(&report).unwrap();
            Some(Fixture {
                _dir: dir,
                model,
                capture,
                reference,
                alert_flows: report["report"]["alert_flows"].as_u64().unwrap(),
            })
        })
        .as_ref()
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The last revision of each incident, without the wall-clock fields.
fn final_documents(docs: &[Value]) -> BTreeMap<String, Value> {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for doc in docs {
        let id = doc["event"]["id"].as_str().unwrap().to_string();
        let newer = out.get(&id).is_none_or(|old| {
            doc["iotguard"]["revision"].as_u64() >= old["iotguard"]["revision"].as_u64()
        });
        if newer {
            out.insert(id, doc.clone());
        }
    }
    for doc in out.values_mut() {
        for key in ["@timestamp", "message"] {
            doc.as_object_mut().unwrap().remove(key);
        }
        let event = doc["event"].as_object_mut().unwrap();
        event.remove("created");
        // Revisions count sends, which depend on batching, not on the flows.
        doc["iotguard"].as_object_mut().unwrap().remove("revision");
    }
    out
}

/// Replays the fixture's capture into a new topic with `partitions` partitions.
fn replay_capture(broker: &str, fx: &Fixture, partitions: usize, extra: &[&str]) -> String {
    let topic = unique_name("flows");
    let mut args = vec!["replay", &fx.capture, "--kafka", broker, "--topic", &topic];
    let partitions = partitions.to_string();
    args.extend(["--partitions", &partitions]);
    args.extend(extra);
    ok(&args);
    topic
}

#[test]
fn replay_then_detect_gives_the_file_alerts_on_the_alerts_topic_sqlite_and_jsonl() {
    let Some(broker) = kafka_broker("replay_then_detect") else {
        return;
    };
    let Some(fx) = fixture() else {
        return;
    };
    // One partition: flows arrive in file order, so the alerts must be file mode's.
    let topic = replay_capture(&broker, fx, 1, &[]);
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("alerts.jsonl");
    let db = dir.path().join("alerts.db");
    let alerts_topic = unique_name("alerts");
    let group = unique_name("detect");
    let out = ok(&[
        "detect",
        "--model",
        &fx.model,
        "--kafka",
        &broker,
        "--topic",
        &topic,
        "--group",
        &group,
        "--alerts-topic",
        &alerts_topic,
        "--alerts-jsonl",
        &jsonl.display().to_string(),
        "--alerts-db",
        &db.display().to_string(),
        "--stop-at-end",
        "--json",
    ]);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["report"]["flows"], 23_145);
    assert_eq!(report["kafka"]["detect"]["consumed"], 23_145);
    assert_eq!(report["kafka"]["detect"]["committed"], 23_145);
    assert_eq!(report["kafka"]["detect"]["rejected"], 0);
    let sent = report["report"]["alerts_sent"].as_u64().unwrap();

    // The same flows in the same order score the same: as many alerting flows as file mode,
    // each counted in exactly one incident. (Incident boundaries may differ: alerts are sent,
    // and idle incidents closed, as wall-clock time passes.)
    assert_eq!(report["report"]["alert_flows"], fx.alert_flows);
    let docs = read_jsonl(&jsonl);
    assert_eq!(docs.len() as u64, sent);
    let finals = final_documents(&docs);
    let flows_in_incidents: u64 = finals
        .values()
        .map(|d| d["iotguard"]["counts"]["flows"].as_u64().unwrap())
        .sum();
    assert_eq!(flows_in_incidents, fx.alert_flows);
    let sources = |m: &BTreeMap<String, Value>| -> BTreeSet<String> {
        m.values().map(|d| d["source"]["ip"].to_string()).collect()
    };
    assert_eq!(sources(&finals), sources(&fx.reference));
    assert!(sources(&finals).contains("\"192.168.1.195\""));

    // The alerts topic got exactly what the file got, keyed by alert id.
    let config = KafkaConfig::new(broker.clone());
    let on_topic = read_topic(&config, &alerts_topic, Duration::from_secs(30)).unwrap();
    let topic_docs: Vec<Value> = on_topic
        .iter()
        .map(|m| {
            let doc: Value = serde_json::from_slice(&m.payload).unwrap();
            assert_eq!(
                m.key.as_deref(),
                doc["event"]["id"].as_str().map(str::as_bytes)
            );
            assert_eq!(doc["event"]["kind"], "alert");
            doc
        })
        .collect();
    let revisions = |docs: &[Value]| -> BTreeSet<(String, u64)> {
        docs.iter()
            .map(|d| {
                let id = d["event"]["id"].as_str().unwrap().to_string();
                (id, d["iotguard"]["revision"].as_u64().unwrap())
            })
            .collect()
    };
    assert_eq!(topic_docs.len() as u64, sent);
    assert_eq!(revisions(&topic_docs), revisions(&docs));

    // The SQLite store holds one row per incident (upserted by id).
    let store = iotguard_detect::AlertStore::open(&db).unwrap();
    let page = store
        .query(&iotguard_detect::AlertQuery {
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.alerts.len(), finals.len());
    for alert in &page.alerts {
        assert!(finals.contains_key(alert.id()), "{}", alert.id());
    }
    // Every offset is committed: a second run of the group has nothing to read.
    let progress = admin::group_progress(&config, &group, &topic).unwrap();
    assert_eq!(progress, vec![(Some(23_145), 23_145)]);
}

/// A detector running in the background, its standard error in a file.
struct Running {
    child: Child,
    stderr: PathBuf,
    jsonl: PathBuf,
}

impl Running {
    fn start(dir: &Path, name: &str, args: &[&str]) -> Running {
        let stderr = dir.join(format!("{name}.stderr"));
        let jsonl = dir.join(format!("{name}.jsonl"));
        let child = Command::new(env!("CARGO_BIN_EXE_iotguard"))
            .args(args)
            .args([
                "--no-alerts-db",
                "--alerts-jsonl",
                &jsonl.display().to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start iotguard detect");
        Running {
            child,
            stderr,
            jsonl,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends SIGTERM and returns the exit status and standard output.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        (self.child.wait().unwrap(), out)
    }
}

/// Waits (up to two minutes, a guard against hangs, not a speed check) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Returns the partitions a detector's last assignment line names.
fn assigned(stderr: &str) -> Option<Vec<i32>> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.contains("assigned partitions ["))?;
    let inner = line.split('[').nth(1)?.split(']').next()?;
    Some(
        inner
            .split(", ")
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect(),
    )
}

#[test]
fn two_detectors_in_one_group_split_the_partitions_and_both_alert() {
    let Some(broker) = kafka_broker("two_detectors_in_one_group") else {
        return;
    };
    let Some(fx) = fixture() else {
        return;
    };
    let config = KafkaConfig::new(broker.clone());
    let topic = unique_name("flows");
    admin::ensure_topic(&config, &topic, 4).unwrap();
    let group = unique_name("detect");
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "detect", "--model", &fx.model, "--kafka", &broker, "--topic", &topic, "--group", &group,
    ];
    let a = Running::start(dir.path(), "a", &args);
    wait_until("detector a joins", || {
        assigned(&a.stderr()).is_some_and(|p| p.len() == 4)
    });
    let b = Running::start(dir.path(), "b", &args);
    wait_until("the group rebalances to two members", || {
        let (pa, pb) = (assigned(&a.stderr()), assigned(&b.stderr()));
        matches!((pa, pb), (Some(pa), Some(pb)) if pa.len() == 2 && pb.len() == 2)
    });
    let (pa, pb) = (
        assigned(&a.stderr()).unwrap(),
        assigned(&b.stderr()).unwrap(),
    );
    let mut all: Vec<i32> = pa.iter().chain(&pb).copied().collect();
    all.sort_unstable();
    assert_eq!(all, [0, 1, 2, 3], "disjoint halves: {pa:?} {pb:?}");

    // Unkeyed flows spread over every partition, so both detectors see the attacker.
    ok(&["replay", &fx.capture, "--kafka", &broker, "--topic", &topic]);
    wait_until("the group commits every flow", || {
        admin::group_progress(&config, &group, &topic)
            .unwrap()
            .iter()
            .all(|(committed, high)| *committed == Some(*high))
    });
    let (sa, out_a) = a.stop();
    let (sb, out_b) = b.stop();
    assert!(sa.success() && sb.success(), "{out_a}\n{out_b}");
    let flows = |out: &str| -> u64 { out.split_whitespace().next().unwrap().parse().unwrap() };
    let (fa, fb) = (flows(&out_a), flows(&out_b));
    assert!(fa > 0 && fb > 0, "both consumed: {fa} {fb}");
    assert_eq!(
        fa + fb,
        23_145,
        "each flow once (no failure, no redelivery)"
    );
    for jsonl in [&dir.path().join("a.jsonl"), &dir.path().join("b.jsonl")] {
        let docs = read_jsonl(jsonl);
        assert!(
            docs.iter().any(|d| d["source"]["ip"] == "192.168.1.195"),
            "{} has alerts on the attacker",
            jsonl.display()
        );
    }
}

#[test]
fn a_detector_killed_mid_stream_and_restarted_loses_no_alert() {
    let Some(broker) = kafka_broker("a_detector_killed_mid_stream") else {
        return;
    };
    let Some(fx) = fixture() else {
        return;
    };
    let config = KafkaConfig::new(broker.clone());
    let topic = unique_name("flows");
    admin::ensure_topic(&config, &topic, 1).unwrap();
    let group = unique_name("detect");
    let dir = tempfile::tempdir().unwrap();
    // Static group membership (KIP-345): the restarted detector takes the killed one's place at
    // once. Without it the broker must first expire the dead member after `session.timeout.ms`;
    // tansu 0.6.0 never does (measured: the restarted member stayed assigned no partition for
    // 120 s with a 10 s session timeout), so this is how a restart is run against it.
    let instance = format!("group.instance.id={}", unique_name("detector"));
    let args = [
        "detect",
        "--model",
        &fx.model,
        "--kafka",
        &broker,
        "--topic",
        &topic,
        "--group",
        &group,
        "--kafka-option",
        &instance,
    ];
    let mut first = Running::start(dir.path(), "first", &args);
    // The replay starts once the detector holds the partition: one that joined late would find
    // the whole capture waiting and commit all of it before the kill (CI saw "committed 23145").
    wait_until("the first detector is assigned the partition", || {
        assigned(&first.stderr()).is_some_and(|p| p == [0])
    });
    // Paced, so the detector is still mid-stream when it is killed.
    let mut replay = Command::new(env!("CARGO_BIN_EXE_iotguard"))
        .args([
            "replay",
            &fx.capture,
            "--kafka",
            &broker,
            "--topic",
            &topic,
            "--rate",
            "5000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let committed = || {
        admin::group_progress(&config, &group, &topic).unwrap()[0]
            .0
            .unwrap_or(0)
    };
    wait_until("the first detector commits", || committed() >= 3000);
    first.child.kill().unwrap(); // SIGKILL: no flush, no commit, no goodbye.
    first.child.wait().unwrap();
    let at_kill = committed();
    assert!(at_kill < 23_145, "killed mid-stream (committed {at_kill})");
    assert!(replay.wait().unwrap().success());

    // The restart, with a guard: a detector that never reaches the end fails the test instead
    // of hanging it.
    let mut second = Command::new(env!("CARGO_BIN_EXE_iotguard"))
        .args(args)
        .args([
            "--stop-at-end",
            "--json",
            "--no-alerts-db",
            "--alerts-jsonl",
            &first.jsonl.display().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("second.stderr")).unwrap())
        .spawn()
        .expect("restart iotguard detect");
    let mut restarted = String::new();
    let mut stdout = second.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        stdout.read_to_string(&mut restarted).unwrap();
        restarted
    });
    let mut status = None;
    wait_until("the restarted detector reaches the end", || {
        status = second.try_wait().unwrap();
        status.is_some()
    });
    let second_stderr = std::fs::read_to_string(dir.path().join("second.stderr")).unwrap();
    assert!(status.unwrap().success(), "restart failed: {second_stderr}");
    let restarted = reader.join().unwrap();
    let report: Value = serde_json::from_str(&restarted).unwrap();
    let consumed = report["kafka"]["detect"]["consumed"].as_u64().unwrap();
    assert_eq!(
        consumed,
        23_145 - at_kill as u64,
        "resumed at the last commit"
    );
    assert_eq!(
        admin::group_progress(&config, &group, &topic).unwrap(),
        vec![(Some(23_145), 23_145)]
    );

    // Every incident file mode finds is alerted: the same attacker, overlapping in time. (After
    // the restart the detector's host state starts cold, so incident boundaries may differ.)
    let docs = read_jsonl(&first.jsonl);
    for (id, want) in &fx.reference {
        let covered = docs.iter().any(|d| {
            d["source"]["ip"] == want["source"]["ip"]
                && d["event"]["start"].as_str() <= want["event"]["end"].as_str()
                && want["event"]["start"].as_str() <= d["event"]["end"].as_str()
        });
        assert!(covered, "incident {id} lost: {want}");
    }
    let mut seen = std::collections::HashSet::new();
    let duplicates = docs
        .iter()
        .filter(|d| {
            !seen.insert((
                d["event"]["id"].to_string(),
                d["iotguard"]["revision"].to_string(),
            ))
        })
        .count();
    eprintln!(
        "killed at offset {at_kill}; {} alert documents, {duplicates} duplicates",
        docs.len()
    );
}

#[test]
fn unparseable_records_reach_the_dead_letter_topic_through_detect() {
    let Some(broker) = kafka_broker("unparseable_records_reach_the_dead_letter_topic") else {
        return;
    };
    let Some(fx) = fixture() else {
        return;
    };
    let config = KafkaConfig::new(broker.clone());
    let topic = unique_name("flows");
    admin::ensure_topic(&config, &topic, 1).unwrap();
    let mut producer = iotguard_kafka::KafkaProducer::new(&config).unwrap();
    let good = br#"{"ts":1545403810.5,"uid":"Cgood","id.orig_h":"192.168.1.195","id.orig_p":1,"id.resp_h":"10.0.0.1","id.resp_p":23,"proto":"tcp","conn_state":"S0"}"#;
    let bad: [&[u8]; 2] = [
        br#"{"ts":"yesterday","proto":"tcp"}"#,
        b"\x00\x01 not a flow",
    ];
    for payload in [&good[..], bad[0], good, bad[1]] {
        let out = iotguard_kafka::Outgoing {
            topic: &topic,
            key: None,
            payload,
            timestamp_ms: None,
        };
        producer.send(out, None).unwrap();
    }
    producer.confirm().unwrap();
    let dead = unique_name("dead");
    let group = unique_name("detect");
    let dir = tempfile::tempdir().unwrap();
    let out = iotguard(
        &[
            "detect",
            "--model",
            &fx.model,
            "--kafka",
            &broker,
            "--topic",
            &topic,
            "--group",
            &group,
            "--dead-letter-topic",
            &dead,
            "--no-alerts-db",
            "--alerts-jsonl",
            &dir.path().join("a.jsonl").display().to_string(),
            "--stop-at-end",
            "--json",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("rejected {topic}/0:1")),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["report"]["flows"], 2);
    assert_eq!(report["report"]["rejected"], 2);
    assert_eq!(report["kafka"]["detect"]["dead_lettered"], 2);
    let letters = read_topic(&config, &dead, Duration::from_secs(30)).unwrap();
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0].payload, bad[0]);
    assert_eq!(letters[1].payload, bad[1]);
    assert_eq!(letters[0].header("iotguard.source.offset"), Some("1"));
    assert_eq!(letters[1].header("iotguard.source.offset"), Some("3"));
    assert_eq!(
        letters[1].header("iotguard.source.topic"),
        Some(topic.as_str())
    );
    assert!(letters[0].header("iotguard.error").unwrap().contains("ts"));
}
