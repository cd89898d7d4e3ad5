//! Every file in `../shared/data` reads with the exact row and label counts of its README and no
//! bad records. Skips (with a visible line) where the folder is absent.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use iotguard_flow::{FlowReader, FlowRecord, Format, LabelClass, ReadOptions};

/// What a file gave: records, bad records, class counts, malicious detailed-label counts.
#[derive(Debug, PartialEq)]
struct Summary {
    format: Format,
    records: usize,
    bad: usize,
    classes: BTreeMap<&'static str, usize>,
    malicious_detailed: BTreeMap<String, usize>,
}

fn read(path: &Path) -> (Summary, Vec<FlowRecord>) {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader =
        FlowReader::open(path.display().to_string(), file, &ReadOptions::default()).unwrap();
    let format = reader.format();
    let mut s = Summary {
        format,
        records: 0,
        bad: 0,
        classes: BTreeMap::new(),
        malicious_detailed: BTreeMap::new(),
    };
    let mut records = Vec::new();
    for item in reader {
        match item {
            Ok(rec) => {
                s.records += 1;
                let class = rec.label.as_ref().map_or("unlabeled", |l| l.class.as_str());
                *s.classes.entry(class).or_default() += 1;
                if let Some(l) = rec
                    .label
                    .as_ref()
                    .filter(|l| l.class == LabelClass::Malicious)
                {
                    let d = l.detailed.as_deref().unwrap_or("-").to_string();
                    *s.malicious_detailed.entry(d).or_default() += 1;
                }
                records.push(rec);
            }
            Err(e) => {
                if s.bad < 5 {
                    eprintln!("{e}");
                }
                s.bad += 1;
            }
        }
    }
    (s, records)
}

fn check(
    rel: &str,
    format: Format,
    records: usize,
    classes: &[(&'static str, usize)],
    detailed: &[(&str, usize)],
) {
    let Some(dir) = iotguard_testkit::shared_data(rel) else {
        return;
    };
    let (got, _) = read(&dir.join(rel));
    let want = Summary {
        format,
        records,
        bad: 0,
        classes: classes.iter().copied().collect(),
        malicious_detailed: detailed.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
    };
    assert_eq!(got, want, "{rel}");
}

#[test]
fn iot23_34_1_tsv() {
    check(
        "iot23/CTU-IoT-Malware-Capture-34-1.conn.log.labeled",
        Format::ZeekTsv,
        23_145,
        &[("benign", 1_923), ("malicious", 21_222)],
        &[
            ("DDoS", 14_394),
            ("C&C", 6_706),
            ("PartOfAHorizontalPortScan", 122),
        ],
    );
}

#[test]
fn iot23_34_1_csv() {
    check(
        "iot23/CTU-IoT-Malware-Capture-34-1.csv",
        Format::ZeekCsv,
        23_145,
        &[("benign", 1_923), ("malicious", 21_222)],
        &[
            ("DDoS", 14_394),
            ("C&C", 6_706),
            ("PartOfAHorizontalPortScan", 122),
        ],
    );
}

#[test]
fn iot23_34_1_csv_and_tsv_give_identical_records() {
    let Some(dir) = iotguard_testkit::shared_data("csv_and_tsv_identical") else {
        return;
    };
    let (_, tsv) = read(&dir.join("iot23/CTU-IoT-Malware-Capture-34-1.conn.log.labeled"));
    let (_, csv) = read(&dir.join("iot23/CTU-IoT-Malware-Capture-34-1.csv"));
    assert_eq!(tsv.len(), 23_145);
    assert_eq!(tsv.len(), csv.len());
    for (i, (a, b)) in tsv.iter().zip(&csv).enumerate() {
        assert_eq!(a, b, "record {i} differs");
    }
}

#[test]
fn iot23_42_1() {
    check(
        "iot23/CTU-IoT-Malware-Capture-42-1.conn.log.labeled",
        Format::ZeekTsv,
        4_426,
        &[("benign", 4_420), ("malicious", 6)],
        &[("FileDownload", 3), ("C&C-FileDownload", 3)],
    );
}

#[test]
fn iot23_honeypot_4_1_lower_case_labels_and_stray_close_suffix() {
    check(
        "iot23/CTU-Honeypot-Capture-4-1.conn.log.labeled",
        Format::ZeekTsv,
        452,
        &[("benign", 452)],
        &[],
    );
}

#[test]
fn iot23_honeypot_5_1() {
    check(
        "iot23/CTU-Honeypot-Capture-5-1.conn.log.labeled",
        Format::ZeekTsv,
        1_374,
        &[("benign", 1_374)],
        &[],
    );
}

#[test]
fn iot23_8_1() {
    check(
        "iot23/CTU-IoT-Malware-Capture-8-1.conn.log.labeled",
        Format::ZeekTsv,
        10_403,
        &[("benign", 2_181), ("malicious", 8_222)],
        &[("C&C", 8_222)],
    );
}

#[test]
fn iot23_44_1() {
    check(
        "iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled",
        Format::ZeekTsv,
        237,
        &[("benign", 211), ("malicious", 26)],
        &[("C&C", 14), ("C&C-FileDownload", 11), ("DDoS", 1)],
    );
}

#[test]
fn iot23_pool_dev() {
    check(
        "iot23/iot23-pool-dev.conn.log.labeled",
        Format::ZeekTsv,
        26_930,
        &[("benign", 19_998), ("malicious", 6_932)],
        &[
            ("C&C", 3_179),
            ("Attack", 1_925),
            ("DDoS", 1_435),
            ("Okiru", 379),
            ("C&C-FileDownload", 14),
        ],
    );
}

#[test]
fn stratosphere_normal_40_separate_label_columns() {
    check(
        "stratosphere/CTU-Normal-40-day1.conn.log.labeled",
        Format::ZeekTsv,
        5_663,
        &[("benign", 1_402), ("malicious", 4_201), ("other", 60)],
        &[("External-Attack-to-Device", 4_201)],
    );
}

#[test]
fn stratosphere_botnet_230_relative_times_and_ipv6() {
    check(
        "stratosphere/CTU-Malware-Capture-Botnet-230-1-first1000.conn.log.labeled",
        Format::ZeekTsv,
        992,
        &[("benign", 9), ("malicious", 244), ("other", 739)],
        &[("CC", 244)],
    );
}

#[test]
fn stratosphere_nmap_json() {
    check(
        "stratosphere/nmap-port-scanning.conn.json.log",
        Format::ZeekJson,
        4_504,
        &[("unlabeled", 4_504)],
        &[],
    );
}

/// The data README calls this file unlabeled, but every line carries a `label` key
/// (`benign`/`malicious`); the reader reports what the file says.
#[test]
fn stratosphere_mixed_json() {
    check(
        "stratosphere/unlabeled-mixed.conn.json.log",
        Format::ZeekJson,
        3_231,
        &[("benign", 1_615), ("malicious", 1_616)],
        &[("-", 1_616)],
    );
}

#[test]
fn argus_test5_tab_separated_with_management_record() {
    check(
        "argus/test5-mixed.binetflow",
        Format::Argus,
        300,
        &[("malicious", 277), ("other", 22), ("unlabeled", 1)],
        &[("Malware-UDP-DNS", 197), ("Malware-TCP", 80)],
    );
}

#[test]
fn argus_test2_comma_separated() {
    check(
        "argus/test2-malicious.unlabeled.binetflow",
        Format::Argus,
        6_751,
        &[("unlabeled", 6_751)],
        &[],
    );
}

#[test]
fn unsw_nb15_sampled() {
    check(
        "unsw-nb15/unsw-nb15_1_sampled.csv",
        Format::UnswNb15,
        7_000,
        &[("benign", 6_796), ("malicious", 204)],
        &[("-", 204)],
    );
}
