//! End-to-end tests of the `iotguard` binary: real files in temporary folders, real processes.

mod archive;
mod archive_s3;
mod baseline;
mod cli_habits;
mod convert;
mod demo;
mod detect;
mod explore;
mod import_model;
mod input_failures;
mod inspect;
mod kafka;
mod lab;
mod live_capture;
mod netflow;
mod new_models;
mod operating;
mod pcap;
mod retrain;
mod running;
mod seed_datasets;
mod serve;
mod simulate;
mod threshold_api;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `iotguard` from the repository's root with arguments and optional standard input.
pub(crate) fn iotguard(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iotguard"))
        .current_dir(iotguard_testkit::repo_root())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run iotguard");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        // Write from a thread so a full stdout pipe cannot deadlock the test.
        std::thread::spawn(move || pipe.write_all(&input));
    }
    child.wait_with_output().expect("wait for iotguard")
}

/// Runs `iotguard`, requires exit code 0, and returns standard output.
pub(crate) fn ok(args: &[&str]) -> String {
    let out = iotguard(args, None);
    assert!(
        out.status.success(),
        "iotguard {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Parses `inspect --json` output.
pub(crate) fn inspect_json(paths: &[&Path]) -> serde_json::Value {
    let mut args = vec!["inspect", "--json"];
    let owned: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(owned.iter().map(String::as_str));
    serde_json::from_str(&ok(&args)).expect("inspect --json is JSON")
}

/// Writes a simulated, labeled capture and returns its path.
pub(crate) fn simulated(dir: &std::path::Path, seed: u64, flows: u64) -> String {
    let path = dir.join(format!("sim-{seed}.log"));
    ok(&[
        "simulate",
        "--seed",
        &seed.to_string(),
        "--flows",
        &flows.to_string(),
        "--out",
        &path.display().to_string(),
    ]);
    path.display().to_string()
}
