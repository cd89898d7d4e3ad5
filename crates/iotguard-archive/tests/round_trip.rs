//! The archive round trip: flows written with scores read back exactly, files appear only when
//! complete, a killed writer's temporary file is removed, retention drops old days.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use iotguard_archive::{read_archive, ArchiveConfig, ArchiveRow, ArchiveWriter, ReadCounts};
use iotguard_flow::{FlowRecord, Protocol, Timestamp};
use iotguard_runtime::parquet::read_parquet_flows;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const HOUR: i64 = 3_600_000_000_000;
/// 2019-01-10T00:00:00Z
const DAY0: i64 = 1_547_078_400_000_000_000;

fn flow(i: u64, ts: i64) -> FlowRecord {
    FlowRecord {
        ts: Timestamp(ts),
        uid: Some(format!("C{i}").into()),
        proto: Protocol::Tcp,
        orig_h: Some("192.168.1.2".parse().unwrap()),
        orig_bytes: Some(i),
        ..FlowRecord::default()
    }
}

fn row(i: u64) -> ArchiveRow<'static> {
    ArchiveRow {
        score: i as f32 / 1000.0,
        threshold: 0.5,
        is_alert: i % 1000 >= 500,
        alert_id: (i % 1000 >= 500).then_some("incident-1"),
        model_id: "00000000deadbeef",
        model_version: "2026-01-01T00:00:00Z",
        shadow_score: (i % 3 == 0).then_some(i as f32 / 2000.0),
    }
}

/// Every file under `root`, relative, sorted.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn visible(root: &Path) -> Vec<PathBuf> {
    files(root)
        .into_iter()
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

#[test]
fn flows_round_trip_with_scores_across_hour_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ArchiveConfig::new(dir.path());
    config.batch_rows = 1000;
    let mut w = ArchiveWriter::open(config).unwrap();
    // 3 hours, 10_000 flows each.
    for i in 0..30_000u64 {
        let ts = DAY0 + (i as i64 / 10_000) * HOUR + i as i64;
        w.append(&flow(i, ts), &row(i)).unwrap();
    }
    let counts = w.finish().unwrap();
    assert_eq!(counts.flows_archived, 30_000);
    assert_eq!(counts.flows_failed, 0);
    assert_eq!(counts.files, 3);
    let found = visible(dir.path());
    assert_eq!(found.len(), 3);
    assert_eq!(files(dir.path()).len(), 3, "no temporary file left");
    for (k, p) in found.iter().enumerate() {
        assert!(
            p.starts_with(format!("date=2019-01-10/hour={k:02}")),
            "{}",
            p.display()
        );
    }
    // Through the flow reader (what inspect/train read): records identical, in order.
    let mut n = 0u64;
    for p in &found {
        for rec in read_parquet_flows(File::open(dir.path().join(p)).unwrap()).unwrap() {
            let rec = rec.unwrap();
            assert_eq!(rec.orig_bytes, Some(n));
            n += 1;
        }
    }
    assert_eq!(n, 30_000);
    // The score columns, read as plain Parquet.
    let mut scores = Vec::new();
    let mut alerts = 0;
    for p in &found {
        let file = File::open(dir.path().join(p)).unwrap();
        for batch in ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
        {
            let batch = batch.unwrap();
            let s = batch.column_by_name("score").unwrap();
            scores.extend(s.as_primitive::<Float32Type>().values().iter().copied());
            alerts += batch
                .column_by_name("alert_id")
                .unwrap()
                .as_string::<i32>()
                .iter()
                .flatten()
                .count();
        }
    }
    assert_eq!(scores.len(), 30_000);
    assert_eq!(scores[1234], 1234.0 / 1000.0);
    assert_eq!(alerts, 15_000);
}

/// `read_archive` gives every flow back once with its score, alert id and model, ordered by
/// flow time even when written out of order across hours, and passes over an open file.
#[test]
fn the_archive_reads_back_in_time_order_with_alert_ids_and_models() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ArchiveConfig::new(dir.path());
    config.batch_rows = 100;
    let mut w = ArchiveWriter::open(config.clone()).unwrap();
    // Hour 1 first, then hour 0: the reader orders by time.
    for i in 0..3_000u64 {
        let ts = DAY0 + if i < 1_500 { HOUR } else { 0 } + i as i64;
        w.append(&flow(i, ts), &row(i)).unwrap();
    }
    w.finish().unwrap();
    // A second writer's file still open: not read.
    let mut open = ArchiveWriter::open(config).unwrap();
    for i in 0..10 {
        open.append(&flow(i, DAY0 + 2 * HOUR), &row(i)).unwrap();
    }
    let (flows, counts) = read_archive(dir.path()).unwrap();
    assert_eq!(
        counts,
        ReadCounts {
            files: 2,
            bad_rows: 0
        }
    );
    assert_eq!(flows.len(), 3_000);
    let order: Vec<u64> = flows.iter().map(|f| f.record.orig_bytes.unwrap()).collect();
    let expected: Vec<u64> = (1_500..3_000).chain(0..1_500).collect();
    assert_eq!(order, expected);
    let f = &flows[0]; // flow 1500
    assert_eq!(f.score, 1.5);
    assert_eq!(f.alert_id.as_deref(), Some("incident-1"));
    assert_eq!(
        (f.model_id.as_str(), f.model_version.as_str()),
        ("00000000deadbeef", "2026-01-01T00:00:00Z")
    );
    let alerted = flows.iter().filter(|f| f.alert_id.is_some()).count();
    assert_eq!(alerted, 1_500);
    assert_eq!(flows[500].alert_id, None); // flow 2000
    assert_eq!(flows[1_500].score, 0.0); // flow 0
                                         // The shadow's score where one ran (every third flow here), null elsewhere.
    assert_eq!(f.shadow_score, Some(0.75));
    assert_eq!(flows[1].shadow_score, None); // flow 1501
    let shadowed = flows.iter().filter(|f| f.shadow_score.is_some()).count();
    assert_eq!(shadowed, 1_000);
    drop(open);
}

#[test]
fn a_file_is_visible_only_when_complete_and_a_killed_writers_temp_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ArchiveConfig::new(dir.path());
    config.batch_rows = 100;
    let mut w = ArchiveWriter::open(config.clone()).unwrap();
    for i in 0..1000 {
        w.append(&flow(i, DAY0 + i as i64), &row(i)).unwrap();
    }
    // Rows are written (batches of 100) but the file is not finished: only the hidden
    // temporary file exists.
    assert_eq!(visible(dir.path()), Vec::<PathBuf>::new());
    let all = files(dir.path());
    assert_eq!(all.len(), 1);
    assert!(all[0].to_string_lossy().ends_with(".parquet.tmp"));
    // A killed process: the writer never finishes.
    std::mem::forget(w);
    let w2 = ArchiveWriter::open(config).unwrap();
    assert_eq!(w2.counts().stale_temp_removed, 1);
    assert_eq!(files(dir.path()), Vec::<PathBuf>::new());
    drop(w2);
}

#[test]
fn drop_finishes_the_open_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ArchiveWriter::open(ArchiveConfig::new(dir.path())).unwrap();
    for i in 0..10 {
        w.append(&flow(i, DAY0), &row(i)).unwrap();
    }
    drop(w);
    let found = visible(dir.path());
    assert_eq!(found.len(), 1);
    let n = read_parquet_flows(File::open(dir.path().join(&found[0])).unwrap())
        .unwrap()
        .count();
    assert_eq!(n, 10);
}

#[test]
fn files_roll_by_size_and_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ArchiveConfig::new(dir.path());
    config.batch_rows = 100;
    config.max_file_bytes = 1; // every batch fills a file
    let mut w = ArchiveWriter::open(config).unwrap();
    for i in 0..1000 {
        w.append(&flow(i, DAY0), &row(i)).unwrap();
    }
    assert_eq!(w.finish().unwrap().files, 10);
    assert_eq!(visible(dir.path()).len(), 10);

    let dir = tempfile::tempdir().unwrap();
    let mut config = ArchiveConfig::new(dir.path());
    config.max_file_age = Duration::ZERO;
    let mut w = ArchiveWriter::open(config).unwrap();
    w.append(&flow(0, DAY0), &row(0)).unwrap();
    w.roll_if_due().unwrap();
    assert_eq!(visible(dir.path()).len(), 1);
    assert_eq!(w.counts().flows_archived, 1);
}

#[test]
fn retention_removes_old_date_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ArchiveConfig::new(dir.path());
    config.retention_days = Some(2);
    let mut w = ArchiveWriter::open(config).unwrap();
    for day in 0..5i64 {
        w.append(&flow(0, DAY0 + day * 24 * HOUR), &row(0)).unwrap();
    }
    let counts = w.finish().unwrap();
    let days: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // Latest day 2019-01-14, keep 2 days back: 12, 13, 14.
    assert_eq!(
        days,
        ["date=2019-01-12", "date=2019-01-13", "date=2019-01-14"]
    );
    assert_eq!(counts.partitions_removed, 2);
}

#[test]
fn a_write_failure_is_counted_and_returned_and_the_next_flow_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("archive");
    let mut w = ArchiveWriter::open(ArchiveConfig::new(&root)).unwrap();
    // The partition folder's place is taken by a file: the file cannot be created.
    std::fs::create_dir_all(root.join("date=2019-01-10")).unwrap();
    std::fs::write(root.join("date=2019-01-10/hour=00"), b"x").unwrap();
    assert!(w.append(&flow(0, DAY0), &row(0)).is_err());
    assert_eq!(w.counts().flows_failed, 1);
    assert_eq!(w.counts().errors, 1);
    // Another hour works.
    w.append(&flow(1, DAY0 + HOUR), &row(1)).unwrap();
    let counts = w.finish().unwrap();
    assert_eq!((counts.flows_archived, counts.flows_failed), (1, 1));
}

#[test]
fn late_flows_of_the_previous_hour_do_not_fragment_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ArchiveWriter::open(ArchiveConfig::new(dir.path())).unwrap();
    // Around 01:00, flows of 00:59 (written when they ended) interleave with flows of 01:00.
    for i in 0..1000u64 {
        let ts = if i % 2 == 0 {
            DAY0 + HOUR - 1
        } else {
            DAY0 + HOUR
        };
        w.append(&flow(i, ts), &row(i)).unwrap();
    }
    let counts = w.finish().unwrap();
    assert_eq!((counts.files, counts.flows_archived), (2, 1000));
    let found = visible(dir.path());
    assert_eq!(found.len(), 2);
    assert!(found[0].starts_with("date=2019-01-10/hour=00"));
    assert!(found[1].starts_with("date=2019-01-10/hour=01"));
}

#[test]
fn the_background_archive_writes_every_flow_and_returns_failures_later() {
    use iotguard_archive::BackgroundArchive;
    let dir = tempfile::tempdir().unwrap();
    let mut w = BackgroundArchive::open(ArchiveConfig::new(dir.path())).unwrap();
    for i in 0..10_000u64 {
        w.append(&flow(i, DAY0 + (i as i64 / 5_000) * HOUR), &row(i))
            .unwrap();
    }
    let counts = w.finish().unwrap();
    assert_eq!((counts.flows_archived, counts.files), (10_000, 2));
    let mut n = 0;
    for p in visible(dir.path()) {
        n += read_parquet_flows(File::open(dir.path().join(p)).unwrap())
            .unwrap()
            .count();
    }
    assert_eq!(n, 10_000);

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("archive");
    let mut w = BackgroundArchive::open(ArchiveConfig::new(&root)).unwrap();
    std::fs::write(root.join("date=2019-01-10"), b"x").unwrap();
    let mut errors = 0;
    for i in 0..3_000u64 {
        errors += usize::from(w.append(&flow(i, DAY0), &row(i)).is_err());
    }
    errors += usize::from(w.finish().is_err());
    assert!(errors >= 1);
    let counts = w.counts();
    assert_eq!((counts.flows_archived, counts.flows_failed), (0, 3_000));
    assert!(w.failure().is_some());
}
