//! `iotguard explore`: the page, the JSON and the Markdown written to `--out`, and the proposed
//! label-audit rules written by `--suggest-audit` accepted unchanged by `train` and `eval
//! --label-audit`, which set aside exactly the flows the checks counted.

use serde_json::json;

use crate::ok;

fn fixture(name: &str) -> String {
    iotguard_testkit::testdata(name).display().to_string()
}

/// Explores `inputs`, then trains and evaluates with the proposals; returns the proposals and
/// the flows `eval` says each rule set aside.
fn explore_then_audit(inputs: &[String], model: &str) -> (serde_json::Value, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("explore");
    let audit = dir.path().join("audit.json");
    let (o, a) = (out.display().to_string(), audit.display().to_string());
    let mut args = vec!["explore", "--out", &o, "--suggest-audit", &a];
    args.extend(inputs.iter().map(String::as_str));
    ok(&args);
    for file in ["explore.json", "explore.md", "explore.html"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let exploration: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("explore.json")).unwrap()).unwrap();
    let proposals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&audit).unwrap()).unwrap();
    let m = dir.path().join("m.json").display().to_string();
    let mut train = vec!["train", "--model", model, "--out", &m, "--label-audit", &a];
    train.extend(inputs.iter().map(String::as_str));
    ok(&train);
    let mut eval = vec!["eval", "--model", &m, "--json", "--label-audit", &a];
    eval.extend(inputs.iter().map(String::as_str));
    let report: serde_json::Value = serde_json::from_str(&ok(&eval)).unwrap();
    let set_aside = report["label_audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["flows"].as_u64().unwrap())
        .collect();
    let found: Vec<u64> = exploration["checks"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["proposal"].is_null())
        .map(|f| f["flows"].as_u64().unwrap())
        .collect();
    assert_eq!(found, set_aside);
    (proposals, set_aside)
}

#[test]
fn suggested_audit_is_accepted_by_train_and_eval_unchanged() {
    let inputs = [
        fixture("zeek/explore_a.conn.log.labeled"),
        fixture("zeek/explore_b.conn.log.labeled"),
    ];
    let (proposals, set_aside) = explore_then_audit(&inputs, "logreg");
    assert_eq!(set_aside, [150, 120, 12, 3]);
    assert_eq!(proposals["rules"][0]["resp_p"], json!(23));
    assert_eq!(proposals["rules"][0]["conn_state"], json!("S0"));
}

#[test]
fn suggested_audit_on_the_shared_data_sets_aside_the_known_errors() {
    let Some(dir) = iotguard_testkit::shared_data("explore --suggest-audit") else {
        return;
    };
    let inputs = [
        dir.join("iot23/iot23-pool-dev.conn.log.labeled"),
        dir.join("iot23/CTU-IoT-Malware-Capture-42-1.conn.log.labeled"),
    ]
    .map(|p| p.display().to_string());
    let (proposals, set_aside) = explore_then_audit(&inputs, "logreg");
    assert_eq!(set_aside, [19_967, 1_947]);
    assert_eq!(proposals["rules"][1]["orig_h"], json!("192.168.1.197"));
}
