//! `detect --archive s3://bucket/prefix` against a real S3-protocol server (moto, from
//! `bench/s3_server.sh`; skipped with a visible line without one): every scored flow in the
//! bucket exactly once, read back by `inspect` (with --since/--until) and `train` from the
//! `s3://` URL; a bucket that refuses writes is reported, exit 2, the files kept in the spool
//! and uploaded by the next run once it accepts them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use iotguard_testkit::kafka::unique_name;
use iotguard_testkit::s3::{s3_server, S3Server};

use super::{ok, simulated};

/// Runs `iotguard` with the server's AWS variables (and no others of the caller's).
fn iotguard_s3(server: &S3Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iotguard"))
        .current_dir(iotguard_testkit::repo_root())
        .args(args)
        .env_remove("AWS_PROFILE")
        .envs(server.env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run iotguard")
}

fn ok_s3(server: &S3Server, args: &[&str]) -> String {
    let out = iotguard_s3(server, args);
    assert!(
        out.status.success(),
        "iotguard {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn parquet_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn detect_archives_20k_flows_to_s3_read_back_by_inspect_and_train() {
    let Some(server) = s3_server("detect_archives_20k_flows_to_s3_read_back_by_inspect_and_train")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let train_on = simulated(dir.path(), 4, 5_000);
    let model = dir.path().join("tree.json").display().to_string();
    ok(&["train", "--model", "tree", "--out", &model, &train_on]);
    let live = simulated(dir.path(), 6, 20_000);
    let url = format!("s3://{}/{}", server.bucket, unique_name("cli/archive"));
    let spool = dir.path().join("spool");
    let out = ok_s3(
        &server,
        &[
            "detect",
            "--model",
            &model,
            "--no-alerts-db",
            "--json",
            "--archive",
            &url,
            "--archive-spool",
            &spool.display().to_string(),
            &live,
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["report"]["flows"], 20_000);
    assert_eq!(v["report"]["archived"], 20_000);
    assert_eq!(v["report"]["archive_failed"], 0);
    assert_eq!(v["stats"]["archive_uploaded_flows"], 20_000);
    assert_eq!(v["stats"]["archive_upload_failures"], 0);
    assert_eq!(v["stats"]["archive_pending_upload_flows"], 0);
    assert_eq!(
        parquet_files(&spool),
        Vec::<PathBuf>::new(),
        "uploaded files leave the spool"
    );

    // The URL is an input: exactly the flows detected.
    let inspected: serde_json::Value =
        serde_json::from_str(&ok_s3(&server, &["inspect", "--json", &url])).unwrap();
    assert_eq!(inspected["records"], 20_000);
    assert_eq!(inspected["bad_records"], 0);
    // --since/--until: partitions outside stay in the bucket, rows outside are left out.
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
    let out = iotguard_s3(
        &server,
        &[
            "inspect",
            "--json",
            "--since",
            "2024-01-01T01:00:00Z",
            "--until",
            "1704072600",
            &url,
        ],
    );
    assert!(out.status.success());
    let windowed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(windowed["records"], expected as u64);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("in partitions outside --since/--until left in the bucket"),
        "{stderr}"
    );
    // And train reads it back from the bucket.
    let model2 = dir.path().join("again.json").display().to_string();
    ok_s3(
        &server,
        &["train", "--model", "tree", "--out", &model2, &url],
    );
    assert!(Path::new(&model2).exists());
}

#[test]
fn a_bucket_refusing_writes_is_reported_and_the_next_run_uploads_what_was_kept() {
    let Some(server) =
        s3_server("a_bucket_refusing_writes_is_reported_and_the_next_run_uploads_what_was_kept")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let train_on = simulated(dir.path(), 4, 5_000);
    let model = dir.path().join("tree.json").display().to_string();
    ok(&["train", "--model", "tree", "--out", &model, &train_on]);
    let live = simulated(dir.path(), 6, 3_000);
    // A bucket that does not exist yet: every upload is refused.
    let bucket = unique_name("refusing").to_lowercase();
    let url = format!("s3://{bucket}/flows");
    let spool = dir.path().join("spool").display().to_string();
    let detect = |input: &str| {
        iotguard_s3(
            &server,
            &[
                "detect",
                "--model",
                &model,
                "--no-alerts-db",
                "--json",
                "--archive",
                &url,
                "--archive-spool",
                &spool,
                "--archive-upload-wait",
                "1",
                input,
            ],
        )
    };
    let out = detect(&live);
    assert_eq!(
        out.status.code(),
        Some(2),
        "flows not in the bucket fail the run"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not uploaded yet"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report"]["flows"], 3_000);
    assert_eq!(v["report"]["archive_failed"], 0, "nothing lost");
    assert_eq!(v["stats"]["archive_uploaded_flows"], 0);
    assert_eq!(v["stats"]["archive_pending_upload_flows"], 3_000);
    assert!(v["stats"]["archive_upload_failures"].as_u64().unwrap() >= 1);
    assert!(!parquet_files(Path::new(&spool)).is_empty());

    // The bucket accepts writes now: the next run uploads the kept files with its own.
    server.create_bucket(&bucket).unwrap();
    let more = simulated(dir.path(), 7, 500);
    let out = detect(&more);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stats"]["archive_uploaded_flows"], 3_500);
    assert_eq!(v["stats"]["archive_pending_upload_flows"], 0);
    assert_eq!(parquet_files(Path::new(&spool)), Vec::<PathBuf>::new());
    let inspected: serde_json::Value =
        serde_json::from_str(&ok_s3(&server, &["inspect", "--json", &url])).unwrap();
    assert_eq!(inspected["records"], 3_500);
}
