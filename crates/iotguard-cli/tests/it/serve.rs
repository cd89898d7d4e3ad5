//! `iotguard serve` and `iotguard demo` as a person runs them: a real process on a loopback
//! port, spoken to over TCP, stopped with Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, Command, Stdio};

use serde_json::{json, Value};

use crate::{iotguard, ok};

/// A running `iotguard` server process and the address it printed.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) addr: String,
    pub(crate) stderr: BufReader<ChildStderr>,
}

/// Starts `iotguard` with `args` and reads the URL it prints on its first stdout line.
pub(crate) fn start(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iotguard"))
        .current_dir(iotguard_testkit::repo_root())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run iotguard");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let addr = line
        .trim()
        .strip_prefix("http://")
        .and_then(|a| a.strip_suffix('/'))
        .unwrap_or_else(|| panic!("iotguard {args:?} printed no URL: {line:?}"))
        .to_string();
    Running {
        child,
        addr,
        stderr,
    }
}

impl Running {
    /// Reads standard error lines until one contains `needle`; returns the lines read.
    pub(crate) fn stderr_until(&mut self, needle: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.stderr.read_line(&mut line).unwrap();
            assert!(n > 0, "stderr ended before {needle:?}: {lines:?}");
            let found = line.contains(needle);
            lines.push(line.trim_end().to_string());
            if found {
                return lines;
            }
        }
    }

    /// Sends SIGINT (Ctrl-C) and returns the exit code and the rest of standard error.
    pub(crate) fn interrupt(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(status.success());
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        (self.child.wait().unwrap().code(), rest)
    }
}

/// Sends one HTTP/1.1 request and returns the status code and the body.
pub(crate) fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// GETs a JSON document.
pub(crate) fn get_json(addr: &str, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path, None);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn serve_scores_with_a_model_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("train.log");
    let model = dir.path().join("model.json");
    let (c, m) = (capture.display().to_string(), model.display().to_string());
    ok(&["simulate", "--seed", "1", "--flows", "5000", "--out", &c]);
    ok(&["train", "--model", "logreg", "--out", &m, &c]);

    let mut server = start(&["serve", "--listen", "127.0.0.1:0", "--model", &m]);
    server.stderr_until("serving the API and the dashboard");
    let health = get_json(&server.addr, "/health");
    assert_eq!(health["model"], json!(true));
    assert_eq!(health["alert_store"], json!(false));
    let flow = r#"{"ts": 1700000000.5, "uid": "Cabc", "id.orig_h": "192.168.1.20",
        "id.orig_p": 40000, "id.resp_h": "203.0.113.9", "id.resp_p": 23, "proto": "tcp",
        "conn_state": "S0", "history": "S", "orig_pkts": 1, "orig_ip_bytes": 60,
        "resp_pkts": 0, "resp_ip_bytes": 0}"#;
    let (status, body) = http(&server.addr, "POST", "/api/v1/score", Some(flow));
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["results"][0]["uid"], json!("Cabc"));
    assert_eq!(answer["model"], json!("logreg"));
    // Without an alert store the alert endpoints say how to get one.
    let (status, body) = http(&server.addr, "GET", "/api/v1/alerts", None);
    assert_eq!(status, 503);
    assert!(body.contains("--alerts-db"), "{body}");

    let (code, rest) = server.interrupt();
    assert_eq!(code, Some(0), "{rest}");
    assert!(rest.contains("stopped"), "{rest}");
}

#[test]
fn serve_refuses_unsafe_or_missing_things() {
    let out = iotguard(&["serve", "--listen", "0.0.0.0:0"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without an API token"),
        "{err}"
    );
    let out = iotguard(&["serve", "--alerts-db", "/no/such/alerts.db"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/no/such/alerts.db: no such alert store"),
        "{err}"
    );
}

#[test]
fn detect_serves_the_api_while_it_detects() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.log");
    let live = dir.path().join("live.log");
    let model = dir.path().join("model.json");
    let db = dir.path().join("alerts.db");
    let p = |p: &std::path::Path| p.display().to_string();
    ok(&[
        "simulate",
        "--seed",
        "1",
        "--flows",
        "5000",
        "--out",
        &p(&train),
    ]);
    ok(&[
        "simulate",
        "--seed",
        "2",
        "--flows",
        "3000",
        "--out",
        &p(&live),
    ]);
    ok(&[
        "train",
        "--model",
        "logreg",
        "--out",
        &p(&model),
        &p(&train),
    ]);

    // Paced, so the server is asked while flows are still arriving.
    let mut detect = start(&[
        "detect",
        "--model",
        &p(&model),
        "--alerts-db",
        &p(&db),
        "--serve",
        "127.0.0.1:0",
        "--rate",
        "500",
        &p(&live),
    ]);
    detect.stderr_until("serving the API and the dashboard");
    let mut scored = 0;
    for _ in 0..200 {
        scored = get_json(&detect.addr, "/api/v1/stats")["pipeline"]["scored"]
            .as_u64()
            .unwrap_or(0);
        if scored > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(scored > 0, "the server never saw a scored flow");
    let health = get_json(&detect.addr, "/health");
    assert_eq!(health["model"], json!(true));
    assert_eq!(health["alert_store"], json!(true));
    let (status, body) = http(&detect.addr, "GET", "/api/v1/alerts?limit=5", None);
    assert_eq!(status, 200, "{body}");

    let (code, rest) = detect.interrupt();
    assert_eq!(code, Some(0), "{rest}");
}

/// Off loopback reads need the token unless `--public-read`; `--allowed-host` limits the
/// names answered (the helper sends the printed address, 0.0.0.0:PORT, as the host); without
/// it the start says any name is accepted.
#[test]
fn serve_off_loopback_guards_reads_and_hosts() {
    let mut server = start(&["serve", "--listen", "0.0.0.0:0", "--token", "s3cret"]);
    let lines = server.stderr_until("serving the API and the dashboard");
    assert!(
        lines.iter().any(|l| l.contains(
            "listening on 0.0.0.0:0 without --allowed-host: any Host header is accepted"
        )),
        "{lines:?}"
    );
    let (status, body) = http(&server.addr, "GET", "/api/v1/stats", None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(http(&server.addr, "GET", "/health", None).0, 200);
    let (code, rest) = server.interrupt();
    assert_eq!(code, Some(0), "{rest}");

    let mut server = start(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--token",
        "s3cret",
        "--public-read",
    ]);
    server.stderr_until("serving the API and the dashboard");
    let (status, body) = http(&server.addr, "GET", "/api/v1/stats", None);
    assert_eq!(status, 200, "{body}");
    let (code, rest) = server.interrupt();
    assert_eq!(code, Some(0), "{rest}");

    let mut server = start(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--token",
        "s3cret",
        "--public-read",
        "--allowed-host",
        "sensor.lan",
    ]);
    let lines = server.stderr_until("serving the API and the dashboard");
    assert!(!lines.iter().any(|l| l.contains("any Host")), "{lines:?}");
    let (status, body) = http(&server.addr, "GET", "/health", None);
    assert_eq!(status, 421, "{body}");
    let (code, rest) = server.interrupt();
    assert_eq!(code, Some(0), "{rest}");
}

/// With `--json`, standard output is the JSON statistics alone even while serving: the URL is
/// only on standard error.
#[test]
fn detect_json_with_serve_keeps_standard_output_json() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json");
    let db = dir.path().join("alerts.db");
    let p = |p: &std::path::Path| p.display().to_string();
    let train = crate::simulated(dir.path(), 1, 3000);
    let live = crate::simulated(dir.path(), 2, 500);
    ok(&["train", "--model", "logreg", "--out", &p(&model), &train]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_iotguard"))
        .args([
            "detect",
            "--json",
            "--serve",
            "127.0.0.1:0",
            "--model",
            &p(&model),
            "--alerts-db",
            &p(&db),
            &live,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The replay ends, the server stays until Ctrl-C, saying so.
    let mut stderr_lines = BufReader::new(child.stderr.take().unwrap());
    let mut stderr = String::new();
    while !stderr.contains("the input ended: still serving the API and the dashboard at") {
        let mut line = String::new();
        assert!(stderr_lines.read_line(&mut line).unwrap() > 0, "{stderr}");
        stderr.push_str(&line);
    }
    let url = stderr
        .split("serving the API and the dashboard at http://")
        .nth(1)
        .and_then(|r| r.split(['/', ' ', '\n']).next())
        .unwrap()
        .to_string();
    assert_eq!(get_json(&url, "/health")["source"]["state"], json!("ended"));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    stderr_lines.read_to_string(&mut stderr).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stats: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}"));
    assert_eq!(stats["report"]["flows"], json!(500), "{stats}");
    assert!(
        stderr.contains("serving the API and the dashboard at http://127.0.0.1:"),
        "{stderr}"
    );
}

/// POSTs with the bearer token; returns the status and the body.
pub(crate) fn post_with_token(addr: &str, path: &str, body: &str, token: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (
        head.split(' ').nth(1).unwrap().parse().unwrap(),
        body.to_string(),
    )
}

/// `serve --models-dir DIR`: activation loads a model named inside DIR, and refuses the served
/// model's own path outside it with the generic message.
#[test]
fn serve_activates_only_models_inside_models_dir() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    let model = dir.path().join("model.json");
    let train = crate::simulated(dir.path(), 1, 3000);
    let p = |p: &std::path::Path| p.display().to_string();
    ok(&["train", "--model", "logreg", "--out", &p(&model), &train]);
    std::fs::copy(&model, models.join("other.json")).unwrap();
    let mut server = start(&[
        "serve",
        "--model",
        &p(&model),
        "--models-dir",
        &p(&models),
        "--token",
        "s3cret",
    ]);
    server.stderr_until("serving the API and the dashboard");
    let outside = json!({ "path": p(&model) }).to_string();
    let (status, body) =
        post_with_token(&server.addr, "/api/v1/models/activate", &outside, "s3cret");
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("refused: the path must name a regular model file"),
        "{body}"
    );
    let inside = json!({ "path": "other.json" }).to_string();
    let (status, body) =
        post_with_token(&server.addr, "/api/v1/models/activate", &inside, "s3cret");
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["active"]["generation"], json!(1));
    let (code, rest) = server.interrupt();
    assert_eq!(code, Some(0), "{rest}");
}
