//! The real server's guard: the read token off loopback (decided by the configured listen
//! address, not the peer: these servers listen on 0.0.0.0 and are reached over 127.0.0.1),
//! the `Host` check against DNS rebinding, and the security headers on every answer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use iotguard_detect::AlertStore;
use iotguard_server::{AppState, Server, ServerConfig};

/// Sends `GET path` with `host` and optional extra header lines; returns the status code and
/// the whole answer.
fn get(addr: SocketAddr, path: &str, host: &str, extra: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", addr.port())).unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    (status, answer)
}

/// Starts a server over an empty alert store (kept alive by the returned folder).
fn start(listen: &str, token: Option<&str>, public_read: bool) -> (Server, tempfile::TempDir) {
    let config = ServerConfig {
        listen: listen.parse().unwrap(),
        token: token.map(str::to_string),
        allowed_hosts: Vec::new(),
        public_read,
    };
    let dir = tempfile::tempdir().unwrap();
    let store = AlertStore::open(&dir.path().join("alerts.db")).unwrap();
    let state = AppState::builder().store(store).build();
    (Server::start(&config, state).unwrap(), dir)
}

/// The value of a header in a raw answer (names compared without case).
fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next().unwrap();
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn off_loopback_reads_need_the_token() {
    let (server, _dir) = start("0.0.0.0:0", Some("s3cret"), false);
    let addr = server.local_addr();
    let host = format!("127.0.0.1:{}", addr.port());
    let (status, answer) = get(addr, "/api/v1/alerts", &host, "");
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer.ends_with(
            "{\"error\":\"unauthorized\",\"message\":\"missing bearer token: send \
             `Authorization: Bearer TOKEN`\"}"
        ),
        "{answer}"
    );
    let (status, _) = get(
        addr,
        "/api/v1/alerts",
        &host,
        "Authorization: Bearer wrong\r\n",
    );
    assert_eq!(status, 401);
    let bearer = "Authorization: Bearer s3cret\r\n";
    let (status, answer) = get(addr, "/api/v1/alerts", &host, bearer);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"alerts\":[]"), "{answer}");
    // The live feed takes the token as a query parameter (an EventSource sends no headers).
    let (status, _) = get(addr, "/api/v1/live", &host, "");
    assert_eq!(status, 401);
    let (status, _) = get(addr, "/metrics", &host, "");
    assert_eq!(status, 401);
    let (status, _) = get(addr, "/api/v1/alerts?token=s3cret", &host, "");
    assert_eq!(status, 200);
    // /health and the dashboard's own files stay open.
    for path in ["/health", "/", "/assets/app.js"] {
        let (status, answer) = get(addr, path, &host, "");
        assert_eq!(status, 200, "{path}: {answer}");
    }
}

#[test]
fn public_read_leaves_reads_open_off_loopback() {
    let (server, _dir) = start("0.0.0.0:0", Some("s3cret"), true);
    let addr = server.local_addr();
    let host = format!("127.0.0.1:{}", addr.port());
    let (status, answer) = get(addr, "/api/v1/alerts", &host, "");
    assert_eq!(status, 200, "{answer}");
    // Writes still need it.
    let mut s = TcpStream::connect(("127.0.0.1", addr.port())).unwrap();
    write!(
        s,
        "POST /api/v1/models/activate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
}

#[test]
fn loopback_reads_stay_open_with_a_token_set() {
    let (server, _dir) = start("127.0.0.1:0", Some("s3cret"), false);
    let addr = server.local_addr();
    let (status, answer) = get(addr, "/api/v1/alerts", &addr.to_string(), "");
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn foreign_host_is_misdirected_on_loopback() {
    let (server, _dir) = start("127.0.0.1:0", None, false);
    let addr = server.local_addr();
    let (status, answer) = get(addr, "/api/v1/stats", "evil.example", "");
    assert_eq!(status, 421, "{answer}");
    assert_eq!(
        header(&answer, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        answer.ends_with(
            "misdirected request: this server does not answer for host \"evil.example\" \
             (start it with --allowed-host NAME to accept that name)\n"
        ),
        "{answer}"
    );
    assert_eq!(header(&answer, "x-frame-options"), Some("DENY"));
    let (status, _) = get(addr, "/", &format!("evil.example:{}", addr.port()), "");
    assert_eq!(status, 421);
    for host in [
        format!("127.0.0.1:{}", addr.port()),
        "127.0.0.1".to_string(),
        "localhost".to_string(),
        format!("localhost:{}", addr.port()),
        "[::1]".to_string(),
    ] {
        let (status, answer) = get(addr, "/api/v1/stats", &host, "");
        assert_eq!(status, 200, "{host}: {answer}");
    }
}

#[test]
fn allowed_hosts_are_the_only_names_accepted() {
    let config = ServerConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        token: Some("s3cret".into()),
        allowed_hosts: vec!["sensor.lan".into()],
        public_read: true,
    };
    let server = Server::start(&config, AppState::builder().build()).unwrap();
    let addr = server.local_addr();
    assert_eq!(get(addr, "/health", "sensor.lan:8080", "").0, 200);
    assert_eq!(get(addr, "/health", "evil.example", "").0, 421);
    // Without --allowed-host on 0.0.0.0 any name is accepted (and the CLI warns).
    let (open, _dir2) = start("0.0.0.0:0", Some("s3cret"), true);
    assert_eq!(get(open.local_addr(), "/health", "evil.example", "").0, 200);
}

#[test]
fn security_headers_on_pages_and_api() {
    let (server, _dir) = start("127.0.0.1:0", None, false);
    let addr = server.local_addr();
    for path in ["/", "/api/v1/stats", "/assets/app.js", "/no/such/route"] {
        let (_, answer) = get(addr, path, "localhost", "");
        assert_eq!(
            header(&answer, "content-security-policy"),
            Some(
                "default-src 'none'; script-src 'self'; style-src 'self'; \
                 style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
                 frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            ),
            "{path}: {answer}"
        );
        assert_eq!(header(&answer, "x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(header(&answer, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&answer, "referrer-policy"), Some("no-referrer"));
    }
}
