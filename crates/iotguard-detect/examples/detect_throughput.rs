//! Measures detection end to end: sustained flows per second with explanations, latency per
//! stage, and resident memory with many active hosts.
//!
//! `cargo run --release -p iotguard-detect --example detect_throughput -- [--model FILE]
//! [--kind gbdt] [--save-model FILE] [--flows N] [--hosts N] [--max-hosts N]`
//!
//! Without `--model`, a model of `--kind` (default `gbdt`) is trained on 100 k simulated flows
//! (seed 1). Then, on simulated flows of seed 2:
//!
//! - without `--hosts`: `--flows` (default 1 M) flows are written as a Zeek log and replayed
//!   through [`run_pipeline`] (parsing on a reader thread, detector with explanations, SQLite
//!   store and JSON-lines sinks, statistics), and the same flows, held in memory, go through the
//!   detector alone;
//! - with `--hosts N`: flows are generated on the fly with their originator rewritten to one of
//!   N addresses (round robin) and responders to another N, and times at 10 000 flows per
//!   second, so N hosts are active on each side (none is idle for an hour);
//!   `--flows` defaults to 3 N. Reported: resident memory before and after, hosts held in the
//!   feature tables (capped by `--max-hosts`, the feature config's `max_hosts`, default 200 000)
//!   and open incidents (capped by `max_incidents`).
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use iotguard_detect::sink::{JsonlConfig, JsonlSink};
use iotguard_detect::source::replay::{Pacing, ReplaySource};
use iotguard_detect::{
    run_pipeline, ActiveModel, AlertSink, AlertStore, DetectConfig, Detector, ModelHandle,
    PipelineConfig, PipelineParts, Stats,
};
use iotguard_features::FeatureConfig;
use iotguard_flow::{ReadOptions, Timestamp, TsvWriteOptions, ZeekTsvWriter};
use iotguard_models::lab::ModelKind;
use iotguard_runtime::batch::BatchConfig;
use iotguard_runtime::input::Input;
use iotguard_sim::{SimConfig, Simulator};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds used so far by the process (`self`) or the calling thread (`thread-self`), from
/// /proc (clock ticks of 10 ms): on a shared machine wall-clock rates depend on the load, CPU
/// time much less.
fn cpu_secs(who: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{who}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

fn write_log(path: &Path, seed: u64, n: usize) -> Result<(), Box<dyn Error>> {
    let sim = Simulator::new(SimConfig::default().with_seed(seed))?;
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let options = TsvWriteOptions {
        labels: true,
        extras: false,
        time: Some(Timestamp::from_secs_nanos(1_700_000_000, 0)),
    };
    let mut w = ZeekTsvWriter::new(file, options)?;
    for rec in sim.flows().take(n) {
        w.write(&rec)?;
    }
    w.finish()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = tempfile::tempdir()?;
    let max_hosts: usize = arg(&args, "--max-hosts").map_or(Ok(200_000), |v| v.parse())?;
    let features = FeatureConfig {
        max_hosts,
        ..FeatureConfig::default()
    };
    let model_path = match arg(&args, "--model") {
        Some(p) => p.into(),
        None => {
            let kind: ModelKind = arg(&args, "--kind").unwrap_or("gbdt".into()).parse()?;
            let train = dir.path().join("train.conn.log");
            write_log(&train, 1, 100_000)?;
            let t0 = Instant::now();
            let (file, _) = iotguard_runtime::lab::train_model(
                kind,
                &[Input::File(train)],
                &BatchConfig {
                    threads: 1,
                    ..BatchConfig::default()
                },
                &features,
                7,
                &iotguard_runtime::lab::Choice::Default,
                &mut |_| {},
            )?;
            let path = dir.path().join("model.json");
            file.save(std::fs::File::create(&path)?)?;
            println!(
                "trained {kind} on 100000 simulated flows in {:.1} s",
                t0.elapsed().as_secs_f64()
            );
            path
        }
    };
    if let Some(keep) = arg(&args, "--save-model") {
        std::fs::copy(&model_path, keep)?;
    }
    let mut loaded = iotguard_runtime::lab::load_model(&model_path)?;
    // The memory caps are not part of the feature names: the bench may change them.
    loaded.features.max_hosts = max_hosts;
    let model = ModelHandle::new(ActiveModel::new(loaded, Some(&model_path)));
    let config = DetectConfig::default();

    if let Some(hosts) = arg(&args, "--hosts") {
        let hosts: u32 = hosts.parse()?;
        let flows: usize = arg(&args, "--flows").map_or(Ok(3 * hosts as usize), |v| v.parse())?;
        return memory(model, config, hosts, flows);
    }
    let flows: usize = arg(&args, "--flows").map_or(Ok(1_000_000), |v| v.parse())?;
    let log = dir.path().join("test.conn.log");
    write_log(&log, 2, flows)?;

    // 1. The pipeline: file -> reader thread -> detector -> SQLite + JSON lines.
    let mut sinks: Vec<Box<dyn AlertSink>> = vec![
        Box::new(AlertStore::open(&dir.path().join("alerts.db"))?),
        Box::new(JsonlSink::open(JsonlConfig::new(
            dir.path().join("alerts.jsonl"),
        ))?),
    ];
    let mut detector = Detector::new(model.clone(), config.clone())?;
    let mut source = ReplaySource::open(
        std::slice::from_ref(&log),
        ReadOptions::default(),
        1,
        Pacing::Fast,
    )?;
    let stats = Stats::new();
    let cpu0 = cpu_secs("self");
    let report = run_pipeline(
        &mut source,
        &mut detector,
        &mut sinks,
        &PipelineConfig::default(),
        PipelineParts {
            stats: &stats,
            feed: None,
            shutdown: &AtomicBool::new(false),
            archive: None,
            on_notice: &mut |_| {},
        },
    )?;
    let cpu = cpu_secs("self") - cpu0;
    let s = stats.snapshot();
    println!(
        "pipeline (Zeek TSV file, {} model, SQLite + JSONL sinks): {} flows in {:.2} s = {:.0} flows/s \
         wall clock, {:.2} CPU s (both threads) = {:.0} flows per CPU second; \
         {} alerting, {} incidents, {} documents",
        model.info().kind,
        report.flows,
        report.elapsed_secs,
        report.flows as f64 / report.elapsed_secs,
        cpu,
        report.flows as f64 / cpu,
        report.alert_flows,
        report.incidents,
        report.alerts_sent
    );
    for st in &s.stages {
        println!(
            "  {:<10} n={:<8} p50 {:>9.1} us  p99 {:>9.1} us  p99.9 {:>9.1} us  max {:>10.1} us",
            st.stage.as_str(),
            st.count,
            st.p50_us,
            st.p99_us,
            st.p999_us,
            st.max_us
        );
    }

    // 2. The detector alone on flows in memory (features, score, incidents, explanations).
    let records: Vec<_> = Simulator::new(SimConfig::default().with_seed(2))?
        .flows()
        .take(flows)
        .collect();
    let mut best = f64::INFINITY;
    let mut best_cpu = f64::INFINITY;
    let mut alerts = Vec::new();
    let mut explained = 0;
    for _ in 0..2 {
        let mut d = Detector::new(model.clone(), config.clone())?;
        let t0 = Instant::now();
        let cpu0 = cpu_secs("thread-self");
        for (i, r) in records.iter().enumerate() {
            d.process(r);
            if i % 1024 == 1023 {
                alerts.clear();
                d.drain_alerts(&mut alerts);
            }
        }
        d.close_all();
        d.drain_alerts(&mut alerts);
        best = best.min(t0.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_secs("thread-self") - cpu0);
        explained = d.explanations();
    }
    // The floor: features and score only, no incidents, no scored view, no explanations.
    let active = model.current();
    let mut x = iotguard_features::FeatureExtractor::new(active.loaded.features.clone());
    let mut row = vec![0f32; x.dim()];
    let mut sum = 0f64;
    let cpu0 = cpu_secs("thread-self");
    for r in &records {
        x.extract(r, &mut row);
        sum += f64::from(iotguard_models::Scorer::score(&active.loaded.model, &row));
    }
    let floor = cpu_secs("thread-self") - cpu0;
    println!(
        "features + score only: {:.0} flows per CPU second ({:.0} ns/flow; checksum {sum:.3e})",
        flows as f64 / floor,
        floor * 1e9 / flows as f64
    );
    println!(
        "detector alone (flows in memory, one thread): {:.0} flows/s wall clock, {:.0} flows per CPU \
         second ({:.0} ns/flow), {explained} flows explained",
        flows as f64 / best,
        flows as f64 / best_cpu,
        best_cpu * 1e9 / flows as f64
    );
    Ok(())
}

/// Runs flows with `hosts` active originators and responders and reports memory.
fn memory(
    model: ModelHandle,
    config: DetectConfig,
    hosts: u32,
    flows: usize,
) -> Result<(), Box<dyn Error>> {
    let before = rss_kib("VmRSS:");
    let cpu0 = cpu_secs("self");
    let mut d = Detector::new(model, config)?;
    let sim = Simulator::new(SimConfig::default().with_seed(2))?;
    let mut alerts = Vec::new();
    let t0 = Instant::now();
    let mut peak_incidents = 0;
    let start = Timestamp::from_secs_nanos(1_700_000_000, 0).as_nanos();
    for (i, mut r) in sim.flows().take(flows).enumerate() {
        let h = (i as u32) % hosts;
        // 10 000 flows per second of event time: every host comes back well within the
        // feature tables' idle timeout (an hour), so all of them stay active.
        r.ts = Timestamp(start + i as i64 * 100_000);
        r.orig_h = Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + h)));
        r.resp_h = Some(IpAddr::V4(Ipv4Addr::from(0x6400_0000 + h)));
        d.process(&r);
        if i % 1024 == 1023 {
            alerts.clear();
            d.drain_alerts(&mut alerts);
            peak_incidents = peak_incidents.max(d.open_incidents());
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs("self") - cpu0;
    let (orig, resp) = d.host_counts();
    let after = rss_kib("VmRSS:");
    println!(
        "{hosts} active hosts per side, {flows} flows ({:.0} flows/s wall, {:.0} per CPU s): hosts held {orig}+{resp} (cap {}), \
         open incidents peak {peak_incidents} (cap {}), RSS {:.0} MiB before, {:.0} MiB after, peak {:.0} MiB",
        flows as f64 / secs,
        flows as f64 / cpu,
        d.model().loaded.features.max_hosts,
        d.config().max_incidents,
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        rss_kib("VmHWM:") as f64 / 1024.0,
    );
    Ok(())
}
