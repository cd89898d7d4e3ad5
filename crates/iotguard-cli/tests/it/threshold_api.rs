//! `POST /api/v1/models/threshold` over real HTTP: the operator changes the active model's
//! threshold behind the token, and `GET /api/v1/models` says what the threshold in use implies.

use serde_json::{json, Value};

use crate::serve::{get_json, http, post_with_token, start};
use crate::{ok, simulated};

/// The `[false-alert rate, recall]` the model file's curve gives at `threshold`: the point with
/// the highest threshold at or under it.
fn curve_at(file: &Value, threshold: f32) -> (f64, f64) {
    let p = file["metrics"]["out_of_capture"]["curve"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|p| p[0].as_f64().unwrap() as f32 <= threshold)
        .unwrap();
    (p[1].as_f64().unwrap(), p[2].as_f64().unwrap())
}

#[test]
fn the_api_sets_the_active_models_threshold_behind_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let a = simulated(dir.path(), 4, 3_000);
    let b = simulated(dir.path(), 5, 3_000);
    let model = dir.path().join("m.json");
    let m = model.display().to_string();
    ok(&["train", "--model", "logreg", "--out", &m, &a, &b]);
    let file: Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    let chosen = file["threshold"]["value"].as_f64().unwrap() as f32;
    let eval = |extra: &[&str]| -> f32 {
        let mut args = vec!["eval", "--json", "--model", &m];
        args.extend_from_slice(extra);
        args.push(&a);
        let report: Value = serde_json::from_str(&ok(&args)).unwrap();
        report["threshold"].as_f64().unwrap() as f32
    };
    let for_far = eval(&["--target-far", "0.02"]);

    let mut server = start(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--model",
        &m,
        "--token",
        "s3cret",
    ]);
    server.stderr_until("serving the API and the dashboard");
    let active = |addr: &str| get_json(addr, "/api/v1/models")["active"].clone();
    // What the model's own threshold implies, from the curve the file records.
    let act = active(&server.addr);
    let (far, recall) = curve_at(&file, chosen);
    assert_eq!(
        act["implied"],
        json!({"threshold": chosen, "false_alert_rate": far, "recall": recall,
               "source": "captures held out in training, pooled"})
    );
    assert_eq!(act["threshold_method"]["kind"], "out_of_capture");

    // Writes need the token.
    let (status, _) = http(
        &server.addr,
        "POST",
        "/api/v1/models/threshold",
        Some(r#"{"threshold": 0.25}"#),
    );
    assert_eq!(status, 401);
    assert_eq!(
        active(&server.addr)["threshold"].as_f64().unwrap() as f32,
        chosen
    );

    // A score: taken as is, shown with what it implies.
    let (status, body) = post_with_token(
        &server.addr,
        "/api/v1/models/threshold",
        r#"{"threshold": 0.25}"#,
        "s3cret",
    );
    assert_eq!(status, 200, "{body}");
    let act = active(&server.addr);
    assert_eq!(act["threshold"], json!(0.25));
    assert_eq!(act["threshold_method"], json!({"kind": "fixed"}));
    let (far, recall) = curve_at(&file, 0.25);
    assert_eq!(act["implied"]["false_alert_rate"], json!(far));
    assert_eq!(act["implied"]["recall"], json!(recall));
    assert_eq!(act["generation"], 1);
    // Scoring uses it at once.
    let flow = r#"{"ts": 1700000000.5, "uid": "Cabc", "id.orig_h": "192.168.1.20",
        "id.orig_p": 40000, "id.resp_h": "203.0.113.9", "id.resp_p": 23, "proto": "tcp",
        "conn_state": "S0", "history": "S", "orig_pkts": 1, "orig_ip_bytes": 60,
        "resp_pkts": 0, "resp_ip_bytes": 0}"#;
    let (status, body) = http(&server.addr, "POST", "/api/v1/score", Some(flow));
    assert_eq!(status, 200, "{body}");
    let scored: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(scored["results"][0]["threshold"], json!(0.25));

    // A false-alert rate: the same threshold `eval --target-far` uses.
    let (status, body) = post_with_token(
        &server.addr,
        "/api/v1/models/threshold",
        r#"{"target_far": 0.02}"#,
        "s3cret",
    );
    assert_eq!(status, 200, "{body}");
    let act = active(&server.addr);
    assert_eq!(act["threshold"].as_f64().unwrap() as f32, for_far);
    assert_eq!(act["threshold_method"]["kind"], "false_alert_rate");
    assert_eq!(act["threshold_method"]["target"], 0.02);

    // Both, neither, or a rate outside [0, 1]: 422, nothing changes.
    for bad in [
        r#"{"threshold": 0.1, "target_far": 0.1}"#,
        r#"{}"#,
        r#"{"target_far": 2}"#,
        // An explicit null is not a number (the OpenAPI document says so; schemathesis found
        // it accepted as absent).
        r#"{"threshold": 0.0, "target_far": null}"#,
    ] {
        let (status, body) =
            post_with_token(&server.addr, "/api/v1/models/threshold", bad, "s3cret");
        assert_eq!(status, 422, "{bad}: {body}");
    }
    assert_eq!(
        active(&server.addr)["threshold"].as_f64().unwrap() as f32,
        for_far
    );
    let (code, _) = server.interrupt();
    assert_eq!(code, Some(0));
}
