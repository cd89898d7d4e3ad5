//! Baselines learned without labels: `train --unlabeled` on unlabeled real captures and a
//! simulated clean network, labels ignored where they exist, and `--target-far` on the result.

use crate::{iotguard, ok};

/// Reads a model file as JSON.
fn model_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn train_unlabeled_learns_the_unlabeled_nmap_and_argus_captures() {
    let Some(data) = iotguard_testkit::shared_data("train --unlabeled") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nmap = data.join("stratosphere/nmap-port-scanning.conn.json.log");
    let nmap = nmap.display().to_string();
    let model = dir.path().join("nmap.json");
    let m = model.display().to_string();
    // Without --unlabeled there is nothing to learn from.
    let out = iotguard(&["train", "--model", "iforest", "--out", &m, &nmap], None);
    assert_eq!(out.status.code(), Some(2));
    let out = iotguard(&["train", "--unlabeled", "--out", &m, &nmap], None);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let file = model_json(&model);
    let threshold = file["threshold"]["value"].as_f64().unwrap();
    assert_eq!(file["kind"], "iforest");
    assert_eq!(
        file["threshold"]["method"],
        serde_json::json!({"kind": "training_scores", "target_far": 0.01, "achieved": 45.0 / 4504.0})
    );
    assert_eq!(file["metrics"]["baseline"]["rows"], 4_504);
    assert_eq!(file["metrics"]["baseline"]["alerts"], 45);
    assert_eq!(
        stdout,
        format!(
            "baseline threshold {:.4} for a false-alert rate of at most 0.01 on its own training \
             flows: 45 of 4504 flows at or above it (0.0100); on later traffic this rate is an \
             estimate, and attacks among the training flows are learned as normal\n",
            threshold
        )
    );
    assert!(
        stderr.contains(
            "learned a baseline (iforest) without labels on 4504 flows from 1 input(s) (labels \
             ignored: 0 benign, 0 malicious, 0 other; 4504 flows unlabeled)"
        ),
        "{stderr}"
    );

    // A baseline per service: the nmap flows carry none, but for 8 (too few for a model of
    // their own, so the baseline over every flow scores them).
    let grouped = dir.path().join("grouped.json");
    let out = ok(&[
        "train",
        "--unlabeled",
        "--group-by",
        "service",
        "--out",
        &grouped.display().to_string(),
        &nmap,
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].contains(": 45 of 4504 flows at or above it"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("group none: 4496 flows, own threshold "),
        "{out}"
    );
    assert!(
        lines[2].starts_with(
            "groups without a model of their own: 8 flows, scored by the baseline over every flow"
        ),
        "{out}"
    );
    let file = model_json(&grouped);
    assert_eq!(file["metrics"]["baseline"]["groups"][0]["rows"], 4_496);
    assert!(file["model"]["grouped"]["members"].is_array());
    // Not a family of the schema: refused, naming the families.
    let out = iotguard(
        &[
            "train",
            "--unlabeled",
            "--group-by",
            "colour",
            "--out",
            &m,
            &nmap,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no feature family `colour`"));

    // The alias, the comma-separated Argus file and a stricter rate.
    let argus = data.join("argus/test2-malicious.unlabeled.binetflow");
    let model = dir.path().join("argus.json");
    ok(&[
        "train",
        "--assume-benign",
        "--target-far",
        "0.005",
        "--out",
        &model.display().to_string(),
        &argus.display().to_string(),
    ]);
    let file = model_json(&model);
    // 0.5 % of 6,751 flows is 33.755: at most 33 alert.
    assert_eq!(file["metrics"]["baseline"]["rows"], 6_751);
    assert_eq!(file["metrics"]["baseline"]["alerts"], 33);
    assert_eq!(file["threshold"]["method"]["target_far"], 0.005);
}

#[test]
fn train_unlabeled_ignores_labels_and_learns_a_simulated_clean_network() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.log");
    let clean = clean.display().to_string();
    ok(&[
        "simulate",
        "--seed",
        "3",
        "--flows",
        "3000",
        "--attack-intensity",
        "0",
        "--out",
        &clean,
    ]);
    let model = dir.path().join("clean.json");
    let m = model.display().to_string();
    let out = iotguard(
        &[
            "train",
            "--unlabeled",
            "--model",
            "autoencoder",
            "--out",
            &m,
            &clean,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    // The simulator labels every flow of a clean network benign: counted, not used.
    assert!(
        stderr.contains("labels ignored: 3000 benign, 0 malicious, 0 other; 0 flows unlabeled"),
        "{stderr}"
    );
    let file = model_json(&model);
    assert_eq!(file["kind"], "autoencoder");
    assert_eq!(file["training"]["malicious"], 0);
    assert_eq!(file["metrics"]["baseline"]["alerts"], 30);

    // A supervised kind needs labels.
    let out = iotguard(
        &[
            "train",
            "--unlabeled",
            "--model",
            "forest",
            "--out",
            &m,
            &clean,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--unlabeled learns with --model iforest or autoencoder; forest needs labels"));

    // --target-far on a baseline reads its training-score sketch: eval on its own training
    // flows (all labeled benign) alerts on at most that share.
    let json = ok(&[
        "eval",
        "--json",
        "--model",
        &m,
        "--target-far",
        "0.005",
        &clean,
    ]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["pooled"]["flows"], 3_000);
    assert_eq!(report["pooled"]["alerts"], 15);
    let sketch = &file["metrics"]["baseline"]["sketch"]["points"];
    let at = sketch
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p[0] == 0.005)
        .unwrap();
    assert_eq!(
        report["threshold"].as_f64().unwrap() as f32,
        at[1].as_f64().unwrap() as f32
    );
}

/// Runs `detect --json` with alerts to a JSON-lines file; returns the stats and the alerts.
fn detect_json(
    args: &[&str],
    dir: &std::path::Path,
) -> (serde_json::Value, Vec<serde_json::Value>) {
    let alerts = dir.join("alerts.jsonl");
    let _ = std::fs::remove_file(&alerts);
    let a = alerts.display().to_string();
    let mut all = vec!["detect", "--json", "--no-alerts-db", "--alerts-jsonl", &a];
    all.extend_from_slice(args);
    let stats: serde_json::Value = serde_json::from_str(&ok(&all)).unwrap();
    let text = std::fs::read_to_string(&alerts).unwrap_or_default();
    let docs = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (stats, docs)
}

#[test]
fn detect_learns_on_the_first_flows_then_detects_with_the_baseline() {
    let Some(data) = iotguard_testkit::shared_data("detect --learn-for") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let capture = data.join("iot23/CTU-IoT-Malware-Capture-42-1.conn.log.labeled");
    let text = std::fs::read_to_string(&capture).unwrap();
    let ts: Vec<f64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ts.len(), 4_426);
    let c = capture.display().to_string();

    // By flow count: the first 2,000 flows are learned and not scored (no model), the other
    // 2,426 are scored by the baseline; every alert says the baseline fired it.
    let out = dir.path().join("learned.json");
    let o = out.display().to_string();
    let (stats, alerts) = detect_json(&["--learn-for", "2000", "--learn-out", &o, &c], dir.path());
    let learning = &stats["learning"];
    assert_eq!(learning["flows"], 2_000);
    assert_eq!(learning["rows"], 2_000);
    assert_eq!(learning["learned_flows_scored"], false);
    assert_eq!(learning["input_ended_first"], false);
    assert_eq!(stats["report"]["flows"], 4_426);
    assert!(!alerts.is_empty());
    assert!(alerts
        .iter()
        .all(|a| a["iotguard"]["detector"] == "baseline"
            && a["rule"]["name"] == "iotguard-baseline-iforest"
            && !a["iotguard"]["features"].as_array().unwrap().is_empty()));
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(file["metrics"]["baseline"]["rows"], 2_000);
    assert_eq!(file["metrics"]["baseline"]["alerts"], 20);
    assert_eq!(
        learning["threshold"].as_f64().unwrap() as f32,
        file["threshold"]["value"].as_f64().unwrap() as f32
    );

    // By event time: learning ends at the first flow an hour or more after the first one
    // (Zeek writes a flow when it ends, so a few earlier-starting flows come later and are
    // scored).
    let first_after = ts.iter().position(|t| t - ts[0] >= 3_600.0).unwrap();
    assert_eq!(first_after, 2_010);
    let (stats, _) = detect_json(&["--learn-for", "1h", &c], dir.path());
    assert_eq!(stats["learning"]["flows"], 2_010);
    assert_eq!(stats["learning"]["from"], "2019-01-10T13:34:42.523476Z");

    // An input shorter than the learning: every flow learned, the baseline fitted on them all
    // and saved, nothing scored by it, and the run says so.
    let small = data.join("iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled");
    let out = iotguard(
        &[
            "detect",
            "--no-alerts-db",
            "--learn-for",
            "100000",
            "--learn-out",
            &o,
            &small.display().to_string(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the input ended before --learn-for was reached"),
        "{stderr}"
    );
    assert!(stderr.contains("learning: 237 flows from"), "{stderr}");
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&o).unwrap()).unwrap();
    assert_eq!(file["metrics"]["baseline"]["rows"], 237);
}

#[test]
fn detect_runs_a_model_and_a_baseline_and_each_alert_says_which_fired() {
    let Some(data) = iotguard_testkit::shared_data("detect --baseline") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = |p: &str| data.join(p).display().to_string();
    let sup = dir.path().join("sup.json").display().to_string();
    let base = dir.path().join("base.json").display().to_string();
    ok(&[
        "train",
        "--model",
        "tree",
        "--out",
        &sup,
        &path("iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled"),
        &path("iot23/CTU-Honeypot-Capture-4-1.conn.log.labeled"),
    ]);
    ok(&[
        "train",
        "--unlabeled",
        "--out",
        &base,
        &path("iot23/CTU-Honeypot-Capture-4-1.conn.log.labeled"),
        &path("iot23/CTU-Honeypot-Capture-5-1.conn.log.labeled"),
    ]);
    let capture = path("iot23/CTU-IoT-Malware-Capture-42-1.conn.log.labeled");
    let (alone, _) = detect_json(&["--model", &sup, &capture], dir.path());
    let (both, alerts) = detect_json(
        &["--model", &sup, "--baseline", &base, &capture],
        dir.path(),
    );
    // The model flags the same flows with or without the baseline; the baseline adds the
    // flows it flags among the rest, in incidents of its own.
    let model_flows = alone["report"]["alert_flows"].as_u64().unwrap();
    let baseline_flows = both["baseline_alert_flows"].as_u64().unwrap();
    assert!(baseline_flows > 0);
    assert_eq!(
        both["report"]["alert_flows"].as_u64().unwrap(),
        model_flows + baseline_flows
    );
    let counted = |who: &str| -> u64 {
        alerts
            .iter()
            .filter(|a| a["iotguard"]["detector"] == who && a["event"]["type"][0] == "end")
            .map(|a| a["iotguard"]["counts"]["flows"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(counted("baseline"), baseline_flows);
    assert_eq!(counted("model"), model_flows);
    assert!(alerts.iter().all(|a| {
        let by_baseline = a["iotguard"]["detector"] == "baseline";
        a["rule"]["name"]
            == if by_baseline {
                "iotguard-baseline-iforest"
            } else {
                "iotguard-tree"
            }
    }));
    // The same with the baseline learned on the first 1,000 flows instead of loaded: those
    // flows are scored by the model all the same.
    let (learned, _) = detect_json(
        &["--model", &sup, "--learn-for", "1000", &capture],
        dir.path(),
    );
    assert_eq!(learned["learning"]["flows"], 1_000);
    assert_eq!(learned["learning"]["learned_flows_scored"], true);
    assert_eq!(learned["report"]["flows"], 4_426);
}
