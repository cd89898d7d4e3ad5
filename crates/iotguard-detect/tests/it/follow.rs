//! Following a live Zeek log folder through appends, rotation and restarts.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering::SeqCst;
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
                    archive: None,
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
        // Only whole lines: the sink may be writing the last one as it is read.
        let text = std::fs::read_to_string(&jsonl).unwrap_or_default();
        let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        let docs: Vec<Alert> = whole
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

/// Takes events until `n` records came or the source stayed idle for about two seconds;
/// returns the records' uids, the rejected lines and the notices.
fn collect(source: &mut FollowSource, n: usize) -> (Vec<String>, usize, Vec<String>) {
    let (mut uids, mut rejected, mut notices) = (Vec::new(), 0, Vec::new());
    let mut idles = 0;
    while uids.len() < n && idles < 20 {
        match source.next_event().unwrap() {
            SourceEvent::Record(rec) => {
                idles = 0;
                uids.push(rec.uid.unwrap().to_string());
            }
            SourceEvent::Rejected(_) => rejected += 1,
            SourceEvent::Idle => idles += 1,
            SourceEvent::Notice(text) => notices.push(text),
            SourceEvent::End => panic!("a followed log never ends"),
        }
    }
    (uids, rejected, notices)
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

/// Rewrites `path` in place (same inode: opened for writing and truncated, as copytruncate
/// leaves it) with `text`.
fn rewrite_in_place(path: &Path, text: &str) {
    let before = inode(path);
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
    drop(f);
    assert_eq!(inode(path), before);
}

/// Runs a first follower over `dir/conn.log` holding `first` records, commits and stops.
fn first_run(dir: &Path, checkpoint: &Path, header: &str, first: &[String]) {
    let live = dir.join("conn.log");
    append(&live, header);
    append(&live, &first.concat());
    let mut source = FollowSource::start(config(dir, checkpoint)).unwrap();
    assert_eq!(take(&mut source, first.len()).len(), first.len());
    source.commit().unwrap();
    drop(source);
    let saved = FilePosition::load(checkpoint).unwrap().unwrap();
    let len = std::fs::metadata(&live).unwrap().len();
    assert_eq!(saved.offset, Some(len), "the offset is after the last line");
    assert_eq!(saved.head.unwrap().len, len.min(4096));
}

#[test]
fn a_log_truncated_and_rewritten_shorter_while_stopped_is_read_from_its_start() {
    let (header, lines) = log_lines();
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let checkpoint = state.path().join("position.json");
    let live = dir.path().join("conn.log");
    first_run(dir.path(), &checkpoint, &header, &lines[..2000]);
    // copytruncate while the detector is down: the same inode now holds 500 other flows,
    // fewer bytes than were read.
    rewrite_in_place(&live, &(header.clone() + &lines[2000..2500].concat()));
    let mut source = FollowSource::start(config(dir.path(), &checkpoint)).unwrap();
    let (uids, rejected, notices) = collect(&mut source, 500);
    let want: Vec<String> = lines[2000..2500]
        .iter()
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect();
    assert_eq!((uids.len(), rejected), (500, 0));
    assert_eq!(uids, want);
    assert!(
        notices
            .iter()
            .any(|n| n.contains("no longer holds the 2008 lines processed")
                && n.contains("shorter than the")),
        "{notices:?}"
    );
    assert_eq!(source.metrics().reread_from_start.load(SeqCst), 1);
}

#[test]
fn a_log_rewritten_longer_in_place_while_stopped_is_told_by_its_first_bytes() {
    let (header, lines) = log_lines();
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let checkpoint = state.path().join("position.json");
    let live = dir.path().join("conn.log");
    first_run(dir.path(), &checkpoint, &header, &lines[..200]);
    // The same inode, now longer than the saved offset: only its first bytes tell.
    rewrite_in_place(&live, &(header.clone() + &lines[1000..1500].concat()));
    let saved = FilePosition::load(&checkpoint).unwrap().unwrap();
    assert!(std::fs::metadata(&live).unwrap().len() > saved.offset.unwrap());
    let mut source = FollowSource::start(config(dir.path(), &checkpoint)).unwrap();
    let (uids, rejected, notices) = collect(&mut source, 500);
    assert_eq!((uids.len(), rejected), (500, 0));
    assert_eq!(uids[0], lines[1000].split('\t').nth(1).unwrap());
    assert!(
        notices
            .iter()
            .any(|n| n.contains("its first bytes are not")),
        "{notices:?}"
    );
}

#[test]
fn a_new_log_on_the_inode_of_a_rotated_log_compressed_away_is_read_whole() {
    let (header, lines) = log_lines();
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let checkpoint = state.path().join("position.json");
    let live = dir.path().join("conn.log");
    first_run(dir.path(), &checkpoint, &header, &lines[..2000]);
    let old_inode = inode(&live);
    // While stopped: Zeek rotates, the rotated file is compressed away (removed), and the
    // new conn.log gets an inode, often the freed one.
    let rotated = dir.path().join("conn.2024-01-01-00-00-00.log");
    std::fs::rename(&live, &rotated).unwrap();
    std::fs::remove_file(&rotated).unwrap();
    append(&live, &header);
    append(&live, &lines[2000..2700].concat());
    let reused = inode(&live) == old_inode;
    let mut source = FollowSource::start(config(dir.path(), &checkpoint)).unwrap();
    let (uids, rejected, notices) = collect(&mut source, 700);
    assert_eq!((uids.len(), rejected), (700, 0), "inode reused: {reused}");
    assert_eq!(uids[0], lines[2000].split('\t').nth(1).unwrap());
    assert_eq!(notices.len(), 1, "{notices:?}");
}

#[test]
fn a_log_truncated_and_regrown_between_two_polls_is_read_again_from_its_start() {
    let (header, lines) = log_lines();
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let live = dir.path().join("conn.log");
    append(&live, &header);
    append(&live, &lines[..100].concat());
    let mut source = FollowSource::start(FollowConfig {
        // Long enough that the truncation and the regrowth both happen within one poll.
        poll: Duration::from_millis(400),
        ..config(dir.path(), &state.path().join("p.json"))
    })
    .unwrap();
    assert_eq!(take(&mut source, 100).len(), 100);
    // Truncated and written again, longer than before, before the next poll.
    rewrite_in_place(&live, &(header.clone() + &lines[1000..1400].concat()));
    let (uids, rejected, notices) = collect(&mut source, 400);
    let want: Vec<String> = lines[1000..1400]
        .iter()
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect();
    assert_eq!((uids.len(), rejected), (400, 0));
    assert_eq!(uids, want);
    assert!(
        notices
            .iter()
            .any(|n| n.contains("changed in place after 108 lines")),
        "{notices:?}"
    );
    assert_eq!(source.metrics().reread_from_start.load(SeqCst), 1);
}

#[test]
fn a_checkpoint_that_cannot_be_written_is_reported_and_following_goes_on() {
    let (header, lines) = log_lines();
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("conn.log");
    append(&live, &header);
    append(&live, &lines[..100].concat());
    // The checkpoint's folder does not exist: every write fails (as on a full disk).
    let checkpoint = dir.path().join("no-such-folder/position.json");
    let mut source = FollowSource::start(config(dir.path(), &checkpoint)).unwrap();
    assert_eq!(take(&mut source, 100).len(), 100);
    source.commit().unwrap();
    append(&live, &lines[100..150].concat());
    let (uids, _, notices) = collect(&mut source, 50);
    assert_eq!(uids.len(), 50);
    assert!(
        notices[0].starts_with("cannot write the checkpoint"),
        "{notices:?}"
    );
    source.commit().unwrap();
    assert_eq!(source.metrics().checkpoint_failures.load(SeqCst), 2);
}
