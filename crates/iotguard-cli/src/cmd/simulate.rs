//! `iotguard simulate`: a realistic IoT network's flows, benign and attack, labeled like IoT-23,
//! written as a Zeek conn log (TSV or JSON lines), all at once or streamed at a rate.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use iotguard_flow::{FlowRecord, TsvWriteOptions, ZeekJsonWriter, ZeekTsvWriter};
use iotguard_sim::{DeviceCounts, DriftScenario, SimConfig, Simulator};

use crate::{exit, output};

/// What `simulate` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SimFormat {
    /// A Zeek TSV conn log with `label` and `detailed-label` columns.
    ZeekTsv,
    /// Zeek JSON lines, as Zeek's JSON writer (and zeek-kafka) write them.
    #[value(alias = "jsonl")]
    ZeekJson,
}

/// Arguments of `simulate`.
#[derive(Args, Debug)]
pub(crate) struct SimulateArgs {
    /// The seed: the same seed and options give the same flows.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many flows to write [default: 1,000,000; without end with --rate].
    #[arg(long, value_name = "N")]
    flows: Option<u64>,
    /// Stream at this many flows per second instead of as fast as possible.
    #[arg(long, value_name = "FLOWS_PER_SEC")]
    rate: Option<f64>,
    /// Devices in the simulated home network (a mix of cameras, plugs, thermostats, voice
    /// assistants and hubs).
    #[arg(long, default_value_t = 20)]
    devices: u32,
    /// Fraction of devices that get infected.
    #[arg(long, value_name = "FRACTION")]
    infected_fraction: Option<f64>,
    /// Multiplies attack activity; 0 simulates a clean network.
    #[arg(long, value_name = "FACTOR")]
    attack_intensity: Option<f64>,
    /// Unix time (seconds) of the first flow [default: 2024-01-01, or now with --rate].
    #[arg(long, value_name = "UNIX_SECS")]
    start: Option<i64>,
    /// The sensor name on every flow.
    #[arg(long, default_value = "iotguard-sim")]
    sensor: String,
    /// Output format.
    #[arg(long, value_enum, ignore_case = true, default_value_t = SimFormat::ZeekTsv)]
    format: SimFormat,
    /// The output file; standard output when absent or `-`.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Generator threads (the writing thread comes on top) [default: cores - 1, at least 1].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// A scenario: `drift` is the network without voice assistants and hubs until flow
    /// --change-at, then every camera's firmware changes its traffic and voice assistants and
    /// hubs appear on 192.168.77.0/24 (generated on one thread).
    #[arg(long, value_enum, ignore_case = true)]
    scenario: Option<Scenario>,
    /// With --scenario drift: the flow at which the network changes.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100_000,
        requires = "scenario"
    )]
    change_at: u64,
}

/// What `simulate --scenario` plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scenario {
    /// A change point: new device types appear and cameras change firmware.
    Drift,
}

enum Writer {
    Tsv(ZeekTsvWriter<Box<dyn Write>>),
    Json(ZeekJsonWriter<Box<dyn Write>>),
}

impl Writer {
    fn write(&mut self, rec: &FlowRecord) -> io::Result<()> {
        match self {
            Writer::Tsv(w) => w.write(rec),
            Writer::Json(w) => w.write(rec),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Writer::Tsv(w) => w.flush(),
            Writer::Json(w) => w.flush(),
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Writer::Tsv(w) => w.finish()?.flush(),
            Writer::Json(w) => w.finish()?.flush(),
        }
    }
}

pub(crate) fn run(args: SimulateArgs) -> anyhow::Result<u8> {
    let start = args.start.unwrap_or_else(|| {
        if args.rate.is_some() {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        } else {
            SimConfig::default().start_unix_secs
        }
    });
    let mut config = SimConfig {
        seed: args.seed,
        start_unix_secs: start,
        sensor: Some(args.sensor.clone()),
        devices: DeviceCounts::mix(args.devices),
        ..SimConfig::default()
    };
    if let Some(f) = args.infected_fraction {
        config.attacks.infected_fraction = f;
    }
    if let Some(i) = args.attack_intensity {
        config.attacks.intensity = i;
    }
    let scenario = match args.scenario {
        Some(Scenario::Drift) => Some(DriftScenario::new(config.clone(), args.change_at)?),
        None => None,
    };
    let sim = Simulator::new(config)?;

    let out: Box<dyn Write> = match args.out.as_deref().filter(|p| !output::is_stdout(p)) {
        Some(path) => Box::new(BufWriter::with_capacity(
            1 << 20,
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(io::stdout().lock()),
    };
    let mut writer = match args.format {
        SimFormat::ZeekTsv => {
            let options = TsvWriteOptions {
                labels: true,
                extras: false,
                time: Some(iotguard_flow::Timestamp::from_secs_nanos(start, 0)),
            };
            Writer::Tsv(ZeekTsvWriter::new(out, options)?)
        }
        SimFormat::ZeekJson => Writer::Json(ZeekJsonWriter::new(out)),
    };

    let limit = match (args.flows, args.rate) {
        (Some(n), _) => n,
        (None, Some(_)) => u64::MAX,
        (None, None) => 1_000_000,
    };
    let threads = args
        .threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .saturating_sub(1)
        })
        .max(1);
    let threads = NonZeroUsize::new(threads).unwrap_or(NonZeroUsize::MIN);
    let flows: Box<dyn Iterator<Item = FlowRecord>> = match &scenario {
        Some(s) => {
            output::info(&format!(
                "drift scenario: the network changes at flow {} ({})",
                s.change_at(),
                s.change_time().to_rfc3339()
            ));
            Box::new(s.flows())
        }
        None => Box::new(sim.par_chunks(0, threads).flatten()),
    };
    let flows = flows.take(usize::try_from(limit).unwrap_or(usize::MAX));
    let began = Instant::now();
    let mut written: u64 = 0;
    match args.rate {
        None => {
            for rec in flows {
                writer.write(&rec)?;
                written += 1;
            }
        }
        Some(rate) => {
            anyhow::ensure!(
                rate > 0.0 && rate.is_finite(),
                "--rate must be a positive number of flows per second"
            );
            // Pace in small steps: write what is due, flush so followers see it, sleep a tick.
            let tick = Duration::from_millis(10);
            for rec in flows {
                loop {
                    let due = (began.elapsed().as_secs_f64() * rate) as u64;
                    if written < due {
                        break;
                    }
                    writer.flush()?;
                    std::thread::sleep(tick);
                }
                writer.write(&rec)?;
                written += 1;
            }
        }
    }
    writer.finish()?;
    let secs = began.elapsed().as_secs_f64();
    output::info(&format!(
        "simulated {written} flows in {secs:.2} s ({:.2} M flows/s)",
        written as f64 / secs.max(1e-9) / 1e6
    ));
    Ok(exit::OK)
}
