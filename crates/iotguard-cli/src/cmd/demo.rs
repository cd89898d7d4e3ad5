//! `iotguard demo`: the whole system in one command, with no service to install. Simulates an
//! IoT network under attack (or replays files) at a steady rate, trains a model first when
//! none is given (on another simulated capture, in seconds), detects in real time into an
//! embedded SQLite alert store, and serves the dashboard. Ctrl-C stops it cleanly.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use iotguard_detect::monitor::{DriftBoard, MonitorConfig};
use iotguard_detect::source::replay::{Pacing, ReplaySource};
use iotguard_detect::source::{Source, SourceEvent};
use iotguard_detect::{
    run_pipeline, AlertSink, AlertStore, DetectConfig, Detector, FeedConfig, LiveFeed, ModelHandle,
    Notice, PipelineConfig, PipelineParts, Stats,
};
use iotguard_flow::{ReadOptions, TsvWriteOptions, ZeekTsvWriter};
use iotguard_models::lab::ModelKind;
use iotguard_runtime::batch::BatchConfig;
use iotguard_runtime::input::Input;
use iotguard_server::{AppState, Server};
use iotguard_sim::{DeviceCounts, SimConfig, Simulator};

use super::serve::{stop_flag, wait_for, ServerArgs};
use crate::{exit, output};

/// Arguments of `demo`.
#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// A model file [default: train one on a simulated capture first].
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// The model kind trained when no model is given.
    #[arg(long, default_value = "gbdt", ignore_case = true, value_parser = super::model_kind_parser())]
    train_kind: ModelKind,
    /// Flows of the simulated capture the model is trained on when none is given.
    #[arg(long, value_name = "N", default_value_t = 40_000)]
    train_flows: usize,
    /// Replay these flow files (any format iotguard reads) instead of simulating.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    replay: Vec<PathBuf>,
    /// Flows per second fed to the detector.
    #[arg(long, value_name = "FLOWS_PER_SEC", default_value_t = 2000.0, value_parser = super::parse_pace)]
    rate: f64,
    /// The simulation's seed (the training capture uses another).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Devices in the simulated network.
    #[arg(long, default_value_t = 20)]
    devices: u32,
    /// The SQLite alert store [default: a temporary file removed at the end].
    #[arg(long, value_name = "FILE")]
    alerts_db: Option<PathBuf>,
    /// Stop after this many seconds [default: run until Ctrl-C].
    #[arg(long, value_name = "SECS")]
    seconds: Option<f64>,
    /// A scenario: `drift` simulates a network that changes at flow --change-at (new device
    /// types appear, cameras change firmware); the model is trained on the network before the
    /// change (its first --train-flows flows, the start of what is then detected) and the
    /// dashboard's drift panel shows the monitors notice.
    #[arg(long, value_enum, ignore_case = true, conflicts_with = "replay")]
    scenario: Option<super::simulate::Scenario>,
    /// With --scenario drift: the flow at which the network changes.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100_000,
        requires = "scenario"
    )]
    change_at: u64,
    /// Scored flows per drift-monitor window.
    #[arg(long, value_name = "FLOWS", default_value_t = 10_000)]
    drift_window: u64,
}

/// The simulator as a detection source, paced at a steady rate of flows per second. Flow
/// times are the simulation's own (simulated time runs faster than the wall clock at demo
/// rates), so per-host features see the same traffic shapes the model was trained on. The
/// simulation starts [`HISTORY_SECS`] ago and is never let ahead of the wall clock: it plays
/// the last days quickly, then goes on in real time, so no flow or alert is in the future.
struct SimSource {
    flows: Box<dyn Iterator<Item = iotguard_flow::FlowRecord> + Send>,
    rate: f64,
    started: Option<Instant>,
    sent: u64,
    /// A flow not yet due by the wall clock.
    waiting: Option<iotguard_flow::FlowRecord>,
}

/// How far back the demo's simulated clock starts: five days, played in about two minutes at
/// the default rate, after which it follows the wall clock.
const HISTORY_SECS: i64 = 5 * 86_400;

impl Source for SimSource {
    fn name(&self) -> &str {
        "simulated IoT network"
    }

    fn next_event(&mut self) -> iotguard_detect::Result<SourceEvent> {
        let started = *self.started.get_or_insert_with(Instant::now);
        let due = Duration::from_secs_f64(self.sent as f64 / self.rate);
        let now = started.elapsed();
        // Sleep only when a millisecond or more ahead: at high rates a sleep per flow would
        // cost more than the flow. A long wait answers Idle so the pipeline flushes.
        if due > now + Duration::from_millis(1) {
            let wait = due - now;
            std::thread::sleep(wait.min(Duration::from_millis(100)));
            if wait > Duration::from_millis(100) {
                return Ok(SourceEvent::Idle);
            }
        }
        let Some(rec) = self.waiting.take().or_else(|| self.flows.next()) else {
            return Ok(SourceEvent::End);
        };
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        if rec.ts.as_nanos() > wall {
            // Caught up with the present: wait for the flow's time.
            let ahead = Duration::from_nanos((rec.ts.as_nanos() - wall) as u64);
            std::thread::sleep(ahead.min(Duration::from_millis(100)));
            self.waiting = Some(rec);
            return Ok(SourceEvent::Idle);
        }
        self.sent += 1;
        Ok(SourceEvent::Record(Box::new(rec)))
    }
}

/// The simulation's settings; `start` is its first flow's time, by default [`HISTORY_SECS`]
/// before now.
fn sim_config(seed: u64, devices: u32, start: Option<i64>) -> SimConfig {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    SimConfig {
        seed,
        start_unix_secs: start.unwrap_or(now - HISTORY_SECS),
        sensor: Some("iotguard-demo".to_string()),
        devices: DeviceCounts::mix(devices),
        ..SimConfig::default()
    }
}

/// The flows the demo detects (and, for the drift scenario, trains on: its start).
fn flows(
    seed: u64,
    devices: u32,
    drift: Option<u64>,
    start: Option<i64>,
) -> anyhow::Result<Box<dyn Iterator<Item = iotguard_flow::FlowRecord> + Send>> {
    let config = sim_config(seed, devices, start);
    Ok(match drift {
        Some(at) => Box::new(iotguard_sim::DriftScenario::new(config, at)?.flows()),
        None => Box::new(Simulator::new(config)?.flows()),
    })
}

/// Trains a model of `kind` on a simulated capture written into `dir`, by `train`'s procedure
/// (the threshold chosen on held-out scores: with one capture, its time blocks), and returns its
/// path and the held-out estimate's one-line summary. The dashboard's model panel shows that
/// estimate, never a random row split of the training capture.
fn train_on_simulation(
    dir: &Path,
    kind: ModelKind,
    n: usize,
    simulated: impl Iterator<Item = iotguard_flow::FlowRecord>,
) -> anyhow::Result<(PathBuf, String)> {
    let capture = dir.join("train.conn.log");
    let out = BufWriter::new(
        File::create(&capture).with_context(|| format!("creating {}", capture.display()))?,
    );
    let options = TsvWriteOptions {
        labels: true,
        extras: false,
        time: None,
    };
    let mut writer = ZeekTsvWriter::new(out, options)?;
    for rec in simulated.take(n) {
        writer.write(&rec)?;
    }
    writer.finish()?;
    let batch = BatchConfig {
        options: ReadOptions::default(),
        threads: 1,
        ..Default::default()
    };
    let inputs = [Input::File(capture)];
    let (file, _, ooc) = iotguard_runtime::lab::train_model_out_of_capture(
        kind,
        &inputs,
        &[],
        &batch,
        &Default::default(),
        7,
        &iotguard_runtime::lab::Choice::Default,
        None,
        None,
        &mut |e| output::warn(&format!("rejected {e}")),
    )?;
    let estimate = match &ooc {
        Some(o) => format!(
            "threshold {} for {}; held-out estimate: recall {} at a false-alert rate of {} ({})",
            o.threshold,
            o.objective,
            fmt3(o.pooled.recall),
            fmt3(o.pooled.false_alert_rate),
            o.description
        ),
        None => "no held-out estimate (too few rows to hold any out): the threshold was chosen \
                 on a random fifth of the training rows"
            .to_string(),
    };
    let path = dir.join("model.json");
    file.save(BufWriter::new(File::create(&path)?))?;
    // The exploration of the training data, beside the model: the model panel links it.
    let (exploration, _) = iotguard_runtime::explore::explore(
        &inputs,
        &batch,
        &Default::default(),
        &Default::default(),
        &Default::default(),
        &mut |_| {},
    )?;
    super::explore::write(&dir.join("explore"), &exploration)?;
    Ok((path, estimate))
}

/// A metric with three decimals, or "n/a" where it is undefined.
fn fmt3(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"))
}

pub(crate) fn run(args: DemoArgs) -> anyhow::Result<u8> {
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        anyhow::bail!("--rate must be a positive number of flows per second");
    }
    let stop = stop_flag()?;
    let work = tempfile::Builder::new()
        .prefix("iotguard-demo-")
        .tempdir()
        .context("creating a working folder")?;

    let model_path = match &args.model {
        Some(p) => p.clone(),
        None => {
            let t0 = Instant::now();
            // Another seed than the detection's: the model never saw the flows it scores. The
            // drift scenario trains on the network before its change: its first flows.
            let drift = args.scenario.map(|_| args.change_at);
            // The training capture starts at a fixed time (the simulator's default), so the
            // demo trains the same model whenever it runs: the simulated network's daily
            // rhythm would otherwise make the model depend on the time of day.
            let training = match drift {
                Some(_) => flows(args.seed, args.devices, drift, None)?,
                None => flows(
                    args.seed.wrapping_add(1000),
                    args.devices,
                    None,
                    Some(SimConfig::default().start_unix_secs),
                )?,
            };
            let (path, estimate) =
                train_on_simulation(work.path(), args.train_kind, args.train_flows, training)
                    .context("training the demo model")?;
            output::info(&format!(
                "trained a {} model on {} simulated flows in {:.1} s; {estimate}",
                args.train_kind,
                args.train_flows,
                t0.elapsed().as_secs_f64()
            ));
            path
        }
    };
    let model = ModelHandle::load(&model_path)
        .with_context(|| format!("loading model {}", model_path.display()))?;

    let db = args
        .alerts_db
        .clone()
        .unwrap_or_else(|| work.path().join("alerts.db"));
    let store =
        AlertStore::open(&db).with_context(|| format!("opening alert store {}", db.display()))?;
    let stats = Stats::new();
    let drift = DriftBoard::new();
    let mut feed = LiveFeed::new(FeedConfig::default());
    let detect = DetectConfig {
        sensor: "iotguard-demo".to_string(),
        ..DetectConfig::default()
    };
    let state = AppState::builder()
        .token(args.server.token())
        .report_dir(args.server.report.clone())
        .explore_dir(args.server.explore_dir(Some(&model_path)))
        .models_dir(args.server.models_dir.clone())
        .model(model.clone())
        .detect_config(detect.clone())
        .store(store.reader()?)
        .stats(stats.clone())
        .feed(feed.clone())
        .drift(drift.clone())
        .build();
    let config = args.server.config();
    if let Some(w) = config.any_host_warning() {
        output::warn(&w);
    }
    let server = Server::start(&config, state)?;
    output::out(&server.url());
    output::info(&format!(
        "dashboard at {} ({}; Ctrl-C stops)",
        server.url(),
        if args.replay.is_empty() {
            format!(
                "a simulated network of {} devices at {} flows/s",
                args.devices, args.rate
            )
        } else {
            format!(
                "replaying {} file(s) at {} flows/s",
                args.replay.len(),
                args.rate
            )
        }
    ));
    if let Some(secs) = args.seconds {
        let s = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(secs.max(0.0)));
            s.store(true, std::sync::atomic::Ordering::Relaxed);
        });
    }

    let mut source: Box<dyn Source> = if args.replay.is_empty() {
        Box::new(SimSource {
            flows: flows(
                args.seed,
                args.devices,
                args.scenario.map(|_| args.change_at),
                None,
            )?,
            rate: args.rate,
            started: None,
            waiting: None,
            sent: 0,
        })
    } else {
        Box::new(ReplaySource::open(
            &args.replay,
            ReadOptions::default(),
            1,
            Pacing::Rate(args.rate),
        )?)
    };
    let mut detector = Detector::new(model, detect)?.with_monitor(
        MonitorConfig {
            window: args.drift_window,
            ..MonitorConfig::default()
        },
        drift,
    )?;
    if detector.monitoring() == Some(false) {
        output::info(iotguard_detect::NO_PROFILE);
    }
    let mut sinks: Vec<Box<dyn AlertSink>> = vec![Box::new(store)];
    let mut errors = super::ErrorPrinter::default();
    let mut on_notice = |n: Notice<'_>| match n {
        Notice::Rejected(e) => errors.print(e),
        Notice::SinkFailed(sink, e) => output::warn(&format!("alert sink {sink}: {e}")),
        Notice::ArchiveFailed(e) => output::warn(&e.to_string()),
        Notice::Source(text) => output::info(text),
    };
    let report = run_pipeline(
        source.as_mut(),
        &mut detector,
        &mut sinks,
        &PipelineConfig::default(),
        PipelineParts {
            stats: &stats,
            feed: Some(&mut feed),
            shutdown: &stop,
            archive: None,
            on_notice: &mut on_notice,
        },
    )?;
    if !report.interrupted {
        output::info("the replay has ended; still serving the dashboard (Ctrl-C stops)");
        wait_for(&stop);
    }
    server.stop()?;
    output::info(&format!(
        "stopped: {} flows scored, {} alerting, {} rejected, {} incidents, {} drift events",
        report.flows, report.alert_flows, report.rejected, report.incidents, report.drift_events
    ));
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotguard_flow::{FlowRecord, Timestamp};

    #[test]
    fn the_simulated_clock_never_runs_ahead_of_the_wall_clock() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        let past = FlowRecord {
            ts: Timestamp(now - 1_000_000_000),
            ..FlowRecord::default()
        };
        let future = FlowRecord {
            ts: Timestamp(now + 3_600_000_000_000),
            ..FlowRecord::default()
        };
        let mut source = SimSource {
            flows: Box::new(vec![past.clone(), future].into_iter()),
            rate: 1e9,
            started: None,
            sent: 0,
            waiting: None,
        };
        assert!(matches!(source.next_event().unwrap(), SourceEvent::Record(r) if *r == past));
        // The next flow is an hour ahead: the source waits (Idle), it does not send it.
        for _ in 0..3 {
            assert!(matches!(source.next_event().unwrap(), SourceEvent::Idle));
        }
        assert_eq!(source.sent, 1);
        assert!(source.waiting.is_some());
    }
}
