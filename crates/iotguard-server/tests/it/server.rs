//! The real server on a loopback port: it answers over TCP, refuses to listen beyond loopback
//! without a token, and stops even with a live stream open.

use std::io::{Read, Write};
use std::net::TcpStream;

use iotguard_server::{AppState, Server, ServerConfig};

/// Sends a raw HTTP/1.1 request and returns the whole answer (the server closes it).
fn http(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

fn loopback() -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: None,
        ..ServerConfig::default()
    }
}

#[test]
fn serves_over_tcp_and_stops_with_a_stream_open() {
    let server = Server::start(&loopback(), AppState::builder().build()).unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    assert_eq!(server.url(), format!("http://{addr}/"));
    let answer = http(
        addr,
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\"status\":\"ok\""), "{answer}");

    // A live stream is open when the server stops: stop ends it and returns.
    let mut live = TcpStream::connect(addr).unwrap();
    live.write_all(b"GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 64];
    let n = live.read(&mut first).unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200 OK"));
    server.stop().unwrap();
    let mut rest = Vec::new();
    live.read_to_end(&mut rest).unwrap();
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens any more"
    );
}

#[test]
fn refuses_other_addresses_without_a_token() {
    let config = ServerConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        token: None,
        ..ServerConfig::default()
    };
    let err = Server::start(&config, AppState::builder().build())
        .err()
        .unwrap();
    assert!(
        err.to_string().starts_with(
            "server configuration: refusing to listen on 0.0.0.0:0 without an API token"
        ),
        "{err}"
    );
}

#[test]
fn a_busy_port_is_an_error_at_start() {
    let first = Server::start(&loopback(), AppState::builder().build()).unwrap();
    let config = ServerConfig {
        listen: first.local_addr(),
        token: None,
        ..ServerConfig::default()
    };
    let err = Server::start(&config, AppState::builder().build())
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with(&format!("listening on {}: ", first.local_addr())),
        "{err}"
    );
}
