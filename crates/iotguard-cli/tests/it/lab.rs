//! `iotguard train` and `iotguard eval`: model files from labeled flows, measured per input and
//! pooled on other captures; a model whose features do not match is refused.

use serde_json::json;

use crate::{iotguard, ok, simulated};

#[test]
fn train_then_eval_on_another_capture() {
    let dir = tempfile::tempdir().unwrap();
    let train_on = simulated(dir.path(), 1, 20_000);
    let test_on = simulated(dir.path(), 2, 10_000);
    for kind in ["logreg", "gbdt"] {
        let model = dir.path().join(format!("{kind}.json"));
        let m = model.display().to_string();
        ok(&["train", "--model", kind, "--out", &m, &train_on]);
        let file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
        assert_eq!(file["format"], json!("iotguard-model"));
        assert_eq!(file["kind"], json!(kind));
        // The capture's rows and, by default, 20,000 of a simulated clean network, recorded
        // apart from the inputs (training only: never held out).
        assert_eq!(file["training"]["rows"], json!(40_000));
        assert_eq!(file["training"]["inputs"], json!([train_on]));
        assert_eq!(
            file["training"]["augment"],
            json!(["simulated-clean:flows=20000,devices=30,seed=1"])
        );
        assert!(file["features"]["names"].as_array().unwrap().len() > 100);
        assert!(file["threshold"]["value"].as_f64().is_some());

        let report: serde_json::Value =
            serde_json::from_str(&ok(&["eval", "--model", &m, "--json", &test_on])).unwrap();
        let pooled = &report["pooled"];
        assert_eq!(pooled["flows"], json!(10_000));
        let counts: u64 = ["tp", "fp", "tn", "fn_"]
            .iter()
            .map(|k| pooled[k].as_u64().unwrap())
            .sum();
        assert_eq!(counts, 10_000);
        // Recall per attack family (detailed label): the families add up to the malicious
        // flows and the detected ones to the true positives.
        let families = pooled["families"].as_array().unwrap();
        assert!(!families.is_empty(), "{kind}: {pooled}");
        let sum = |k: &str| families.iter().map(|f| f[k].as_u64().unwrap()).sum::<u64>();
        assert_eq!(sum("flows"), pooled["malicious"].as_u64().unwrap());
        assert_eq!(sum("detected"), pooled["tp"].as_u64().unwrap());
        for f in families {
            let r = f["detected"].as_f64().unwrap() / f["flows"].as_f64().unwrap();
            assert_eq!(f["recall"].as_f64().unwrap(), r, "{f}");
            assert!(f["family"].as_str().is_some_and(|n| n != "Benign"), "{f}");
        }
        for key in [
            "precision",
            "recall",
            "f1",
            "false_alert_rate",
            "mcc",
            "pr_auc",
        ] {
            assert!(pooled[key].as_f64().is_some(), "{kind}: {key} in {pooled}");
        }
        // Simulated attacks are easy to rank (measured: PR-AUC 0.92 logreg, 0.99+ gbdt, with
        // under 1 % false alerts); a model far below that would be broken.
        assert!(
            pooled["pr_auc"].as_f64().unwrap() > 0.85,
            "{kind}: {pooled}"
        );
        assert!(
            pooled["false_alert_rate"].as_f64().unwrap() < 0.05,
            "{kind}: {pooled}"
        );
    }
}

#[test]
fn eval_counts_labeled_flows_of_real_captures_exactly() {
    let Some(data) = iotguard_testkit::shared_data("train/eval on captures") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.json").display().to_string();
    let capture = |rel: &str| data.join(rel).display().to_string();
    ok(&[
        "train",
        "--model",
        "logreg",
        "--out",
        &model,
        &capture("iot23/CTU-IoT-Malware-Capture-34-1.conn.log.labeled"),
    ]);
    let report: serde_json::Value = serde_json::from_str(&ok(&[
        "eval",
        "--model",
        &model,
        "--json",
        &capture("iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled"),
        &capture("stratosphere/CTU-Normal-40-day1.conn.log.labeled"),
    ]))
    .unwrap();
    // 44-1: 211 benign + 26 malicious; Normal-40: 1,402 + 4,201, its 60 Background flows left out.
    assert_eq!(
        (
            report["inputs"][0]["flows"].clone(),
            report["inputs"][0]["malicious"].clone()
        ),
        (json!(237), json!(26))
    );
    assert_eq!(
        (
            report["inputs"][1]["flows"].clone(),
            report["inputs"][1]["malicious"].clone()
        ),
        (json!(5_603), json!(4_201))
    );
    assert_eq!(report["pooled"]["flows"], json!(237 + 5_603));
    assert_eq!(report["excluded_other"], json!(60));
}

#[test]
fn train_keeps_a_sample_within_its_row_budget_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let train_on = simulated(dir.path(), 4, 5_000);
    let model = dir.path().join("m.json");
    let m = model.display().to_string();
    let out = iotguard(
        &[
            "train",
            "--model",
            "logreg",
            "--max-train-rows",
            "2000",
            // The strata of the capture alone (the simulated rows would be one more).
            "--augment-sim",
            "0",
            "--out",
            &m,
            &train_on,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sample: 5000 rows seen, "), "{stderr}");
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    let s = &file["training"]["sampling"];
    assert_eq!(s["max_rows"], json!(2000));
    assert_eq!(s["seen"], json!(5000));
    assert_eq!(s["sampled"], json!(true));
    let kept = s["kept"].as_u64().unwrap();
    assert_eq!(file["training"]["rows"], json!(kept));
    assert!(kept <= 2000);
    let n = |k: &str| s[k].as_u64().unwrap();
    assert_eq!(n("kept") + n("folded") + n("sampled_away"), 5000);
    // A memory limit that leaves room for too few rows is refused before anything is read.
    let out = iotguard(
        &["train", "--memory-limit", "100MiB", "--out", &m, &train_on],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--memory-limit"), "{stderr}");
}

#[test]
fn a_model_for_other_features_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let train_on = simulated(dir.path(), 3, 5_000);
    let model = dir.path().join("m.json");
    ok(&[
        "train",
        "--model",
        "logreg",
        "--out",
        &model.display().to_string(),
        &train_on,
    ]);
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    file["features"]["names"][0] = json!("a_feature_this_build_does_not_have");
    std::fs::write(&model, serde_json::to_vec(&file).unwrap()).unwrap();
    let out = iotguard(
        &["eval", "--model", &model.display().to_string(), &train_on],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("feature schema does not match"), "{stderr}");
    assert!(
        stderr.contains("a_feature_this_build_does_not_have"),
        "{stderr}"
    );
}

#[test]
fn compare_writes_both_reports_with_a_baseline_row() {
    let dir = tempfile::tempdir().unwrap();
    let captures: Vec<String> = (10..13)
        .map(|seed| simulated(dir.path(), seed, 4_000))
        .collect();
    let out_dir = dir.path().join("report");
    let mut args = vec!["compare", "--models", "logreg,tree", "--out"];
    let out = out_dir.display().to_string();
    args.push(&out);
    args.extend(captures.iter().map(String::as_str));
    let md = ok(&args);
    assert!(md.contains("| majority class |"), "{md}");
    assert!(md.contains("| logreg |") && md.contains("| tree |"), "{md}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["rows"], json!(12_000));
    assert_eq!(report["inputs"].as_array().unwrap().len(), 3);
    for m in report["models"].as_array().unwrap() {
        let p = &m["pooled"];
        let n: u64 = ["tp", "fp", "tn", "fn_"]
            .iter()
            .map(|k| p[k].as_u64().unwrap())
            .sum();
        assert_eq!(
            n, 12_000,
            "every flow is scored once, by a model that did not see its capture"
        );
        assert_eq!(m["per_fold"].as_array().unwrap().len(), 3);
    }
    assert_eq!(
        std::fs::read_to_string(out_dir.join("report.md"))
            .unwrap()
            .trim(),
        md.trim()
    );
    // The page: ROC, PR, confusion, per-class, speed and one importance heatmap for all
    // models, each once.
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 6);
    for id in ["roc", "pr", "confusion", "per-class", "speed", "importance"] {
        assert_eq!(html.matches(&format!("id=\"{id}\"")).count(), 1, "{id}");
    }
    assert_eq!(report["split"], json!({"mode": "loco"}));
}

#[test]
fn compare_time_split_tests_only_later_flows() {
    let dir = tempfile::tempdir().unwrap();
    let captures: Vec<String> = (20..22)
        .map(|seed| simulated(dir.path(), seed, 3_000))
        .collect();
    let out = dir.path().join("report").display().to_string();
    let mut args = vec![
        "compare", "--models", "logreg", "--split", "time", "--folds", "2", "--out", &out,
    ];
    args.extend(captures.iter().map(String::as_str));
    let md = ok(&args);
    assert!(
        md.starts_with("# Model comparison, time-ordered, 2 folds"),
        "{md}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["split"], json!({"mode": "time", "folds": 2}));
    // Each capture's first third only trains; 2 folds test the other two thirds.
    assert_eq!(report["labeled_rows"], json!(6_000));
    assert_eq!(report["rows"], json!(4_000));
    assert_eq!(report["models"][0]["per_fold"].as_array().unwrap().len(), 2);
}

#[test]
fn compare_family_split_holds_each_attack_type_out_once() {
    let dir = tempfile::tempdir().unwrap();
    // Seed 20, 3,000 flows: 2,056 benign; Attack 850, C&C-HeartBeat 85, C&C 7, FileDownload 2.
    let capture = simulated(dir.path(), 20, 3_000);
    let out = dir.path().join("report").display().to_string();
    let md = ok(&[
        "compare", "--models", "logreg", "--split", "family", "--out", &out, &capture,
    ]);
    assert!(
        md.starts_with("# Model comparison, each attack type held out"),
        "{md}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["split"], json!({"mode": "family"}));
    // Every flow is tested once: each attack flow in its type's fold, each benign flow in one
    // of four disjoint shares of 514.
    assert_eq!(report["rows"], json!(3_000));
    let folds: Vec<(String, u64, u64)> = report["models"][0]["per_fold"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let m = &f["metrics"];
            (
                f["name"].as_str().unwrap().to_owned(),
                m["n"].as_u64().unwrap(),
                m["tp"].as_u64().unwrap() + m["fn_"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        folds,
        [
            ("FileDownload".to_owned(), 516, 2),
            ("C&C-HeartBeat".to_owned(), 599, 85),
            ("Attack".to_owned(), 1_364, 850),
            ("C&C".to_owned(), 521, 7),
        ]
    );
}

#[test]
fn train_tune_chooses_the_setting_on_captures_held_out_in_turn() {
    let dir = tempfile::tempdir().unwrap();
    let a = simulated(dir.path(), 4, 3_000);
    let b = simulated(dir.path(), 5, 3_000);
    let model = dir.path().join("tuned.json");
    let m = model.display().to_string();
    let out = iotguard(
        &["train", "--model", "gbdt", "--tune", "--out", &m, &a, &b],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("over the captures held out in turn").count(),
        6,
        "{stderr}"
    );
    assert_eq!(stderr.matches("(chosen)").count(), 1, "{stderr}");
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    let tuning = &file["metrics"]["tuning"];
    assert_eq!(tuning["inner_folds"], json!(2));
    let scores = tuning["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 6);
    for s in scores {
        // Each setting flagged every flow of both captures once, from models that did not see them.
        assert_eq!(s["inner"]["n"], json!(6_000), "{s}");
    }
    // The model was fitted with the chosen setting.
    let chosen = &tuning["chosen"]["gbdt"];
    for key in [
        "max_depth",
        "max_leaves",
        "learning_rate",
        "min_samples_leaf",
    ] {
        assert_eq!(file["params"][key], chosen[key], "{key}");
    }

    let out = iotguard(
        &["train", "--model", "gbdt", "--tune", "--out", &m, &a],
        None,
    );
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least two captures"), "{stderr}");
}

#[test]
fn gbdt_setting_fixes_the_grid_setting_and_refuses_unknown_names() {
    let dir = tempfile::tempdir().unwrap();
    let a = simulated(dir.path(), 4, 2_000);
    let model = dir.path().join("fixed.json");
    let m = model.display().to_string();
    let out = iotguard(
        &[
            "train",
            "--model",
            "gbdt",
            "--gbdt-setting",
            "leaves15-lr0.1-leaf100-col0.5-row0.8",
            "--out",
            &m,
            &a,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    let p = &file["params"];
    assert_eq!(
        (
            &p["max_depth"],
            &p["max_leaves"],
            &p["min_samples_leaf"],
            &p["subsample"]
        ),
        (&json!(null), &json!(15), &json!(100), &json!(0.8))
    );
    assert!(file["metrics"].get("tuning").is_none());

    let out = iotguard(
        &[
            "train",
            "--model",
            "gbdt",
            "--gbdt-setting",
            "depth7",
            "--out",
            &m,
            &a,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no gbdt setting named \"depth7\"")
            && stderr.contains("depth4-lr0.1-leaf50-col0.3"),
        "{stderr}"
    );
    let out = iotguard(
        &[
            "train",
            "--model",
            "tree",
            "--gbdt-setting",
            "depth6-lr0.3-leaf1",
            "--out",
            &m,
            &a,
        ],
        None,
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--gbdt-setting is for --model gbdt"));
}

#[test]
fn a_label_audit_moves_the_flows_it_names_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let a = simulated(dir.path(), 4, 3_000);
    let b = simulated(dir.path(), 5, 3_000);
    // Counted from the file itself: capture a's benign UDP flows.
    let text = std::fs::read_to_string(&a).unwrap();
    let benign_udp = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            f[6] == "udp" && f[f.len() - 2] == "Benign"
        })
        .count();
    assert!(benign_udp > 100, "{benign_udp}");
    let audit = dir.path().join("audit.json");
    std::fs::write(
        &audit,
        r#"{"rules": [
            {"input": "sim-4.log", "label": "benign", "proto": "udp", "to": "other", "reason": "a test"},
            {"input": "sim-9.log", "label": "malicious", "to": "benign", "reason": "no such capture"}
        ]}"#,
    )
    .unwrap();
    let out_dir = dir.path().join("report");
    let out = iotguard(
        &[
            "compare",
            "--models",
            "tree",
            "--label-audit",
            &audit.display().to_string(),
            "--out",
            &out_dir.display().to_string(),
            &a,
            &b,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "label audit: sim-4.log: {benign_udp} benign flows (udp) counted as other: a test"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "label audit: no flow matched: sim-9.log: 0 malicious flows counted as benign"
        ),
        "{stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["excluded_other"], json!(benign_udp));
    assert_eq!(report["label_audit"][0]["flows"], json!(benign_udp));
    assert_eq!(report["rows"], json!(6_000 - benign_udp));
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("Label audit: sim-4.log"), "{md}");

    let out = iotguard(
        &[
            "compare",
            "--label-audit",
            "/nonexistent/audit.json",
            "--out",
            &out_dir.display().to_string(),
            &a,
            &b,
        ],
        None,
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/audit.json"));
}

/// `train` runs the label checks by default and sets aside what they find (the explore
/// fixtures hold a scan labeled benign, malicious look-alikes of benign flows and a tuple
/// labeled both ways: 150 + 12 + 3 flows) but the beacon labeled benign (120 flows, only
/// reported), records the rules in the model file, and keeps the labels with
/// `--label-checks report` or `off`.
#[test]
fn train_sets_aside_what_the_label_checks_find_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    // a: a telnet scan labeled benign; b: a beacon labeled benign from a host with no labeled
    // channel of its own, 12 look-alikes, a tuple labeled both ways; c: a vendor-cloud
    // heartbeat labeled benign from a host whose C&C channel is labeled, and its HTTP to the
    // C&C channel's address labeled benign.
    let inputs = [
        iotguard_testkit::testdata("zeek/explore_a.conn.log.labeled"),
        iotguard_testkit::testdata("zeek/explore_b.conn.log.labeled"),
        iotguard_testkit::testdata("zeek/explore_c.conn.log.labeled"),
    ]
    .map(|p| p.display().to_string());
    let train = |mode: Option<&str>| {
        let model = dir
            .path()
            .join(format!("{}.json", mode.unwrap_or("default")));
        let m = model.display().to_string();
        let mut args = vec!["train", "--out", &m];
        if let Some(mode) = mode {
            args.extend(["--label-checks", mode]);
        }
        args.extend(inputs.iter().map(String::as_str));
        let out = iotguard(&args, None);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
        (String::from_utf8_lossy(&out.stderr).into_owned(), file)
    };
    let (stderr, file) = train(None);
    assert!(
        stderr.contains("label checks: 4 finding(s) set aside as probably mislabeled"),
        "{stderr}"
    );
    assert!(
        stderr.contains("label audit: explore_a.conn.log.labeled: 150 benign flows (orig_h 10.0.0.5, tcp, resp_p 23, S0) counted as other: a scan labeled benign"),
        "{stderr}"
    );
    let applied: Vec<u64> = file["metrics"]["label_checks"]["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["flows"].as_u64().unwrap())
        .collect();
    assert_eq!(applied, [150, 120, 12, 3]);
    assert!(
        stderr.contains("label check (beacon): ")
            && stderr
                .contains("explore_c.conn.log.labeled: a beacon labeled benign: 100 connections from 10.0.0.11")
            && stderr.contains(
                "(kept as labeled: the host's labels name another channel, and a device's heartbeat to its own cloud looks the same;"
            )
            && !stderr.contains("explore_b.conn.log.labeled: a beacon labeled benign"),
        "{stderr}"
    );
    assert_eq!(file["metrics"]["label_checks"]["mode"], json!("apply"));
    let reported = &file["metrics"]["label_checks"]["reported"];
    assert_eq!(
        (
            &reported[0]["check"],
            &reported[0]["host"],
            &reported[0]["flows"],
            reported.as_array().map(Vec::len)
        ),
        (&json!("beacon"), &json!("10.0.0.11"), &json!(100), Some(2)),
        "{reported}"
    );
    // c: the same host's 8 HTTP connections to its labeled C&C address, labeled benign.
    assert_eq!(
        (&reported[1]["check"], &reported[1]["flows"]),
        (&json!("channel"), &json!(8)),
        "{reported}"
    );
    assert!(
        stderr.contains("label check (channel): ")
            && stderr.contains("explore_c.conn.log.labeled: benign flows to a labeled channel: 8 connections from 10.0.0.11 to 198.51.100.90:80/tcp")
            && stderr.contains("(kept as labeled: one address can carry both a bot's channel and a device's own traffic"),
        "{stderr}"
    );
    let (_, off) = train(Some("off"));
    let rows = |f: &serde_json::Value| f["training"]["rows"].as_u64().unwrap();
    assert_eq!(rows(&off), rows(&file) + 150 + 120 + 12 + 3);
    assert!(off["metrics"]["label_checks"].is_null());
    let (stderr, report) = train(Some("report"));
    assert_eq!(rows(&report), rows(&off));
    assert!(
        stderr.contains("label check (scan): ")
            && stderr.contains("explore_a.conn.log.labeled: a scan labeled benign: 150 unanswered")
            && stderr.contains("(kept as labeled: --label-checks report)"),
        "{stderr}"
    );
    assert_eq!(report["metrics"]["label_checks"]["applied"], json!([]));
}
