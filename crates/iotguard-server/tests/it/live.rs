//! The live feed over Server-Sent Events: the totals' history, a stats tick at once, then the
//! detector's flows and alerts as they are published.

use axum::http::StatusCode;
use futures_util::StreamExt;
use iotguard_detect::{AlertQuery, DetectConfig, Detector, FeedConfig, LiveFeed, ModelHandle};
use iotguard_server::{app, AppState};
use serde_json::Value;
use tower::ServiceExt;

use crate::{as_json, get, models, sim_flows, store_with_alerts};

/// Reads SSE frames until one of each wanted event arrived; returns them by name.
async fn read_events(body: axum::body::Body, wanted: &[&str]) -> Vec<(String, Value)> {
    let mut stream = body.into_data_stream();
    let mut text = String::new();
    let mut events: Vec<(String, Value)> = Vec::new();
    while !wanted.iter().all(|w| events.iter().any(|(n, _)| n == w)) {
        let chunk = stream.next().await.expect("the stream goes on").unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            let name = frame.lines().find_map(|l| l.strip_prefix("event: "));
            let data = frame.lines().find_map(|l| l.strip_prefix("data: "));
            if let (Some(n), Some(d)) = (name, data) {
                events.push((n.to_string(), serde_json::from_str(d).unwrap()));
            }
        }
    }
    events
}

#[tokio::test]
async fn live_stream_sends_stats_flows_and_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alerts(dir.path());
    let alert = store
        .query(&AlertQuery::default())
        .unwrap()
        .alerts
        .remove(0);
    let alerts_in_store = store.counts_by_severity(None).unwrap();
    let mut feed = LiveFeed::new(FeedConfig::default());
    let stats = iotguard_detect::Stats::new();
    stats.add_scored(1234, 5);
    let state = AppState::builder()
        .feed(feed.clone())
        .stats(stats)
        .store(store)
        .build();
    let response = app(state).oneshot(get("/api/v1/live")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");

    // The handler subscribed: what the detector publishes now reaches the stream.
    let mut detector = Detector::new(
        ModelHandle::load(&models().a).unwrap(),
        DetectConfig::default(),
    )
    .unwrap();
    let flow = detector.process(&sim_flows(5, 1)[0]);
    assert!(feed.offer_flow(&flow));
    assert!(feed.publish_alert(&alert));

    let events = read_events(response.into_body(), &["history", "stats", "flow", "alert"]).await;
    // First the history of totals for the rate chart: empty here, the ticks having started
    // with this stream (a server starts them with itself).
    assert_eq!(events[0], ("history".to_string(), serde_json::json!([])));
    let by_name = |n: &str| &events.iter().find(|(name, _)| name == n).unwrap().1;
    let tick = by_name("stats");
    assert_eq!(tick["flows_total"], 1234);
    let total: u64 = alerts_in_store.iter().map(|c| c.count).sum();
    assert_eq!(tick["alerts_total"], total);
    assert_eq!(by_name("flow"), &as_json(&flow));
    assert_eq!(by_name("alert"), &as_json(&alert));
}
