//! `iotguard inspect`: exact counts on the real captures, folders, stdin, compression, rejects,
//! exit codes, and the human-readable report (golden file).

use std::io::Write;

use serde_json::json;

use crate::{inspect_json, iotguard, ok};

/// Every flow file in the shared data with its README row count.
const SHARED: &[(&str, u64)] = &[
    ("argus/test2-malicious.unlabeled.binetflow", 6_751),
    ("argus/test5-mixed.binetflow", 300),
    ("iot23/CTU-Honeypot-Capture-4-1.conn.log.labeled", 452),
    ("iot23/CTU-Honeypot-Capture-5-1.conn.log.labeled", 1_374),
    (
        "iot23/CTU-IoT-Malware-Capture-34-1.conn.log.labeled",
        23_145,
    ),
    ("iot23/CTU-IoT-Malware-Capture-34-1.csv", 23_145),
    ("iot23/CTU-IoT-Malware-Capture-42-1.conn.log.labeled", 4_426),
    ("iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled", 237),
    ("iot23/CTU-IoT-Malware-Capture-8-1.conn.log.labeled", 10_403),
    ("iot23/iot23-pool-dev.conn.log.labeled", 26_930),
    (
        "stratosphere/CTU-Malware-Capture-Botnet-230-1-first1000.conn.log.labeled",
        992,
    ),
    ("stratosphere/CTU-Normal-40-day1.conn.log.labeled", 5_663),
    ("stratosphere/nmap-port-scanning.conn.json.log", 4_504),
    ("stratosphere/unlabeled-mixed.conn.json.log", 3_231),
    ("unsw-nb15/unsw-nb15_1_sampled.csv", 7_000),
];

#[test]
fn the_whole_shared_data_folder_reads_with_exact_counts() {
    let Some(dir) = iotguard_testkit::shared_data("inspect whole folder") else {
        return;
    };
    // The folder holds a pcap too: skipped with a notice, not an error.
    let out = iotguard(&["inspect", "--json", &dir.display().to_string()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("CTU-IoT-Malware-Capture-42-1.pcap: skipped, a packet capture"),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // README.md, SHA256SUMS and the licence text are not flows.
    assert_eq!(
        v["skipped_inputs"].as_array().unwrap().len(),
        3,
        "{}",
        v["skipped_inputs"]
    );
    assert_eq!(v["failed_inputs"], json!([]));
    let total: u64 = SHARED.iter().map(|(_, n)| n).sum();
    assert_eq!(v["records"], json!(total));
    assert_eq!(v["bad_records"], json!(0));
    // Class counts summed from the data README's per-file label counts (34-1 counts twice: TSV
    // and CSV; the mixed JSON file carries benign/malicious labels; Argus test5 has one
    // unlabeled management record).
    let benign = 1_923 * 2 + 4_420 + 452 + 1_374 + 2_181 + 211 + 19_998 + 1_402 + 9 + 1_615 + 6_796;
    let malicious = 21_222 * 2 + 6 + 8_222 + 26 + 6_932 + 4_201 + 244 + 1_616 + 277 + 204;
    let other = 60 + 739 + 22;
    let unlabeled = 4_504 + 6_751 + 1;
    assert_eq!(
        v["labels"],
        json!({"benign": benign, "malicious": malicious, "other": other, "unlabeled": unlabeled})
    );
    assert_eq!(v["detailed_labels"]["DDoS"], json!(14_394 * 2 + 1_435 + 1));
    assert_eq!(
        v["detailed_labels"]["PartOfAHorizontalPortScan"],
        json!(122 * 2)
    );
    // Inputs come in path order, each with its own counts.
    let inputs = v["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), SHARED.len());
    for (input, (name, rows)) in inputs.iter().zip(SHARED) {
        assert!(input["input"].as_str().unwrap().ends_with(name), "{input}");
        assert_eq!(input["records"], json!(rows), "{name}");
        assert_eq!(input["bad_records"], json!(0), "{name}");
    }
}

#[test]
fn stdin_gzip_and_zstd_read_like_the_plain_file() {
    let fixture = iotguard_testkit::testdata("zeek/conn_small.log");
    let plain = std::fs::read(&fixture).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz_path = dir.path().join("conn.log.gz");
    std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
    let zst_path = dir.path().join("conn.log.zst");
    std::fs::write(&zst_path, zstd::encode_all(&plain[..], 3).unwrap()).unwrap();

    let want = inspect_json(&[&fixture]);
    for path in [&gz_path, &zst_path] {
        let got = inspect_json(&[path]);
        assert_eq!(got["records"], want["records"]);
        assert_eq!(got["labels"], want["labels"]);
        assert_eq!(got["time_range"], want["time_range"]);
    }
    let out = iotguard(&["inspect", "--json", "-"], Some(&plain));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["records"], json!(3));
    assert_eq!(got["inputs"][0]["input"], json!("-"));
}

#[test]
fn rejected_lines_are_reported_counted_and_kept_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(iotguard_testkit::testdata("zeek/conn_small.log")).unwrap();
    // Two bad lines after the header block (8 lines), at lines 10 and 12.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(
        9,
        "1577836801.0\tCbad\t10.0.0.5\tnot-a-port\t10.0.0.1\t53\tudp",
    );
    lines.insert(11, "\u{1}\u{2}garbage");
    let input = dir.path().join("conn.log");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let rejects = dir.path().join("rejects.txt");

    let out = iotguard(
        &[
            "inspect",
            "--json",
            "--rejects",
            &rejects.display().to_string(),
            &input.display().to_string(),
        ],
        None,
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["records"].clone(), v["bad_records"].clone()),
        (json!(3), json!(2))
    );
    assert_eq!(v["bad_by_kind"], json!({"field_count": 2}));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("rejected {}:10: ", input.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("rejected {}:12: ", input.display())),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&rejects).unwrap(),
        "1577836801.0\tCbad\t10.0.0.5\tnot-a-port\t10.0.0.1\t53\tudp\n\u{1}\u{2}garbage\n"
    );
}

#[test]
fn unreadable_inputs_exit_2_and_the_others_are_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("capture.bin");
    std::fs::write(&pcap, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]).unwrap();
    let fixture = iotguard_testkit::testdata("zeek/conn_small.log");
    let out = iotguard(
        &[
            "inspect",
            "--json",
            &pcap.display().to_string(),
            &fixture.display().to_string(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Read as a capture by its magic bytes, whatever its name, and refused for what it is.
    assert!(
        stderr.contains(
            "corrupt packet capture after 0 packets at byte 0: the file ends inside its header"
        ),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["records"], json!(3));
    assert_eq!(v["failed_inputs"].as_array().unwrap().len(), 1);

    let out = iotguard(&["inspect", "/no/such/file"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file"));
}

#[test]
fn the_readable_report_matches_its_golden_file() {
    // A relative path (the binary runs from the repository's root), so the report is the same
    // on every machine.
    let report = ok(&["inspect", "testdata/zeek/conn_small.log"]);
    iotguard_testkit::assert_golden("cli/inspect_conn_small.txt", &report);
}
