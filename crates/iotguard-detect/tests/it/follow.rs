//! Following a live Zeek log folder through appends, rotation and restarts.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use iotguard_detect::source::follow::{FilePosition, FollowConfig, FollowSource};
use iotguard_detect::source::{Source, SourceEvent};

use super::fixture;

/// The test log split into its header lines and its record lines.
fn log_lines() -> (String, Vec<String>) {
    let text = std::fs::read_to_string(&fixture().test_log).unwrap();
    let mut header = String::new();
    let mut records = Vec::new();
    for line in text.lines() {
        if line.starts_with("#close") {
            continue;
        }
        if line.starts_with('#') {
            header.push_str(line);
            header.push('\n');
        } else {
            records.push(format!("{line}\n"));
        }
    }
    (header, records)
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Takes events until `n` records came (idle answers in between are the source waiting for
/// Zeek); returns the records' uids. Bounded: fails after 3000 idle answers (5 minutes).
fn take(source: &mut FollowSource, n: usize) -> Vec<String> {
    let mut uids = Vec::new();
    let mut idles = 0;
    while uids.len() < n {
        match source.next_event().unwrap() {
            SourceEvent::Record(rec) => uids.push(rec.uid.unwrap().to_string()),
            SourceEvent::Rejected(e) => panic!("rejected {e}"),
            SourceEvent::Idle => {
                idles += 1;
                assert!(idles < 3000, "only {} of {n} records came", uids.len());
            }
            SourceEvent::Notice(_) => {}
            SourceEvent::End => panic!("a followed log never ends"),
        }
    }
    uids
}

fn config(dir: &Path, checkpoint: &Path) -> FollowConfig {
    FollowConfig {
        checkpoint: Some(checkpoint.to_path_buf()),
        poll: Duration::from_millis(5),
        ..FollowConfig::new(dir)
    }
}

#[test]
fn follows_appends_and_rotation_and_resumes_after_restart() {
    let (header, lines) = log_lines();
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let checkpoint = state.path().join("position.json");
    let live = dir.path().join("conn.log");
    let uid = |line: &String| line.split('\t').nth(1).unwrap().to_string();

    // Zeek starts the log, with a line cut short at the end (being written).
    append(&live, &header);
    append(&live, &lines[..100].concat());
    let (head, tail) = lines[100].split_at(20);
    append(&live, head);
    let mut source = FollowSource::start(config(dir.path(), &checkpoint)).unwrap();
    let mut seen = take(&mut source, 100);
    // The rest of the line arrives, then more lines.
    append(&live, tail);
    append(&live, &lines[101..300].concat());
    seen.extend(take(&mut source, 200));
    // Rotation: the log is renamed and a new one started.
    std::fs::rename(&live, dir.path().join("conn.2024-01-01-00-00-00.log")).unwrap();
    append(&live, &header);
    append(&live, &lines[300..400].concat());
    seen.extend(take(&mut source, 100));
    source.commit().unwrap();
    let saved = FilePosition::load(&checkpoint).unwrap().unwrap();
    assert_eq!(saved.path, live.display().to_string());
    // 8 header lines, then 100 records.
    assert_eq!(saved.line, header.lines().count() as u64 + 100);
    drop(source);

    // While stopped: more lines, a rotation, a new log with more lines.
    append(&live, &lines[400..500].concat());
    std::fs::rename(&live, dir.path().join("conn.2024-01-01-01-00-00.log")).unwrap();
    append(&live, &header);
    append(&live, &lines[500..600].concat());
    let mut source = FollowSource::start(config(dir.path(), &checkpoint)).unwrap();
    seen.extend(take(&mut source, 200));
    append(&live, &lines[600..650].concat());
    seen.extend(take(&mut source, 50));
    source.commit().unwrap();
    drop(source);

    let want: Vec<String> = lines[..650].iter().map(uid).collect();
    assert_eq!(seen, want, "every flow once, in order");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 650);

    // A restart with nothing new passes nothing on.
    let mut source = FollowSource::start(config(dir.path(), &checkpoint)).unwrap();
    for _ in 0..5 {
        assert!(matches!(
            source.next_event().unwrap(),
            SourceEvent::Idle | SourceEvent::Notice(_)
        ));
    }
}

#[test]
fn a_missing_folder_is_a_clear_error() {
    let err = FollowSource::start(FollowConfig::new("/no/such/folder"))
        .err()
        .unwrap()
        .to_string();
    assert_eq!(err, "config: /no/such/folder: not a folder to follow");
}

#[test]
fn a_quiet_live_log_closes_its_incidents_with_the_wall_clock() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use iotguard_detect::sink::{JsonlConfig, JsonlSink};
    use iotguard_detect::{
        run_pipeline, Alert, AlertSink, DetectConfig, PipelineConfig, PipelineParts, Stats,
    };

    let (header, lines) = log_lines();
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let jsonl = out.path().join("alerts.jsonl");
    append(&dir.path().join("conn.log"), &header);
    append(&dir.path().join("conn.log"), &lines[..2000].concat());
    let shutdown = Arc::new(AtomicBool::new(false));
    let stats = Stats::new();
    let runner = {
        let dir = dir.path().to_path_buf();
        let jsonl = jsonl.clone();
        let shutdown = shutdown.clone();
        let stats = stats.clone();
        std::thread::spawn(move || {
            let mut source = FollowSource::start(FollowConfig {
                poll: Duration::from_millis(5),
                ..FollowConfig::new(dir)
            })
            .unwrap();
            // Incidents close after a day without an alerting flow: longer than the log
            // spans, so only the quiet time can close them; while the log is quiet, event
            // time runs a million times faster than the wall clock.
            let mut d = super::detector(DetectConfig {
                incident_idle_secs: 86_400.0,
                ..DetectConfig::default()
            });
            let mut sinks: Vec<Box<dyn AlertSink>> =
                vec![Box::new(JsonlSink::open(JsonlConfig::new(jsonl)).unwrap())];
            run_pipeline(
                &mut source,
                &mut d,
                &mut sinks,
                &PipelineConfig {
                    flush_every: Duration::from_millis(20),
                    idle_event_rate: Some(1e6),
                    ..PipelineConfig::default()
                },
                PipelineParts {
                    stats: &stats,
                    feed: None,
                    shutdown: &shutdown,
                    on_notice: &mut |_| {},
                },
            )
            .unwrap()
        })
    };
    // Wait (bounded) until every flow is scored and every incident has a closed document.
    let mut closed_all = false;
    for _ in 0..6000 {
        std::thread::sleep(Duration::from_millis(10));
        let docs: Vec<Alert> = std::fs::read_to_string(&jsonl)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let ids: HashSet<&str> = docs.iter().map(|a| a.id()).collect();
        let closed: HashSet<&str> = docs
            .iter()
            .filter(|a| a.iotguard.state == "closed")
            .map(|a| a.id())
            .collect();
        if stats.snapshot().scored == 2000 && !ids.is_empty() && ids == closed {
            closed_all = true;
            break;
        }
    }
    shutdown.store(true, Ordering::Relaxed);
    let report = runner.join().unwrap();
    assert!(closed_all, "incidents still open while the log is quiet");
    assert!(report.interrupted);
    assert_eq!(report.flows, 2000);
}

#[test]
fn a_zeek_json_log_is_told_by_its_first_byte_and_followed() {
    let records = super::read_log(&fixture().test_log);
    let mut json = Vec::new();
    {
        let mut w = iotguard_flow::ZeekJsonWriter::new(&mut json);
        for r in &records[..300] {
            w.write(r).unwrap();
        }
        w.flush().unwrap();
    }
    let text = String::from_utf8(json).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let live = dir.path().join("conn.log");
    // The source starts before Zeek has written anything.
    let mut source = FollowSource::start(config(dir.path(), &state.path().join("p.json"))).unwrap();
    append(&live, &(lines[..200].join("\n") + "\n"));
    let mut seen = take(&mut source, 200);
    append(&live, &(lines[200..].join("\n") + "\n"));
    seen.extend(take(&mut source, 100));
    let want: Vec<String> = records[..300]
        .iter()
        .map(|r| r.uid.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(seen, want);
    source.commit().unwrap();
    let saved = FilePosition::load(&state.path().join("p.json"))
        .unwrap()
        .unwrap();
    assert_eq!(saved.line, 300);
}
