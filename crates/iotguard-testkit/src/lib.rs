//! Helpers shared by the tests of every crate: where fixtures and the shared captures are, and
//! golden-file comparison. Depends on no other project crate, so dev-dependencies form no cycles.

pub mod kafka;
pub mod s3;

use std::path::{Path, PathBuf};

/// Returns the repository's root folder.
pub fn repo_root() -> PathBuf {
    // This crate lives at crates/iotguard-testkit.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// Returns the path of a committed fixture under `testdata/`.
pub fn testdata(rel: &str) -> PathBuf {
    repo_root().join("testdata").join(rel)
}

/// Returns the folder of real captures (`IOTGUARD_DATA_DIR`, else `../shared/data` beside the
/// checkout), or `None` after printing a visible skip line when it is absent.
pub fn shared_data(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("IOTGUARD_DATA_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/data"));
    if dir.join("README.md").is_file() {
        Some(dir)
    } else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "SKIPPED {test}: no shared data at {} (set IOTGUARD_DATA_DIR)",
                dir.display()
            );
        }
        None
    }
}

/// Writes the whole records of the shared capture CTU-IoT-Malware-Capture-42-1.pcap into `dir`
/// and returns the file. Its last record is cut at byte 2,908,099 (45 of 91 bytes), and
/// tcpreplay and softflowd stop at a cut without sending or exporting anything.
pub fn whole_42_1(data: &Path, dir: &Path) -> PathBuf {
    let bytes = std::fs::read(data.join("iot23/CTU-IoT-Malware-Capture-42-1.pcap"))
        .expect("read the shared capture 42-1");
    assert_eq!(bytes.len(), 2_908_160, "the shared capture changed");
    let pcap = dir.join("42-1.pcap");
    std::fs::write(&pcap, &bytes[..2_908_099]).expect("write the capture's whole records");
    pcap
}

/// Returns the folder of the seeds' own datasets as published (BoT-IoT, TON_IoT):
/// `IOTGUARD_SEED_DATA_DIR`, else `seed-datasets` beside the shared data folder
/// (`IOTGUARD_DATA_DIR`'s parent, else `../shared` beside the checkout), or `None` after printing
/// a visible skip line when it is absent.
pub fn seed_datasets(test: &str) -> Option<PathBuf> {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = env("IOTGUARD_SEED_DATA_DIR").unwrap_or_else(|| {
        env("IOTGUARD_DATA_DIR")
            .and_then(|d| d.parent().map(|p| p.join("seed-datasets")))
            .unwrap_or_else(|| repo_root().join("../shared/seed-datasets"))
    });
    if dir.join("README.md").is_file() {
        Some(dir)
    } else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "SKIPPED {test}: no seed datasets at {} (set IOTGUARD_SEED_DATA_DIR)",
                dir.display()
            );
        }
        None
    }
}

/// Compares `actual` with the golden file `testdata/golden/<rel>`.
///
/// With `UPDATE_GOLDEN=1` the file is (re)written; a missing golden file is written and the test
/// fails once, so a new golden file is always looked at.
///
/// # Panics
///
/// Panics (fails the test) when the contents differ or the golden file was missing.
pub fn assert_golden(rel: &str, actual: &str) {
    let path = testdata("golden").join(rel);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    match std::fs::read_to_string(&path) {
        Ok(expected) if !update => {
            if expected != actual {
                panic!(
                    "golden file {} differs (UPDATE_GOLDEN=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
                    path.display()
                );
            }
        }
        existing => {
            std::fs::create_dir_all(path.parent().expect("golden parent"))
                .expect("create golden dir");
            std::fs::write(&path, actual).expect("write golden file");
            if existing.is_err() {
                panic!(
                    "golden file {} was missing and has been written; check it and rerun",
                    path.display()
                );
            }
        }
    }
}
