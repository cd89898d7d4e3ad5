//! The API through the router: scoring, alerts, stats, metrics, errors, auth.

use axum::http::StatusCode;
use iotguard_detect::{AlertQuery, DetectConfig, Detector, ModelHandle};
use iotguard_flow::ZeekJsonWriter;
use iotguard_server::{app, AppState};
use serde_json::{json, Value};

use crate::{as_json, call, get, models, post_json, sim_flows, store_with_alerts};

/// Simulated flows as Zeek JSON objects, as zeek-kafka would send them.
fn json_flows(seed: u64, n: usize) -> Vec<Value> {
    let mut w = ZeekJsonWriter::new(Vec::new());
    for f in sim_flows(seed, n) {
        w.write(&f).unwrap();
    }
    let bytes = w.finish().unwrap();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn scoring_app() -> axum::Router {
    app(AppState::builder()
        .model(ModelHandle::load(&models().a).unwrap())
        .build())
}

#[tokio::test]
async fn health_says_what_runs() {
    let (status, body) = call(&scoring_app(), get("/health")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "model": true,
               "alert_store": false, "pipeline": false, "problems": []})
    );
}

/// While the pipeline's last flush failed, `/health` answers 503 `degraded` with the reason;
/// once a flush succeeds, `ok` again (before: always `ok`).
#[tokio::test]
async fn health_is_degraded_while_the_sinks_fail() {
    let stats = iotguard_detect::Stats::new();
    let app = app(AppState::builder().stats(stats.clone()).build());
    stats.set_sink_failure(Some("sink webhook:http://x/: HTTP status 500".to_string()));
    let (status, body) = call(&app, get("/health")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "degraded");
    assert_eq!(
        body["problems"],
        json!([
            "the last flush of the alert sinks failed: sink webhook:http://x/: HTTP status 500"
        ])
    );
    stats.set_sink_failure(None);
    let (status, body) = call(&app, get("/health")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

/// `/health` reports the pipeline's source: its state, and degraded once it could not read an
/// input or failed (before: only the sinks and the store were checked).
#[tokio::test]
async fn health_reports_the_source() {
    let stats = iotguard_detect::Stats::new();
    let app = app(AppState::builder().stats(stats.clone()).build());
    stats.set_source_state(iotguard_detect::SourceState::Waiting);
    let (status, body) = call(&app, get("/health")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["source"],
        json!({"state": "waiting", "unreadable": 0, "last_error": null})
    );
    stats.add_source_error("cannot read: b.log: Permission denied (os error 13)");
    stats.set_source_state(iotguard_detect::SourceState::Ended);
    let (status, body) = call(&app, get("/health")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body["source"],
        json!({"state": "ended", "unreadable": 1,
               "last_error": "cannot read: b.log: Permission denied (os error 13)"})
    );
    assert_eq!(
        body["problems"],
        json!([
            "the source could not read 1 input(s), flows were lost; the last: \
                cannot read: b.log: Permission denied (os error 13)"
        ])
    );
    stats.set_source_failed("kafka: broker transport failure");
    let (status, body) = call(&app, get("/health")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["source"]["state"], json!("failed"));
    assert_eq!(
        body["problems"],
        json!(["the source failed: kafka: broker transport failure"])
    );
}

#[tokio::test]
async fn score_batch_matches_the_detector_and_lists_rejects() {
    let mut flows = json_flows(4, 300);
    flows.insert(3, json!(42));
    flows.insert(7, json!({"ts": "yesterday", "id.orig_h": "10.0.0.1"}));
    let body = serde_json::to_string(&flows).unwrap();
    let (status, answer) = call(&scoring_app(), post_json("/api/v1/score", &body, None)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["model"], json!("logreg"));
    let rejected = answer["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert_eq!(
        rejected[0],
        json!({"index": 3, "message": "not a JSON object"})
    );
    assert_eq!(rejected[1]["index"], json!(7));
    assert!(
        rejected[1]["message"].as_str().unwrap().contains("ts"),
        "{}",
        rejected[1]
    );

    // The same flows through a fresh detector give the same scores, in request order.
    let mut detector = Detector::new(
        ModelHandle::load(&models().a).unwrap(),
        DetectConfig::default(),
    )
    .unwrap();
    let expected: Vec<_> = sim_flows(4, 300)
        .iter()
        .map(|f| detector.process(f))
        .collect();
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 300);
    let mut malicious = 0;
    for (i, (r, e)) in results.iter().zip(&expected).enumerate() {
        let index = i + usize::from(i >= 3) + usize::from(i + 1 >= 7);
        assert_eq!(r["index"], json!(index));
        assert_eq!(r["uid"], json!(e.uid.as_deref()));
        assert_eq!(r["score"].as_f64().unwrap() as f32, e.score);
        let label = if e.is_alert { "malicious" } else { "benign" };
        assert_eq!(r["label"], json!(label));
        malicious += usize::from(e.is_alert);
        let explanation = r["explanation"].as_array().unwrap();
        assert_eq!(explanation.len(), 8);
        let c0 = explanation[0]["contribution"].as_f64().unwrap().abs();
        let c7 = explanation[7]["contribution"].as_f64().unwrap().abs();
        assert!(c0 >= c7, "largest contribution first");
        if e.is_alert {
            assert!(
                r["severity"].is_string() && r["risk_score"].is_number(),
                "{r}"
            );
        } else {
            assert_eq!(r["severity"], Value::Null);
        }
    }
    assert!(malicious > 0, "simulated attacks are scored malicious");
}

#[tokio::test]
async fn score_one_flow_object() {
    let flow = json_flows(4, 1).remove(0);
    let (status, answer) = call(
        &scoring_app(),
        post_json("/api/v1/score", &flow.to_string(), None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["results"].as_array().unwrap().len(), 1);
    assert_eq!(answer["results"][0]["uid"], flow["uid"]);
    assert_eq!(
        answer["state"],
        json!("per-host features from this request's own flows, in request order")
    );
}

#[tokio::test]
async fn score_errors_are_json_with_reasons() {
    let app = scoring_app();
    let (status, body) = call(&app, post_json("/api/v1/score", "{\"ts\": ", None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("bad_request"));
    assert!(body["message"].as_str().unwrap().contains("EOF"), "{body}");

    let (status, body) = call(&app, post_json("/api/v1/score", "\"a flow\"", None)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["message"],
        json!("expected a flow (a JSON object in Zeek JSON shape) or an array of flows")
    );

    let plain = axum::http::Request::post("/api/v1/score")
        .body(axum::body::Body::from("{}"))
        .unwrap();
    let (status, body) = call(&app, plain).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["error"], json!("unsupported_media_type"));

    let too_many = serde_json::to_string(&vec![json!({}); 10_001]).unwrap();
    let (status, body) = call(&app, post_json("/api/v1/score", &too_many, None)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["message"],
        json!("10001 flows in one request; at most 10000")
    );
}

#[tokio::test]
async fn without_a_model_scoring_is_unavailable() {
    let app = app(AppState::builder().build());
    let (status, body) = call(&app, post_json("/api/v1/score", "{}", None)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({"error": "unavailable", "message": "no model loaded: start the server with --model FILE"})
    );
}

#[tokio::test]
async fn alerts_are_listed_filtered_paged_and_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    let all = store
        .query(&AlertQuery {
            limit: 10_000,
            ..AlertQuery::default()
        })
        .unwrap()
        .alerts;
    let app = app(AppState::builder().store(store.reader().unwrap()).build());

    let (status, page) = call(&app, get("/api/v1/alerts")).await;
    assert_eq!(status, StatusCode::OK);
    let listed = page["alerts"].as_array().unwrap();
    assert_eq!(listed.len(), all.len().min(100));
    assert_eq!(listed[0]["event"]["id"], json!(all[0].id()));

    // Paging by two walks every alert once, newest first.
    let mut seen = Vec::new();
    let mut uri = "/api/v1/alerts?limit=2".to_string();
    loop {
        let (status, page) = call(&app, get(&uri)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for a in page["alerts"].as_array().unwrap() {
            seen.push(a["event"]["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/alerts?limit=2&cursor={c}"),
            None => break,
        }
    }
    let expected: Vec<String> = all.iter().map(|a| a.id().to_string()).collect();
    assert_eq!(seen, expected);

    // Filters: a host, a severity.
    let host = all[0].source.ip.unwrap().to_string();
    let (_, page) = call(&app, get(&format!("/api/v1/alerts?host={host}&limit=1000"))).await;
    let n = all
        .iter()
        .filter(|a| {
            a.source.ip.map(|i| i.to_string()) == Some(host.clone())
                || a.destination.ip.map(|i| i.to_string()) == Some(host.clone())
        })
        .count();
    assert_eq!(page["alerts"].as_array().unwrap().len(), n);
    let sev = all[0].severity();
    let (_, page) = call(
        &app,
        get(&format!(
            "/api/v1/alerts?severity={}&limit=1000",
            sev.as_str()
        )),
    )
    .await;
    assert_eq!(
        page["alerts"].as_array().unwrap().len(),
        all.iter().filter(|a| a.severity() == sev).count()
    );

    // The type filter takes the canonical name in any case.
    let t = all[0].iotguard.attack_type;
    let (_, page) = call(
        &app,
        get(&format!(
            "/api/v1/alerts?type={}&limit=1000",
            t.as_str().to_uppercase()
        )),
    )
    .await;
    assert_eq!(
        page["alerts"].as_array().unwrap().len(),
        all.iter().filter(|a| a.iotguard.attack_type == t).count()
    );

    let id = all[0].id().to_string();
    let (status, one) = call(&app, get(&format!("/api/v1/alerts/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, as_json(&all[0]));

    let (status, body) = call(&app, get("/api/v1/alerts/no-such-incident")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["message"],
        json!("no alert with id `no-such-incident`")
    );
}

#[tokio::test]
async fn the_timeline_counts_the_listed_alerts_per_bucket_and_severity() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    let app = app(AppState::builder().store(store).build());
    let (_, page) = call(&app, get("/api/v1/alerts?limit=10000")).await;
    let all = page["alerts"].as_array().unwrap().clone();
    let (status, t) = call(&app, get("/api/v1/alerts/timeline?bucket=60")).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["bucket_secs"], json!(60));
    let buckets = t["buckets"].as_array().unwrap();
    let total: u64 = buckets.iter().map(|b| b["total"].as_u64().unwrap()).sum();
    assert_eq!(total, all.len() as u64);
    // Per severity, the same counts as the list's.
    for sev in ["info", "low", "medium", "high", "critical"] {
        let in_buckets: u64 = buckets
            .iter()
            .map(|b| b["by_severity"][sev].as_u64().unwrap())
            .sum();
        let listed = all
            .iter()
            .filter(|a| a["iotguard"]["severity"] == json!(sev))
            .count() as u64;
        assert_eq!(in_buckets, listed, "{sev}");
    }
    // Filtered by a host, as the list is.
    let host = all[0]["source"]["ip"].as_str().unwrap();
    let (_, listed) = call(
        &app,
        get(&format!("/api/v1/alerts?host={host}&limit=10000")),
    )
    .await;
    let (_, t) = call(&app, get(&format!("/api/v1/alerts/timeline?host={host}"))).await;
    let total: u64 = t["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["total"].as_u64().unwrap())
        .sum();
    assert_eq!(total, listed["alerts"].as_array().unwrap().len() as u64);
    for (uri, needle) in [
        ("/api/v1/alerts/timeline?bucket=0", "at least 1 second"),
        (
            "/api/v1/alerts/timeline?type=portscan",
            "unknown attack type",
        ),
        ("/api/v1/alerts/timeline?bucket=-5", "bucket"),
    ] {
        let (status, body) = call(&app, get(uri)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{uri}: {body}"
        );
    }
}

#[tokio::test]
async fn bad_alert_filters_are_client_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    let app = app(AppState::builder().store(store).build());
    for (uri, needle) in [
        (
            "/api/v1/alerts?cursor=nonsense",
            "bad cursor `nonsense`: pass the `next_cursor`",
        ),
        ("/api/v1/alerts?since=yesterday", "yesterday"),
        ("/api/v1/alerts?severity=urgent", "urgent"),
        ("/api/v1/alerts?host=not-an-ip", "invalid"),
        ("/api/v1/alerts?limit=-1", "limit"),
        (
            "/api/v1/alerts?attack_type=AAA",
            "unknown attack type `AAA`; one of: horizontal_scan, vertical_scan, flood, \
             brute_force, beacon, exfiltration, anomaly",
        ),
        (
            "/api/v1/alerts?type=portscan",
            "unknown attack type `portscan`",
        ),
    ] {
        let (status, body) = call(&app, get(uri)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{uri}: {body}"
        );
    }
}

#[tokio::test]
async fn stats_and_metrics_report_the_pipeline() {
    let stats = iotguard_detect::Stats::new();
    stats.add_parsed(10);
    stats.add_scored(10, 3);
    stats.add_rejected(2);
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    let by_severity = store.counts_by_severity(None).unwrap();
    let app = app(AppState::builder().stats(stats).store(store).build());

    let (status, body) = call(&app, get("/api/v1/stats")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["pipeline"]["scored"], json!(10));
    assert_eq!(body["pipeline"]["alert_flows"], json!(3));
    assert_eq!(body["pipeline"]["rejected"], json!(2));
    for c in by_severity {
        assert_eq!(
            body["alerts_by_severity"][c.severity.as_str()],
            json!(c.count)
        );
    }

    let response = tower::ServiceExt::oneshot(app, get("/metrics"))
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(text.contains("iotguard_server_uptime_seconds "), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("iotguard_") && l.ends_with(" 10")),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let app = scoring_app();
    let (status, body) = call(&app, get("/api/v1/nothing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": "not_found", "message": "no route for /api/v1/nothing"})
    );
    let (status, body) = call(&app, post_json("/api/v1/stats", "{}", None)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        body["message"],
        json!("POST is not allowed on /api/v1/stats")
    );
}

#[tokio::test]
async fn dashboard_page_and_assets_are_served() {
    let app = scoring_app();
    let (status, page) = call(&app, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    let page = page.as_str().unwrap();
    assert!(page.contains("<script src=\"/assets/app.js\">"));
    // Offline: nothing is loaded from another host.
    assert!(!page.contains("http://") && !page.contains("https://"));
    for asset in ["app.js", "style.css"] {
        let (status, body) = call(&app, get(&format!("/assets/{asset}"))).await;
        assert_eq!(status, StatusCode::OK);
        let body = body.as_str().unwrap();
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{asset}"
        );
    }
    let (status, _) = call(&app, get("/assets/secret.txt")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The glossary: docs/glossary.md as a page in the dashboard's style, linked from it.
    assert!(page.contains("href=\"/glossary\""));
    let (status, glossary) = call(&app, get("/glossary")).await;
    assert_eq!(status, StatusCode::OK);
    let glossary = glossary.as_str().unwrap();
    assert!(glossary.contains("<link rel=\"stylesheet\" href=\"/assets/style.css\">"));
    assert!(
        glossary.contains("<h1>Glossary: what iotguard&rsquo;s alerts say</h1>")
            || glossary.contains("<h1>Glossary: what iotguard's alerts say</h1>"),
        "{glossary:.400}"
    );
    // Its tables are tables (attack types, severities, features), not pipes.
    assert!(glossary.matches("<table>").count() >= 3, "{glossary:.400}");
    assert!(glossary.contains("<td><code>horizontal_scan</code></td>"));
    assert!(!glossary.contains("| type |"));
}

#[tokio::test]
async fn regression_5_missing_feature_values_round_trip_through_the_store() {
    // A feature value missing in a flow is NaN: stored as null, it must read back.
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    let mut alert = store
        .query(&AlertQuery::default())
        .unwrap()
        .alerts
        .remove(0);
    alert.iotguard.features[0].value = f32::NAN;
    store.upsert(std::slice::from_ref(&alert)).unwrap();
    store.commit().unwrap();
    let app = app(AppState::builder().store(store).build());
    let (status, one) = call(&app, get(&format!("/api/v1/alerts/{}", alert.id()))).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["iotguard"]["features"][0]["value"], Value::Null);
    let (status, page) = call(&app, get("/api/v1/alerts")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
}

#[tokio::test]
async fn score_without_explanations_gives_the_same_scores() {
    let body = serde_json::to_string(&json_flows(4, 200)).unwrap();
    let app = scoring_app();
    let (_, explained) = call(&app, post_json("/api/v1/score", &body, None)).await;
    let (status, plain) = call(&app, post_json("/api/v1/score?explain=false", &body, None)).await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    let (a, b) = (
        explained["results"].as_array().unwrap(),
        plain["results"].as_array().unwrap(),
    );
    assert_eq!(a.len(), 200);
    assert_eq!(b.len(), 200);
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x["score"], y["score"]);
        assert_eq!(x["label"], y["label"]);
        assert_eq!(y["explanation"], json!([]));
    }
    let (status, body) = call(&app, post_json("/api/v1/score?explain=maybe", "{}", None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// At most `max_scorers` scoring requests run at once: with one running (10 000 explained
/// flows), another is answered 429; once it is done, scoring works again. Before, every request
/// took a blocking thread, without limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scoring_past_the_limit_is_refused() {
    let app = app(AppState::builder()
        .model(ModelHandle::load(&models().a).unwrap())
        .max_scorers(1)
        .build());
    let big = serde_json::to_string(&json_flows(6, 10_000)).unwrap();
    let small = serde_json::to_string(&json_flows(7, 1)).unwrap();
    // The big request retries while a small one holds the slot; small ones are sent until one
    // is refused while the big one is scoring.
    let first = {
        let app = app.clone();
        tokio::spawn(async move {
            loop {
                let (status, body) = call(&app, post_json("/api/v1/score", &big, None)).await;
                if status != StatusCode::TOO_MANY_REQUESTS {
                    return (status, body);
                }
            }
        })
    };
    let mut refused = None;
    while !first.is_finished() {
        let (status, body) = call(&app, post_json("/api/v1/score", &small, None)).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        refused.expect("no request was refused while the big one was scoring"),
        json!({"error": "too_many_requests",
               "message": "1 scoring requests are running, the most this server runs at once; retry later"})
    );
    let (status, _) = first.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, post_json("/api/v1/score", &small, None)).await;
    assert_eq!(status, StatusCode::OK);
}
