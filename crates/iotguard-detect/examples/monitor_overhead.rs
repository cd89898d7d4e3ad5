//! Measures what the drift monitors cost detection: the same flows, held in memory, through
//! two detectors, one with monitors and one without, chunk by chunk in turn (10,000 flows
//! each, which goes first alternating), each chunk timed in CPU nanoseconds of the detecting
//! thread (`/proc/thread-self/schedstat`): on a shared, loaded machine both meet the same
//! load, so the ratio holds where wall-clock rates do not.
//!
//! `cargo run --release -p iotguard-detect --example monitor_overhead -- [--model FILE]
//! [--kind gbdt] [--flows N] [--window N] [--rounds N] [--feature-every N]`
//!
//! Without `--model`, a model of `--kind` (default `gbdt`) is trained on the first 100 k flows
//! of a simulated network (seed 1), which are then detected with the next ones: `--flows`
//! (default 1 M) in all, windows of `--window` (default 10 000) flows.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::path::Path;

use iotguard_detect::monitor::{DriftBoard, MonitorConfig};
use iotguard_detect::{ActiveModel, DetectConfig, Detector, ModelHandle};
use iotguard_flow::{FlowRecord, TsvWriteOptions, ZeekTsvWriter};
use iotguard_models::lab::ModelKind;
use iotguard_runtime::batch::BatchConfig;
use iotguard_runtime::input::Input;
use iotguard_sim::{SimConfig, Simulator};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Nanoseconds the calling thread has run on a CPU (/proc/thread-self/schedstat).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn train(path: &Path, kind: ModelKind, flows: &[FlowRecord]) -> Result<(), Box<dyn Error>> {
    let log = path.with_extension("log");
    let options = TsvWriteOptions {
        labels: true,
        extras: false,
        time: None,
    };
    let mut w = ZeekTsvWriter::new(std::fs::File::create(&log)?, options)?;
    for f in flows {
        w.write(f)?;
    }
    w.finish()?;
    let (file, _) = iotguard_runtime::lab::train_model(
        kind,
        &[Input::File(log)],
        &BatchConfig {
            threads: 1,
            ..BatchConfig::default()
        },
        &Default::default(),
        7,
        &iotguard_runtime::lab::Choice::Default,
        &mut |_| {},
    )?;
    file.save(std::fs::File::create(path)?)?;
    Ok(())
}

/// One detector and what it has cost so far.
struct Runner {
    d: Detector,
    alerts: Vec<iotguard_detect::Alert>,
    events: Vec<iotguard_detect::EventDocument>,
    drift_events: usize,
    ns: u64,
}

impl Runner {
    fn new(model: &ModelHandle, monitor: Option<MonitorConfig>) -> Result<Runner, Box<dyn Error>> {
        let mut d = Detector::new(model.clone(), DetectConfig::default())?;
        if let Some(config) = monitor {
            d = d.with_monitor(config, DriftBoard::new())?;
        }
        Ok(Runner {
            d,
            alerts: Vec::new(),
            events: Vec::new(),
            drift_events: 0,
            ns: 0,
        })
    }

    /// Detects a chunk of flows (its alerts and events drained at the end), timed.
    fn chunk(&mut self, flows: &[FlowRecord]) {
        let t0 = thread_cpu_ns();
        for rec in flows {
            self.d.process(rec);
        }
        if let Some(last) = flows.last() {
            self.d.expire(last.ts);
        }
        self.d.drain_alerts(&mut self.alerts);
        self.alerts.clear();
        self.d.drain_events(&mut self.events);
        self.drift_events += self.events.len();
        self.events.clear();
        self.ns += thread_cpu_ns() - t0;
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = arg(&args, "--flows").map_or(Ok(1_000_000), |v| v.parse())?;
    let window: u64 = arg(&args, "--window").map_or(Ok(10_000), |v| v.parse())?;
    let rounds: usize = arg(&args, "--rounds").map_or(Ok(3), |v| v.parse())?;
    let every: u64 = arg(&args, "--feature-every")
        .map_or(Ok(MonitorConfig::default().feature_every), |v| v.parse())?;
    let sim = Simulator::new(SimConfig::default().with_seed(1))?;
    let all: Vec<FlowRecord> = sim.flows().take(100_000 + n).collect();
    let dir = tempfile::tempdir()?;
    let model_path = match arg(&args, "--model") {
        Some(p) => p.into(),
        None => {
            let kind: ModelKind = arg(&args, "--kind").unwrap_or("gbdt".into()).parse()?;
            let path = dir.path().join("model.json");
            train(&path, kind, &all[..100_000])?;
            path
        }
    };
    let loaded = iotguard_runtime::lab::load_model(&model_path)?;
    let kind = loaded.file.kind.clone();
    let model = ModelHandle::new(ActiveModel::new(loaded, Some(&model_path)));
    let flows = &all[100_000..];
    let config = MonitorConfig {
        window,
        feature_every: every,
        ..MonitorConfig::default()
    };
    let mut overheads = Vec::new();
    let mut rates = (0.0, 0.0);
    let mut events = 0;
    for _ in 0..rounds {
        let mut off = Runner::new(&model, None)?;
        let mut on = Runner::new(&model, Some(config.clone()))?;
        for (i, chunk) in flows.chunks(10_000).enumerate() {
            if i % 2 == 0 {
                off.chunk(chunk);
                on.chunk(chunk);
            } else {
                on.chunk(chunk);
                off.chunk(chunk);
            }
        }
        overheads.push((on.ns as f64 / off.ns.max(1) as f64 - 1.0) * 100.0);
        rates = (
            flows.len() as f64 / (off.ns.max(1) as f64 / 1e9),
            flows.len() as f64 / (on.ns.max(1) as f64 / 1e9),
        );
        events = on.drift_events;
    }
    let shown: Vec<String> = overheads.iter().map(|o| format!("{o:.1}")).collect();
    let overhead = median(&mut overheads);
    println!(
        "{kind} model ({} features), {} flows, windows of {window}, features of 1 flow in {every}: without monitors {:.0} flows/s, with {:.0} flows/s (last round, per CPU second of the detecting thread); overhead {overhead:.1} % (median of {rounds} rounds: {}); {events} drift events",
        model.current().loaded.file.features.names.len(),
        flows.len(),
        rates.0,
        rates.1,
        shown.join(", "),
    );
    Ok(())
}
