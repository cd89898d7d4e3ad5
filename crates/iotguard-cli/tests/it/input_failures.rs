//! Inputs that cannot be read to their end: a corrupt Parquet file, a truncated gzip, a refused
//! zstd window, a stray line before a Zeek header, absurd pacing factors. Nothing read may be
//! lost in silence: the other inputs are read, and the exit code says an input failed.

use std::io::Write;
use std::path::Path;

use super::{iotguard, ok};

fn fixture_text() -> String {
    std::fs::read_to_string(iotguard_testkit::testdata("zeek/conn_small.log")).unwrap()
}

/// `inspect --json` on `paths`: (exit code, JSON).
fn inspect(paths: &[&Path]) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["inspect".to_string(), "--json".to_string()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = iotguard(&args, None);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "inspect {args:?} gave no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

/// A folder of a.log (3 flows), bad.parquet (a fixture the `parquet` crate panics on: in its
/// footer, or in its rows) and c.log (3 flows).
fn folder_with_a_corrupt_parquet_file(fixture: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.log"), fixture_text()).unwrap();
    std::fs::copy(
        iotguard_testkit::testdata(fixture),
        dir.path().join("bad.parquet"),
    )
    .unwrap();
    std::fs::write(dir.path().join("c.log"), fixture_text()).unwrap();
    dir
}

/// Corrupt files and the error each input fails with: the `parquet` crate 60.1 refuses the first
/// (57.3 panicked on it, and the reader turns a panic into an error); it panics on the second.
const CORRUPT: [(&str, &str); 2] = [
    (
        "parquet/corrupt_footer.parquet",
        "Parquet error: Unexpected struct field type List",
    ),
    (
        "parquet/corrupt_column_chunk.parquet",
        "corrupt Parquet file, the Parquet library failed on it",
    ),
];

#[test]
fn a_corrupt_parquet_file_fails_its_input_and_the_others_are_read() {
    for (fixture, error) in CORRUPT {
        let dir = folder_with_a_corrupt_parquet_file(fixture);
        let (code, v) = inspect(&[dir.path()]);
        assert_eq!(code, Some(2), "{fixture}");
        assert_eq!(v["records"], 6, "{fixture}");
        let failed = v["failed_inputs"].as_array().unwrap();
        assert_eq!(failed.len(), 1, "{fixture}: {v}");
        assert_eq!(
            failed[0]["input"],
            dir.path().join("bad.parquet").display().to_string()
        );
        assert!(
            failed[0]["error"].as_str().unwrap().contains(error),
            "{fixture}: {v}"
        );
    }
    // The file the fixtures were made from reads.
    let good = iotguard_testkit::testdata("parquet/conn_small.parquet");
    let (code, v) = inspect(&[&good]);
    assert_eq!((code, v["records"].as_u64()), (Some(0), Some(3)));
}

#[test]
fn detect_on_a_folder_with_a_corrupt_parquet_file_scores_the_others_and_exits_2() {
    let work = tempfile::tempdir().unwrap();
    let capture = super::simulated(work.path(), 3, 3000);
    let model = work.path().join("model.json").display().to_string();
    ok(&["train", "--model", "logreg", "--out", &model, &capture]);
    for (fixture, _) in CORRUPT {
        let dir = folder_with_a_corrupt_parquet_file(fixture);
        let out = iotguard(
            &[
                "detect",
                "--model",
                &model,
                "--no-alerts-db",
                "--json",
                &dir.path().display().to_string(),
            ],
            None,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{fixture}: {err}");
        assert!(
            err.contains("cannot read") && err.contains("bad.parquet"),
            "{fixture}: {err}"
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["report"]["flows"], 6, "{fixture}");
    }
    // A truncated gzip: the flows before the cut are scored, and the exit code says the rest
    // was not read (it was 0).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(fixture_text().repeat(2000).as_bytes())
        .unwrap();
    let gz = gz.finish().unwrap();
    let cut = work.path().join("cut.log.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let out = iotguard(
        &[
            "detect",
            "--model",
            &model,
            "--no-alerts-db",
            "--json",
            &cut.display().to_string(),
        ],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot read") && err.contains("incomplete deflate stream"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let flows = v["report"]["flows"].as_u64().unwrap();
    assert!(flows > 0 && flows < 6000, "{flows}");
}

#[test]
fn a_truncated_gzip_exits_2_after_the_flows_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let text = fixture_text().repeat(2000);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let cut = dir.path().join("cut.log.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let (code, v) = inspect(&[&cut]);
    assert_eq!(code, Some(2), "{v}");
    assert_eq!(v["failed_inputs"].as_array().unwrap().len(), 1, "{v}");
    let records = v["records"].as_u64().unwrap();
    assert!(records > 0 && records < 6000, "{records}");
    // The whole file reads with exit 0.
    let whole = dir.path().join("whole.log.gz");
    std::fs::write(&whole, &gz).unwrap();
    let (code, v) = inspect(&[&whole]);
    assert_eq!((code, v["records"].as_u64()), (Some(0), Some(6000)));
}

#[test]
fn a_zstd_frame_over_the_window_limit_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let text = fixture_text();
    // A frame announcing a 1 GiB window (long-distance matching), over the decoder's default
    // 128 MiB limit.
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    enc.window_log(30).unwrap();
    enc.long_distance_matching(true).unwrap();
    enc.write_all(text.repeat(100).as_bytes()).unwrap();
    let zst = enc.finish().unwrap();
    let path = dir.path().join("wide.log.zst");
    std::fs::write(&path, zst).unwrap();
    let path = path.display().to_string();
    // Refused when the format is detected (the first read), and when it is named (the refusal
    // then comes as the reader's io error: it exited 0 before).
    for args in [
        vec!["inspect", "--json", path.as_str()],
        vec!["inspect", "--json", "--format", "zeek-tsv", path.as_str()],
    ] {
        let out = iotguard(&args, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("Frame requires too much memory for decoding"),
            "{err}"
        );
    }
}

#[test]
fn a_stray_line_before_the_zeek_header_is_rejected_and_the_file_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.log"), fixture_text()).unwrap();
    std::fs::write(
        dir.path().join("b.log"),
        format!("half a line from before\n{}", fixture_text()),
    )
    .unwrap();
    let (code, v) = inspect(&[dir.path()]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["records"], 6);
    assert_eq!(v["bad_records"], 1);
    assert_eq!(v["skipped_inputs"], serde_json::json!([]), "{v}");
}

#[test]
fn pacing_factors_out_of_range_are_refused_when_parsed() {
    for (flag, value) in [
        ("--rate", "1e-300"),
        ("--rate", "0"),
        ("--rate", "NaN"),
        ("--rate", "inf"),
        ("--speedup", "1e-300"),
        ("--speedup", "-1"),
        ("--speedup", "1e300"),
    ] {
        // `--flag=value`, so that `-1` is not taken for a flag.
        let arg = format!("{flag}={value}");
        let out = iotguard(&["detect", "--model", "m.json", &arg, "x.log"], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(&format!("invalid value '{value}' for '{flag}")),
            "{flag} {value}: {err}"
        );
    }
}
