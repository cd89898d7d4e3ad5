//! The operating point chosen out of capture (`train`) and set by the operator (`--threshold`,
//! `--target-far` on `eval`, `detect` and `serve`).

use serde_json::json;

use crate::{iotguard, ok, simulated};

/// Reads a model file as JSON.
fn model_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The threshold `--target-far rate` must give under the median rule: the median of the
/// held-out units' sketched thresholds at the largest sketched rate at or under `rate`.
fn median_sketch_threshold(file: &serde_json::Value, rate: f64) -> f32 {
    let mut t: Vec<f32> = file["metrics"]["out_of_capture"]["benign_sketches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let points = s["points"].as_array().unwrap();
            let p = points
                .iter()
                .rev()
                .find(|p| p[0].as_f64().unwrap() <= rate + 1e-12)
                .unwrap();
            p[1].as_f64().unwrap() as f32
        })
        .collect();
    t.sort_by(f32::total_cmp);
    let n = t.len();
    if n % 2 == 1 {
        t[n / 2]
    } else {
        ((f64::from(t[n / 2 - 1]) + f64::from(t[n / 2])) / 2.0) as f32
    }
}

#[test]
fn train_prints_the_out_of_capture_estimate_not_a_random_split() {
    let dir = tempfile::tempdir().unwrap();
    let a = simulated(dir.path(), 4, 3_000);
    let b = simulated(dir.path(), 5, 3_000);
    let model = dir.path().join("m.json");
    let m = model.display().to_string();
    let out = iotguard(&["train", "--model", "gbdt", "--out", &m, &a, &b], None);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = model_json(&model);
    let ooc = &file["metrics"]["out_of_capture"];
    let threshold = file["threshold"]["value"].as_f64().unwrap() as f32;
    assert_eq!(
        file["threshold"]["method"],
        json!({"kind": "out_of_capture", "objective": "recall:0.9", "rule": "balanced"})
    );
    assert_eq!(ooc["threshold"].as_f64().unwrap() as f32, threshold);
    // No random-split figure anywhere: not in the file, not on the terminal.
    assert!(
        file["metrics"].get("validation").is_none(),
        "{}",
        file["metrics"]
    );
    assert!(!stderr.contains("held-out rows"), "{stderr}");
    assert!(!stdout.contains("random"), "{stdout}");

    let lines: Vec<&str> = stdout.lines().collect();
    // Rounded for people (four significant digits), full precision in the file.
    assert_eq!(threshold, 0.023_409_86_f32);
    assert_eq!(
        lines[0],
        "out-of-capture estimate (leave one capture out over the 2 training captures: each \
         scored by a model fitted on the others): threshold 0.02341 for recall:0.9, over \
         every held-out flow, each held-out input weighing the same"
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            "flows",
            "malicious",
            "alerts",
            "precision",
            "recall",
            "false_alerts",
            "alone",
            "held",
            "out"
        ]
    );
    // One line per held-out capture, then the pool, each with the counts the file records.
    let units = ooc["units"].as_array().unwrap();
    assert_eq!(units.len(), 2);
    assert_eq!(lines.len(), 5, "{stdout}");
    for (line, (m, name)) in lines[2..].iter().zip(
        units
            .iter()
            .map(|u| (&u["metrics"], u["unit"].as_str().unwrap()))
            .chain(std::iter::once((&ooc["pooled"], "pooled"))),
    ) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let n = |k: &str| m[k].as_u64().unwrap();
        assert_eq!(cells[0], n("n").to_string(), "{line}");
        assert_eq!(cells[1], (n("tp") + n("fn_")).to_string(), "{line}");
        assert_eq!(cells[2], (n("tp") + n("fp")).to_string(), "{line}");
        assert_eq!(
            cells[4],
            format!("{:.3}", m["recall"].as_f64().unwrap()),
            "{line}"
        );
        assert_eq!(
            cells[5],
            format!("{:.3}", m["false_alert_rate"].as_f64().unwrap()),
            "{line}"
        );
        assert!(line.ends_with(name), "{line}");
    }
    // Every flow of both captures was scored by the model that did not train on it, and none
    // of the 20,000 simulated training-only flows were.
    assert_eq!(ooc["pooled"]["n"], json!(6_000));
    assert_eq!(file["training"]["rows"], json!(26_000));

    // One input: time blocks, the summary says it is not out of capture, and the objective is
    // max F1 over the pooled blocks.
    let out = ok(&["train", "--model", "logreg", "--out", &m, &a]);
    assert!(
        out.starts_with(
            "out-of-capture estimate (one training capture only, so it was cut into 5 time \
             blocks, each scored by a model fitted on the others (hosts span blocks: optimistic, \
             not out of capture)): threshold "
        ),
        "{out}"
    );
    assert!(
        out.lines()
            .next()
            .unwrap()
            .ends_with(" for f1, over every held-out flow together"),
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.ends_with(" of 5") && l.contains("time block "))
            .count(),
        5
    );
}

#[test]
fn threshold_and_target_far_change_what_eval_and_detect_flag() {
    let dir = tempfile::tempdir().unwrap();
    let a = simulated(dir.path(), 6, 3_000);
    let b = simulated(dir.path(), 7, 3_000);
    let test_on = simulated(dir.path(), 8, 2_000);
    let model = dir.path().join("m.json");
    let m = model.display().to_string();
    ok(&[
        "train",
        "--model",
        "logreg",
        "--objective",
        "target-far:0.01",
        "--rule",
        "median",
        "--out",
        &m,
        &a,
        &b,
    ]);
    let file = model_json(&model);
    assert_eq!(
        file["threshold"]["method"],
        json!({"kind": "out_of_capture", "objective": "target-far:0.01", "rule": "median"})
    );
    let eval = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["eval", "--json", "--model", &m];
        args.extend_from_slice(extra);
        args.push(&test_on);
        serde_json::from_str(&ok(&args)).unwrap()
    };
    let plain = eval(&[]);
    assert_eq!(
        plain["threshold"].as_f64().unwrap() as f32,
        file["threshold"]["value"].as_f64().unwrap() as f32
    );
    let flows = plain["pooled"]["flows"].as_u64().unwrap();
    let malicious = plain["pooled"]["malicious"].as_u64().unwrap();
    assert!(malicious > 0 && malicious < flows);

    // A score every flow reaches, and one none does (logistic scores are in [0, 1]).
    let all = eval(&["--threshold", "0"]);
    assert_eq!(all["threshold"], json!(0.0));
    assert_eq!(all["pooled"]["alerts"], json!(flows));
    assert_eq!(all["pooled"]["recall"], json!(1.0));
    assert_eq!(all["pooled"]["false_alert_rate"], json!(1.0));
    let none = eval(&["--threshold", "1.5"]);
    assert_eq!(none["pooled"]["alerts"], json!(0));
    assert_eq!(none["pooled"]["fn_"], json!(malicious));

    // --target-far: the threshold the file's sketches give, and the operating points agree.
    for rate in [0.01, 0.05, 0.3] {
        let r = eval(&["--target-far", &rate.to_string()]);
        let want = median_sketch_threshold(&file, rate);
        assert_eq!(r["threshold"].as_f64().unwrap() as f32, want, "{rate}");
        let point = plain["operating_points"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["setting"] == json!(format!("--target-far {rate}")));
        if let Some(p) = point {
            assert_eq!(p["threshold"].as_f64().unwrap() as f32, want);
            assert_eq!(p["alerts"], r["pooled"]["alerts"]);
        }
    }
    let strict = eval(&["--target-far", "0"]);
    let loose = eval(&["--target-far", "0.3"]);
    assert!(
        strict["pooled"]["alerts"].as_u64().unwrap() <= loose["pooled"]["alerts"].as_u64().unwrap()
    );
    assert_eq!(
        plain["operating_points"][0],
        json!({
            "setting": "model",
            "threshold": plain["threshold"],
            "alerts": plain["pooled"]["alerts"],
            "precision": plain["pooled"]["precision"],
            "recall": plain["pooled"]["recall"],
            "false_alert_rate": plain["pooled"]["false_alert_rate"],
        })
    );

    // detect flags what the threshold says.
    let detect = |extra: &[&str]| -> String {
        let mut args = vec!["detect", "--no-alerts-db", "--model", &m];
        args.extend_from_slice(extra);
        args.push(&test_on);
        ok(&args)
    };
    assert!(detect(&["--threshold", "1.5"]).contains(" 0 alerting, 0 incidents"));
    let everything = detect(&["--threshold", "0"]);
    let n = everything.split(' ').next().unwrap();
    assert!(n.parse::<u64>().unwrap() >= flows, "{everything}");
    assert!(
        everything.contains(&format!(" {n} alerting,")),
        "{everything}"
    );

    // A model file from before out-of-capture thresholds loads, and --target-far says why it
    // cannot be used with it.
    let mut old = file.clone();
    old["metrics"] = json!({"validation": {"f1": 0.9}});
    old["threshold"] =
        json!({"value": 0.5, "method": {"kind": "max_f1", "f1": 0.9}, "on_validation": true});
    let old_path = dir.path().join("old.json");
    std::fs::write(&old_path, serde_json::to_vec(&old).unwrap()).unwrap();
    let o = old_path.display().to_string();
    let r: serde_json::Value =
        serde_json::from_str(&ok(&["eval", "--json", "--model", &o, &test_on])).unwrap();
    assert_eq!(r["threshold"], json!(0.5));
    let out = iotguard(
        &["eval", "--model", &o, "--target-far", "0.01", &test_on],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("retrain the model, or give --threshold"),
        "{stderr}"
    );
}

#[test]
fn serve_uses_the_threshold_the_operator_asks_for() {
    let dir = tempfile::tempdir().unwrap();
    let a = simulated(dir.path(), 9, 2_000);
    let b = simulated(dir.path(), 10, 2_000);
    let model = dir.path().join("m.json");
    let m = model.display().to_string();
    ok(&[
        "train",
        "--model",
        "logreg",
        "--objective",
        "target-far:0.01",
        "--rule",
        "median",
        "--out",
        &m,
        &a,
        &b,
    ]);
    let file = model_json(&model);
    for (flag, value, want) in [
        ("--threshold", "0.25", 0.25f32),
        ("--target-far", "0.05", median_sketch_threshold(&file, 0.05)),
    ] {
        let mut server = crate::serve::start(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--model",
            &m,
            flag,
            value,
        ]);
        server.stderr_until("serving the API and the dashboard");
        let models = crate::serve::get_json(&server.addr, "/api/v1/models");
        assert_eq!(
            models["active"]["threshold"].as_f64().unwrap() as f32,
            want,
            "{flag} {value}"
        );
        // The panel's estimate stays the one recorded at training.
        assert_eq!(
            models["active"]["metrics"]["out_of_capture"]["threshold"],
            file["threshold"]["value"]
        );
        let (code, _) = server.interrupt();
        assert_eq!(code, Some(0));
    }
}
