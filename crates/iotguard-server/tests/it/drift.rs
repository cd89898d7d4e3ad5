//! The drift scenario end to end: a model trained on the network before the change, detection
//! on the scenario with the monitors on, then the real server over TCP. No drift event in the
//! first segment; a drift event naming the changed features within a stated bound after the
//! change; `/api/v1/drift` and `/metrics` agree.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;

use iotguard_detect::monitor::{DriftBoard, MonitorConfig, Status};
use iotguard_detect::sink::{JsonlConfig, JsonlSink};
use iotguard_detect::source::{Source, SourceEvent};
use iotguard_detect::{
    run_pipeline, AlertSink, DetectConfig, Detector, EventDocument, ModelHandle, PipelineConfig,
    PipelineParts, Stats,
};
use iotguard_flow::{FlowRecord, TsvWriteOptions, ZeekTsvWriter};
use iotguard_models::lab::ModelKind;
use iotguard_runtime::batch::BatchConfig;
use iotguard_runtime::input::Input;
use iotguard_server::{AppState, Server, ServerConfig};
use iotguard_sim::{DriftScenario, SimConfig};
use serde_json::Value;

/// Flows the model trains on: the scenario's first ones (before the change).
const TRAIN: usize = 60_000;
/// The change point.
const CHANGE: u64 = 100_000;
/// Flows detected in all.
const TOTAL: usize = 140_000;
/// Flows per monitor window.
const WINDOW: u64 = 5_000;
/// The stated bound: the window holding the change plus `persist` (3) full windows after it.
const BOUND: u64 = 4 * WINDOW;

struct Records(std::vec::IntoIter<FlowRecord>);

impl Source for Records {
    fn name(&self) -> &str {
        "drift scenario"
    }

    fn next_event(&mut self) -> iotguard_detect::Result<SourceEvent> {
        Ok(match self.0.next() {
            Some(r) => SourceEvent::Record(Box::new(r)),
            None => SourceEvent::End,
        })
    }
}

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    answer.split_once("\r\n\r\n").unwrap().1.to_string()
}

#[test]
fn the_drift_scenario_is_detected_after_the_change_and_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = DriftScenario::new(SimConfig::default().with_seed(3), CHANGE).unwrap();
    let flows: Vec<FlowRecord> = scenario.flows().take(TOTAL).collect();

    let capture = dir.path().join("before.conn.log");
    let options = TsvWriteOptions {
        labels: true,
        extras: false,
        time: None,
    };
    let mut w = ZeekTsvWriter::new(std::fs::File::create(&capture).unwrap(), options).unwrap();
    for f in &flows[..TRAIN] {
        w.write(f).unwrap();
    }
    w.finish().unwrap();
    let batch = BatchConfig {
        threads: 1,
        ..Default::default()
    };
    let (file, _) = iotguard_runtime::lab::train_model(
        ModelKind::Tree,
        &[Input::File(capture)],
        &batch,
        &Default::default(),
        3,
        &iotguard_runtime::lab::Choice::Default,
        &mut |e| panic!("{e}"),
    )
    .unwrap();
    let model_path = dir.path().join("model.json");
    file.save(std::fs::File::create(&model_path).unwrap())
        .unwrap();

    let board = DriftBoard::new();
    let stats = Stats::new();
    let model = ModelHandle::load(&model_path).unwrap();
    let mut detector = Detector::new(model.clone(), DetectConfig::default())
        .unwrap()
        .with_monitor(
            MonitorConfig {
                window: WINDOW,
                ..MonitorConfig::default()
            },
            board.clone(),
        )
        .unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let mut sinks: Vec<Box<dyn AlertSink>> =
        vec![Box::new(JsonlSink::open(JsonlConfig::new(&jsonl)).unwrap())];
    let report = run_pipeline(
        &mut Records(flows.into_iter()),
        &mut detector,
        &mut sinks,
        &PipelineConfig::default(),
        PipelineParts {
            stats: &stats,
            feed: None,
            shutdown: &AtomicBool::new(false),
            archive: None,
            on_notice: &mut |_| {},
        },
    )
    .unwrap();
    drop(sinks);
    assert_eq!(report.flows, TOTAL as u64);
    let events: Vec<EventDocument> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"kind\":\"event\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // No drift event in the first segment: every event's window ends after the change.
    assert!(!events.is_empty(), "no drift event at all");
    for e in &events {
        assert!(e.iotguard.drift.last_flow > CHANGE, "{}", e.message);
    }
    // The first one within the bound, naming what the change moved: the cameras' TLS streams
    // gone (their firmware speaks QUIC now) and the new device types' mDNS.
    let first = &events[0].iotguard.drift;
    assert!(first.last_flow <= CHANGE + BOUND, "{first:?}");
    let drifted: Vec<&str> = first
        .features
        .iter()
        .filter(|f| f.status == Status::Drift)
        .map(|f| f.name.as_str())
        .collect();
    for name in ["service.ssl", "resp_port.5353"] {
        assert!(drifted.contains(&name), "{name} not in {drifted:?}");
    }
    assert_eq!(events[0].event.kind, "event");
    assert_eq!(report.drift_events, events.len() as u64);

    // The real server over TCP: /api/v1/drift and /metrics read the same board.
    let state = AppState::builder()
        .model(model)
        .stats(stats)
        .drift(board.clone())
        .build();
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: None,
        ..ServerConfig::default()
    };
    let server = Server::start(&config, state).unwrap();
    let api: Value = serde_json::from_str(&get(server.local_addr(), "/api/v1/drift")).unwrap();
    let metrics = get(server.local_addr(), "/metrics");
    server.stop().unwrap();
    assert_eq!(api["enabled"], true);
    assert_eq!(api["windows"], TOTAL as u64 / WINDOW);
    assert_eq!(api["window_flows"], WINDOW);
    let gauges: BTreeMap<String, f64> = metrics
        .lines()
        .filter(|l| l.starts_with("iotguard_drift_"))
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect();
    let features = api["features"].as_array().unwrap();
    assert_eq!(features.len(), file.features.names.len());
    for f in features {
        let key = format!(
            "iotguard_drift_psi{{feature=\"{}\"}}",
            f["name"].as_str().unwrap()
        );
        assert_eq!(gauges.get(&key).copied(), f["psi"].as_f64(), "{key}");
    }
    assert_eq!(
        gauges["iotguard_drift_score_psi"],
        api["score"]["psi"].as_f64().unwrap()
    );
    assert_eq!(
        gauges["iotguard_drift_detected"],
        if api["drift_detected"] == true {
            1.0
        } else {
            0.0
        }
    );
    assert_eq!(gauges["iotguard_drift_detected"], 1.0);
    assert_eq!(
        gauges["iotguard_drift_events_total"],
        api["events"].as_f64().unwrap()
    );
    assert_eq!(api["events"], events.len() as u64);
    // Per feature: status and since when; whatever drifts dates from the change on.
    let drifting: Vec<&Value> = features.iter().filter(|f| f["status"] == "drift").collect();
    assert!(!drifting.is_empty());
    for f in drifting {
        assert!(f["since_flow"].as_u64().unwrap() >= CHANGE, "{f}");
        assert!(f["since"].as_str().unwrap().ends_with('Z'), "{f}");
    }
    assert_eq!(
        api["alert_rate"]["expected"].as_f64(),
        status_expected(&board)
    );
}

fn status_expected(board: &DriftBoard) -> Option<f64> {
    board.snapshot().status.map(|s| s.alert_rate.expected)
}
