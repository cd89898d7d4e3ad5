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
