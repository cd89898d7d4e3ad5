//! The seeds' own datasets as published (BoT-IoT, TON_IoT): `inspect` reads every row of the
//! real files with exact counts (skipped, visibly, where ../shared/seed-datasets is absent), and
//! every published layout from the hand-written fixtures under `testdata/`.

use serde_json::json;

use crate::{inspect_json, iotguard, ok};

#[test]
fn bot_iot_data_exfiltration_export_reads_every_row() {
    let Some(dir) = iotguard_testkit::seed_datasets("inspect seed bot-iot") else {
        return;
    };
    let v = inspect_json(&[&dir.join("bot-iot")]);
    assert_eq!(v["records"], json!(142));
    assert_eq!(v["bad_records"], json!(0));
    assert_eq!(v["labels"], json!({"benign": 24, "malicious": 118}));
    assert_eq!(v["detailed_labels"], json!({"Theft": 118}));
    assert_eq!(v["untimed_records"], json!(0));
    assert_eq!(v["inputs"][0]["formats"], json!(["bot-iot"]));
    assert_eq!(v["protocols"], json!({"arp": 10, "tcp": 121, "udp": 11}));
}

#[test]
fn ton_iot_train_test_file_reads_every_row_and_says_once_it_has_no_time() {
    let Some(dir) = iotguard_testkit::seed_datasets("inspect seed ton-iot") else {
        return;
    };
    let path = dir.join("ton-iot").display().to_string();
    let out = iotguard(&["inspect", "--json", &path], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["records"], json!(211_043));
    assert_eq!(v["bad_records"], json!(0));
    assert_eq!(v["labels"], json!({"benign": 50_000, "malicious": 161_043}));
    let each = 20_000;
    assert_eq!(
        v["detailed_labels"],
        json!({"backdoor": each, "ddos": each, "dos": each, "injection": each, "mitm": 1_043,
               "password": each, "ransomware": each, "scanning": each, "xss": each})
    );
    assert_eq!(v["untimed_records"], json!(211_043));
    assert_eq!(v["time_range"], json!(null));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("no time column").count(), 1, "{stderr}");
    assert!(
        stderr.contains("train_test_network.csv.gz: no time column; records kept in file order, per-host window features unavailable (missing)"),
        "{stderr}"
    );
    assert_eq!(v["notes"].as_array().unwrap().len(), 1);
}

/// `inspect --json` of one fixture: records, bad records, labels, detailed labels, untimed.
fn counts(rel: &str, extra: &[&str]) -> serde_json::Value {
    let path = iotguard_testkit::testdata(rel).display().to_string();
    let mut args = vec!["inspect", "--json"];
    args.extend_from_slice(extra);
    args.push(&path);
    let v: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    json!([
        v["records"],
        v["bad_records"],
        v["labels"],
        v["detailed_labels"],
        v["untimed_records"]
    ])
}

#[test]
fn every_published_layout_reads_from_its_fixture_with_exact_counts() {
    let cases = [
        (
            "bot-iot/bot_iot_scenario_export.csv",
            json!([5, 0, {"benign": 2, "malicious": 3}, {"Theft": 3}, 0]),
        ),
        (
            "bot-iot/bot_iot_5pc.csv",
            json!([4, 0, {"benign": 1, "malicious": 3}, {"DDoS": 1, "DoS": 1, "Reconnaissance": 1}, 0]),
        ),
        (
            "bot-iot/bot_iot_10_best.csv",
            json!([5, 0, {"benign": 1, "malicious": 4}, {"DDoS": 1, "DoS": 2, "Reconnaissance": 1}, 5]),
        ),
        (
            "bot-iot/bot_iot_full_no_header.csv",
            json!([3, 0, {"benign": 1, "malicious": 2}, {"DDoS": 2}, 0]),
        ),
        (
            "ton-iot/ton_iot_train_test.csv",
            json!([6, 0, {"benign": 2, "malicious": 4}, {"backdoor": 2, "mitm": 1, "xss": 1}, 6]),
        ),
        (
            "ton-iot/ton_iot_network.csv",
            json!([4, 0, {"benign": 2, "malicious": 2}, {"scanning": 1, "xss": 1}, 0]),
        ),
    ];
    for (rel, want) in cases {
        assert_eq!(counts(rel, &[]), want, "{rel}");
    }
    // The header-less full files read with the feature-names file give the same records.
    let names = iotguard_testkit::testdata("bot-iot/bot_iot_feature_names.csv");
    assert_eq!(
        counts(
            "bot-iot/bot_iot_full_no_header.csv",
            &["--header-from", &names.display().to_string()]
        ),
        json!([3, 0, {"benign": 1, "malicious": 2}, {"DDoS": 2}, 0])
    );
}

#[test]
fn a_time_ordered_split_refuses_an_input_without_time() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = iotguard_testkit::testdata("ton-iot/ton_iot_train_test.csv");
    let out = iotguard(
        &[
            "compare",
            "--split",
            "time",
            "--out",
            &dir.path().display().to_string(),
            &fixture.display().to_string(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a time-ordered split needs a time on every row; 6 rows come from inputs with no time column"),
        "{stderr}"
    );
}

#[test]
fn native_features_are_chosen_for_inputs_that_carry_them_and_recorded_in_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.json").display().to_string();
    let train_test = iotguard_testkit::testdata("ton-iot/ton_iot_train_test.csv");
    let network = iotguard_testkit::testdata("ton-iot/ton_iot_network.csv");
    let out = iotguard(
        &[
            "train",
            "--model",
            "tree",
            "--out",
            &model,
            &train_test.display().to_string(),
            &network.display().to_string(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("features: the common set plus the ton-iot native columns"),
        "{stderr}"
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(file["features"]["config"]["native"], json!("ton-iot"));
    // A model of native features refuses an input without those columns, naming them.
    let zeek = iotguard_testkit::testdata("zeek/conn_small.log");
    let out = iotguard(
        &["eval", "--model", &model, &zeek.display().to_string()],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("conn_small.log: the ton-iot native features need the input columns dns_qclass, dns_qtype"),
        "{stderr}"
    );
    // detect refuses it too, before scoring, naming every missing column; an input with them
    // is scored.
    let out = iotguard(
        &[
            "detect",
            "--no-alerts-db",
            "--model",
            &model,
            &zeek.display().to_string(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("conn_small.log: the model needs the ton-iot native columns, and this input lacks 20: dns_qclass, dns_qtype, dns_rcode, dns_aa, dns_rd, dns_ra, dns_rejected, ssl_version, ssl_cipher, ssl_resumed, ssl_established, http_trans_depth, http_method, http_request_body_len, http_response_body_len, http_status_code, http_orig_mime_types, http_resp_mime_types, weird_name, weird_notice (score it with a model trained with --features default)"),
        "{stderr}"
    );
    let out = iotguard(
        &[
            "detect",
            "--no-alerts-db",
            "--model",
            &model,
            &train_test.display().to_string(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // --features default trains without them; --features native on Zeek input is refused.
    let out = iotguard(
        &[
            "train",
            "--features",
            "default",
            "--model",
            "tree",
            "--out",
            &model,
            &train_test.display().to_string(),
            &network.display().to_string(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(file["features"]["config"].get("native"), None);
    let out = iotguard(
        &[
            "train",
            "--features",
            "native",
            "--out",
            &model,
            &zeek.display().to_string(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--features native: the inputs do not all carry"));
}
