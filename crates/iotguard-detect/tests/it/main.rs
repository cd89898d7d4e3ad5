//! Integration tests of the detection crate with real components: a model trained by the
//! runtime on simulated flows written as a Zeek log, real files, real SQLite, a real HTTP server
//! on the loopback address.

mod detector;
mod drift;
mod follow;
mod pipeline;
mod sinks;
mod stage;
mod store;
mod typing;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use iotguard_detect::{Alert, Clock, DetectConfig, Detector, ModelHandle};
use iotguard_features::FeatureConfig;
use iotguard_flow::{
    FlowReader, FlowRecord, ReadOptions, Timestamp, TsvWriteOptions, ZeekTsvWriter,
};
use iotguard_models::lab::ModelKind;
use iotguard_runtime::batch::BatchConfig;
use iotguard_runtime::input::Input;
use iotguard_sim::{SimConfig, Simulator};

/// Files shared by the tests: a training log, a test log and a model trained on the first.
pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    /// Simulated flows (seed 2), as a labeled Zeek log.
    pub(crate) test_log: PathBuf,
    /// The model file (a decision tree trained on seed 1's flows).
    pub(crate) model: PathBuf,
}

/// The flows per simulated log.
pub(crate) const TRAIN_FLOWS: usize = 20_000;
/// The flows in the test log.
pub(crate) const TEST_FLOWS: usize = 6_000;

/// Writes `n` simulated flows of `seed` as a labeled Zeek TSV log.
pub(crate) fn write_sim_log(path: &Path, seed: u64, n: usize) {
    let sim = Simulator::new(SimConfig::default().with_seed(seed)).unwrap();
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let options = TsvWriteOptions {
        labels: true,
        extras: false,
        time: Some(Timestamp::from_secs_nanos(1_700_000_000, 0)),
    };
    let mut w = ZeekTsvWriter::new(file, options).unwrap();
    for rec in sim.flows().take(n) {
        w.write(&rec).unwrap();
    }
    w.finish().unwrap();
}

/// Returns the shared fixture, built once per test run.
pub(crate) fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let train_log = dir.path().join("train.conn.log");
        let test_log = dir.path().join("test.conn.log");
        write_sim_log(&train_log, 1, TRAIN_FLOWS);
        write_sim_log(&test_log, 2, TEST_FLOWS);
        let batch = BatchConfig {
            threads: 1,
            ..BatchConfig::default()
        };
        let (mut file, _) = iotguard_runtime::lab::train_model(
            ModelKind::Tree,
            &[Input::File(train_log)],
            &batch,
            &FeatureConfig::default(),
            7,
            &iotguard_runtime::lab::Choice::Default,
            &mut |e| panic!("simulated log rejected a line: {e}"),
        )
        .unwrap();
        // A fixed creation time, so `rule.version` (and the golden file) is stable.
        file.created_unix_secs = 1_700_000_000;
        let model = dir.path().join("tree.json");
        file.save(std::fs::File::create(&model).unwrap()).unwrap();
        Fixture {
            _dir: dir,
            test_log,
            model,
        }
    })
}

/// Reads a log's records.
pub(crate) fn read_log(path: &Path) -> Vec<FlowRecord> {
    let file = std::fs::File::open(path).unwrap();
    FlowReader::open(path.display().to_string(), file, &ReadOptions::default())
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The fixed `event.created` of tests.
pub(crate) fn fixed_clock() -> Clock {
    Clock::Fixed(Timestamp::from_secs_nanos(1_800_000_000, 0))
}

/// A detector on the fixture's model with a fixed clock.
pub(crate) fn detector(config: DetectConfig) -> Detector {
    let model = ModelHandle::load(&fixture().model).unwrap();
    Detector::new(
        model,
        DetectConfig {
            clock: fixed_clock(),
            ..config
        },
    )
    .unwrap()
}

/// Runs records through a detector to the end and returns every alert document sent.
pub(crate) fn detect_all(detector: &mut Detector, records: &[FlowRecord]) -> Vec<Alert> {
    let mut out = Vec::new();
    for (i, rec) in records.iter().enumerate() {
        detector.process(rec);
        if i % 1000 == 999 {
            detector.expire(rec.ts);
            detector.drain_alerts(&mut out);
        }
    }
    detector.close_all();
    detector.drain_alerts(&mut out);
    out
}

/// Keeps the last revision of each incident, in first-seen order.
pub(crate) fn last_revisions(alerts: &[Alert]) -> Vec<Alert> {
    let mut order: Vec<String> = Vec::new();
    let mut last: std::collections::HashMap<String, Alert> = std::collections::HashMap::new();
    for a in alerts {
        if !last.contains_key(a.id()) {
            order.push(a.id().to_string());
        }
        last.insert(a.id().to_string(), a.clone());
    }
    order
        .into_iter()
        .map(|id| last.remove(&id).unwrap())
        .collect()
}
