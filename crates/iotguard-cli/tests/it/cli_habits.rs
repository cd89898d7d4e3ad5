//! The command-line habits of the ecosystem: `-` for standard output, a closed pipe is not an
//! error, each cause of an error said once, rounded numbers for people, case-insensitive values.

use std::io::BufRead;
use std::process::{Command, Stdio};

use crate::{iotguard, ok, simulated};

/// A simulated capture and a tree model trained on it, in `dir`.
fn model_and_capture(dir: &std::path::Path, flows: u64) -> (String, String) {
    let capture = simulated(dir, 4, flows);
    let model = dir.join("m.json").display().to_string();
    // The capture is simulated already: no simulated rows added.
    ok(&[
        "train",
        "--model",
        "tree",
        "--augment-sim",
        "0",
        "--out",
        &model,
        &capture,
    ]);
    (model, capture)
}

/// JSON lines parsed, each without its wall-clock `event.created`.
fn without_created(lines: &str) -> Vec<serde_json::Value> {
    lines
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["event"].as_object_mut().unwrap().remove("created");
            v
        })
        .collect()
}

#[test]
fn alerts_jsonl_dash_prints_the_alerts_on_stdout_and_the_summary_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let (model, capture) = model_and_capture(dir.path(), 3_000);
    let file = dir.path().join("alerts.jsonl");
    ok(&[
        "detect",
        "--model",
        &model,
        "--no-alerts-db",
        "--alerts-jsonl",
        &file.display().to_string(),
        &capture,
    ]);
    let want = std::fs::read_to_string(&file).unwrap();
    assert_eq!(want.lines().count(), 11);
    for flag in [&["--alerts-jsonl", "-"][..], &["--print-alerts"][..]] {
        let mut args = vec!["detect", "--model", &model, "--no-alerts-db"];
        args.extend_from_slice(flag);
        args.push(&capture);
        let out = iotguard(&args, None);
        assert_eq!(out.status.code(), Some(0), "{flag:?}");
        // Exactly the documents the file sink writes (but the wall-clock event.created), one
        // JSON alert per line, nothing else.
        assert_eq!(
            without_created(&String::from_utf8(out.stdout).unwrap()),
            without_created(&want),
            "{flag:?}"
        );
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with("iotguard: 3000 flows in "), "{stderr}");
        assert!(
            stderr.ends_with(
                ", 594 alerting, 6 incidents, 11 alert documents sent, 0 rejected lines\n"
            ),
            "{stderr}"
        );
    }
    assert!(!std::path::Path::new("-").exists(), "no file named -");
}

#[test]
fn print_alerts_with_json_stats_is_refused_rather_than_mixed() {
    let out = iotguard(
        &[
            "detect",
            "--model",
            "m.json",
            "--print-alerts",
            "--json",
            "x.log",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "iotguard: error: --json and alerts on standard output (--print-alerts, --alerts-jsonl -) \
         would mix on standard output; write the alerts to a file or drop --json\n"
    );
}

#[test]
fn print_alerts_into_head_1_stops_quietly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = model_and_capture(dir.path(), 3_000);
    // 20 000 flows give 55 alert documents, 118 228 bytes: more than a pipe holds.
    let capture = simulated(dir.path(), 5, 20_000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_iotguard"))
        .args([
            "detect",
            "--model",
            &model,
            "--no-alerts-db",
            "--print-alerts",
            &capture,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    {
        let stdout = child.stdout.take().unwrap();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .unwrap();
        // Dropping the reader closes the pipe, as `head -1` does.
    }
    let out = child.wait_with_output().unwrap();
    let alert: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(alert["event"]["kind"], "alert");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn convert_out_dash_writes_standard_output() {
    let fixture = iotguard_testkit::testdata("zeek/conn_small.log")
        .display()
        .to_string();
    let to_stdout = ok(&["convert", &fixture, "--to", "zeek-json"]);
    assert!(!to_stdout.is_empty());
    assert_eq!(
        ok(&["convert", &fixture, "--to", "zeek-json", "--out", "-"]),
        to_stdout
    );
}

#[test]
fn a_missing_input_is_said_once() {
    for args in [
        &["inspect", "testdata/no-such-file.log"][..],
        &["convert", "testdata/no-such-file.log", "--to", "zeek-json"][..],
    ] {
        let out = iotguard(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            "iotguard: error: testdata/no-such-file.log: No such file or directory (os error 2)\n",
            "{args:?}"
        );
    }
}

#[test]
fn thresholds_print_rounded_for_people() {
    let dir = tempfile::tempdir().unwrap();
    let (model, capture) = model_and_capture(dir.path(), 3_000);
    let out = iotguard(
        &[
            "detect",
            "--model",
            &model,
            "--no-alerts-db",
            "--threshold",
            "0.48",
            &capture,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    // 0.48 as f32 is 0.47999998927116394 as f64.
    assert_eq!(
        stderr.lines().next(),
        Some("iotguard: threshold 0.48 (the model's is 1)"),
        "{stderr}"
    );
    let eval = ok(&["eval", "--model", &model, "--threshold", "0.48", &capture]);
    assert_eq!(
        eval.lines().next(),
        Some("model tree at threshold 0.48"),
        "{eval}"
    );
    let points: Vec<&str> = eval
        .lines()
        .skip_while(|l| !l.starts_with("threshold  alerts"))
        .collect();
    assert_eq!(points[1], "0.48  594  1.000  1.000  0.000  model", "{eval}");
    assert_eq!(
        points[2], "1  0  -  0.000  0.000  --target-far 0.005",
        "{eval}"
    );
    // The smallest f32 above zero, not 0.000000000000000000000000000000000000000000001401.
    assert_eq!(
        points[6], "1.401e-45  594  1.000  1.000  0.000  --target-far 0.1",
        "{eval}"
    );
}

#[test]
fn enum_values_take_any_case_and_formats_are_listed_in_help() {
    let fixture = iotguard_testkit::testdata("zeek/conn_small.log")
        .display()
        .to_string();
    assert_eq!(
        ok(&["inspect", "--format", "ZEEK-TSV", "--json", &fixture]),
        ok(&["inspect", "--format", "zeek-tsv", "--json", &fixture])
    );
    assert_eq!(
        ok(&["convert", &fixture, "--to", "Zeek-Json"]),
        ok(&["convert", &fixture, "--to", "zeek-json"])
    );
    let values =
        "[possible values: zeek-tsv, zeek-json, zeek-csv, argus, bot-iot, unsw-nb15, ton-iot]";
    for command in ["inspect", "detect", "convert", "train", "eval"] {
        let help = ok(&[command, "--help"]);
        // The values close the option's help, on its line or (long help) a line of their own.
        let after = &help[help.find("--format <FORMAT>").unwrap()..];
        let own: Vec<&str> = std::iter::once(after.lines().next().unwrap())
            .chain(
                after
                    .lines()
                    .skip(1)
                    .take_while(|l| !l.trim_start().starts_with('-')),
            )
            .collect();
        assert!(
            own.join("\n").trim_end().ends_with(values),
            "{command}: {after}"
        );
    }
    let out = iotguard(&["inspect", "--format", "csv", &fixture], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "error: invalid value 'csv' for '--format <FORMAT>'\n  {values}\n"
        )),
        "{stderr}"
    );
    let help = ok(&["train", "--help"]);
    assert!(help.contains(
        "[possible values: logreg, svm, tree, forest, gbdt, iforest, autoencoder, ensemble]"
    ));
    let dir = tempfile::tempdir().unwrap();
    let capture = simulated(dir.path(), 4, 1_000);
    let model = dir.path().join("m.json");
    ok(&[
        "train",
        "--model",
        "TREE",
        "--out",
        &model.display().to_string(),
        &capture,
    ]);
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    assert_eq!(file["kind"], "tree", "{}", file["kind"]);
}

#[test]
fn serve_finds_the_default_alert_store_in_the_current_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (model, capture) = model_and_capture(dir.path(), 3_000);
    let store = dir.path().join("iotguard-alerts.db");
    ok(&[
        "detect",
        "--model",
        &model,
        "--alerts-db",
        &store.display().to_string(),
        &capture,
    ]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_iotguard"))
        .current_dir(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert_eq!(
        first,
        "iotguard: using the alert store iotguard-alerts.db found in the current folder \
         (--alerts-db FILE for another)\n"
    );
    let addr = url
        .trim()
        .strip_prefix("http://")
        .and_then(|a| a.strip_suffix('/'))
        .unwrap()
        .to_string();
    let health = crate::serve::get_json(&addr, "/health");
    assert_eq!(health["alert_store"], serde_json::json!(true), "{health}");
    let alerts = crate::serve::get_json(&addr, "/api/v1/alerts");
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    // The 6 incidents detect stored, one document each (updates upserted): 192.168.1.18's
    // scan of port 23 ends where its untyped flows on a second port, already reported, become
    // a scan of their own.
    assert_eq!(alerts["alerts"].as_array().unwrap().len(), 6, "{alerts}");
}

#[test]
fn simulate_out_dash_is_stdout_and_rejects_dash_is_refused() {
    let args = ["simulate", "--seed", "3", "--flows", "50"];
    let mut dash = args.to_vec();
    dash.extend(["--out", "-"]);
    assert_eq!(ok(&dash), ok(&args));
    assert_eq!(
        ok(&args).lines().filter(|l| !l.starts_with('#')).count(),
        50
    );
    let fixture = iotguard_testkit::testdata("zeek/conn_small.log")
        .display()
        .to_string();
    let out = iotguard(&["inspect", "--rejects", "-", &fixture], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "iotguard: error: --rejects needs a file: standard output (`-`) carries this \
         command's output\n"
    );
    assert!(!std::path::Path::new("-").exists());
}
