//! `detect --archive`: every scored flow in the Parquet archive, exactly once, and the archive
//! read back as an input by `inspect`, `detect` and `train`; an archive that cannot be written
//! is counted and reported while detection goes on.

use std::path::{Path, PathBuf};

use super::{iotguard, ok, simulated};

fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn detect_archive_round_trips_every_flow_and_reads_back_as_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let train_on = simulated(dir.path(), 4, 5_000);
    let model = dir.path().join("tree.json").display().to_string();
    ok(&["train", "--model", "tree", "--out", &model, &train_on]);
    let live = simulated(dir.path(), 6, 12_000);
    let archive = dir.path().join("archive");
    let archive_s = archive.display().to_string();
    let out = ok(&[
        "detect",
        "--model",
        &model,
        "--no-alerts-db",
        "--json",
        "--archive",
        &archive_s,
        &live,
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["report"]["flows"], 12_000);
    assert_eq!(v["report"]["archived"], 12_000);
    assert_eq!(v["report"]["archive_failed"], 0);
    assert_eq!(v["stats"]["archived_flows"], 12_000);
    let alert_flows = v["report"]["alert_flows"].as_u64().unwrap();

    let files = all_files(&archive);
    assert!(!files.is_empty());
    for f in &files {
        let rel = f.strip_prefix(&archive).unwrap().display().to_string();
        assert!(
            rel.starts_with("date=2024-01-01/hour=") && rel.ends_with(".parquet"),
            "{rel}"
        );
    }
    // The archive folder is an input: exactly the flows detected, labels kept.
    let inspected = super::inspect_json(&[&archive]);
    assert_eq!(inspected["records"], 12_000);
    assert_eq!(inspected["bad_records"], 0);
    // Detected again from the archive, the same flows alert.
    let again: serde_json::Value = serde_json::from_str(&ok(&[
        "detect",
        "--model",
        &model,
        "--no-alerts-db",
        "--json",
        &archive_s,
    ]))
    .unwrap();
    assert_eq!(again["report"]["flows"], 12_000);
    assert_eq!(again["report"]["alert_flows"], alert_flows);
    // --since/--until: whole partitions outside are not opened, rows outside are left out.
    // The expected count comes from the original capture's text.
    let (since, until) = (1_704_070_800.0, 1_704_072_600.0); // 01:00 to 01:30 UTC
    let expected = std::fs::read_to_string(&live)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            let ts: f64 = l.split('\t').next().unwrap().parse().unwrap();
            (since..until).contains(&ts)
        })
        .count();
    assert!(expected > 100, "{expected}");
    let out = iotguard(
        &[
            "inspect",
            "--json",
            "--since",
            "2024-01-01T01:00:00Z",
            "--until",
            "1704072600",
            &archive_s,
        ],
        None,
    );
    assert!(out.status.success());
    let windowed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(windowed["records"], expected as u64);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("in partitions outside --since/--until not read"),
        "{stderr}"
    );
    assert!(
        stderr.contains("records outside --since/--until left out"),
        "{stderr}"
    );
    // And train reads it.
    let model2 = dir.path().join("again.json").display().to_string();
    ok(&["train", "--model", "tree", "--out", &model2, &archive_s]);
    assert!(Path::new(&model2).exists());
}

#[test]
fn an_archive_that_cannot_be_written_is_counted_and_detection_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let train_on = simulated(dir.path(), 4, 5_000);
    let model = dir.path().join("tree.json").display().to_string();
    ok(&["train", "--model", "tree", "--out", &model, &train_on]);
    let live = simulated(dir.path(), 6, 3_000);
    let archive = dir.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    // The day's partition folder cannot be made: a file holds its name.
    std::fs::write(archive.join("date=2024-01-01"), b"not a folder").unwrap();
    let out = iotguard(
        &[
            "detect",
            "--model",
            &model,
            "--no-alerts-db",
            "--json",
            "--archive",
            &archive.display().to_string(),
            &live,
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "flows missing from the archive fail the run"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("detection goes on").count(),
        1,
        "said once: {stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report"]["flows"], 3_000, "detection saw every flow");
    assert_eq!(v["report"]["archived"], 0);
    assert_eq!(v["report"]["archive_failed"], 3_000);
    assert_eq!(v["stats"]["archive_failed_flows"], 3_000);
    assert_eq!(v["stats"]["archive_errors"], 3_000);
}

#[test]
fn a_killed_detect_leaves_only_complete_files_and_a_temp_file_the_next_run_removes() {
    let dir = tempfile::tempdir().unwrap();
    let train_on = simulated(dir.path(), 4, 5_000);
    let model = dir.path().join("tree.json").display().to_string();
    ok(&["train", "--model", "tree", "--out", &model, &train_on]);
    let live = simulated(dir.path(), 6, 60_000);
    let archive = dir.path().join("archive");
    let archive_s = archive.display().to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_iotguard"))
        .args([
            "detect",
            "--model",
            &model,
            "--no-alerts-db",
            "--rate",
            "4000",
            "--archive",
            &archive_s,
            "--archive-roll-secs",
            "1",
            &live,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let hidden = |files: &[PathBuf]| {
        files
            .iter()
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let files = if archive.exists() {
            all_files(&archive)
        } else {
            Vec::new()
        };
        if files.len() > hidden(&files) && hidden(&files) > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no file rolled in 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no shutdown, no final flush
    child.wait().unwrap();

    // Every visible file is complete: read to its end without a bad row or a failed input.
    let files = all_files(&archive);
    let complete = files.len() - hidden(&files);
    assert!(complete >= 1);
    let inspected = super::inspect_json(&[&archive]);
    assert_eq!(inspected["bad_records"], 0);
    assert_eq!(inspected["failed_inputs"].as_array().unwrap().len(), 0);
    let records = inspected["records"].as_u64().unwrap();
    assert!(records > 0 && records < 60_000, "{records}");

    // The next run removes what the killed one left unfinished, and says so.
    let small = simulated(dir.path(), 7, 100);
    let out = iotguard(
        &[
            "detect",
            "--model",
            &model,
            "--no-alerts-db",
            "--archive",
            &archive_s,
            &small,
        ],
        None,
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let left = hidden(&files);
    assert!(
        left == 0 || stderr.contains(&format!("removed {left} unfinished temporary file(s)")),
        "{left}: {stderr}"
    );
    assert_eq!(hidden(&all_files(&archive)), 0);
    let after = super::inspect_json(&[&archive]);
    assert_eq!(after["records"].as_u64().unwrap(), records + 100);
}
