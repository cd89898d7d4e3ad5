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
