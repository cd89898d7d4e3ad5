//! The JSON-lines and webhook sinks on real files and a real HTTP server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use iotguard_detect::sink::{JsonlConfig, JsonlSink, SinkError, WebhookConfig, WebhookSink};
use iotguard_detect::{Alert, AlertSink, DetectConfig};

use super::{detect_all, detector, fixture, read_log};

fn alerts() -> Vec<Alert> {
    let records = read_log(&fixture().test_log);
    detect_all(&mut detector(DetectConfig::default()), &records)
}

#[test]
fn jsonl_rotates_by_size_and_keeps_every_document() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.jsonl");
    let all = alerts();
    assert!(all.len() >= 10);
    let one = serde_json::to_string(&all[0]).unwrap().len() as u64;
    let mut sink = JsonlSink::open(JsonlConfig {
        max_bytes: one * 4,
        keep: 100,
        ..JsonlConfig::new(&path)
    })
    .unwrap();
    for chunk in all.chunks(3) {
        sink.send(chunk).unwrap();
    }
    sink.flush().unwrap();
    let mut lines = Vec::new();
    let mut rotated = 0;
    // Oldest first: NAME.k .. NAME.1, then NAME.
    let mut files: Vec<_> = (1..=100)
        .map(|i| dir.path().join(format!("alerts.jsonl.{i}")))
        .filter(|p| p.exists())
        .collect();
    rotated += files.len();
    files.reverse();
    files.push(path.clone());
    for f in &files {
        let size = std::fs::metadata(f).unwrap().len();
        assert!(
            size <= one * 4 || size == one * 4,
            "{} is {size} bytes",
            f.display()
        );
        for line in BufReader::new(std::fs::File::open(f).unwrap()).lines() {
            lines.push(serde_json::from_str::<Alert>(&line.unwrap()).unwrap());
        }
    }
    assert!(rotated >= 2, "{rotated}");
    assert_eq!(lines, all);
}

#[test]
fn jsonl_keeps_only_the_configured_number_of_old_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    let all = alerts();
    let mut sink = JsonlSink::open(JsonlConfig {
        max_bytes: 1,
        keep: 2,
        ..JsonlConfig::new(&path)
    })
    .unwrap();
    sink.send(&all[..5]).unwrap();
    sink.flush().unwrap();
    // One document per file: the newest in NAME, the two before it in NAME.1 and NAME.2.
    let read = |p: &std::path::Path| -> Alert {
        serde_json::from_str(std::fs::read_to_string(p).unwrap().trim()).unwrap()
    };
    assert_eq!(read(&path), all[4]);
    assert_eq!(read(&dir.path().join("a.jsonl.1")), all[3]);
    assert_eq!(read(&dir.path().join("a.jsonl.2")), all[2]);
    assert!(!dir.path().join("a.jsonl.3").exists());
}

/// A one-thread HTTP server answering the given statuses in turn; returns its URL and a
/// handle yielding the request bodies it received.
fn server(statuses: Vec<u16>) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for status in statuses {
            let (stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut reader = BufReader::new(stream);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            bodies.push(String::from_utf8(body).unwrap());
            let mut stream = reader.into_inner();
            write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            .unwrap();
        }
        bodies
    });
    (url, handle)
}

fn quick(url: &str, dead_letter: &Path) -> WebhookConfig {
    WebhookConfig {
        backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
        retries: 3,
        batch: 4,
        flush_wait: Duration::from_secs(10),
        ..WebhookConfig::new(url, dead_letter)
    }
}

/// The documents of a dead-letter file, in order.
fn dead_letters(path: &Path) -> Vec<Alert> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn webhook_retries_server_errors_and_delivers_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.jsonl");
    let all = alerts();
    let docs = &all[..6];
    // First request: 503, retried; then 200 for both batches (4 + 2 documents).
    let (url, handle) = server(vec![503, 200, 200]);
    let mut sink = WebhookSink::new(quick(&url, &dead));
    sink.send(docs).unwrap();
    sink.flush().unwrap();
    let bodies = handle.join().unwrap();
    assert_eq!(bodies.len(), 3);
    assert_eq!(bodies[0], bodies[1]);
    let first: Vec<Alert> = serde_json::from_str(&bodies[1]).unwrap();
    let second: Vec<Alert> = serde_json::from_str(&bodies[2]).unwrap();
    assert_eq!(first, docs[..4]);
    assert_eq!(second, docs[4..]);
    // Nothing left to send.
    sink.flush().unwrap();
    assert_eq!(sink.counts(), (2, 1, 0));
    drop(sink);
    assert!(!dead.exists());
}

/// A receiver answering 400 refuses the documents: each request is tried once, its documents
/// go to the dead-letter file, the flush reports how many, and nothing is sent again (before:
/// the same batch was re-sent at every flush, forever, while the buffer grew).
#[test]
fn webhook_dead_letters_client_errors_once_and_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.jsonl");
    let all = alerts();
    let (url, handle) = server(vec![400, 400, 400, 200]);
    let mut sink = WebhookSink::new(quick(&url, &dead));
    sink.send(&all[..10]).unwrap();
    let err = sink.flush().unwrap_err();
    assert!(err.is_set_aside(), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "10 alerts could not be delivered (HTTP status 400 (after 1 attempts)); kept in {}",
            dead.display()
        )
    );
    assert_eq!(dead_letters(&dead), all[..10]);
    // The next flush has nothing to re-send; new documents go out.
    sink.flush().unwrap();
    sink.send(&all[10..11]).unwrap();
    sink.flush().unwrap();
    let bodies = handle.join().unwrap();
    assert_eq!(bodies.len(), 4);
    let last: Vec<Alert> = serde_json::from_str(&bodies[3]).unwrap();
    assert_eq!(last, all[10..11]);
    assert_eq!(sink.counts(), (1, 3, 10));
}

#[test]
fn webhook_dead_letters_after_its_retries() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.jsonl");
    let all = alerts();
    let (url, handle) = server(vec![500, 500, 500, 500]);
    let mut sink = WebhookSink::new(quick(&url, &dead));
    sink.send(&all[..1]).unwrap();
    let err = sink.flush().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "1 alerts could not be delivered (HTTP status 500 (after 4 attempts)); kept in {}",
            dead.display()
        )
    );
    assert_eq!(handle.join().unwrap().len(), 4);
    assert_eq!(dead_letters(&dead), all[..1]);
}

/// A receiver that accepts connections and never answers: sends, flushes and the shutdown
/// return within their stated waits (backpressure 100 ms once, flush 200 ms, shutdown 300 ms)
/// instead of a request timeout times the retries each, and every document is in the
/// dead-letter file when the sink is gone.
#[test]
fn a_hanging_webhook_never_blocks_for_longer_than_its_stated_waits() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.jsonl");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let all = alerts();
    let docs: Vec<Alert> = all.iter().cycle().take(200).cloned().collect();
    let mut sink = WebhookSink::new(WebhookConfig {
        timeout: Duration::from_secs(60),
        batch: 10,
        queue: 2,
        backpressure: Duration::from_millis(100),
        flush_wait: Duration::from_millis(200),
        shutdown: Duration::from_millis(300),
        ..WebhookConfig::new(&url, &dead)
    });
    let t0 = std::time::Instant::now();
    for chunk in docs.chunks(10) {
        sink.send(chunk).unwrap();
    }
    let sent = t0.elapsed();
    // One request in flight, two queued, one wait of 100 ms, the rest dead-lettered at once.
    assert!(sent < Duration::from_millis(1000), "{sent:?}");
    // The flush waits 200 ms for the three requests handed over, then reports the dead letters
    // and that three requests are still being sent (so the source must not commit).
    let t1 = std::time::Instant::now();
    let err = sink.flush().unwrap_err();
    let flushed = t1.elapsed();
    assert!(!err.is_set_aside() && !err.is_fatal(), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "170 alerts could not be delivered (queue of 2 requests full for 100ms); kept in {}; \
             3 requests still being sent",
            dead.display()
        )
    );
    assert!(
        flushed >= Duration::from_millis(200) && flushed < Duration::from_millis(1200),
        "{flushed:?}"
    );
    // Still nothing answered: the next flush says so after its wait.
    let t2 = std::time::Instant::now();
    let err = sink.flush().unwrap_err();
    let waited = t2.elapsed();
    assert!(!err.is_set_aside() && !err.is_fatal(), "{err}");
    assert!(
        err.to_string()
            .contains("3 requests not answered within 200ms"),
        "{err}"
    );
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_millis(1200),
        "{waited:?}"
    );
    let t3 = std::time::Instant::now();
    drop(sink);
    let shut = t3.elapsed();
    assert!(shut < Duration::from_millis(1500), "{shut:?}");
    let mut kept = dead_letters(&dead);
    let mut want = docs.clone();
    let key = |a: &Alert| (a.id().to_string(), a.iotguard.revision);
    kept.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(kept.len(), 200);
    assert_eq!(kept, want);
}

/// What the webhook dead-letters when it shuts down is reported by `close` (the run's last
/// flush), so the run's count matches the dead-letter file. Before: the shutdown's dead letters
/// were written but never counted (the harness saw a report of 56 for a file of 453).
#[test]
fn webhook_close_reports_what_it_dead_letters_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.jsonl");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let all = alerts();
    let docs: Vec<Alert> = all.iter().cycle().take(30).cloned().collect();
    let mut sink = WebhookSink::new(WebhookConfig {
        timeout: Duration::from_secs(60),
        batch: 10,
        queue: 2,
        flush_wait: Duration::from_millis(50),
        shutdown: Duration::from_millis(200),
        ..WebhookConfig::new(&url, &dead)
    });
    sink.send(&docs).unwrap();
    // Three requests handed over, none answered: nothing dead-lettered yet.
    let err = sink.flush().unwrap_err();
    assert!(
        err.to_string()
            .contains("3 requests not answered within 50ms"),
        "{err}"
    );
    let err = sink.close().unwrap_err();
    assert!(err.is_set_aside(), "{err}");
    let SinkError::DeadLettered { alerts, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*alerts, 30);
    assert_eq!(dead_letters(&dead).len(), 30);
    // Alerts sent after the close are dead-lettered and reported, never dropped.
    sink.send(&docs[..4]).unwrap();
    let err = sink.close().unwrap_err();
    let SinkError::DeadLettered { alerts, reason, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*alerts, reason.as_str()),
        (4, "sent after the sink was closed")
    );
    assert_eq!(dead_letters(&dead).len(), 34);
    assert_eq!(sink.counts(), (0, 0, 34));
}

/// A drift event document, as the detector makes them.
fn drift_event() -> iotguard_detect::EventDocument {
    serde_json::from_value(serde_json::json!({
        "@timestamp": "2024-01-01T00:00:00Z",
        "ecs": {"version": iotguard_detect::ECS_VERSION},
        "event": {
            "id": "drift-m-3", "kind": "event", "category": ["configuration"],
            "type": ["change"], "action": "model-drift", "dataset": "iotguard.drift",
            "created": "2024-01-01T00:00:01Z"
        },
        "rule": {"name": "m", "id": "m", "version": "1", "category": "drift"},
        "message": "Model input drift: 1 feature moved: x (PSI 0.50)",
        "iotguard": {"drift": {
            "window": 3, "first_flow": 30000, "last_flow": 40000, "end_time_ns": 1,
            "features": [{"name": "x", "psi": 0.5, "status": "drift", "missing": 0.0,
                          "reference_missing": 0.0, "new": true}],
            "score": null, "alert_rate": 0.1, "expected_alert_rate": 0.1, "mean_score": 0.2,
            "alert_rate_change": null, "score_change": null
        }}
    }))
    .unwrap()
}

#[test]
fn the_webhook_posts_drift_events_with_its_retries() {
    let dir = tempfile::tempdir().unwrap();
    let (url, handle) = server(vec![503, 200]);
    let mut sink = WebhookSink::new(quick(&url, &dir.path().join("dead.jsonl")));
    let events = vec![drift_event()];
    sink.send_events(&events).unwrap();
    let bodies = handle.join().unwrap();
    assert_eq!(bodies.len(), 2, "retried after the 503");
    let got: Vec<iotguard_detect::EventDocument> = serde_json::from_str(&bodies[1]).unwrap();
    assert_eq!(got, events);
    assert_eq!(got[0].event.kind, "event");
}
