//! `iotguard simulate`: deterministic, labeled like IoT-23, readable by `inspect`.

use serde_json::json;

use crate::{iotguard, ok};

#[test]
fn same_seed_same_bytes_and_inspect_reports_the_labels() {
    let a = ok(&["simulate", "--seed", "3", "--flows", "20000"]);
    let b = ok(&[
        "simulate",
        "--seed",
        "3",
        "--flows",
        "20000",
        "--threads",
        "3",
    ]);
    assert_eq!(a, b, "same seed, different thread count: same output");
    let c = ok(&["simulate", "--seed", "4", "--flows", "20000"]);
    assert_ne!(a, c);

    let out = iotguard(&["inspect", "--json", "-"], Some(a.as_bytes()));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["records"], json!(20_000));
    assert_eq!(v["bad_records"], json!(0));
    let benign = v["labels"]["benign"].as_u64().unwrap();
    let malicious = v["labels"]["malicious"].as_u64().unwrap();
    assert_eq!(benign + malicious, 20_000);
    assert!(malicious > 0 && benign > malicious, "{v}");
    // Every malicious flow carries an IoT-23 detailed label.
    let detailed: u64 = v["detailed_labels"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(detailed, malicious);
}

#[test]
fn json_output_reads_back_the_same_flows() {
    let tsv = ok(&["simulate", "--seed", "9", "--flows", "5000"]);
    let json = ok(&[
        "simulate",
        "--seed",
        "9",
        "--flows",
        "5000",
        "--format",
        "zeek-json",
    ]);
    let a: serde_json::Value =
        serde_json::from_slice(&iotguard(&["inspect", "--json", "-"], Some(tsv.as_bytes())).stdout)
            .unwrap();
    let b: serde_json::Value = serde_json::from_slice(
        &iotguard(&["inspect", "--json", "-"], Some(json.as_bytes())).stdout,
    )
    .unwrap();
    for key in [
        "records",
        "labels",
        "detailed_labels",
        "time_range",
        "conn_states",
        "services",
    ] {
        assert_eq!(a[key], b[key], "{key}");
    }
}

#[test]
fn zero_attack_intensity_gives_a_clean_network() {
    let out = ok(&["simulate", "--flows", "5000", "--attack-intensity", "0"]);
    let v: serde_json::Value =
        serde_json::from_slice(&iotguard(&["inspect", "--json", "-"], Some(out.as_bytes())).stdout)
            .unwrap();
    assert_eq!(v["labels"], json!({"benign": 5000}));
}

#[test]
fn the_drift_scenario_changes_the_network_at_the_given_flow() {
    let out = iotguard(
        &[
            "simulate",
            "--seed",
            "3",
            "--flows",
            "15000",
            "--scenario",
            "drift",
            "--change-at",
            "5000",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let flows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(flows.len(), 15_000);
    // The new device types' segment appears only after the change.
    assert!(!flows[..5_000].iter().any(|l| l.contains("\t192.168.77.")));
    assert!(flows[5_000..].iter().any(|l| l.contains("\t192.168.77.")));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the network changes at flow 5000"));
    // --change-at needs a scenario.
    let refused = iotguard(&["simulate", "--change-at", "5"], None);
    assert!(!refused.status.success());
}
