//! The subcommands, one module each, and the input arguments they share.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use iotguard_flow::{Format, ParseError, ReadOptions, DEFAULT_MAX_LINE};
use iotguard_models::lab::ModelKind;
use iotguard_runtime::batch::{run_batch, BatchConfig, BatchOutcome};
use iotguard_runtime::input::{self, Input};

use crate::output;

mod auto_retrain;
mod compare;
mod convert;
mod demo;
mod detect;
mod eval;
mod explore;
mod features;
mod import_model;
mod inspect;
mod replay;
mod retrain;
pub(crate) mod s3;
mod serve;
mod simulate;
mod train;

/// A subcommand.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Summarise flow inputs: format, records, bad records, time range, labels, protocols, hosts.
    Inspect(inspect::InspectArgs),
    /// Convert flow inputs to Parquet, Zeek JSON lines or Zeek TSV.
    Convert(convert::ConvertArgs),
    /// Generate a realistic IoT network's flows, benign and attack, labeled like IoT-23.
    Simulate(simulate::SimulateArgs),
    /// Train a detection model on labeled flows into a model file.
    Train(train::TrainArgs),
    /// Measure a model file on labeled flows, per input and pooled.
    Eval(eval::EvalArgs),
    /// Explore labeled flows before trusting them: per-class counts, feature distributions,
    /// correlations, shift between captures, top talkers and label checks (JSON, Markdown,
    /// HTML), and proposed label-audit rules for likely mislabeled flows.
    Explore(explore::ExploreArgs),
    /// Write the feature rows `train` fits on as Parquet (plus feature_schema.json), for
    /// training elsewhere (Spark, XGBoost, LightGBM).
    Features(features::FeaturesArgs),
    /// Turn an XGBoost (JSON) or LightGBM (text) booster trained on `features` output into an
    /// iotguard model file for detect, eval and serve.
    ImportModel(import_model::ImportModelArgs),
    /// Compare every model kind on the same features and folds: JSON, Markdown and HTML with plots.
    Compare(compare::CompareArgs),
    /// Retrain a model on its training data plus the archived flows analysts judged, and
    /// compare it with the current one on the latest judged flows (exit 0: better, 1: not).
    Retrain(retrain::RetrainArgs),
    /// Detect attacks in flows (replayed files, standard input, a live Zeek log folder) and
    /// write explained, graded ECS alerts.
    Detect(Box<detect::DetectArgs>),
    /// Serve the API and the dashboard over a model file, an alert store and a compare report.
    Serve(serve::ServeArgs),
    /// The whole system in one command: a simulated IoT network under attack, a model, live
    /// detection and the dashboard at http://127.0.0.1:8080.
    Demo(demo::DemoArgs),
    /// Send flow inputs to a Kafka topic as zeek-kafka does (one JSON record per message).
    Replay(replay::ReplayArgs),
}

/// Runs a subcommand and returns its exit code.
pub(crate) fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Inspect(args) => inspect::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Features(args) => features::run(args),
        Command::ImportModel(args) => import_model::run(args),
        Command::Retrain(args) => retrain::run(args),
        Command::Explore(args) => explore::run(args),
        Command::Detect(args) => detect::run(*args),
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Replay(args) => replay::run(args),
    }
}

/// The input arguments every reading subcommand takes.
#[derive(Args, Debug)]
pub(crate) struct InputArgs {
    /// Files or folders (read recursively, in path order) of flow records; `-` reads standard input.
    /// gzip and zstd are undone by content. `s3://bucket/prefix`: a flow archive in a bucket
    /// (its files downloaded for the command; endpoint and credentials from the AWS_* variables).
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
    /// The input format, when detection from the content should not decide.
    #[arg(long, value_name = "FORMAT", ignore_case = true, value_parser = format_parser())]
    pub(crate) format: Option<Format>,
    /// Threads for parsing each input [default: all cores].
    #[arg(long, value_name = "N")]
    pub(crate) threads: Option<usize>,
    /// Keep every rejected line verbatim in this file, one per line (a file, not `-`).
    #[arg(long, value_name = "FILE")]
    pub(crate) rejects: Option<PathBuf>,
    /// The sensor name given to records whose input names none.
    #[arg(long, value_name = "NAME")]
    pub(crate) sensor: Option<String>,
    /// Lines longer than this are rejected (and skipped without being held in memory).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE)]
    pub(crate) max_line_bytes: usize,
    /// Read only flows at or after this time (RFC 3339 UTC, `2024-01-01T02:00:00Z`, or epoch
    /// seconds); archive partitions (`date=…/hour=…` folders) wholly before it are not opened.
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    pub(crate) since: Option<iotguard_flow::Timestamp>,
    /// Read only flows before this time (same forms as --since); archive partitions wholly at
    /// or after it are not opened.
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    pub(crate) until: Option<iotguard_flow::Timestamp>,
    /// The column names of header-less delimited inputs, from this file's first line (BoT-IoT's
    /// feature-names file for its full CSVs; its separator may differ from the data's).
    #[arg(long, value_name = "FILE")]
    pub(crate) header_from: Option<PathBuf>,
}

/// `--format`: one of the flow formats, any case, listed in `--help`.
pub(crate) fn format_parser() -> impl clap::builder::TypedValueParser<Value = Format> {
    use clap::builder::TypedValueParser as _;
    // The possible-values parser hands back the value as typed: parse it in lower case.
    clap::builder::PossibleValuesParser::new(Format::NAMES)
        .try_map(|s| s.to_ascii_lowercase().parse::<Format>())
}

/// `--model` kinds: any case, listed in `--help`.
pub(crate) fn model_kind_parser() -> impl clap::builder::TypedValueParser<Value = ModelKind> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(ModelKind::ALL.map(ModelKind::name))
        .try_map(|s| s.to_ascii_lowercase().parse::<ModelKind>())
}

/// Parses a pacing factor (`--rate`, `--speedup`): a finite number from 0.001 to 1e9. Outside
/// that range waits overflow or last for ages: `--rate 1e-300` made the first wait 1e300 s.
pub(crate) fn parse_pace(s: &str) -> Result<f64, String> {
    const MIN: f64 = 1e-3;
    const MAX: f64 = 1e9;
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && (MIN..=MAX).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{s} is not between {MIN} and {MAX:e}"))
    }
}

/// Parses a `--since`/`--until` time.
fn parse_time_arg(s: &str) -> Result<iotguard_flow::Timestamp, String> {
    iotguard_detect::parse_time(s).ok_or_else(|| {
        format!("{s:?} is not a time (RFC 3339 UTC like 2024-01-01T02:00:00Z, or epoch seconds)")
    })
}

/// How many rejected records are printed before the rest are only counted.
const PRINTED_ERRORS: usize = 20;

impl InputArgs {
    /// Expands the paths into inputs (reporting what folders held that is not read) and builds
    /// the batch configuration.
    pub(crate) fn prepare(&self) -> anyhow::Result<(Vec<Input>, BatchConfig)> {
        let window = iotguard_runtime::window::TimeWindow {
            since: self.since,
            until: self.until,
            ..Default::default()
        };
        if let (Some(s), Some(u)) = (self.since, self.until) {
            anyhow::ensure!(s < u, "--since must be before --until");
        }
        // `s3://` archives are downloaded (their partitions inside the window) and read as
        // folders.
        let paths = s3::resolve(&self.paths, &window)?;
        let mut expanded = input::expand(&paths)?;
        for (path, why) in &expanded.skipped {
            output::warn(&format!("{}: skipped, {why}", path.display()));
        }
        let before = expanded.inputs.len();
        expanded.inputs.retain(|i| match i {
            Input::File(p) | Input::InFolder(p) | Input::Capture { path: p, .. } => {
                window.may_hold(p)
            }
            Input::Stdin | Input::Simulated(_) => true,
        });
        let pruned = before - expanded.inputs.len();
        if pruned > 0 {
            output::info(&format!(
                "{pruned} archive file(s) in partitions outside --since/--until not read"
            ));
        }
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let header = match &self.header_from {
            Some(path) => {
                Some(Arc::from(std::fs::read(path).with_context(|| {
                    format!("--header-from {}", path.display())
                })?))
            }
            None => None,
        };
        if self.rejects.as_deref().is_some_and(output::is_stdout) {
            anyhow::bail!(
                "--rejects needs a file: standard output (`-`) carries this command's output"
            );
        }
        let config = BatchConfig {
            options: ReadOptions {
                format: self.format,
                sensor: self.sensor.as_deref().map(Arc::from),
                max_line: self.max_line_bytes,
                header,
            },
            threads,
            rejects: self.rejects.clone(),
            label_audit: Default::default(),
            sample: None,
            window,
        };
        Ok((expanded.inputs, config))
    }

    /// Reads every input to the end, giving each record to `sink` with its input's index.
    /// Rejected records are printed (the first few), counted and kept in the reject file; a
    /// progress bar shows on a terminal.
    pub(crate) fn read(
        &self,
        sink: &mut dyn FnMut(usize, iotguard_flow::FlowRecord) -> iotguard_runtime::Result<()>,
    ) -> anyhow::Result<(Vec<Input>, BatchOutcome)> {
        let (inputs, config) = self.prepare()?;
        self.read_prepared(inputs, &config, sink)
    }

    /// [`read`](Self::read) over inputs and a configuration [`prepare`](Self::prepare) gave.
    pub(crate) fn read_prepared(
        &self,
        inputs: Vec<Input>,
        config: &BatchConfig,
        sink: &mut dyn FnMut(usize, iotguard_flow::FlowRecord) -> iotguard_runtime::Result<()>,
    ) -> anyhow::Result<(Vec<Input>, BatchOutcome)> {
        let total: Option<u64> = inputs.iter().map(Input::size).sum();
        let counter = Arc::new(AtomicU64::new(0));
        let progress = output::Progress::start(total, counter.clone());
        let mut errors = ErrorPrinter::default();
        let outcome = run_batch(&inputs, config, &counter, sink, &mut |e| errors.print(e));
        progress.finish();
        let outcome = outcome.context("reading inputs")?;
        errors.finish(self.rejects.is_some());
        report_inputs(&outcome);
        Ok((inputs, outcome))
    }
}

/// Prints the first rejected records and counts the rest.
#[derive(Default)]
pub(crate) struct ErrorPrinter {
    printed: usize,
}

impl ErrorPrinter {
    /// Prints (or counts) one rejected record.
    pub(crate) fn print(&mut self, e: &ParseError) {
        if self.printed < PRINTED_ERRORS {
            output::warn(&format!("rejected {e}"));
        }
        self.printed += 1;
    }

    /// Says how many were not printed.
    pub(crate) fn finish(&self, have_rejects_file: bool) {
        if self.printed > PRINTED_ERRORS {
            output::warn(&format!(
                "{} more rejected records not shown{}",
                self.printed - PRINTED_ERRORS,
                if have_rejects_file {
                    " (all are in the rejects file)"
                } else {
                    " (--rejects FILE keeps them)"
                }
            ));
        }
    }
}

/// The `--features` option of the commands that build features from labeled inputs.
#[derive(clap::Args, Debug)]
pub(crate) struct FeaturesArg {
    /// The feature set: `default` (the common Zeek-like set), `native` (plus the inputs' own
    /// columns: BoT-IoT's Argus statistics, TON_IoT's dns/ssl/http/weird fields; refused for
    /// inputs without them), or `auto` (native when every input carries one family's columns).
    #[arg(long = "features", value_name = "SET", default_value = "auto", ignore_case = true, value_parser = ["auto", "default", "native"])]
    features: String,
    /// The network-context feature groups, comma-separated: `pair` (per source→destination
    /// periodicity), `dst` (destination rarity and novelty), `port` (fan-out over hosts per
    /// destination port), `service` (service/port mismatch), `all`, or `none`. Default: the
    /// default feature set's groups (BENCHMARKS.md, "Features for the families the forest
    /// missed"). The model records them; detection recomputes the same.
    #[arg(long = "context", value_name = "GROUPS")]
    context: Option<String>,
}

impl FeaturesArg {
    /// The context groups `--context` names (`None`: the default set's).
    fn context_groups(&self) -> anyhow::Result<Option<Vec<iotguard_features::ContextGroup>>> {
        let Some(list) = &self.context else {
            return Ok(None);
        };
        let mut groups = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "none" => {}
                "all" => groups.extend(iotguard_features::ContextGroup::ALL),
                g => groups.push(
                    g.parse()
                        .map_err(|e: String| anyhow::anyhow!("--context: {e}"))?,
                ),
            }
        }
        groups.sort();
        groups.dedup();
        Ok(Some(groups))
    }

    /// The feature configuration for these inputs, saying which native set `auto` chose.
    pub(crate) fn resolve(
        &self,
        inputs: &[Input],
        config: &BatchConfig,
    ) -> anyhow::Result<iotguard_features::FeatureConfig> {
        let mut features = iotguard_features::FeatureConfig::default();
        if let Some(groups) = self.context_groups()? {
            features.context = groups;
        }
        if self.features == "default" {
            return Ok(features);
        }
        let family = iotguard_runtime::dataset::native_family_of(inputs, config)?;
        match (self.features.as_str(), family) {
            ("native", None) => anyhow::bail!(
                "--features native: the inputs do not all carry one dataset's own columns \
                 (BoT-IoT: {}; TON_IoT: {}; UNSW-NB15: {})",
                iotguard_flow::NativeFamily::BotIot
                    .column_names()
                    .collect::<Vec<_>>()
                    .join(", "),
                iotguard_flow::NativeFamily::TonIot
                    .column_names()
                    .collect::<Vec<_>>()
                    .join(", "),
                iotguard_flow::NativeFamily::UnswNb15
                    .column_names()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (_, Some(f)) => {
                output::info(&format!(
                    "features: the common set plus the {f} native columns"
                ));
                features.native = Some(f);
            }
            _ => {}
        }
        Ok(features)
    }
}

/// The `--label-audit` option of the commands that learn from or measure against labels.
#[derive(clap::Args, Debug)]
pub(crate) struct AuditArg {
    /// Corrections to the inputs' labels: a JSON label audit (rules naming an input file, the
    /// class as given, the flows' originator, responder, protocol, port or state, the class
    /// they count as and why; `bench/label-audit.json` is the one for ../shared/data). Each
    /// rule's matches are reported.
    #[arg(long, value_name = "FILE")]
    label_audit: Option<std::path::PathBuf>,
}

impl AuditArg {
    /// Loads the audit into `config` (nothing without `--label-audit`).
    pub(crate) fn load(
        &self,
        config: &mut iotguard_runtime::batch::BatchConfig,
    ) -> anyhow::Result<()> {
        if let Some(path) = &self.label_audit {
            config.label_audit = iotguard_runtime::audit::LabelAudit::load(path)?;
        }
        Ok(())
    }
}

/// Reports what each label-audit rule changed; a rule that matched nothing is a warning (a
/// misspelt input name, or an audit written for other captures).
pub(crate) fn report_audit(counts: &[iotguard_runtime::audit::AuditCount]) {
    for c in counts {
        if c.flows == 0 {
            output::warn(&format!("label audit: no flow matched: {}", c.describe()));
        } else {
            output::info(&format!("label audit: {}", c.describe()));
        }
    }
}

/// Reports inputs that were skipped or could not be read (the reasons name the inputs).
pub(crate) fn report_inputs(outcome: &BatchOutcome) {
    if outcome.outside_window > 0 {
        output::info(&format!(
            "{} records outside --since/--until left out",
            outcome.outside_window
        ));
    }
    for (_, why) in &outcome.skipped_inputs {
        output::warn(&format!("skipped, no flow records: {why}"));
    }
    for (input, first, records) in &outcome.duplicates {
        output::warn(&format!(
            "{input}: the same {records} flows as {first} (another format or a copy of it): counted once, as {first}"
        ));
    }
    for (_, why) in &outcome.failed_inputs {
        output::error(why);
    }
    for note in outcome.per_input.iter().flat_map(|c| c.notes()) {
        output::warn(note);
    }
}

/// `--threshold` and `--target-far`: the operating point the operator asks for instead of the
/// model's (detect, eval, serve).
#[derive(clap::Args, Debug, Default)]
pub(crate) struct ThresholdArgs {
    /// Alert on flows scoring at or above this, instead of the model's threshold.
    #[arg(long, value_name = "SCORE", conflicts_with = "target_far")]
    pub(crate) threshold: Option<f32>,
    /// Alert at the threshold whose false-alert rate on benign flows of the captures held out
    /// in training is at most this (e.g. 0.01), read from the model file's out-of-capture
    /// benign-score sketches under the rule its threshold was chosen with.
    #[arg(long, value_name = "RATE")]
    pub(crate) target_far: Option<f64>,
}

impl ThresholdArgs {
    /// Applies the override, if any, to a loaded model and says what it is.
    pub(crate) fn apply(
        &self,
        loaded: &mut iotguard_runtime::lab::LoadedModel,
    ) -> anyhow::Result<()> {
        use iotguard_runtime::lab::ThresholdOverride;
        let o = match (self.threshold, self.target_far) {
            (Some(t), _) => ThresholdOverride::Score(t),
            (None, Some(r)) => ThresholdOverride::TargetFar(r),
            (None, None) => return Ok(()),
        };
        let before = output::num(f64::from(loaded.threshold.value));
        loaded.override_threshold(o)?;
        if let ThresholdOverride::TargetFar(r) = o {
            output::info(&format!(
                "threshold {} for a false-alert rate of at most {r} on held-out benign flows (the model's is {before})",
                output::num(f64::from(loaded.threshold.value))
            ));
        } else {
            output::info(&format!(
                "threshold {} (the model's is {before})",
                output::num(f64::from(loaded.threshold.value))
            ));
        }
        Ok(())
    }
}
