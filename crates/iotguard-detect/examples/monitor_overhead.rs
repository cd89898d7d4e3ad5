//! Measures what the drift monitors cost detection: the same flows, held in memory, through
//! the detector with and without monitors, alternately, several times; CPU time of the
//! detecting thread (the machine is shared: wall-clock rates depend on the load).
//!
//! `cargo run --release -p iotguard-detect --example monitor_overhead -- [--model FILE]
//! [--kind gbdt] [--flows N] [--window N] [--rounds N]`
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

/// CPU seconds of the calling thread so far, from /proc (clock ticks of 10 ms).
fn thread_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
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

/// Detects every flow once; returns (flows per CPU second, drift events).
fn run(
    model: &ModelHandle,
    flows: &[FlowRecord],
    monitor: Option<u64>,
) -> Result<(f64, usize), Box<dyn Error>> {
    let mut d = Detector::new(model.clone(), DetectConfig::default())?;
    if let Some(window) = monitor {
        d = d.with_monitor(
            MonitorConfig {
                window,
                ..MonitorConfig::default()
            },
            DriftBoard::new(),
        )?;
    }
    let mut alerts = Vec::new();
    let mut events = Vec::new();
    let mut drift = 0;
    let t0 = thread_cpu_secs();
    for (i, rec) in flows.iter().enumerate() {
        d.process(rec);
        if i % 1024 == 1023 {
            d.expire(rec.ts);
            d.drain_alerts(&mut alerts);
            alerts.clear();
            d.drain_events(&mut events);
            drift += events.len();
            events.clear();
        }
    }
    let secs = (thread_cpu_secs() - t0).max(0.01);
    Ok((flows.len() as f64 / secs, drift))
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
    let (mut off, mut on) = (Vec::new(), Vec::new());
    let mut events = 0;
    for _ in 0..rounds {
        off.push(run(&model, flows, None)?.0);
        let (rate, e) = run(&model, flows, Some(window))?;
        on.push(rate);
        events = e;
    }
    let (off, on) = (median(&mut off), median(&mut on));
    println!(
        "{kind} model, {} flows, windows of {window}: without monitors {:.0} flows/s, with {:.0} flows/s (median of {rounds} rounds, CPU time of the detecting thread); overhead {:.1} %; {events} drift events",
        flows.len(),
        off,
        on,
        (off / on - 1.0) * 100.0
    );
    Ok(())
}
