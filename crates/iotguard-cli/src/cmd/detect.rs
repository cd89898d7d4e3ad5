//! `iotguard detect`: flows from files, folders, standard input or a live Zeek log folder
//! through the detector into alert sinks (SQLite by default, JSON lines, a webhook), optionally
//! serving the API and the live dashboard while it runs (`--serve`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use iotguard_detect::monitor::{DriftBoard, MonitorConfig};
use iotguard_detect::sink::{JsonlConfig, JsonlSink, WebhookConfig, WebhookSink};
use iotguard_detect::source::follow::{FollowConfig, FollowSource};
use iotguard_detect::source::replay::{Pacing, ReplaySource};
use iotguard_detect::source::Source;
use iotguard_detect::{
    run_pipeline, ActiveModel, AlertSink, AlertStore, AssetRule, DetectConfig, Detector,
    ModelHandle, Notice, PipelineConfig, PipelineParts, Stats,
};
use iotguard_detect::{FeedConfig, LiveFeed};
use iotguard_flow::{Format, ReadOptions, DEFAULT_MAX_LINE};
use iotguard_server::{AppState, Server, ServerConfig, TOKEN_ENV};

use super::ErrorPrinter;
use crate::{exit, output};

/// Arguments of `detect`.
#[derive(Args, Debug)]
pub(crate) struct DetectArgs {
    /// Files or folders of flow records to replay (folders read recursively, in path order);
    /// `-` reads standard input. Not with `--follow`.
    #[arg(value_name = "PATH", required_unless_present_any = ["follow", "kafka", "netflow", "interface"])]
    paths: Vec<PathBuf>,
    /// The model file (from `iotguard train`); optional with --learn-for, which then detects
    /// with the learned baseline alone.
    #[arg(long, value_name = "FILE", required_unless_present = "learn_for")]
    model: Option<PathBuf>,
    /// A baseline learned without labels (`train --unlabeled`) to run beside --model: flows
    /// the model does not flag but the baseline does are the baseline's alerts, each alert
    /// saying which fired (`iotguard.detector`: `model` or `baseline`).
    #[arg(
        long,
        value_name = "FILE",
        requires = "model",
        conflicts_with = "learn_for"
    )]
    baseline: Option<PathBuf>,
    /// Learn a baseline on the first part of the stream, then detect with it (beside --model
    /// if given): a flow count (`5000`) or event time from the first flow (`90s`, `10m`, `1h`).
    /// Flows seen while learning are counted, archived and shown, and scored by --model if
    /// given; without --model they are not scored.
    #[arg(long, value_name = "FLOWS|DURATION", value_parser = |s: &str| s.parse::<iotguard_detect::LearnUntil>())]
    learn_for: Option<iotguard_detect::LearnUntil>,
    /// With --learn-for: the baseline's kind.
    #[arg(long, value_name = "KIND", default_value = "iforest", requires = "learn_for", value_parser = super::model_kind_parser())]
    learn_model: iotguard_models::lab::ModelKind,
    /// With --learn-for: the share of the learned flows the baseline may alert on.
    #[arg(long, value_name = "RATE", default_value_t = iotguard_models::baseline::DEFAULT_TARGET_FAR, requires = "learn_for")]
    learn_far: f64,
    /// With --learn-for: also write the learned baseline to this model file (usable with
    /// --baseline or --model later).
    #[arg(long, value_name = "FILE", requires = "learn_for")]
    learn_out: Option<PathBuf>,
    /// Follow a live Zeek log folder (its conn.log, through rotations) instead of replaying.
    #[arg(long, value_name = "DIR", conflicts_with = "paths")]
    follow: Option<PathBuf>,
    /// With --follow: keep the position in this file and resume from it after a restart.
    #[arg(long, value_name = "FILE", requires = "follow")]
    checkpoint: Option<PathBuf>,
    /// Collect NetFlow v5/v9 and IPFIX exports on this UDP address (`0.0.0.0:2055`) instead
    /// of replaying, until Ctrl-C or SIGTERM. Flows lost on the way (the exporters' sequence
    /// numbers) are counted, told, and make the exit status non-zero.
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["paths", "follow"])]
    netflow: Option<std::net::SocketAddr>,
    /// Capture packets live on this network interface (`eth0`, through libpcap; needs root or
    /// CAP_NET_RAW) and detect on the flows the flow meter makes of them, until Ctrl-C or
    /// SIGTERM, which end every open connection as a flow. Packets the kernel dropped are
    /// counted, told, and make the exit status non-zero.
    #[arg(long, value_name = "IFACE", conflicts_with_all = ["paths", "follow", "netflow"])]
    interface: Option<String>,
    /// With --interface: capture only what this BPF filter passes (`not port 22`).
    #[arg(long, value_name = "FILTER", requires = "interface")]
    bpf: Option<String>,
    /// With --interface: put the interface in promiscuous mode (traffic not addressed to this
    /// host too, as on a mirror port that does not already deliver it).
    #[arg(long, requires = "interface")]
    promiscuous: bool,
    /// The SQLite alert store (the default sink).
    #[arg(long, value_name = "FILE", default_value = super::serve::DEFAULT_ALERTS_DB)]
    alerts_db: PathBuf,
    /// Do not write the SQLite alert store.
    #[arg(long)]
    no_alerts_db: bool,
    /// Keep alerts in the store for this many days of event time (older ones are deleted at
    /// a commit, at most once a minute) [default: keep all].
    #[arg(long, value_name = "DAYS")]
    retention_days: Option<f64>,
    /// Also write alerts as JSON lines to this file (appended; rotated by size); `-` prints
    /// them on standard output, one per line (the summary then goes to standard error).
    #[arg(long, value_name = "FILE")]
    alerts_jsonl: Option<PathBuf>,
    /// Print alerts as JSON lines on standard output: the same as `--alerts-jsonl -`.
    #[arg(long, conflicts_with = "alerts_jsonl")]
    print_alerts: bool,
    /// Rotate the JSON-lines file past this many MiB.
    #[arg(long, value_name = "MIB", default_value_t = 100)]
    jsonl_max_mib: u64,
    /// Also POST alerts (JSON arrays) to this http:// URL, from a thread of its own, with
    /// retries and backoff; what it refuses (4xx) or cannot take in time goes to
    /// --webhook-dead-letter.
    #[arg(long, value_name = "URL")]
    webhook: Option<String>,
    /// Where the webhook's undeliverable alerts are kept (JSON lines, appended).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "iotguard-webhook-dead-letter.jsonl",
        requires = "webhook"
    )]
    webhook_dead_letter: PathBuf,
    /// Replay at most this many flows per second.
    #[arg(long, value_name = "FLOWS", conflicts_with = "speedup", value_parser = super::parse_pace)]
    rate: Option<f64>,
    /// Replay at the capture's own pace times this factor.
    #[arg(long, value_name = "FACTOR", value_parser = super::parse_pace)]
    speedup: Option<f64>,
    /// Asset criticality by network, `CIDR=low|normal|high|critical` (repeatable; the first
    /// match wins).
    #[arg(long = "asset", value_name = "CIDR=LEVEL")]
    assets: Vec<AssetRule>,
    /// Close an incident after this many seconds (event time) without an alerting flow.
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    incident_idle: f64,
    /// Most hosts kept per role in the feature tables (memory: about 575 bytes each; the
    /// least recently seen are evicted past it) [default: the model's, 200 000 unless trained
    /// otherwise].
    #[arg(long, value_name = "N")]
    max_hosts: Option<usize>,
    /// The sensor name for flows whose input names none (alerts' observer.name).
    #[arg(long, value_name = "NAME")]
    sensor: Option<String>,
    /// The input format, when detection from the content should not decide.
    #[arg(long, value_name = "FORMAT", ignore_case = true, value_parser = super::format_parser())]
    format: Option<Format>,
    /// Threads for parsing each replayed input.
    #[arg(long, value_name = "N", default_value_t = 1)]
    threads: usize,
    /// Also write every scored flow (the record, its score, threshold, alert id, model id and
    /// version) to this folder as Parquet, partitioned `date=YYYY-MM-DD/hour=HH/` by the flow's
    /// time; files appear only when complete. The folder is an input like any other (`inspect`,
    /// `train`, `eval`, `detect`). `s3://bucket/prefix`: files are written to --archive-spool
    /// and uploaded whole to the bucket under the prefix (endpoint, region and credentials from
    /// AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP);
    /// a failed upload is reported, retried, and its file kept until it succeeds.
    #[arg(long, value_name = "DIR|URL")]
    archive: Option<PathBuf>,
    /// With an s3:// archive: the local folder files are written to before their upload (and
    /// kept in while it fails; the next run uploads what an earlier one left)
    /// [default: iotguard-archive-spool/BUCKET/PREFIX].
    #[arg(long, value_name = "DIR", requires = "archive")]
    archive_spool: Option<PathBuf>,
    /// With an s3:// archive: at the end, wait this long at most for the last uploads (what is
    /// still in the spool then is reported, exit 2, and uploaded by the next run).
    #[arg(long, value_name = "SECS", default_value_t = 60, requires = "archive")]
    archive_upload_wait: u64,
    /// Remove archive date partitions older than the latest archived flow's date minus this
    /// many days [default: keep all].
    #[arg(long, value_name = "DAYS", requires = "archive")]
    archive_retention_days: Option<u32>,
    /// Finish an archive file once it holds this many MiB (compressed).
    #[arg(long, value_name = "MIB", default_value_t = 128, requires = "archive")]
    archive_max_mib: u64,
    /// Finish an archive file after this many seconds open.
    #[arg(long, value_name = "SECS", default_value_t = 300, requires = "archive")]
    archive_roll_secs: u64,
    /// Retrain the active model each time this many more analyst verdicts are in the alert
    /// store (those there at the start count) and/or on each new drift event (`drift`, or
    /// `drift,N` for both), as `iotguard retrain` does, on a thread of its own; the lineage's
    /// `trigger` says which fired. A retrained model better on the latest judged flows runs as
    /// a shadow on the next --shadow-flows live flows and is swapped in between two flows if it
    /// passes (--shadow-max-added). Retrained files go beside --model as
    /// `STEM.retrained-K.json`, with the lineage saying why they were or were not swapped in.
    #[arg(
        long,
        value_name = "N|drift|drift,N",
        value_parser = super::auto_retrain::parse_triggers,
        requires_all = ["archive", "model"],
        conflicts_with = "no_alerts_db"
    )]
    auto_retrain: Option<super::auto_retrain::Triggers>,
    /// With --auto-retrain: live flows a retrained model is scored on beside the active one
    /// (never alerting; both scores archived) before it may be swapped in; 0 swaps at once.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10_000,
        requires = "auto_retrain"
    )]
    shadow_flows: u64,
    /// With --auto-retrain: the largest share of the shadow's flows (0..1) it may flag that the
    /// active model did not; a shadow that would add more alerts than that is not swapped in.
    #[arg(long, value_name = "SHARE", default_value_t = 0.01, value_parser = share, requires = "auto_retrain")]
    shadow_max_added: f64,
    /// Keep every rejected line verbatim in this file, one per line, appended (so a restart
    /// keeps what earlier runs set aside) and synced before each checkpoint commit (a file: `-`
    /// is refused).
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// Print the final statistics as JSON (counters and latency per stage); not with alerts on
    /// standard output.
    #[arg(long)]
    json: bool,
    /// Also serve the API and the live dashboard on this address while detecting (loopback
    /// unless a token is set).
    #[arg(long, value_name = "ADDR")]
    serve: Option<SocketAddr>,
    /// With --serve: the bearer token write endpoints require. Prefer the environment variable.
    #[arg(long, value_name = "TOKEN", env = TOKEN_ENV, hide_env_values = true, requires = "serve")]
    token: Option<String>,
    /// With --serve: a host name the server answers for besides its listen address (and
    /// localhost on loopback); repeatable. Others get 421 [default: on 0.0.0.0, any].
    #[arg(long = "allowed-host", value_name = "NAME", requires = "serve")]
    allowed_hosts: Vec<String>,
    /// With --serve off loopback: leave reads open (only writes need the token).
    #[arg(long, requires = "serve")]
    public_read: bool,
    /// With --serve: the folder model activation may load model files from; anything else is
    /// refused [default: the folder of --model].
    #[arg(long, value_name = "DIR", requires = "serve")]
    models_dir: Option<PathBuf>,
    /// Scored flows per drift-monitor window: every window is compared with the model's
    /// reference profile (PSI per feature and for the score, Page-Hinkley on the alert rate
    /// and mean score).
    #[arg(long, value_name = "FLOWS", default_value_t = 10_000)]
    drift_window: u64,
    /// Count the features of one flow in N (among those not alerting) in the drift windows
    /// (the score and alert rate count every flow) [default: 8 for logreg and svm, whose
    /// scoring is so cheap that one in 4 costs them 10 % of throughput, else 4]
    #[arg(long, value_name = "N")]
    drift_feature_every: Option<u64>,
    /// Run without the drift monitors.
    #[arg(long)]
    no_drift: bool,
    /// Score every flow on the detecting thread itself rather than on a second thread ahead of
    /// incidents and sinks (same results; about half the throughput on two cores).
    #[arg(long)]
    no_score_thread: bool,
    #[command(flatten)]
    kafka: Box<super::replay::KafkaDetectArgs>,
    #[command(flatten)]
    operating: super::ThresholdArgs,
}

pub(crate) fn run(args: DetectArgs) -> anyhow::Result<u8> {
    let alerts_to_stdout =
        args.print_alerts || args.alerts_jsonl.as_deref().is_some_and(output::is_stdout);
    if alerts_to_stdout && args.json {
        anyhow::bail!(
            "--json and alerts on standard output (--print-alerts, --alerts-jsonl -) would mix \
             on standard output; write the alerts to a file or drop --json"
        );
    }
    if args.rejects.as_deref().is_some_and(output::is_stdout) {
        anyhow::bail!("--rejects needs a file: `-` (standard output) is not supported by detect");
    }
    // What detect says on standard output goes to standard error when the alerts are there.
    let say = |line: &str| {
        if alerts_to_stdout {
            output::info(line)
        } else {
            output::out(line)
        }
    };
    anyhow::ensure!(
        args.model.is_some()
            || (args.operating.threshold.is_none() && args.operating.target_far.is_none()),
        "--threshold and --target-far set the threshold of --model; a learned baseline's rate \
         is --learn-far"
    );
    let model = match &args.model {
        Some(path) => {
            let mut loaded = iotguard_runtime::lab::load_model(path)
                .with_context(|| format!("loading {}", path.display()))?;
            if let Some(n) = args.max_hosts {
                loaded.features.max_hosts = n;
            }
            args.operating.apply(&mut loaded)?;
            ActiveModel::new(loaded, Some(path))
        }
        None => {
            let mut features = iotguard_features::FeatureConfig::default();
            if let Some(n) = args.max_hosts {
                features.max_hosts = n;
            }
            let mut placeholder = ActiveModel::new(
                iotguard_runtime::lab::learning_placeholder(&features)?,
                None,
            );
            placeholder.info.name = "iotguard-learning".to_string();
            placeholder
        }
    };
    let native = model.loaded.features.native;
    let drift_feature_every = args
        .drift_feature_every
        .unwrap_or_else(|| default_feature_every(model.loaded.model.model_kind()));
    let model = ModelHandle::new(model);
    let config = DetectConfig {
        sensor: args
            .sensor
            .clone()
            .unwrap_or_else(|| "iotguard".to_string()),
        incident_idle_secs: args.incident_idle,
        assets: args.assets.clone(),
        ..DetectConfig::default()
    };
    let mut detector = Detector::new(model.clone(), config.clone())?;
    let drift = DriftBoard::new();
    if !args.no_drift {
        let monitor = MonitorConfig {
            window: args.drift_window,
            feature_every: drift_feature_every.max(1),
            ..MonitorConfig::default()
        };
        detector = detector
            .with_monitor(monitor, drift.clone())
            .context("--drift-window")?;
        if detector.monitoring() == Some(false) {
            output::info(iotguard_detect::NO_PROFILE);
        }
    }
    if let Some(path) = &args.baseline {
        let loaded = iotguard_runtime::lab::load_model(path)
            .with_context(|| format!("loading {}", path.display()))?;
        let mut active = ActiveModel::new(loaded, Some(path));
        active.info.name = format!("iotguard-baseline-{}", active.info.kind);
        detector = detector.with_baseline(active)?;
    }
    if let Some(until) = args.learn_for {
        anyhow::ensure!(
            !args.learn_model.supervised(),
            "--learn-model is iforest or autoencoder; {} needs labels",
            args.learn_model
        );
        let learn = iotguard_detect::LearnConfig {
            kind: args.learn_model,
            target_far: args.learn_far,
            ..iotguard_detect::LearnConfig::new(until)
        };
        detector = detector.learning(learn, args.model.is_some());
    }
    let handle = model.clone();
    let stats = Stats::new();
    let mut feed = None;
    let mut sinks: Vec<Box<dyn AlertSink>> = Vec::new();
    let mut state = AppState::builder()
        .token(args.token.clone().filter(|t| !t.is_empty()))
        .model(model)
        .models_dir(args.models_dir.clone())
        .detect_config(config)
        .drift(drift.clone())
        .stats(stats.clone());
    if !args.no_alerts_db {
        let retention = match args.retention_days {
            Some(d) if d.is_finite() && d > 0.0 => Some(Duration::from_secs_f64(d * 86_400.0)),
            Some(d) => anyhow::bail!("--retention-days must be a positive number of days, not {d}"),
            None => None,
        };
        let store = AlertStore::open(&args.alerts_db)
            .with_context(|| format!("opening {}", args.alerts_db.display()))?
            .with_retention(retention);
        if args.serve.is_some() {
            state = state.store(store.reader()?);
        }
        sinks.push(Box::new(store));
    }
    let server = match args.serve {
        Some(listen) => {
            let live = LiveFeed::new(FeedConfig::default());
            state = state.feed(live.clone());
            feed = Some(live);
            let config = ServerConfig {
                listen,
                token: args.token.clone().filter(|t| !t.is_empty()),
                allowed_hosts: args.allowed_hosts.clone(),
                public_read: args.public_read,
            };
            if let Some(w) = config.any_host_warning() {
                output::warn(&w);
            }
            let server = Server::start(&config, state.build())?;
            // With --json or alerts on standard output, standard output carries those alone:
            // the URL is on the standard error line below.
            if !alerts_to_stdout && !args.json {
                output::out(&server.url());
            }
            output::info(&format!(
                "serving the API and the dashboard at {}",
                server.url()
            ));
            Some(server)
        }
        None => None,
    };
    let shutdown = Arc::new(AtomicBool::new(false));
    if alerts_to_stdout {
        sinks.push(Box::new(output::StdoutAlerts::new(shutdown.clone())));
    } else if let Some(path) = &args.alerts_jsonl {
        let jsonl = JsonlSink::open(JsonlConfig {
            max_bytes: args.jsonl_max_mib << 20,
            ..JsonlConfig::new(path)
        })?;
        sinks.push(Box::new(jsonl));
    }
    if let Some(url) = &args.webhook {
        sinks.push(Box::new(WebhookSink::new(WebhookConfig::new(
            url,
            &args.webhook_dead_letter,
        ))));
    }
    let options = ReadOptions {
        format: args.format,
        sensor: args.sensor.as_deref().map(Arc::from),
        max_line: DEFAULT_MAX_LINE,
        header: None,
    };
    let mut kafka = None;
    let mut netflow = None;
    let mut capture = None;
    if args.netflow.is_some() && args.kafka.kafka.is_some() {
        anyhow::bail!("--netflow and --kafka are two inputs: give one");
    }
    if args.interface.is_some() && args.kafka.kafka.is_some() {
        anyhow::bail!("--interface and --kafka are two inputs: give one");
    }
    // A live capture stops on Ctrl-C by itself: it ends its open connections, delivers them
    // and then ends, so the pipeline must not stop on the same flag before reading them.
    let pipeline_shutdown = if args.interface.is_some() {
        Arc::new(AtomicBool::new(false))
    } else {
        shutdown.clone()
    };
    let mut source: Box<dyn Source> = match &args.follow {
        _ if args.interface.is_some() => {
            let interface = args.interface.as_deref().unwrap_or_default();
            let source = iotguard_capture::CaptureSource::start(
                iotguard_capture::LiveConfig {
                    filter: args.bpf.clone(),
                    promiscuous: args.promiscuous,
                    ..iotguard_capture::LiveConfig::new(interface)
                },
                shutdown.clone(),
            )?;
            output::info(&format!(
                "capture: on {interface}{}{}",
                args.bpf
                    .as_deref()
                    .map(|f| format!(" with filter '{f}'"))
                    .unwrap_or_default(),
                if args.promiscuous {
                    ", promiscuous"
                } else {
                    ""
                }
            ));
            stats.attach_source(source.stats());
            capture = Some(source.stats());
            Box::new(source)
        }
        _ if args.netflow.is_some() => {
            let addr = args.netflow.unwrap_or_else(|| unreachable!());
            let source = iotguard_netflow::NetflowSource::start(addr)
                .with_context(|| format!("listening for NetFlow/IPFIX on udp {addr}"))?;
            output::info(&format!(
                "netflow: listening on udp {} (NetFlow v5, v9, IPFIX)",
                source.local_addr()
            ));
            stats.attach_source(source.stats());
            netflow = Some(source.stats());
            Box::new(source)
        }
        _ if args.kafka.kafka.is_some() => {
            let (source, mut side) = args.kafka.start(options, shutdown.clone())?;
            sinks.extend(side.take_sink());
            kafka = Some(side);
            Box::new(source)
        }
        Some(dir) => {
            let source = FollowSource::start(FollowConfig {
                checkpoint: args.checkpoint.clone(),
                options,
                ..FollowConfig::new(dir)
            })?;
            stats.attach_source(source.metrics());
            Box::new(source)
        }
        None => {
            if let Some(family) = native {
                refuse_without_native(&args.paths, &options, family)?;
            }
            let pacing = match (args.rate, args.speedup) {
                (Some(r), _) => Pacing::Rate(r),
                (_, Some(s)) => Pacing::Speedup(s),
                _ => Pacing::Fast,
            };
            Box::new(ReplaySource::open(
                &args.paths,
                options,
                args.threads.max(1),
                pacing,
            )?)
        }
    };
    {
        let flag = shutdown.clone();
        ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
            .context("installing the Ctrl-C / SIGTERM handler")?;
    }
    if let Some(side) = &kafka {
        stats.attach_source(side.stats.clone());
    }
    let mut archive = match &args.archive {
        Some(root) => {
            let s3 = super::s3::s3_url(root)?;
            let local = match (&s3, &args.archive_spool) {
                (Some(_), Some(spool)) => spool.clone(),
                (Some(c), None) => ["iotguard-archive-spool", &c.bucket, &c.prefix]
                    .iter()
                    .collect(),
                (None, _) => root.clone(),
            };
            Some(
                iotguard_archive::BackgroundArchive::open(iotguard_archive::ArchiveConfig {
                    max_file_bytes: args.archive_max_mib.max(1) << 20,
                    max_file_age: Duration::from_secs(args.archive_roll_secs),
                    retention_days: args.archive_retention_days,
                    upload: s3.map(|c| iotguard_archive::UploadConfig {
                        finish_wait: Duration::from_secs(args.archive_upload_wait),
                        ..iotguard_archive::UploadConfig::new(c)
                    }),
                    ..iotguard_archive::ArchiveConfig::new(local)
                })
                .with_context(|| format!("opening the flow archive {}", root.display()))?,
            )
        }
        None => None,
    };
    if let Some(removed) = archive
        .as_ref()
        .map(iotguard_archive::BackgroundArchive::stale_temp_removed)
        .filter(|&n| n > 0)
    {
        output::info(&format!(
            "archive: removed {removed} unfinished temporary file(s) an interrupted run left"
        ));
    }
    let mut errors = ErrorPrinter::default();
    let mut failed_inputs = 0usize;
    let mut on_notice = |n: Notice<'_>| match n {
        Notice::Rejected(e) => errors.print(e),
        Notice::SinkFailed(sink, e) => output::error(&format!("{sink}: {e}")),
        Notice::ArchiveFailed(e) => output::error(&format!(
            "{e} (detection goes on; the flows not archived are counted)"
        )),
        Notice::Source(text) => {
            if text.starts_with("cannot read") {
                failed_inputs += 1;
                output::error(text);
            } else {
                output::info(text);
            }
        }
    };
    // Started once the store exists (the sink above created it) and the archive is open.
    let auto_retrain = match (args.auto_retrain, &args.archive, &args.model) {
        (Some(_), Some(archive), _) if super::s3::s3_url(archive)?.is_some() => anyhow::bail!(
            "--auto-retrain reads the archive as a folder: it does not take an s3:// archive yet"
        ),
        (Some(triggers), Some(archive), Some(model)) => {
            Some(super::auto_retrain::AutoRetrain::start(
                super::auto_retrain::Settings {
                    triggers,
                    drift: drift.clone(),
                    archive: archive.clone(),
                    alerts_db: args.alerts_db.clone(),
                    model: model.clone(),
                    poll: Duration::from_secs(1),
                    shadow_flows: args.shadow_flows,
                    shadow_max_added: args.shadow_max_added,
                },
                handle,
            )?)
        }
        _ => None,
    };
    let mut report = run_pipeline(
        source.as_mut(),
        &mut detector,
        &mut sinks,
        &PipelineConfig {
            rejects: args.rejects.clone(),
            flush_every: Duration::from_secs(1),
            idle_event_rate: (args.follow.is_some()
                || args.netflow.is_some()
                || args.interface.is_some())
            .then_some(1.0),
            // A capture ends on Ctrl-C like the other live sources: incidents stay open.
            close_at_end: args.interface.is_none(),
            score_thread: !args.no_score_thread,
            ..PipelineConfig::default()
        },
        PipelineParts {
            stats: &stats,
            feed: feed.as_mut(),
            shutdown: &pipeline_shutdown,
            archive: archive.as_mut(),
            on_notice: &mut on_notice,
        },
    )?;
    // A capture's End came from Ctrl-C or SIGTERM.
    report.interrupted |= capture.is_some() && shutdown.load(Ordering::Relaxed);
    errors.finish(args.rejects.is_some());
    let archive_counts = archive
        .as_ref()
        .map(iotguard_archive::BackgroundArchive::counts);
    let upload_spool = archive
        .as_ref()
        .filter(|_| {
            args.archive
                .as_deref()
                .and_then(|a| a.to_str())
                .is_some_and(|a| a.starts_with("s3://"))
        })
        .map(|a| a.root().to_path_buf());
    let pending_uploads = archive_counts.map_or(0, |c| c.flows_pending_upload);
    if let Some(auto) = auto_retrain {
        let outcome = auto.stop();
        output::info(&format!(
            "auto-retrain: {} retraining(s), {} swapped in",
            outcome.retrained, outcome.swapped
        ));
    }
    let learning_failed = report_learning(&mut detector, &args)?;
    let kafka_stats = match kafka.as_mut() {
        Some(side) => Some(super::replay::finish_kafka(side)?),
        None => None,
    };
    let netflow = netflow.map(|n| n.snapshot());
    let netflow_lost = netflow
        .as_ref()
        .is_some_and(|n| n.flows_lost > 0 || n.datagrams_lost > 0 || n.sets_without_template > 0);
    if let Some(n) = &netflow {
        let line = format!(
            "netflow: {} datagrams from {} exporter(s), {} flows, {} rejected datagrams; \
             {} sequence gaps: {} flows and {} datagrams lost on the way, {} data sets without \
             their template",
            n.datagrams,
            n.exporters,
            n.flows,
            n.rejected,
            n.sequence_gaps,
            n.flows_lost,
            n.datagrams_lost,
            n.sets_without_template
        );
        if netflow_lost {
            output::error(&line);
        } else {
            output::info(&line);
        }
    }
    let capture = capture.map(|c| c.snapshot());
    let capture_lost = capture.as_ref().is_some_and(|c| c.lost() > 0);
    if let Some(c) = &capture {
        let mut line = format!(
            "capture: {} packets passed the filter, {} dropped by the kernel, {} by the \
             interface; the meter read {} packets: {} in {} flows ({} ended early, the table \
             full), {} not IP, {} of an unknown link type, {} malformed",
            c.received,
            c.dropped,
            c.if_dropped,
            c.meter.packets,
            c.meter.in_flows,
            c.meter.flows,
            c.meter.evicted,
            c.meter.not_ip,
            c.meter.unknown_linktype,
            c.meter.malformed
        );
        if c.meter.fragments > 0 {
            line.push_str(&format!(
                "; {} IP fragments: {} in {} reassembled datagrams, {} pending, {} timed out, \
                 {} evicted, {} unfinished, {} rejected; {} overlapped data already held, {} \
                 with other bytes",
                c.meter.fragments,
                c.meter.frag_in_flows,
                c.meter.frag_datagrams,
                c.meter.frag_pending,
                c.meter.frag_timed_out,
                c.meter.frag_evicted,
                c.meter.frag_unfinished,
                c.meter.frag_rejected,
                c.meter.frag_overlapping,
                c.meter.frag_inconsistent
            ));
        }
        if capture_lost {
            output::error(&line);
        } else {
            output::info(&line);
        }
    }
    if args.json {
        output::out(&serde_json::to_string_pretty(&serde_json::json!({
            "capture": capture,
            "report": report,
            "stats": stats.snapshot(),
            "kafka": kafka_stats,
            "netflow": netflow,
            "learning": detector.learn_status(),
            "baseline_alert_flows": detector.baseline().map(|_| detector.baseline_alert_flows()),
        }))?);
    } else {
        say(&format!(
            "{} flows in {:.2} s ({:.0} flows/s), {} alerting, {} incidents, {} alert documents \
             sent, {} rejected lines{}{}{}{}",
            report.flows,
            report.elapsed_secs,
            report.flows as f64 / report.elapsed_secs.max(1e-9),
            report.alert_flows,
            report.incidents,
            report.alerts_sent,
            report.rejected,
            if report.dead_lettered > 0 {
                format!(", {} alerts dead-lettered", report.dead_lettered)
            } else {
                String::new()
            },
            if report.drift_events > 0 {
                format!(", {} drift events", report.drift_events)
            } else {
                String::new()
            },
            match (&args.archive, &archive_counts) {
                (Some(dir), Some(c)) if upload_spool.is_some() => format!(
                    ", {} flows archived to {}{}{}",
                    c.flows_uploaded,
                    dir.display(),
                    if c.flows_pending_upload > 0 {
                        format!(
                            ", {} waiting in {} for their upload",
                            c.flows_pending_upload,
                            upload_spool.as_deref().unwrap_or(Path::new(".")).display()
                        )
                    } else {
                        String::new()
                    },
                    if report.archive_failed > 0 {
                        format!(", {} NOT archived", report.archive_failed)
                    } else {
                        String::new()
                    }
                ),
                (Some(dir), _) if report.archive_failed > 0 => format!(
                    ", {} flows archived to {}, {} NOT archived",
                    report.archived,
                    dir.display(),
                    report.archive_failed
                ),
                (Some(dir), _) =>
                    format!(", {} flows archived to {}", report.archived, dir.display()),
                (None, _) => String::new(),
            },
            if report.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        ));
    }
    if let Some(server) = server {
        // The dashboard outlives a replay (yesterday's alerts are still to be read) until
        // Ctrl-C or SIGTERM; /health says the source `ended`.
        if !report.interrupted {
            output::info(&format!(
                "the input ended: still serving the API and the dashboard at {} (Ctrl-C stops)",
                server.url()
            ));
            super::serve::wait_for(&shutdown);
        }
        server.stop()?;
    }
    Ok(
        if failed_inputs == 0
            && report.sink_errors == 0
            && report.archive_failed == 0
            && pending_uploads == 0
            && !learning_failed
            && !netflow_lost
            && !capture_lost
        {
            exit::OK
        } else {
            exit::ERROR
        },
    )
}

/// Ends learning if the input ended first, saves the learned baseline (`--learn-out`) and says
/// what learning did (on standard error). Returns whether learning failed.
fn report_learning(detector: &mut Detector, args: &DetectArgs) -> anyhow::Result<bool> {
    if detector.learn_status().is_some_and(|s| !s.done) {
        if let Err(e) = detector.finish_learning() {
            output::error(&e.to_string());
        }
    }
    let Some(st) = detector.learn_status() else {
        return Ok(false);
    };
    let when = |t: Option<iotguard_flow::Timestamp>| {
        t.map_or_else(|| "-".to_string(), iotguard_detect::rfc3339)
    };
    output::info(&format!(
        "learning: {} flows from {} to {} learned ({}); baseline ({}) fitted on {} of them{}",
        st.flows,
        when(st.from),
        when(st.to),
        if st.learned_flows_scored {
            "each also scored by the model"
        } else {
            "not scored: no model yet"
        },
        args.learn_model,
        st.rows,
        match (st.threshold, &st.error) {
            (Some(t), _) => format!(", threshold {}", output::num(f64::from(t))),
            (None, Some(e)) => format!(", FAILED: {e}"),
            (None, None) => String::new(),
        }
    ));
    if st.input_ended_first {
        output::warn(
            "the input ended before --learn-for was reached: every flow was learned, none was \
             scored by the baseline",
        );
    } else if detector.baseline().is_some() {
        output::info(&format!(
            "the baseline flagged {} flows the model did not",
            detector.baseline_alert_flows()
        ));
    }
    if let (Some(path), Some(file)) = (&args.learn_out, detector.learned_model()) {
        let out =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        file.save(std::io::BufWriter::new(out))
            .with_context(|| format!("writing {}", path.display()))?;
        output::info(&format!("wrote the learned baseline to {}", path.display()));
    }
    Ok(st.error.is_some())
}

/// Refuses inputs that lack the columns of the model's native feature set (their `native.*`
/// features would all be missing), naming the missing columns.
fn refuse_without_native(
    paths: &[std::path::PathBuf],
    options: &ReadOptions,
    family: iotguard_flow::NativeFamily,
) -> anyhow::Result<()> {
    let expanded = iotguard_runtime::input::expand(paths)?;
    for input in &expanded.inputs {
        let missing = iotguard_runtime::dataset::missing_native_columns(input, options, family)?;
        anyhow::ensure!(
            missing.is_empty(),
            "{}: the model needs the {family} native columns, and this input lacks {}: {} \
             (score it with a model trained with --features default)",
            input.name(),
            missing.len(),
            missing.join(", ")
        );
    }
    Ok(())
}

/// Parses a share between 0 and 1.
fn share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!(
            "`{text}`: expected a share between 0 and 1, such as 0.01"
        )),
    }
}

/// How many flows the drift monitors count the features of one in, by default: the monitors
/// cost about 0.1 µs a flow at one in 4, 2.6 % of a gradient-boosted model's throughput and
/// noise beside a forest's, but 10 % of a linear model's (1.2 µs a flow); one in 8 brings that
/// to 1.4 % (BENCHMARKS.md, "Drift monitors").
fn default_feature_every(kind: iotguard_models::lab::ModelKind) -> u64 {
    use iotguard_models::lab::ModelKind;
    match kind {
        ModelKind::Logreg | ModelKind::Svm => 8,
        _ => MonitorConfig::default().feature_every,
    }
}

#[cfg(test)]
mod tests {
    use iotguard_models::lab::ModelKind;

    use super::default_feature_every;

    #[test]
    fn linear_models_count_the_features_of_one_flow_in_8_and_the_others_one_in_4() {
        let every: Vec<u64> = ModelKind::ALL
            .iter()
            .map(|&k| default_feature_every(k))
            .collect();
        // logreg, svm, tree, forest, gbdt, iforest, autoencoder, ensemble.
        assert_eq!(every, [8, 8, 4, 4, 4, 4, 4, 4]);
    }
}
