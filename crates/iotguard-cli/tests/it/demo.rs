//! `iotguard demo` end to end: it trains a model on a simulated capture, replays flows through
//! live detection into SQLite and serves what it found; every flow is scored once.

use serde_json::json;

use crate::ok;
use crate::serve::{get_json, http, start};

#[test]
fn demo_trains_detects_stores_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("replay.log");
    let c = capture.display().to_string();
    ok(&["simulate", "--seed", "3", "--flows", "6000", "--out", &c]);
    let db = dir.path().join("alerts.db");
    let mut demo = start(&[
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--train-kind",
        "logreg",
        "--train-flows",
        "6000",
        "--rate",
        "100000",
        "--alerts-db",
        &db.display().to_string(),
        "--replay",
        &c,
    ]);
    let lines = demo.stderr_until("the replay has ended");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("trained a logreg model on 6000 simulated flows")),
        "{lines:?}"
    );

    // Every replayed flow was scored once, and the simulated attacks raised alerts.
    let stats = get_json(&demo.addr, "/api/v1/stats");
    assert_eq!(stats["pipeline"]["scored"], json!(6000), "{stats}");
    assert_eq!(stats["pipeline"]["rejected"], json!(0));
    let page = get_json(&demo.addr, "/api/v1/alerts?limit=1000");
    let alerts = page["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty(), "{stats}\n{lines:#?}");
    let by_severity: u64 = stats["alerts_by_severity"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_severity, alerts.len() as u64);
    let first = &alerts[0];
    let id = first["event"]["id"].as_str().unwrap();
    let one = get_json(&demo.addr, &format!("/api/v1/alerts/{id}"));
    assert_eq!(&one, first);
    assert!(!one["iotguard"]["features"].as_array().unwrap().is_empty());

    let models = get_json(&demo.addr, "/api/v1/models");
    assert_eq!(models["active"]["kind"], json!("logreg"));
    assert_eq!(models["active"]["training"]["rows"], json!(6000));
    // Trained as `train` trains: the panel's figures are the held-out time blocks' estimate,
    // never a random split of the training rows.
    let metrics = &models["active"]["metrics"];
    assert_eq!(
        metrics["out_of_capture"]["split"]["kind"],
        json!("time_blocks"),
        "{metrics}"
    );
    assert!(metrics.get("validation").is_none(), "{metrics}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("held-out estimate: recall")),
        "{lines:?}"
    );
    // The exploration of the training capture, written beside the model, is linked.
    assert_eq!(
        models["exploration"],
        json!({"html": "/api/v1/models/explore", "inputs": ["train.conn.log"]})
    );
    let (status, explore) = http(&demo.addr, "GET", "/api/v1/models/explore", None);
    assert_eq!(status, 200);
    assert!(explore.contains("<figure id=\"correlation\">"));
    let (status, page) = http(&demo.addr, "GET", "/", None);
    assert_eq!(status, 200);
    assert!(page.contains("<title>iotguard</title>"));
    let metrics = http(&demo.addr, "GET", "/metrics", None).1;
    assert!(metrics.contains("iotguard_"), "{metrics}");

    let (code, rest) = demo.interrupt();
    assert_eq!(code, Some(0), "{rest}");
    assert!(rest.contains("stopped: 6000 flows scored"), "{rest}");
    // The store outlives the demo: its alerts stay readable.
    assert!(db.is_file());
}
