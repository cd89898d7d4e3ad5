//! The JSON-lines and webhook sinks on real files and a real HTTP server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
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

fn quick(url: &str) -> WebhookConfig {
    WebhookConfig {
        backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
        retries: 3,
        batch: 4,
        ..WebhookConfig::new(url)
    }
}

#[test]
fn webhook_retries_server_errors_and_delivers_in_batches() {
    let all = alerts();
    let docs = &all[..6];
    // First request: 503, retried; then 200 for both batches (4 + 2 documents).
    let (url, handle) = server(vec![503, 200, 200]);
    let mut sink = WebhookSink::new(quick(&url));
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
}

#[test]
fn webhook_gives_up_on_client_errors_and_after_its_retries() {
    let all = alerts();
    let (url, handle) = server(vec![400]);
    let mut sink = WebhookSink::new(quick(&url));
    sink.send(&all[..1]).unwrap();
    let err = sink.flush().unwrap_err();
    assert!(matches!(err, SinkError::Http { attempts: 1, .. }), "{err}");
    assert_eq!(handle.join().unwrap().len(), 1);
    let (url, handle) = server(vec![500, 500, 500, 500]);
    let mut sink = WebhookSink::new(quick(&url));
    sink.send(&all[..1]).unwrap();
    let err = sink.flush().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("webhook {url}: HTTP status 500 (after 4 attempts)")
    );
    assert_eq!(handle.join().unwrap().len(), 4);
}
