//! `iotguard convert`: every target reads back to the same records (Parquet included, read
//! back as an input like any other format).

use crate::{inspect_json, ok};

#[test]
fn tsv_json_parquet_round_trip_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = [
        iotguard_testkit::testdata("zeek/conn_small.log"),
        iotguard_testkit::testdata("ton-iot/ton_iot_network.csv"),
    ];
    for fixture in &fixtures {
        let want = inspect_json(&[fixture]);
        let json = dir.path().join("flows.json");
        let tsv = dir.path().join("flows.log");
        let parquet = dir.path().join("flows.parquet");
        let (f, j, t, p) = (
            fixture.display().to_string(),
            json.display().to_string(),
            tsv.display().to_string(),
            parquet.display().to_string(),
        );
        ok(&["convert", &f, "--to", "zeek-json", "--out", &j]);
        ok(&["convert", &j, "--to", "zeek-tsv", "--out", &t]);
        ok(&["convert", &t, "--to", "parquet", "--out", &p]);
        for path in [&json, &tsv, &parquet] {
            let got = inspect_json(&[path]);
            for key in [
                "records",
                "bad_records",
                "labels",
                "detailed_labels",
                "time_range",
                "protocols",
                "services",
                "conn_states",
                "top_orig_hosts",
            ] {
                assert_eq!(
                    got[key],
                    want[key],
                    "{key} after converting {} to {}",
                    fixture.display(),
                    path.display()
                );
            }
        }
    }
}

#[test]
fn parquet_needs_an_output_file() {
    let fixture = iotguard_testkit::testdata("zeek/conn_small.log");
    let out = crate::iotguard(
        &["convert", &fixture.display().to_string(), "--to", "parquet"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out"));
}

/// No output format keeps a dataset's own columns or the mark of a record without a time:
/// `convert` says how many records lost them.
#[test]
fn dropping_native_columns_and_the_untimed_mark_is_said() {
    let dir = tempfile::tempdir().unwrap();
    for (fixture, family) in [
        ("ton-iot/ton_iot_train_test.csv", "ton-iot"),
        ("unsw-nb15/unsw_nb15_partition.csv", "unsw-nb15"),
    ] {
        let input = iotguard_testkit::testdata(fixture).display().to_string();
        let records = inspect_json(&[&iotguard_testkit::testdata(fixture)])["records"].clone();
        let out_path = dir.path().join("out.log").display().to_string();
        let out = crate::iotguard(
            &["convert", &input, "--to", "zeek-tsv", "--out", &out_path],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{fixture}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "{records} records carried the {family} native columns, which the output does \
                 not keep"
            )),
            "{fixture}: {stderr}"
        );
        // TON_IoT's train_test file has no time column; UNSW-NB15's partitions neither.
        assert!(
            stderr.contains(&format!(
                "{records} records have no time (their input has no time column)"
            )),
            "{fixture}: {stderr}"
        );
    }
    // Parquet keeps both: no such line, and the records read back equal, native values and
    // the untimed mark included.
    let ton = iotguard_testkit::testdata("ton-iot/ton_iot_train_test.csv");
    let parquet = dir.path().join("ton.parquet").display().to_string();
    let out = crate::iotguard(
        &[
            "convert",
            &ton.display().to_string(),
            "--to",
            "parquet",
            "--out",
            &parquet,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("native columns") && !stderr.contains("records have no time"),
        "{stderr}"
    );
    let want: Vec<iotguard_flow::FlowRecord> = iotguard_flow::FlowReader::open(
        ton.display().to_string(),
        std::fs::File::open(&ton).unwrap(),
        &iotguard_flow::ReadOptions::default(),
    )
    .unwrap()
    .map(Result::unwrap)
    .collect();
    let got: Vec<iotguard_flow::FlowRecord> =
        iotguard_runtime::parquet::read_parquet_flows(std::fs::File::open(&parquet).unwrap())
            .unwrap()
            .map(Result::unwrap)
            .collect();
    assert_eq!(want.len(), 6);
    assert!(want.iter().all(|r| r.untimed && r.native.is_some()));
    assert_eq!(got, want);
    // A Zeek log has none: no such line.
    let zeek = iotguard_testkit::testdata("zeek/conn_small.log")
        .display()
        .to_string();
    let out = crate::iotguard(&["convert", &zeek, "--to", "zeek-json"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("native columns") && !stderr.contains("records have no time"));
}

#[test]
fn parquet_keeps_input_and_capture_and_reads_back_one_input_per_capture() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("all.parquet");
    let (tsv, json, labeled) = (
        iotguard_testkit::testdata("zeek/conn_small.log"),
        iotguard_testkit::testdata("zeek/conn_small.json"),
        iotguard_testkit::testdata("zeek/explore_a.conn.log.labeled"),
    );
    let args: Vec<String> = [&tsv, &json, &labeled]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let o = out.display().to_string();
    let run = crate::iotguard(
        &[
            "convert", &args[0], &args[1], &args[2], "--to", "parquet", "--out", &o,
        ],
        None,
    );
    assert_eq!(run.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&run.stderr);
    // conn_small.json holds the same 3 flows as conn_small.log: warned, with the count.
    assert!(
        stderr.contains(&format!(
            "warning: 3 flow(s) have the same uid and ts as a flow of an earlier input \
             (duplicates across inputs, all written): {} (3)",
            args[1]
        )),
        "{stderr}"
    );
    assert!(stderr.contains("converted 313 records (0 rejected) from 3 input(s)"));

    // The file's captures, in order of their first row.
    let captures = iotguard_runtime::parquet::captures_in(std::fs::File::open(&out).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(captures, ["conn_small", "explore_a"]);

    // Read back, each capture is an input of its own, as the originals were.
    let got = inspect_json(&[&out]);
    let inputs: Vec<(String, u64)> = got["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["input"].as_str().unwrap().replace(&o, "FILE"),
                i["records"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        inputs,
        [
            ("FILE#conn_small".to_string(), 6),
            ("FILE#explore_a".to_string(), 307)
        ]
    );
    let want = inspect_json(&[&labeled]);
    assert_eq!(got["inputs"][1]["labels"], want["labels"]);
    assert_eq!(got["inputs"][1]["detailed_labels"], want["detailed_labels"]);

    // One input converts without a duplicate warning, and reads back as one input.
    let single = dir.path().join("one.parquet");
    let s = single.display().to_string();
    let run = crate::iotguard(&["convert", &args[2], "--to", "parquet", "--out", &s], None);
    assert!(!String::from_utf8_lossy(&run.stderr).contains("duplicates"));
    assert_eq!(inspect_json(&[&single])["inputs"][0]["input"], s.as_str());
}
