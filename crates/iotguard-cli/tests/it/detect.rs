//! `iotguard detect` end to end on real captures: a model trained by `iotguard train` on some
//! IoT-23 captures, detection on another, alerts in SQLite and in a JSON-lines file.

use std::collections::{HashMap, HashSet};

use iotguard_detect::{AlertQuery, AlertStore, Severity};

use super::ok;

#[test]
fn detect_on_a_real_capture_writes_explained_graded_ecs_alerts() {
    let Some(data) = iotguard_testkit::shared_data("detect_on_a_real_capture") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tree.json");
    let path = |p: &std::path::Path| p.display().to_string();
    let train: Vec<String> = [
        "iot23/iot23-pool-dev.conn.log.labeled",
        "iot23/CTU-IoT-Malware-Capture-8-1.conn.log.labeled",
    ]
    .iter()
    .map(|f| path(&data.join(f)))
    .collect();
    let mut args = vec!["train", "--model", "tree", "--out"];
    let model_s = path(&model);
    args.push(&model_s);
    args.extend(train.iter().map(String::as_str));
    ok(&args);

    // Mirai on a Raspberry Pi (192.168.1.195): C&C to 185.244.25.235:6667, scans, DDoS.
    let capture = data.join("iot23/CTU-IoT-Malware-Capture-34-1.conn.log.labeled");
    let db = dir.path().join("alerts.db");
    let jsonl = dir.path().join("alerts.jsonl");
    let out = ok(&[
        "detect",
        "--model",
        &model_s,
        "--alerts-db",
        &path(&db),
        "--alerts-jsonl",
        &path(&jsonl),
        "--asset",
        "192.168.1.0/24=high",
        &path(&capture),
    ]);
    assert!(out.starts_with("23145 flows in "), "{out}");
    assert!(out.contains(" 0 rejected lines"), "{out}");

    let docs: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!docs.is_empty());
    let mut last: HashMap<String, &serde_json::Value> = HashMap::new();
    for d in &docs {
        last.insert(d["event"]["id"].as_str().unwrap().to_string(), d);
    }
    let uids: HashSet<String> = std::fs::read_to_string(&capture)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect();
    let mut destinations = HashSet::new();
    for d in last.values() {
        // ECS fields.
        assert_eq!(d["event"]["kind"], "alert");
        assert_eq!(d["iotguard"]["state"], "closed");
        assert_eq!(d["ecs"]["version"], "8.11.0");
        assert_eq!(d["rule"]["name"], "iotguard-tree");
        assert_eq!(d["network"]["transport"], "tcp");
        assert!(d["@timestamp"].as_str().unwrap().starts_with("2018-12-2"));
        // The only attacker in the capture, on a network configured as high criticality.
        assert_eq!(d["source"]["ip"], "192.168.1.195");
        assert_eq!(d["iotguard"]["asset_criticality"], "high");
        // Graded: a tree's score of 1 is the strongest verdict, and the asset is important.
        let sev: Severity = d["iotguard"]["severity"].as_str().unwrap().parse().unwrap();
        assert!(sev >= Severity::High, "{sev}");
        let risk = d["event"]["risk_score"].as_f64().unwrap();
        assert!((75.0..=100.0).contains(&risk), "{risk}");
        // Explained, with flows to pivot to.
        let features = d["iotguard"]["features"].as_array().unwrap();
        assert!(!features.is_empty());
        for f in features {
            assert!(f["contribution"].as_f64().unwrap() > 0.0);
        }
        let flow_uids = d["iotguard"]["uids"].as_array().unwrap();
        assert!(!flow_uids.is_empty() && flow_uids.len() <= 20);
        assert!(flow_uids.iter().all(|u| uids.contains(u.as_str().unwrap())));
        if let Some(ip) = d["destination"]["ip"].as_str() {
            destinations.insert(format!("{ip}:{}", d["destination"]["port"]));
        }
    }
    // The C&C server is named as a destination, and its incidents read as command and control.
    assert!(
        destinations.contains("185.244.25.235:6667"),
        "{destinations:?}"
    );
    assert!(last
        .values()
        .any(|d| d["destination"]["ip"] == "185.244.25.235"
            && d["iotguard"]["attack_type"] == "beacon"));

    // The store holds the same incidents, each as its last revision.
    let store = AlertStore::open(&db).unwrap();
    let stored = store
        .query(&AlertQuery {
            limit: 10_000,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(stored.alerts.len(), last.len());
    for a in &stored.alerts {
        assert_eq!(serde_json::to_value(a).unwrap(), *last[a.id()]);
    }
    let counted: u64 = store
        .counts_by_severity(None)
        .unwrap()
        .iter()
        .map(|c| c.count)
        .sum();
    assert_eq!(counted, last.len() as u64);
}

#[test]
fn detect_refuses_a_missing_model_with_a_clear_error() {
    let out = super::iotguard(&["detect", "--model", "/no/model.json", "-"], Some(b""));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loading /no/model.json"), "{err}");
}
