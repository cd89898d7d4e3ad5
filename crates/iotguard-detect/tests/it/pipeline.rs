//! The pipeline from a replayed file through the detector to real sinks.

use std::sync::atomic::AtomicBool;

use iotguard_detect::sink::{JsonlConfig, JsonlSink, SinkError};
use iotguard_detect::source::replay::{Pacing, ReplaySource};
use iotguard_detect::{
    run_pipeline, AlertQuery, AlertSink, AlertStore, DetectConfig, FeedConfig, FeedEvent, LiveFeed,
    Notice, PipelineConfig, PipelineParts, Stats,
};
use iotguard_flow::ReadOptions;

use super::{detect_all, detector, fixture, last_revisions, read_log, TEST_FLOWS};

#[test]
fn replay_to_store_and_jsonl_with_rejects_stats_and_feed() {
    let dir = tempfile::tempdir().unwrap();
    // The test log with two broken lines in it.
    let text = std::fs::read_to_string(&fixture().test_log).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| !l.starts_with('#')).unwrap() + 10;
    lines.insert(at, "not a flow");
    lines.insert(at + 500, "1700000000.5\tCbroken\t10.0.0.1\tnot-a-port");
    let input = dir.path().join("input.conn.log");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();

    let db = dir.path().join("alerts.db");
    let jsonl = dir.path().join("alerts.jsonl");
    let rejects = dir.path().join("rejects.txt");
    let mut sinks: Vec<Box<dyn AlertSink>> = vec![
        Box::new(AlertStore::open(&db).unwrap()),
        Box::new(JsonlSink::open(JsonlConfig::new(&jsonl)).unwrap()),
    ];
    let mut source = ReplaySource::open(&[input], ReadOptions::default(), 1, Pacing::Fast).unwrap();
    let mut d = detector(DetectConfig::default());
    let stats = Stats::new();
    let mut feed = LiveFeed::new(FeedConfig {
        max_flows_per_sec: 10,
        capacity: 100_000,
    });
    let mut rx = feed.subscribe();
    let mut rejected = Vec::new();
    let report = run_pipeline(
        &mut source,
        &mut d,
        &mut sinks,
        &PipelineConfig {
            rejects: Some(rejects.clone()),
            ..PipelineConfig::default()
        },
        PipelineParts {
            stats: &stats,
            feed: Some(&mut feed),
            shutdown: &AtomicBool::new(false),
            archive: None,
            on_notice: &mut |n| {
                if let Notice::Rejected(e) = n {
                    rejected.push((e.line, e.to_string()));
                }
            },
        },
    )
    .unwrap();
    drop(sinks);

    // The same alerts as the detector alone gives on the clean log.
    let expected = detect_all(
        &mut detector(DetectConfig::default()),
        &read_log(&fixture().test_log),
    );
    let finals = last_revisions(&expected);
    assert_eq!(report.flows, TEST_FLOWS as u64);
    assert_eq!(report.rejected, 2);
    assert_eq!(report.incidents, finals.len() as u64);
    assert!(!report.interrupted);
    assert_eq!(report.sink_errors, 0);
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0].0, at as u64 + 1);
    assert_eq!(
        std::fs::read_to_string(&rejects).unwrap(),
        "not a flow\n1700000000.5\tCbroken\t10.0.0.1\tnot-a-port\n"
    );
    let s = stats.snapshot();
    assert_eq!(s.records_in, TEST_FLOWS as u64 + 2);
    assert_eq!(
        (s.parsed, s.rejected, s.scored),
        (TEST_FLOWS as u64, 2, TEST_FLOWS as u64)
    );
    assert_eq!(s.alert_flows, report.alert_flows);
    assert_eq!(s.alerts_out, report.alerts_sent);
    assert_eq!(s.open_incidents, 0);
    assert_eq!(s.stages[0].count, TEST_FLOWS as u64);

    // Both sinks hold the final revision of every incident (how many revisions there were
    // depends on how often alerts were drained: not compared).
    let unrevised = |a: &iotguard_detect::Alert| {
        let mut a = a.clone();
        a.iotguard.revision = 0;
        a
    };
    let finals: Vec<_> = finals.iter().map(unrevised).collect();
    let store = AlertStore::open(&db).unwrap();
    let stored = store
        .query(&AlertQuery {
            limit: 10_000,
            ..AlertQuery::default()
        })
        .unwrap()
        .alerts;
    assert_eq!(stored.len(), finals.len());
    for a in &finals {
        assert_eq!(
            store.get(a.id()).unwrap().map(|s| unrevised(&s)).as_ref(),
            Some(a)
        );
    }
    let written: Vec<iotguard_detect::Alert> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let written: Vec<_> = last_revisions(&written).iter().map(unrevised).collect();
    assert_eq!(written, finals);

    // The feed got every alert document and the flows its per-second budget let through,
    // as many as the statistics say.
    let mut alerts = 0;
    let mut flows = 0;
    while let Ok(event) = rx.try_recv() {
        match event {
            FeedEvent::Alert(_) => alerts += 1,
            FeedEvent::Flow(_) => flows += 1,
        }
    }
    assert_eq!(alerts, report.alerts_sent);
    assert_eq!(alerts + flows, s.feed_sent);
    assert!(flows >= 1);
}

#[test]
fn a_set_shutdown_flag_stops_before_the_first_flow_and_still_flushes() {
    let mut source = ReplaySource::open(
        &[fixture().test_log.clone()],
        ReadOptions::default(),
        1,
        Pacing::Fast,
    )
    .unwrap();
    let mut d = detector(DetectConfig::default());
    let report = run_pipeline(
        &mut source,
        &mut d,
        &mut [],
        &PipelineConfig::default(),
        PipelineParts {
            stats: &Stats::new(),
            feed: None,
            shutdown: &AtomicBool::new(true),
            archive: None,
            on_notice: &mut |_| {},
        },
    )
    .unwrap();
    assert!(report.interrupted);
    assert_eq!(report.flows, 0);
}

/// A sink that can keep nothing (its dead-letter file cannot be written).
struct Losing;

impl AlertSink for Losing {
    fn name(&self) -> &str {
        "losing"
    }

    fn send(&mut self, alerts: &[iotguard_detect::Alert]) -> Result<(), SinkError> {
        Err(SinkError::Lost(format!("{} alerts not kept", alerts.len())))
    }

    fn send_events(&mut self, events: &[iotguard_detect::EventDocument]) -> Result<(), SinkError> {
        Err(SinkError::Lost(format!("{} events not kept", events.len())))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A sink that lost alerts stops the run with an error (the other sinks still flushed what
/// they had), and `/health`'s sink state says so; before, the loss was only counted and the
/// run ended with success.
#[test]
fn a_sink_that_loses_alerts_stops_the_run_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("alerts.jsonl");
    let mut sinks: Vec<Box<dyn AlertSink>> = vec![
        Box::new(JsonlSink::open(JsonlConfig::new(&jsonl)).unwrap()),
        Box::new(Losing),
    ];
    let mut source = ReplaySource::open(
        &[fixture().test_log.clone()],
        ReadOptions::default(),
        1,
        Pacing::Fast,
    )
    .unwrap();
    let stats = Stats::new();
    let err = run_pipeline(
        &mut source,
        &mut detector(DetectConfig::default()),
        &mut sinks,
        &PipelineConfig {
            batch: 64,
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
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("sink losing: alerts lost: ") && text.ends_with(" alerts not kept"),
        "{text}"
    );
    let kept = std::fs::read_to_string(&jsonl).unwrap();
    assert!(!kept.is_empty(), "the JSON-lines sink was flushed");
    assert!(stats
        .sink_failure()
        .unwrap()
        .starts_with("sink losing: alerts lost"));
}

/// Runs the pipeline over `source` without sinks; returns the stats it kept.
fn run_bare(source: &mut dyn iotguard_detect::source::Source, stop: bool) -> (Stats, bool) {
    let stats = Stats::new();
    let ok = run_pipeline(
        source,
        &mut detector(DetectConfig::default()),
        &mut [],
        &PipelineConfig::default(),
        PipelineParts {
            stats: &stats,
            feed: None,
            shutdown: &AtomicBool::new(stop),
            archive: None,
            on_notice: &mut |_| {},
        },
    )
    .is_ok();
    (stats, ok)
}

/// The pipeline keeps the source's state in the stats `/health` reads: ended with the input it
/// could not read, stopped when interrupted, failed with the source's error.
#[test]
fn the_source_state_is_kept_for_health() {
    let dir = tempfile::tempdir().unwrap();
    // A truncated gzip stream: opened, then cut short.
    let missing = dir.path().join("cut.log.gz");
    std::fs::write(&missing, b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage").unwrap();
    let mut source = ReplaySource::open(
        &[fixture().test_log.clone(), missing.clone()],
        ReadOptions::default(),
        1,
        Pacing::Fast,
    )
    .unwrap();
    let (stats, ok) = run_bare(&mut source, false);
    assert!(ok);
    let health = stats.source_health();
    assert_eq!(health.state, iotguard_detect::SourceState::Ended);
    assert_eq!(health.unreadable, 1);
    let error = health.last_error.unwrap();
    assert!(
        error.starts_with("cannot read: ") && error.contains("cut.log.gz"),
        "{error}"
    );

    let mut source = ReplaySource::open(
        &[fixture().test_log.clone()],
        ReadOptions::default(),
        1,
        Pacing::Fast,
    )
    .unwrap();
    let (stats, _) = run_bare(&mut source, true);
    assert_eq!(
        stats.source_health(),
        iotguard_detect::SourceHealth {
            state: iotguard_detect::SourceState::Stopped,
            unreadable: 0,
            last_error: None,
        }
    );

    let (stats, ok) = run_bare(&mut Broken, false);
    assert!(!ok);
    let health = stats.source_health();
    assert_eq!(health.state, iotguard_detect::SourceState::Failed);
    assert!(
        health
            .last_error
            .as_deref()
            .unwrap()
            .contains("broker gone"),
        "{health:?}"
    );
}

/// A source whose every read fails.
struct Broken;

impl iotguard_detect::source::Source for Broken {
    fn name(&self) -> &str {
        "broken"
    }

    fn next_event(&mut self) -> iotguard_detect::Result<iotguard_detect::source::SourceEvent> {
        Err(iotguard_detect::Error::io(
            "broken",
            std::io::Error::other("broker gone"),
        ))
    }
}

/// A source of one rejected line that records, at its first commit, what the rejects file
/// holds, then ends.
struct OneReject {
    raw: &'static str,
    rejects: std::path::PathBuf,
    sent: bool,
    seen_at_commit: Option<String>,
}

impl iotguard_detect::source::Source for OneReject {
    fn name(&self) -> &str {
        "one-reject"
    }

    fn next_event(&mut self) -> iotguard_detect::Result<iotguard_detect::source::SourceEvent> {
        use iotguard_detect::source::SourceEvent;
        if !self.sent {
            self.sent = true;
            return Ok(SourceEvent::Rejected(Box::new(iotguard_flow::ParseError {
                input: "one-reject".into(),
                line: 1,
                kind: iotguard_flow::ErrorKind::Malformed,
                field: None,
                reason: "junk".into(),
                raw: self.raw.as_bytes().to_vec(),
            })));
        }
        Ok(if self.seen_at_commit.is_some() {
            SourceEvent::End
        } else {
            SourceEvent::Idle
        })
    }

    fn commit(&mut self) -> iotguard_detect::Result<()> {
        if self.seen_at_commit.is_none() {
            self.seen_at_commit = Some(std::fs::read_to_string(&self.rejects).unwrap());
        }
        Ok(())
    }
}

/// A rejected line is in the rejects file before the source commits the position past it (a
/// kill -9 after the commit would lose it: the resumed run starts after it), and a second run
/// with the same rejects file (a restart from a checkpoint) appends to it (before: the line
/// sat in a buffer until the run's end, and a restart truncated the file).
#[test]
fn rejected_lines_are_on_disk_before_the_commit_and_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.txt");
    let mut seen = Vec::new();
    for raw in ["first junk", "second junk"] {
        let mut source = OneReject {
            raw,
            rejects: rejects.clone(),
            sent: false,
            seen_at_commit: None,
        };
        let report = run_pipeline(
            &mut source,
            &mut detector(DetectConfig::default()),
            &mut [],
            &PipelineConfig {
                rejects: Some(rejects.clone()),
                flush_every: std::time::Duration::ZERO,
                ..PipelineConfig::default()
            },
            PipelineParts {
                stats: &Stats::new(),
                feed: None,
                shutdown: &AtomicBool::new(false),
                on_notice: &mut |_| {},
                archive: None,
            },
        )
        .unwrap();
        assert_eq!(report.rejected, 1);
        seen.push(source.seen_at_commit.unwrap());
    }
    assert_eq!(seen, ["first junk\n", "first junk\nsecond junk\n"]);
    assert_eq!(
        std::fs::read_to_string(&rejects).unwrap(),
        "first junk\nsecond junk\n"
    );
}

/// Keeps every alert document it is sent where the test can read them.
struct Collect(std::sync::Arc<std::sync::Mutex<Vec<iotguard_detect::Alert>>>);

impl AlertSink for Collect {
    fn name(&self) -> &str {
        "collect"
    }

    fn send(&mut self, alerts: &[iotguard_detect::Alert]) -> Result<(), SinkError> {
        self.0.lock().unwrap().extend_from_slice(alerts);
        Ok(())
    }

    fn send_events(&mut self, _: &[iotguard_detect::EventDocument]) -> Result<(), SinkError> {
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A replay's incidents do not depend on the wall clock: flushed after every event or never
/// before its end, the same incidents (ids, final type, flows and state). Before, an untyped
/// incident sent at a flush and then emptied by a promotion was closed and counted, one not
/// yet sent was dropped, and incidents expired at wall-clock points, so replays of one file
/// gave different incident counts from run to run.
#[test]
fn a_replays_incidents_do_not_depend_on_when_the_wall_clock_flushes() {
    let run = |flush_every: std::time::Duration| {
        let mut source = ReplaySource::open(
            &[fixture().test_log.clone()],
            ReadOptions::default(),
            1,
            Pacing::Fast,
        )
        .unwrap();
        let collected = std::sync::Arc::default();
        let mut sinks: Vec<Box<dyn AlertSink>> =
            vec![Box::new(Collect(std::sync::Arc::clone(&collected)))];
        let report = run_pipeline(
            &mut source,
            &mut detector(DetectConfig::default()),
            &mut sinks,
            &PipelineConfig {
                flush_every,
                ..PipelineConfig::default()
            },
            PipelineParts {
                stats: &Stats::new(),
                feed: None,
                shutdown: &AtomicBool::new(false),
                on_notice: &mut |_| {},
                archive: None,
            },
        )
        .unwrap();
        let collected = collected.lock().unwrap().clone();
        let finals: std::collections::BTreeMap<String, (String, u64, String)> =
            last_revisions(&collected)
                .into_iter()
                .map(|a| {
                    (
                        a.id().to_string(),
                        (
                            a.iotguard.attack_type.as_str().to_string(),
                            a.iotguard.counts.flows,
                            format!("{:?}", a.iotguard.state),
                        ),
                    )
                })
                .collect();
        (report.incidents, finals)
    };
    let every_event = run(std::time::Duration::ZERO);
    let at_the_end = run(std::time::Duration::from_secs(3600));
    assert!(every_event.0 > 5, "{} incidents", every_event.0);
    assert_eq!(every_event.0, every_event.1.len() as u64);
    assert_eq!(every_event, at_the_end);
}
