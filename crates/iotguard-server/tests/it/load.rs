//! Idle live-feed clients against the real server: they do not slow other requests (one
//! shared computation a second, off the async threads), and past the cap they are refused.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use iotguard_detect::{AlertQuery, AlertStore};
use iotguard_server::{AppState, Server, ServerConfig};

use crate::store_with_alerts;

fn loopback() -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: None,
        ..ServerConfig::default()
    }
}

/// Opens a live stream and reads its status line.
fn open_live(addr: SocketAddr) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut first = [0u8; 2048];
    let n = s.read(&mut first).unwrap();
    (s, String::from_utf8_lossy(&first[..n]).into_owned())
}

/// Fills the store with `n` incidents (copies of its alerts under new ids).
fn grow(store: &AlertStore, n: usize) {
    let base = store
        .query(&AlertQuery {
            limit: 100,
            ..AlertQuery::default()
        })
        .unwrap()
        .alerts;
    let copies: Vec<_> = (0..n)
        .map(|i| {
            let mut a = base[i % base.len()].clone();
            a.event.id = format!("inc-load-{i:06}");
            a
        })
        .collect();
    store.upsert(&copies).unwrap();
    store.commit().unwrap();
}

/// With 150 idle live clients on a store of 20 000 alerts, `/health` answers within 250 ms
/// every time over three seconds. Before, every client ran the store's count query each
/// second on the server's two async threads: `/health` waited seconds.
#[test]
fn idle_live_clients_do_not_slow_other_requests() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    grow(&store, 20_000);
    let state = AppState::builder()
        .store(store)
        .stats(iotguard_detect::Stats::new())
        .max_live_streams(200)
        .build();
    let server = Server::start(&loopback(), state).unwrap();
    let addr = server.local_addr();
    let mut clients = Vec::new();
    for _ in 0..150 {
        let (s, head) = open_live(addr);
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        clients.push(s);
    }
    let mut worst = Duration::ZERO;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let t0 = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        worst = worst.max(t0.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(worst < Duration::from_millis(250), "/health took {worst:?}");
    drop(clients);
    server.stop().unwrap();
}

/// Past `max_live_streams`, a stream is refused with 503 and a JSON reason; a closed stream
/// frees its slot.
#[test]
fn live_streams_past_the_cap_are_refused() {
    let state = AppState::builder().max_live_streams(2).build();
    let server = Server::start(&loopback(), state).unwrap();
    let addr = server.local_addr();
    let (first, head) = open_live(addr);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let (_second, head) = open_live(addr);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let (_third, head) = open_live(addr);
    assert!(
        head.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{head}"
    );
    assert!(
        head.contains(
            r#"{"error":"unavailable","message":"2 live streams are open, the most this server serves at once; retry later"}"#
        ),
        "{head}"
    );
    drop(first);
    // The server notices the closed connection on its next write (a tick a second).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_again, head) = open_live(addr);
        if head.starts_with("HTTP/1.1 200 OK") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slot was never freed: {head}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    server.stop().unwrap();
}
