//! Drift monitors inside detection: windows published on the board, a shifted stream gives a
//! drift event (an ECS `event.kind: "event"` document) in the JSON-lines file and the SQLite
//! store, and a model file without a reference profile runs without monitors and says so.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use iotguard_detect::monitor::{DriftBoard, MonitorConfig, Status};
use iotguard_detect::sink::{JsonlConfig, JsonlSink, WebhookConfig, WebhookSink};
use iotguard_detect::source::Source;
use iotguard_detect::{
    run_pipeline, AlertSink, AlertStore, DetectConfig, EventDocument, ModelHandle, PipelineConfig,
    PipelineParts, Stats, NO_PROFILE,
};
use iotguard_flow::FlowRecord;

use super::{detector, fixture, read_log};

/// A source over records held in memory.
struct Records(std::vec::IntoIter<FlowRecord>);

impl Source for Records {
    fn name(&self) -> &str {
        "records"
    }

    fn next_event(&mut self) -> iotguard_detect::Result<iotguard_detect::source::SourceEvent> {
        Ok(match self.0.next() {
            Some(r) => iotguard_detect::source::SourceEvent::Record(Box::new(r)),
            None => iotguard_detect::source::SourceEvent::End,
        })
    }
}

/// The test log, then the same flows again with every originator sending 1000 times the
/// bytes over ten times the time: byte and duration features move, nothing else.
fn shifted_records() -> (Vec<FlowRecord>, usize) {
    let normal = read_log(&fixture().test_log);
    let n = normal.len();
    let mut all = normal.clone();
    let span = normal.last().unwrap().ts.as_nanos() - normal[0].ts.as_nanos();
    for mut r in normal {
        r.orig_bytes = r.orig_bytes.map(|b| b * 1000 + 1000);
        r.duration = r
            .duration
            .map(|d| iotguard_flow::Interval(d.0 * 10 + 1_000_000_000));
        r.ts = iotguard_flow::Timestamp(r.ts.as_nanos() + span + 1);
        all.push(r);
    }
    (all, n)
}

#[test]
fn a_shifted_stream_raises_a_drift_event_to_every_sink() {
    let dir = tempfile::tempdir().unwrap();
    let board = DriftBoard::new();
    let mut d = detector(DetectConfig::default())
        .with_monitor(
            MonitorConfig {
                window: 1_000,
                ..MonitorConfig::default()
            },
            board.clone(),
        )
        .unwrap();
    assert_eq!(d.monitoring(), Some(true));
    let jsonl = dir.path().join("out.jsonl");
    let db = dir.path().join("alerts.db");
    let mut sinks: Vec<Box<dyn AlertSink>> = vec![
        Box::new(JsonlSink::open(JsonlConfig::new(&jsonl)).unwrap()),
        Box::new(AlertStore::open(&db).unwrap()),
    ];
    let (records, change) = shifted_records();
    let total = records.len();
    let report = run_pipeline(
        &mut Records(records.into_iter()),
        &mut d,
        &mut sinks,
        &PipelineConfig::default(),
        PipelineParts {
            stats: &Stats::new(),
            feed: None,
            shutdown: &AtomicBool::new(false),
            archive: None,
            on_notice: &mut |_| {},
        },
    )
    .unwrap();
    drop(sinks);
    let status = board.snapshot().status.expect("windows were published");
    assert_eq!(status.windows, (total / 1_000) as u64);
    assert_eq!(status.window_flows, 1_000);
    let events: Vec<EventDocument> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"kind\":\"event\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(report.drift_events, events.len() as u64);
    // The fixture's test log is another network than the model's training log (another
    // seed): host-window features drift before the change too. The byte and duration
    // features are new in drift only after it: three windows in a row at the drift level
    // (the default `persist`), so the third window after the change at the latest.
    let newly = |e: &&EventDocument, name: &str| {
        e.iotguard
            .drift
            .features
            .iter()
            .any(|f| f.name == name && f.new && f.status == Status::Drift)
    };
    let first_after = events
        .iter()
        .find(|e| newly(e, "orig_bytes_log1p"))
        .expect("orig_bytes_log1p drifts");
    let d = &first_after.iotguard.drift;
    assert!(d.first_flow >= change as u64, "{d:?}");
    assert!(d.first_flow <= change as u64 + 2_000, "{d:?}");
    assert!(newly(&first_after, "duration_s"), "{d:?}");
    assert_eq!(first_after.event.kind, "event");
    assert_eq!(first_after.event.category, vec!["configuration"]);
    assert_eq!(first_after.event.type_, vec!["change"]);
    assert_eq!(first_after.event.dataset, "iotguard.drift");
    assert!(
        first_after.message.starts_with("Model input drift: "),
        "{}",
        first_after.message
    );
    assert!(first_after.event.id.starts_with("drift-"));
    // The store keeps the same documents, newest first.
    let stored = AlertStore::open(&db).unwrap().events(100).unwrap();
    assert_eq!(stored.len(), events.len());
    assert_eq!(stored.last(), events.first());
    // The board's state agrees with the last window.
    let f = status
        .features
        .iter()
        .find(|f| f.name == "orig_bytes_log1p")
        .unwrap();
    assert_eq!(f.status, Status::Drift);
    assert_eq!(f.since_flow, change as u64);
}

#[test]
fn a_model_file_without_a_reference_profile_runs_without_monitors() {
    let dir = tempfile::tempdir().unwrap();
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture().model).unwrap()).unwrap();
    assert!(file.get("reference").is_some(), "trained models carry one");
    file.as_object_mut().unwrap().remove("reference");
    let old: PathBuf = dir.path().join("old.json");
    std::fs::write(&old, serde_json::to_string(&file).unwrap()).unwrap();
    let board = DriftBoard::new();
    let mut d =
        iotguard_detect::Detector::new(ModelHandle::load(&old).unwrap(), DetectConfig::default())
            .unwrap()
            .with_monitor(MonitorConfig::default(), board.clone())
            .unwrap();
    assert_eq!(d.monitoring(), Some(false));
    assert_eq!(board.snapshot().disabled.as_deref(), Some(NO_PROFILE));
    for r in read_log(&fixture().test_log).iter().take(100) {
        d.process(r);
    }
    let mut out = Vec::new();
    d.drain_events(&mut out);
    assert!(out.is_empty());
    // A bad window size is refused up front.
    let err = super::detector(DetectConfig::default())
        .with_monitor(
            MonitorConfig {
                window: 5,
                ..MonitorConfig::default()
            },
            DriftBoard::new(),
        )
        .err()
        .unwrap();
    assert!(err.to_string().contains("window 5 is under 100"), "{err}");
}

#[test]
fn a_hot_swap_starts_the_monitors_again_with_the_new_models_profile() {
    let dir = tempfile::tempdir().unwrap();
    let board = DriftBoard::new();
    let handle = ModelHandle::load(&fixture().model).unwrap();
    let mut d = iotguard_detect::Detector::new(handle.clone(), DetectConfig::default())
        .unwrap()
        .with_monitor(
            MonitorConfig {
                window: 1_000,
                ..MonitorConfig::default()
            },
            board.clone(),
        )
        .unwrap();
    let records = read_log(&fixture().test_log);
    for r in &records[..2_500] {
        d.process(r);
    }
    assert_eq!(board.snapshot().status.unwrap().windows, 2);
    // The same model without its profile: the monitors stop and say why.
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture().model).unwrap()).unwrap();
    file.as_object_mut().unwrap().remove("reference");
    let old = dir.path().join("old.json");
    std::fs::write(&old, serde_json::to_string(&file).unwrap()).unwrap();
    let loaded = iotguard_runtime::lab::load_model(&old).unwrap();
    handle
        .swap(iotguard_detect::ActiveModel::new(loaded, Some(&old)))
        .unwrap();
    d.process(&records[2_500]);
    assert_eq!(d.monitoring(), Some(false));
    assert_eq!(board.snapshot().disabled.as_deref(), Some(NO_PROFILE));
    // And back: windows count from the swap on.
    let loaded = iotguard_runtime::lab::load_model(&fixture().model).unwrap();
    handle
        .swap(iotguard_detect::ActiveModel::new(
            loaded,
            Some(&fixture().model),
        ))
        .unwrap();
    for r in &records[2_501..3_501] {
        d.process(r);
    }
    assert_eq!(d.monitoring(), Some(true));
    let status = board.snapshot().status.unwrap();
    assert_eq!((status.windows, status.flows), (1, 1_000));
}

/// Drift events go to a webhook through its queue like alerts: a receiver that never answers
/// neither stalls detection nor loses them (before: they were posted from the pipeline's
/// thread, with every retry, and a failed post dropped them with a sink error). Every alert and
/// event document the JSON-lines file got is in the dead-letter file, and the report counts them.
#[test]
fn drift_events_to_a_hanging_webhook_are_dead_lettered_with_the_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let mut d = detector(DetectConfig::default())
        .with_monitor(
            MonitorConfig {
                window: 1_000,
                ..MonitorConfig::default()
            },
            DriftBoard::new(),
        )
        .unwrap();
    let jsonl = dir.path().join("out.jsonl");
    let dead = dir.path().join("dead.jsonl");
    let mut sinks: Vec<Box<dyn AlertSink>> = vec![
        Box::new(JsonlSink::open(JsonlConfig::new(&jsonl)).unwrap()),
        Box::new(WebhookSink::new(WebhookConfig {
            timeout: std::time::Duration::from_secs(60),
            queue: 2,
            backpressure: std::time::Duration::from_millis(50),
            flush_wait: std::time::Duration::from_millis(20),
            shutdown: std::time::Duration::from_millis(200),
            ..WebhookConfig::new(&url, &dead)
        })),
    ];
    let (records, _) = shifted_records();
    let report = run_pipeline(
        &mut Records(records.into_iter()),
        &mut d,
        &mut sinks,
        &PipelineConfig::default(),
        PipelineParts {
            stats: &Stats::new(),
            feed: None,
            shutdown: &AtomicBool::new(false),
            archive: None,
            on_notice: &mut |_| {},
        },
    )
    .unwrap();
    drop(sinks);
    let lines = |p: &std::path::Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    let (written, kept) = (lines(&jsonl), lines(&dead));
    let events = written
        .iter()
        .filter(|l| l.contains("\"kind\":\"event\""))
        .count();
    assert!(
        events > 0 && report.drift_events == events as u64,
        "{events}"
    );
    assert_eq!(kept, written);
    assert_eq!(report.dead_lettered, written.len() as u64);
}
