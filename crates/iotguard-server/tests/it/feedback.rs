//! Analyst feedback: verdicts behind the token, validated, stored with who and when, the
//! latest winning; the alert list's `status` filter; over the router and over real TCP.

use std::io::{Read, Write};

use axum::http::StatusCode;
use iotguard_detect::{AlertQuery, AlertStore, Clock, DetectConfig};
use iotguard_flow::Timestamp;
use iotguard_server::{app, AppState, Server, ServerConfig};
use serde_json::{json, Value};

use crate::{call, get, post_json, store_with_alerts};

/// 2024-03-01T12:00:00Z, the server's fixed clock.
const NOW: i64 = 1_709_294_400;

fn state(store: AlertStore, token: Option<&str>) -> AppState {
    let detect = DetectConfig {
        clock: Clock::Fixed(Timestamp::from_secs_nanos(NOW, 0)),
        ..DetectConfig::default()
    };
    AppState::builder()
        .store(store)
        .token(token.map(str::to_string))
        .detect_config(detect)
        .build()
}

fn ids(page: &Value) -> Vec<String> {
    page["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn verdicts_are_recorded_with_who_and_when_and_the_latest_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    let all: Vec<String> = store
        .query(&AlertQuery {
            limit: 10_000,
            ..AlertQuery::default()
        })
        .unwrap()
        .alerts
        .iter()
        .map(|a| a.id().to_string())
        .collect();
    assert!(all.len() >= 2, "{all:?}");
    let app = app(state(store.reader().unwrap(), Some("s3cret")));
    let uri = format!("/api/v1/alerts/{}/feedback", all[1]);

    let body = r#"{"verdict": "false_positive", "note": "the NAS backup", "analyst": "ann"}"#;
    let (status, answer) = call(&app, post_json(&uri, body, Some("s3cret"))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let first = json!({
        "verdict": "false_positive",
        "note": "the NAS backup",
        "analyst": "ann",
        "at": "2024-03-01T12:00:00.000000Z",
    });
    assert_eq!(
        answer,
        json!({"alert_id": all[1], "feedback": first, "history": [first]})
    );
    // Changed mind, and nobody named: the token holder.
    let (status, answer) = call(
        &app,
        post_json(&uri, r#"{"verdict": "true_positive"}"#, Some("s3cret")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let second = json!({
        "verdict": "true_positive",
        "note": "",
        "analyst": "token",
        "at": "2024-03-01T12:00:00.000000Z",
    });
    assert_eq!(answer["history"], json!([first, second]));
    let (status, answer) = call(&app, get(&uri)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer,
        json!({"alert_id": all[1], "feedback": second, "history": [first, second]})
    );

    // The alert carries its verdict; the list filters on it.
    let (_, one) = call(&app, get(&format!("/api/v1/alerts/{}", all[1]))).await;
    assert_eq!(one["iotguard"]["feedback"], second);
    let (_, other) = call(&app, get(&format!("/api/v1/alerts/{}", all[0]))).await;
    assert_eq!(other["iotguard"].get("feedback"), None);
    let (_, page) = call(&app, get("/api/v1/alerts?status=acknowledged&limit=1000")).await;
    assert_eq!(ids(&page), [all[1].clone()]);
    assert_eq!(page["alerts"][0]["iotguard"]["feedback"], second);
    let (_, page) = call(&app, get("/api/v1/alerts?status=open&limit=1000")).await;
    let open: Vec<String> = all.iter().filter(|id| **id != all[1]).cloned().collect();
    assert_eq!(ids(&page), open);
    let (status, body) = call(&app, get("/api/v1/alerts?status=closed")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The history is in the store itself.
    assert_eq!(store.feedback_history(&all[1]).unwrap().len(), 2);
}

#[tokio::test]
async fn bad_verdicts_unknown_alerts_and_missing_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    let id = store.query(&AlertQuery::default()).unwrap().alerts[0]
        .id()
        .to_string();
    let app = app(state(store.reader().unwrap(), Some("s3cret")));
    let uri = format!("/api/v1/alerts/{id}/feedback");
    let long_note = "x".repeat(2_001);
    let long_analyst = "a".repeat(65);
    let cases = [
        (
            json!({"verdict": "maybe"}),
            StatusCode::BAD_REQUEST,
            "unknown verdict `maybe`: expected one of true_positive, false_positive, benign_activity",
        ),
        (
            json!({"verdict": "true_positive", "note": long_note}),
            StatusCode::BAD_REQUEST,
            "note too long: at most 2000 characters",
        ),
        (
            json!({"verdict": "true_positive", "analyst": long_analyst}),
            StatusCode::BAD_REQUEST,
            "bad analyst: at most 64 characters, on one line",
        ),
        (
            json!({"verdict": "true_positive", "analyst": "ann\nroot"}),
            StatusCode::BAD_REQUEST,
            "bad analyst: at most 64 characters, on one line",
        ),
    ];
    for (body, status, message) in cases {
        let (got, answer) = call(&app, post_json(&uri, &body.to_string(), Some("s3cret"))).await;
        assert_eq!(got, status, "{answer}");
        assert_eq!(answer, json!({"error": "bad_request", "message": message}));
    }
    // Unknown fields and wrong types are the JSON extractor's 422.
    let (got, _) = call(
        &app,
        post_json(
            &uri,
            r#"{"verdict": "true_positive", "who": "x"}"#,
            Some("s3cret"),
        ),
    )
    .await;
    assert_eq!(got, StatusCode::UNPROCESSABLE_ENTITY);
    let (got, answer) = call(
        &app,
        post_json(
            "/api/v1/alerts/inc-none/feedback",
            r#"{"verdict": "true_positive"}"#,
            Some("s3cret"),
        ),
    )
    .await;
    assert_eq!(got, StatusCode::NOT_FOUND);
    assert_eq!(
        answer,
        json!({"error": "not_found", "message": "no alert with id `inc-none`"})
    );
    let (got, _) = call(&app, get("/api/v1/alerts/inc-none/feedback")).await;
    assert_eq!(got, StatusCode::NOT_FOUND);
    for token in [None, Some("guess")] {
        let (got, answer) = call(
            &app,
            post_json(&uri, r#"{"verdict": "true_positive"}"#, token),
        )
        .await;
        assert_eq!(got, StatusCode::UNAUTHORIZED, "{answer}");
    }
    // Nothing was recorded by any of these.
    assert_eq!(store.feedback_history(&id).unwrap(), []);
    assert_eq!(store.latest_verdicts().unwrap().len(), 0);
}

/// Sends a raw HTTP/1.1 request and returns the status line and the body.
fn http(addr: std::net::SocketAddr, request: &str) -> (String, Value) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.lines().next().unwrap().to_string();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn a_verdict_over_real_tcp_reaches_the_detectors_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    let id = store.query(&AlertQuery::default()).unwrap().alerts[0]
        .id()
        .to_string();
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: Some("s3cret".to_string()),
        ..ServerConfig::default()
    };
    let server = Server::start(&config, state(store.reader().unwrap(), Some("s3cret"))).unwrap();
    let body = r#"{"verdict":"benign_activity","note":"weekly scan","analyst":"bob"}"#;
    let (status, answer) = http(
        server.local_addr(),
        &format!(
            "POST /api/v1/alerts/{id}/feedback HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Authorization: Bearer s3cret\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(status, "HTTP/1.1 200 OK", "{answer}");
    assert_eq!(answer["feedback"]["analyst"], json!("bob"));
    server.stop().unwrap();
    // The detector's own connection reads it.
    let got = store.get(&id).unwrap().unwrap().iotguard.feedback.unwrap();
    assert_eq!(
        (
            got.verdict.as_str(),
            got.note.as_str(),
            got.analyst.as_str()
        ),
        ("benign_activity", "weekly scan", "bob")
    );
}

#[tokio::test]
async fn models_report_live_precision_per_version_and_attack_type() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    let alerts = store
        .query(&AlertQuery {
            limit: 3,
            ..AlertQuery::default()
        })
        .unwrap()
        .alerts;
    assert_eq!(alerts.len(), 3);
    let handle = iotguard_detect::ModelHandle::load(&crate::models().a).unwrap();
    let info = handle.info();
    let state = AppState::builder()
        .store(store.reader().unwrap())
        .model(handle.clone())
        .token(Some("s3cret".to_string()))
        .build();
    let app = app(state);
    // Before any verdict: no rows, and the active model has no live precision.
    let (_, models) = call(&app, get("/api/v1/models")).await;
    assert_eq!(
        models["performance"],
        json!({"by_model": [], "by_attack_type": []})
    );
    assert_eq!(models["active"]["live"], json!(null));
    let verdicts = ["true_positive", "false_positive", "benign_activity"];
    for (a, v) in alerts.iter().zip(verdicts) {
        let uri = format!("/api/v1/alerts/{}/feedback", a.id());
        let body = json!({"verdict": v}).to_string();
        let (status, _) = call(&app, post_json(&uri, &body, Some("s3cret"))).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, models) = call(&app, get("/api/v1/models")).await;
    let row = json!({
        "model_id": info.id,
        "model_version": info.version,
        "true_positive": 1,
        "false_positive": 1,
        "benign_activity": 1,
        "precision": 0.5,
        "precision_with_benign": 1.0 / 3.0,
    });
    assert_eq!(models["performance"]["by_model"], json!([row]));
    assert_eq!(models["active"]["live"], row);
    // Per attack type: the three verdicts spread over the alerts' attack types.
    let mut expected: std::collections::BTreeMap<&str, [u64; 3]> = Default::default();
    for (a, i) in alerts.iter().zip(0..) {
        expected.entry(a.iotguard.attack_type.as_str()).or_default()[i] += 1;
    }
    let rows = models["performance"]["by_attack_type"].as_array().unwrap();
    let got: Vec<(String, [u64; 3])> = rows
        .iter()
        .map(|r| {
            (
                r["attack_type"].as_str().unwrap().to_string(),
                [
                    r["true_positive"].as_u64().unwrap(),
                    r["false_positive"].as_u64().unwrap(),
                    r["benign_activity"].as_u64().unwrap(),
                ],
            )
        })
        .collect();
    let want: Vec<(String, [u64; 3])> = expected
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(got, want);
    // Without a store there is no performance at all.
    let bare = app_without_store(handle);
    let (_, models) = call(&bare, get("/api/v1/models")).await;
    assert_eq!(models["performance"], json!(null));
}

fn app_without_store(handle: iotguard_detect::ModelHandle) -> axum::Router {
    app(AppState::builder().model(handle).build())
}
