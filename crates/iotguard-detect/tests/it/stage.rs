//! The scoring thread ([`PipelineConfig::score_thread`], the default) against the one-thread
//! path: the same scores, alerts, incidents, drift events and shadow counts, with a shadow and
//! a model swapped in mid-stream at flows that fall inside the thread's chunks.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use iotguard_detect::monitor::{DriftBoard, MonitorConfig};
use iotguard_detect::source::{Source, SourceEvent};
use iotguard_detect::{
    run_pipeline, ActiveModel, Alert, AlertSink, DetectConfig, Detector, EventDocument,
    ModelHandle, PipelineConfig, PipelineParts, PipelineReport, ScoredFlow, SinkError, Stats,
};
use iotguard_flow::FlowRecord;

use super::{fixed_clock, fixture, read_log};

/// Everything the sinks were given.
#[derive(Default)]
struct Seen {
    alerts: Vec<Alert>,
    flows: Vec<ScoredFlow>,
    events: Vec<EventDocument>,
}

struct Keep(Arc<Mutex<Seen>>);

impl AlertSink for Keep {
    fn name(&self) -> &str {
        "keep"
    }

    fn send(&mut self, alerts: &[Alert]) -> Result<(), SinkError> {
        self.0.lock().unwrap().alerts.extend_from_slice(alerts);
        Ok(())
    }

    fn send_events(&mut self, events: &[EventDocument]) -> Result<(), SinkError> {
        self.0.lock().unwrap().events.extend_from_slice(events);
        Ok(())
    }

    fn send_flows(&mut self, flows: &[ScoredFlow]) -> Result<(), SinkError> {
        self.0.lock().unwrap().flows.extend_from_slice(flows);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// The records, with a shadow set before flow `shadow_at` and the model swapped (for a fresh
/// copy of itself) before flow `swap_at`, from the source's thread as an operator would.
struct Swapping {
    records: Vec<FlowRecord>,
    handle: ModelHandle,
    next: usize,
    shadow_at: usize,
    swap_at: usize,
}

fn load() -> ActiveModel {
    let loaded = iotguard_runtime::lab::load_model(&fixture().model).unwrap();
    ActiveModel::new(loaded, Some(&fixture().model))
}

impl Source for Swapping {
    fn name(&self) -> &str {
        "swapping"
    }

    fn next_event(&mut self) -> iotguard_detect::Result<SourceEvent> {
        if self.next == self.shadow_at {
            self.handle.set_shadow(load()).unwrap();
        }
        if self.next == self.swap_at {
            self.handle.swap(load()).unwrap();
        }
        let event = match self.records.get(self.next) {
            Some(r) => SourceEvent::Record(Box::new(r.clone())),
            None => SourceEvent::End,
        };
        self.next += 1;
        Ok(event)
    }
}

fn run(score_thread: bool, records: &[FlowRecord]) -> (PipelineReport, Seen, String) {
    let handle = ModelHandle::load(&fixture().model).unwrap();
    let mut detector = Detector::new(
        handle.clone(),
        DetectConfig {
            clock: fixed_clock(),
            ..DetectConfig::default()
        },
    )
    .unwrap()
    .with_monitor(
        MonitorConfig {
            window: 1_000,
            ..MonitorConfig::default()
        },
        DriftBoard::new(),
    )
    .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut sinks: Vec<Box<dyn AlertSink>> = vec![Box::new(Keep(Arc::clone(&seen)))];
    let mut source = Swapping {
        records: records.to_vec(),
        handle: handle.clone(),
        next: 0,
        shadow_at: 1_500,
        swap_at: 3_001,
    };
    let stats = Stats::new();
    let report = run_pipeline(
        &mut source,
        &mut detector,
        &mut sinks,
        &PipelineConfig {
            score_thread,
            ..PipelineConfig::default()
        },
        PipelineParts {
            stats: &stats,
            feed: None,
            shutdown: &AtomicBool::new(false),
            archive: None,
            on_notice: &mut |_| {},
        },
    )
    .unwrap();
    assert_eq!(stats.snapshot().scored, records.len() as u64);
    drop(sinks);
    let shadow = serde_json::to_string(&handle.shadow_status().map(|s| s.counts)).unwrap();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    (report, seen, shadow)
}

#[test]
fn the_scoring_thread_gives_what_one_thread_gives_across_swaps() {
    let records = read_log(&fixture().test_log);
    let (one, one_seen, one_shadow) = run(false, &records);
    let (two, two_seen, two_shadow) = run(true, &records);
    let without_time = |mut r: PipelineReport| {
        r.elapsed_secs = 0.0;
        r
    };
    assert_eq!(without_time(two), without_time(one.clone()));
    assert_eq!(one.flows, records.len() as u64);
    assert!(one.alert_flows > 0 && one.incidents > 0, "{one:?}");
    let json = |v: &[Alert]| serde_json::to_string(v).unwrap();
    assert_eq!(json(&two_seen.alerts), json(&one_seen.alerts));
    assert_eq!(two_seen.flows, one_seen.flows);
    assert!(one_seen.flows.iter().any(|f| f.shadow_score.is_some()));
    assert!(one_seen.flows.iter().any(|f| f.shadow_score.is_none()));
    assert_eq!(two_seen.events, one_seen.events);
    assert!(!one_seen.events.is_empty());
    assert_eq!(two_shadow, one_shadow);
}
