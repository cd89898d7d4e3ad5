//! The drift scenario at the defaults: a model trained on the network before the change,
//! detection over the change with the monitors on (windows of 10,000 flows), and what a
//! person would want to know: when the first drift event came, what it named, and the alert
//! and false-alert rates before and after the change.
//!
//! `cargo run --release -p iotguard-detect --example drift_scenario -- [--kind gbdt]
//! [--seed 3] [--train 60000] [--change-at 150000] [--flows 300000] [--window 10000]`
#![allow(clippy::print_stdout)]

use std::error::Error;

use iotguard_detect::monitor::{DriftBoard, MonitorConfig, Status};
use iotguard_detect::{ActiveModel, DetectConfig, Detector, ModelHandle};
use iotguard_flow::{FlowRecord, LabelClass, TsvWriteOptions, ZeekTsvWriter};
use iotguard_models::lab::ModelKind;
use iotguard_runtime::batch::BatchConfig;
use iotguard_runtime::input::Input;
use iotguard_sim::{DriftScenario, SimConfig};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

/// Alert rate and false-alert rate (benign flows alerted on) of a segment.
#[derive(Default)]
struct Rates {
    flows: u64,
    alerts: u64,
    benign: u64,
    false_alerts: u64,
}

impl Rates {
    fn add(&mut self, rec: &FlowRecord, alert: bool) {
        self.flows += 1;
        self.alerts += u64::from(alert);
        if rec
            .label
            .as_ref()
            .is_some_and(|l| l.class == LabelClass::Benign)
        {
            self.benign += 1;
            self.false_alerts += u64::from(alert);
        }
    }

    fn show(&self, name: &str) -> String {
        format!(
            "{name}: {} flows, alert rate {:.2} %, false-alert rate {:.3} % ({} of {} benign flows)",
            self.flows,
            100.0 * self.alerts as f64 / self.flows.max(1) as f64,
            100.0 * self.false_alerts as f64 / self.benign.max(1) as f64,
            self.false_alerts,
            self.benign
        )
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind: ModelKind = arg(&args, "--kind", "gbdt".to_string()).parse()?;
    let seed: u64 = arg(&args, "--seed", 3);
    let train: usize = arg(&args, "--train", 60_000);
    let change: u64 = arg(&args, "--change-at", 150_000);
    let total: usize = arg(&args, "--flows", 300_000);
    let window: u64 = arg(&args, "--window", 10_000);
    let scenario = DriftScenario::new(SimConfig::default().with_seed(seed), change)?;
    let flows: Vec<FlowRecord> = scenario.flows().take(total).collect();
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("before.conn.log");
    let options = TsvWriteOptions {
        labels: true,
        extras: false,
        time: None,
    };
    let mut w = ZeekTsvWriter::new(std::fs::File::create(&log)?, options)?;
    for f in &flows[..train] {
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
    let path = dir.path().join("model.json");
    file.save(std::fs::File::create(&path)?)?;
    let loaded = iotguard_runtime::lab::load_model(&path)?;
    let model = ModelHandle::new(ActiveModel::new(loaded, Some(&path)));
    let board = DriftBoard::new();
    let mut d = Detector::new(model, DetectConfig::default())?.with_monitor(
        MonitorConfig {
            window,
            ..MonitorConfig::default()
        },
        board.clone(),
    )?;
    let (mut before, mut after) = (Rates::default(), Rates::default());
    let mut events = Vec::new();
    for (i, rec) in flows.iter().enumerate() {
        let s = d.process(rec);
        if (i as u64) < change {
            before.add(rec, s.is_alert);
        } else {
            after.add(rec, s.is_alert);
        }
        d.drain_events(&mut events);
    }
    println!(
        "{kind} trained on the first {train} flows (seed {seed}); change at flow {change}; {total} flows in windows of {window}"
    );
    println!("{}", before.show("before the change"));
    println!("{}", after.show("after the change"));
    for e in &events {
        let dr = &e.iotguard.drift;
        let named: Vec<String> = dr
            .features
            .iter()
            .filter(|f| f.status == Status::Drift)
            .map(|f| format!("{} {:.2}", f.name, f.psi))
            .collect();
        println!(
            "drift event: window of flows {}..{} ({:+} flows from the change to its end), {} features at drift: {}",
            dr.first_flow,
            dr.last_flow,
            dr.last_flow as i64 - change as i64,
            named.len(),
            named.iter().take(12).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let status = board.snapshot().status.ok_or("no window")?;
    println!(
        "last window: {} of {} features at drift, score PSI {:.3}, alert-rate test {} ({} changes)",
        status
            .features
            .iter()
            .filter(|f| f.status == Status::Drift)
            .count(),
        status.features.len(),
        status.score.state.psi.unwrap_or(f64::NAN),
        status.alert_rate.state,
        status.alert_rate.changes
    );
    Ok(())
}
