//! `iotguard train`: one model on labeled flows into a self-describing model file.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use iotguard_models::lab::ModelKind;
use iotguard_models::metrics::BinaryMetrics;
use iotguard_models::ooc::OutOfCapture;
use iotguard_models::operating::{Objective, Rule};
use iotguard_models::tune::{Choice, GbdtSetting};
use iotguard_runtime::augment::SimulatedClean;
use iotguard_runtime::input::Input;

use super::{report_audit, report_inputs, AuditArg, ErrorPrinter, FeaturesArg, InputArgs};
use crate::{exit, output};

/// Arguments of `train`.
#[derive(Args, Debug)]
pub(crate) struct TrainArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    audit: AuditArg,
    #[command(flatten)]
    features: FeaturesArg,
    /// The model kind (any case) [default: forest, the best kind on F1, false-alert rate and MCC across captures in
    /// BENCHMARKS.md].
    #[arg(long = "model", ignore_case = true, value_parser = super::model_kind_parser())]
    kind: Option<ModelKind>,
    /// Where to write the model file.
    #[arg(long, short, value_name = "FILE")]
    out: PathBuf,
    /// The seed for splits, sampling and initialisation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Choose the hyperparameters out of sample first: among a fixed grid (gbdt: six
    /// settings), by leave-one-capture-out over the inputs (at least two labeled captures),
    /// keeping the best Matthews correlation. Kinds without a grid keep their defaults.
    #[arg(long, conflicts_with = "gbdt_setting")]
    tune: bool,
    /// Train gbdt at this setting of the grid `--tune` chooses from (names such as
    /// `depth6-lr0.3-leaf1`, the default, or `leaves31-lr0.1-leaf20`; a wrong name lists them).
    #[arg(long, value_name = "NAME", value_parser = gbdt_setting)]
    gbdt_setting: Option<GbdtSetting>,
    /// What the alert threshold should achieve on flows of captures the model did not train
    /// on: `f1`, `target-far:X` (the lowest threshold with at most a share X of benign flows
    /// flagged) or `recall:X`. Each training input is scored by a model fitted on the others
    /// (one input: by time blocks, and `train` says so) and the objective is met over those
    /// held-out scores as --rule says [default: recall:0.9, measured by leave-one-capture-out
    /// in BENCHMARKS.md; with one input, f1].
    #[arg(long, value_name = "OBJECTIVE", value_parser = |s: &str| s.parse::<Objective>())]
    objective: Option<Objective>,
    /// How the held-out inputs' thresholds are combined: `median` (robust to one odd capture),
    /// `pooled` (the objective over all their flows together) or `balanced` (together, each
    /// input's benign and malicious flows weighing the same) [default: balanced; with one
    /// input, pooled].
    #[arg(long, value_name = "RULE", value_parser = |s: &str| s.parse::<Rule>())]
    rule: Option<Rule>,
    /// Learn a baseline of normal traffic without labels: every flow, whatever label it
    /// carries, is taken as normal; an isolation forest (or `--model autoencoder`) is fitted
    /// on them and alerts on what departs from them, its threshold set on its own training
    /// scores for --target-far.
    #[arg(long, visible_alias = "assume-benign", conflicts_with_all = ["objective", "rule", "tune", "gbdt_setting"])]
    unlabeled: bool,
    /// With --unlabeled: the share of the training flows the baseline may alert on; its
    /// threshold is the lowest score at which at most this share of them alert.
    #[arg(long, value_name = "RATE", requires = "unlabeled", default_value_t = iotguard_models::baseline::DEFAULT_TARGET_FAR)]
    target_far: f64,
    /// With --unlabeled: a baseline per group of flows, by the value of a one-hot feature
    /// family (`service`: DNS, HTTP, TLS, ... and no service; `proto`; `resp_port`), each
    /// group with at least 50 flows getting its own model and threshold, the others the
    /// baseline over every flow.
    #[arg(long, value_name = "FAMILY", requires = "unlabeled")]
    group_by: Option<String>,
    /// Train on at most this many rows: past it, a sample stratified by input, class and
    /// detailed label is kept while reading (identical rows folded and counted, the budget
    /// shared equally among strata with the leftover shared again, seeded by --seed) and the
    /// summary and the model file (`training.sampling`) say what was kept. Under it every row
    /// is kept and the model is the one trained on all of them. The default keeps the default
    /// forest's peak memory near 1.7 GiB (BENCHMARKS.md, "Training in bounded memory").
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_TRAIN_ROWS, value_parser = clap::value_parser!(u64).range(1..))]
    max_train_rows: u64,
    /// Plan training for this peak memory (`4GiB`, `512MiB`, `8G`, bytes): the row budget
    /// becomes the smaller of --max-train-rows and the rows that fit, from the bytes per row
    /// measured for the default forest; refused when fewer than 1,000 rows would fit.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    memory_limit: Option<u64>,
    /// What to do with flows the label checks (those of `explore`) find probably mislabeled:
    /// a scan or flood labeled benign from a host that also has malicious flows, a malicious
    /// flow identical to its host's benign ones, a connection labeled both ways. `apply`: set
    /// them aside (neither trained on nor used to choose the threshold), each rule and its
    /// flows reported and recorded in the model file; beacons labeled benign from a host whose
    /// labels name a channel are only reported (a device's heartbeat to its cloud looks the
    /// same), and so are benign flows to that channel's address on another port (a shared cloud
    /// address carries both); `report`: only report them; `off`:
    /// skip the checks (one pass over the inputs fewer). Rules of --label-audit come first.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = LabelChecks::Apply)]
    label_checks: LabelChecks,
    /// Also fit on this many flows of a simulated clean IoT network (30 devices of the
    /// simulator's usual mix, no infection, seeded by --seed): training-only rows, never held
    /// out, so the threshold and the out-of-capture estimate come from the inputs alone.
    /// Public captures hold few ordinary benign flows (TLS to vendor clouds, DNS, NTP,
    /// discovery), and a forest fitted on them alone alerts on much of a new network's ordinary
    /// HTTPS; leaving each capture of ../shared/data out, these rows take the pooled
    /// false-alert rate from 7.4 % to 2.2 % at recall 0.94 (BENCHMARKS.md, "Simulated benign
    /// traffic in training"). 0 turns it off. Supervised kinds on flow features only (not with
    /// native features, not with --unlabeled).
    #[arg(long, value_name = "FLOWS", default_value_t = SimulatedClean::DEFAULT_FLOWS)]
    augment_sim: u64,
    /// Also fit on these files or folders as training-only inputs (never held out to choose
    /// the threshold): data that teaches the model but is no network to estimate on, such as
    /// `iotguard simulate` output. Recorded in the model file (`training.augment`).
    #[arg(long, value_name = "PATH")]
    augment: Vec<PathBuf>,
}

/// The training-only inputs: `--augment`'s files, then `--augment-sim`'s simulated network
/// where it applies (a supervised kind on flow features; said when it does not).
fn augment_inputs(
    args: &TrainArgs,
    kind: ModelKind,
    features: &iotguard_features::FeatureConfig,
) -> anyhow::Result<Vec<Input>> {
    let mut augment = iotguard_runtime::input::expand(&args.augment)?.inputs;
    if args.augment_sim > 0 {
        if !kind.supervised() {
            output::info(&format!(
                "--augment-sim: not for {kind}, which learns from benign flows only; no simulated flows added"
            ));
        } else if let Some(family) = features.native {
            output::info(&format!(
                "--augment-sim: the simulator writes no {family:?} native columns; no simulated flows added"
            ));
        } else {
            let sim = SimulatedClean::new(args.augment_sim, args.seed);
            output::info(&format!(
                "training-only rows: {} flows of a simulated clean network ({sim}; --augment-sim 0 leaves them out), fitted on and never held out",
                args.augment_sim
            ));
            augment.push(Input::Simulated(sim));
        }
    }
    Ok(augment)
}

/// What `train` does with the label checks' findings.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LabelChecks {
    /// Set the flows aside.
    Apply,
    /// Report the findings only.
    Report,
    /// Do not run the checks.
    Off,
}

/// What the label checks did: the rules appended to the label audit, and the findings only
/// reported (each with why it was kept as labeled).
#[derive(Default)]
struct Checked {
    applied: Vec<iotguard_runtime::audit::AuditRule>,
    reported: Vec<serde_json::Value>,
}

/// Findings of one check printed in full; past that, one line says how many more there are
/// (a large simulated network gave 86 beacon findings, one per infected device's cloud).
const PRINTED_PER_CHECK: usize = 5;

/// Runs the label checks over the inputs and, with [`LabelChecks::Apply`], appends their
/// proposed rules to the batch's label audit, except those that need review (a beacon from a
/// host whose labels already name its C&C channel: it is as likely a device's heartbeat to its
/// vendor's cloud, as the simulator's MQTT and Tuya keep-alives of an infected device are).
fn run_label_checks(
    mode: LabelChecks,
    inputs: &[iotguard_runtime::input::Input],
    config: &mut iotguard_runtime::batch::BatchConfig,
    features: &iotguard_features::FeatureConfig,
) -> anyhow::Result<Checked> {
    if mode == LabelChecks::Off {
        return Ok(Checked::default());
    }
    let checks = iotguard_runtime::explore::label_checks(
        inputs,
        config,
        features,
        &iotguard_runtime::explore::ExploreConfig::default(),
        &std::sync::Arc::default(),
        // The same records are read again for training, whose errors are reported then.
        &mut |_| {},
    )
    .context("running the label checks")?;
    for part in &checks.partial {
        output::warn(&format!("label checks saw part of the data: {part}"));
    }
    let mut checked = Checked::default();
    for f in &checks.findings {
        let why_kept = match (&f.proposal, mode) {
            (Some(_), LabelChecks::Apply) if f.needs_review && f.check == "channel" => {
                "kept as labeled: one address can carry both a bot's channel and a device's own traffic (a shared cloud or CDN address); set it aside with --label-audit if it is the bot's"
            }
            (Some(_), LabelChecks::Apply) if f.needs_review => {
                "kept as labeled: the host's labels name another channel, and a device's heartbeat to its own cloud looks the same; set it aside with --label-audit if it is C&C"
            }
            (Some(rule), LabelChecks::Apply) => {
                checked.applied.push(rule.clone());
                continue;
            }
            (None, _) => "no rule can single these flows out: kept as labeled",
            (Some(_), _) => "kept as labeled: --label-checks report",
        };
        checked.reported.push(serde_json::json!({
            "check": f.check,
            "input": f.input,
            "host": f.host,
            "flows": f.flows,
            "summary": f.summary,
            "kept": why_kept,
        }));
    }
    for line in reported_lines(&checked.reported) {
        output::warn(&line);
    }
    if !checked.applied.is_empty() {
        output::info(&format!(
            "label checks: {} finding(s) set aside as probably mislabeled (each below as a label-audit rule; --label-checks report keeps the labels as given)",
            checked.applied.len()
        ));
        config
            .label_audit
            .rules
            .extend(checked.applied.iter().cloned());
    }
    Ok(checked)
}

/// The warnings for the findings kept as labeled: the first [`PRINTED_PER_CHECK`] of each
/// check in full, then one line per check saying how many more there are.
fn reported_lines(reported: &[serde_json::Value]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut per_check: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in reported {
        let check = r["check"].as_str().unwrap_or("");
        let n = per_check.entry(check).or_default();
        *n += 1;
        if *n <= PRINTED_PER_CHECK {
            lines.push(format!(
                "label check ({check}): {}: {} ({})",
                r["input"].as_str().unwrap_or(""),
                r["summary"].as_str().unwrap_or(""),
                r["kept"].as_str().unwrap_or("")
            ));
        }
    }
    for (check, n) in per_check
        .into_iter()
        .filter(|(_, n)| *n > PRINTED_PER_CHECK)
    {
        lines.push(format!(
            "label check ({check}): {} more findings kept as labeled, not printed (all in the model file, metrics.label_checks.reported; `iotguard explore` shows their evidence)",
            n - PRINTED_PER_CHECK
        ));
    }
    lines
}

/// The row budget `train` keeps by default: the default forest peaked at 1.72 GiB on it
/// (BENCHMARKS.md, "Training in bounded memory"), well under 4 GiB.
pub(crate) const DEFAULT_MAX_TRAIN_ROWS: u64 = 1_000_000;

/// Peak memory of `train` with the default forest: a fixed part and a part per training row
/// and feature. Measured with 181 features (BENCHMARKS.md, "Training in bounded memory"):
/// 456 MiB peak on 250 k rows, 1,762 MiB on 1 M, so 1,826 bytes per row (10.1 per feature) past
/// about 20 MiB; the fixed part here leaves room for the reader's buffers and the host tables
/// (at most about 230 MB at their caps) and the per-row part rounds up.
const BASE_BYTES: u64 = 256 << 20;
/// See [`BASE_BYTES`].
const BYTES_PER_ROW_FEATURE: u64 = 10;
/// See [`BASE_BYTES`].
const BYTES_PER_ROW: u64 = 64;
/// --memory-limit refuses a limit that leaves fewer rows than this.
const MIN_TRAIN_ROWS: u64 = 1_000;

/// Parses a byte count: digits with an optional `K`, `M`, `G`, `T` (powers of 1000, also with
/// `B`) or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024), any case.
pub(crate) fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a byte count (such as 4GiB, 512MiB or 8G)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit (B, K, M, G, T, KiB, MiB, GiB, TiB)"
            ))
        }
    };
    let bytes = value * scale as f64;
    if !(1.0..1.8e19).contains(&bytes) {
        return Err(format!("`{text}`: out of range"));
    }
    Ok(bytes as u64)
}

/// The row budget: --max-train-rows, lowered to what --memory-limit leaves room for with
/// `n_features` features (said when it lowers it), or an error when too few rows fit.
pub(crate) fn row_budget(
    max_train_rows: u64,
    memory_limit: Option<u64>,
    n_features: usize,
) -> anyhow::Result<u64> {
    let Some(limit) = memory_limit else {
        return Ok(max_train_rows);
    };
    let per_row = BYTES_PER_ROW_FEATURE * n_features as u64 + BYTES_PER_ROW;
    let fit = limit.saturating_sub(BASE_BYTES) / per_row;
    anyhow::ensure!(
        fit >= MIN_TRAIN_ROWS,
        "--memory-limit {limit} bytes leaves room for {fit} training rows (about {per_row} bytes \
         per row of {n_features} features past {} MiB for the rest); give at least {} bytes",
        BASE_BYTES >> 20,
        BASE_BYTES + MIN_TRAIN_ROWS * per_row
    );
    if fit < max_train_rows {
        output::info(&format!(
            "--memory-limit: training on at most {fit} rows (about {per_row} bytes per row of \
             {n_features} features past {} MiB), fewer than --max-train-rows {max_train_rows}",
            BASE_BYTES >> 20
        ));
        return Ok(fit);
    }
    Ok(max_train_rows)
}

/// Sets the row budget of `config` from the arguments and the feature count.
fn set_budget(
    args: &TrainArgs,
    config: &mut iotguard_runtime::batch::BatchConfig,
    features: &iotguard_features::FeatureConfig,
) -> anyhow::Result<()> {
    let n_features = iotguard_features::FeatureExtractor::try_new(features.clone())
        .map_err(|e| anyhow::anyhow!("feature config: {e}"))?
        .schema()
        .len();
    let budget = row_budget(args.max_train_rows, args.memory_limit, n_features)?;
    config.sample = Some(iotguard_models::reservoir::SampleConfig {
        max_rows: usize::try_from(budget).unwrap_or(usize::MAX),
        seed: args.seed,
    });
    Ok(())
}

/// What `train` says about the sample: one line, and one per stratum that lost rows.
pub(crate) fn sampling_lines(s: &iotguard_models::reservoir::SamplingReport) -> Vec<String> {
    let budget = s.max_rows.unwrap_or(0);
    if !s.sampled {
        return vec![format!(
            "sample: every row kept ({} of at most {budget}; nothing folded or sampled away)",
            s.seen
        )];
    }
    let mut lines = vec![format!(
        "sample: {} rows seen, {} kept (at most {budget}), {} identical to a kept row folded \
         into it (counted, not weighted), {} sampled away; per input, class and detailed label \
         (also in the model file, training.sampling):",
        s.seen, s.kept, s.folded, s.sampled_away
    )];
    for st in &s.strata {
        lines.push(format!(
            "  {} {} {}: {} seen, {} kept, {} folded, {} sampled away",
            st.group,
            if st.malicious { "malicious" } else { "benign" },
            st.class,
            st.seen,
            st.kept,
            st.folded,
            st.sampled_away
        ));
    }
    lines
}

/// Parses a `--gbdt-setting` name.
pub(crate) fn gbdt_setting(name: &str) -> Result<GbdtSetting, String> {
    iotguard_models::tune::gbdt_setting(name).map_err(|e| e.to_string())
}

/// The hyperparameter choice that `--tune` and `--gbdt-setting` ask for.
pub(crate) fn choice(tune: bool, gbdt: Option<GbdtSetting>) -> Choice {
    match (tune, gbdt) {
        (true, _) => Choice::Tune,
        (false, Some(g)) => Choice::Gbdt(g),
        (false, None) => Choice::Default,
    }
}

/// The kind trained when `--model` is not given: the kind with the best F1, false-alert rate
/// and MCC leaving each capture out over the real captures, with the labels as given and with
/// the label audit (BENCHMARKS.md, "The forest, corrected").
const DEFAULT_KIND: ModelKind = ModelKind::Forest;

pub(crate) fn run(args: TrainArgs) -> anyhow::Result<u8> {
    if args.unlabeled {
        return run_unlabeled(args);
    }
    let kind = args.kind.unwrap_or(DEFAULT_KIND);
    anyhow::ensure!(
        args.gbdt_setting.is_none() || kind == ModelKind::Gbdt,
        "--gbdt-setting is for --model gbdt, not {kind}"
    );
    let (inputs, mut config) = args.input.prepare()?;
    args.audit.load(&mut config)?;
    let features = args.features.resolve(&inputs, &config)?;
    set_budget(&args, &mut config, &features)?;
    let checked = run_label_checks(args.label_checks, &inputs, &mut config, &features)?;
    let augment = augment_inputs(&args, kind, &features)?;
    let mut errors = ErrorPrinter::default();
    let (mut file, built, ooc) = iotguard_runtime::lab::train_model_out_of_capture(
        kind,
        &inputs,
        &augment,
        &config,
        &features,
        args.seed,
        &choice(args.tune, args.gbdt_setting),
        args.objective,
        args.rule,
        &mut |e| errors.print(e),
    )
    .with_context(|| format!("training a {kind} model"))?;
    errors.finish(args.input.rejects.is_some());
    report_inputs(&built.outcome);
    report_audit(&built.audited);
    if args.label_checks != LabelChecks::Off {
        let n = checked.applied.len();
        let counts: Vec<_> = built.audited[built.audited.len().saturating_sub(n)..].to_vec();
        file.metrics["label_checks"] = serde_json::json!({
            "mode": format!("{:?}", args.label_checks).to_lowercase(),
            "applied": counts,
            "reported": checked.reported,
        });
    }
    let out =
        File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    file.save(BufWriter::new(out))
        .with_context(|| format!("writing {}", args.out.display()))?;
    let tuning = &file.metrics["tuning"];
    for s in tuning["scores"].as_array().into_iter().flatten() {
        let chosen = s["setting"] == tuning["chosen"];
        output::info(&format!(
            "setting {}: MCC {} over the captures held out in turn{}",
            s["name"].as_str().unwrap_or("?"),
            s["inner"]["mcc"],
            if chosen { " (chosen)" } else { "" }
        ));
    }
    let augment_rows = built
        .dataset
        .group
        .iter()
        .filter(|&&g| g as usize >= inputs.len())
        .count();
    output::info(&format!(
        "trained {} on {} flows ({} malicious{}) from {} input(s); {} other and {} unlabeled flows left out; wrote {}",
        kind,
        file.training.rows,
        file.training.malicious,
        match augment_rows {
            0 => String::new(),
            n => format!(", {n} simulated or other training-only"),
        },
        inputs.len() - built.outcome.duplicates.len(),
        built.excluded_other,
        built.excluded_unlabeled,
        args.out.display()
    ));
    for line in sampling_lines(&built.sampling) {
        output::info(&line);
    }
    match &ooc {
        Some(o) => {
            for line in summary_lines(o) {
                output::out(&line);
            }
        }
        None => {
            let v = &file.metrics["validation"];
            output::warn(&format!(
                "no out-of-capture threshold could be chosen (the objective needs held-out flows \
                 of the class it measures); threshold {} chosen on a random fifth of the training \
                 rows instead: precision {}, recall {}, f1 {} there, which says little about \
                 another network",
                file.threshold["value"]
                    .as_f64()
                    .map_or_else(|| file.threshold["value"].to_string(), output::num),
                v["precision"],
                v["recall"],
                v["f1"]
            ));
        }
    }
    Ok(if built.outcome.failed_inputs.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    })
}

/// `train --unlabeled`: a baseline learned from every flow, labels ignored.
fn run_unlabeled(args: TrainArgs) -> anyhow::Result<u8> {
    let kind = args
        .kind
        .unwrap_or(iotguard_runtime::lab::DEFAULT_BASELINE_KIND);
    anyhow::ensure!(
        !kind.supervised(),
        "--unlabeled learns with --model iforest or autoencoder; {kind} needs labels"
    );
    let (inputs, mut config) = args.input.prepare()?;
    let features = args.features.resolve(&inputs, &config)?;
    set_budget(&args, &mut config, &features)?;
    let mut errors = ErrorPrinter::default();
    let params = iotguard_runtime::lab::BaselineParams {
        group_by: args.group_by.clone(),
        ..iotguard_runtime::lab::BaselineParams::new(kind, args.target_far, args.seed)
    };
    let (file, built, summary) = iotguard_runtime::lab::train_baseline_model(
        &params,
        &inputs,
        &config,
        &features,
        &mut |e| errors.print(e),
    )
    .with_context(|| format!("learning a {kind} baseline without labels"))?;
    errors.finish(args.input.rejects.is_some());
    report_inputs(&built.outcome);
    let out =
        File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    file.save(BufWriter::new(out))
        .with_context(|| format!("writing {}", args.out.display()))?;
    let ig = &built.ignored;
    output::info(&format!(
        "learned a baseline ({kind}) without labels on {} flows from {} input(s) (labels ignored: \
         {} benign, {} malicious, {} other; {} flows unlabeled); wrote {}",
        summary.rows,
        inputs.len(),
        ig.benign,
        ig.malicious,
        ig.other,
        ig.unlabeled,
        args.out.display()
    ));
    for line in sampling_lines(&built.sampling) {
        output::info(&line);
    }
    output::out(&baseline_line(&summary));
    for g in &summary.groups {
        let threshold = output::num(f64::from(g.threshold));
        output::out(&if g.group == "all" {
            format!(
                "groups without a model of their own: {} flows, scored by the baseline over \
                 every flow (own threshold {threshold})",
                g.rows
            )
        } else {
            format!(
                "group {}: {} flows, own threshold {threshold}",
                g.group, g.rows
            )
        });
    }
    Ok(if built.outcome.failed_inputs.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    })
}

/// The line `train --unlabeled` prints: the threshold and how it was chosen.
pub(crate) fn baseline_line(s: &iotguard_models::baseline::BaselineSummary) -> String {
    format!(
        "baseline threshold {} for a false-alert rate of at most {} on its own training flows: \
         {} of {} flows at or above it ({:.4}); on later traffic this rate is an estimate, and \
         attacks among the training flows are learned as normal",
        output::num(f64::from(s.threshold)),
        s.target_far,
        s.alerts,
        s.rows,
        s.achieved_far
    )
}

/// The out-of-capture summary `train` prints: how the scores were made, the threshold and its
/// objective, each held-out unit and the pool at that threshold.
pub(crate) fn summary_lines(o: &OutOfCapture) -> Vec<String> {
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.3}"));
    let row = |m: &BinaryMetrics, name: &str, alone: String| {
        format!(
            "{:>8}  {:>9}  {:>6}  {:>9}  {:>6}  {:>12}  {:>7}  {name}",
            m.n,
            m.tp + m.fn_,
            m.tp + m.fp,
            fmt(m.precision),
            fmt(m.recall),
            fmt(m.false_alert_rate),
            alone
        )
    };
    let mut lines = vec![
        format!(
            "out-of-capture estimate ({}): threshold {} for {}, {}",
            o.description,
            output::num(f64::from(o.threshold)),
            o.objective,
            o.rule.describe()
        ),
        format!(
            "{:>8}  {:>9}  {:>6}  {:>9}  {:>6}  {:>12}  {:>7}  held out",
            "flows", "malicious", "alerts", "precision", "recall", "false_alerts", "alone"
        ),
    ];
    for u in &o.units {
        let alone = u
            .alone
            .map_or_else(|| "-".to_string(), |t| format!("{t:.3}"));
        lines.push(row(&u.metrics, &u.unit, alone));
    }
    lines.push(row(&o.pooled, "pooled", String::new()));
    for s in &o.skipped {
        lines.push(format!("not scored: {s}"));
    }
    lines.extend(costly_threshold_warning(o));
    lines
}

/// The held-out false-alert rate past which `train` warns that its threshold is costly.
const COSTLY_FAR: f64 = 0.10;

/// A warning when the chosen threshold flags more than [`COSTLY_FAR`] of the held-out benign
/// flows (a recall target that a few hard captures pulled down), with the thresholds of the
/// held-out curve that keep 10 % and 5 % and the recall they keep: what an operator can set
/// with `--threshold` or `--target-far` instead. Nothing when the rate is within the bound.
fn costly_threshold_warning(o: &OutOfCapture) -> Option<String> {
    let far = o.pooled.false_alert_rate?;
    if far <= COSTLY_FAR {
        return None;
    }
    let mut text = format!(
        "warning: at threshold {} the held-out captures' benign flows alert at {:.1} %: a network like them would see that many false alerts",
        output::num(f64::from(o.threshold)),
        far * 100.0
    );
    let options: Vec<String> = [0.10, 0.05]
        .iter()
        .filter_map(|&bound| {
            // The curve ascends in threshold: the first point within the bound.
            let p = o.curve.iter().find(|p| p[1] <= bound)?;
            Some(format!(
                "threshold {} gives {:.1} % at recall {:.3}",
                output::num(p[0]),
                p[1] * 100.0,
                p[2]
            ))
        })
        .collect();
    if !options.is_empty() {
        text.push_str(&format!(
            "; on the held-out flows, {} (set with --threshold or --target-far on detect, eval and serve)",
            options.join(", ")
        ));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The out-of-capture summary of a forest trained on seven dev captures (pool-dev and 42-1
    /// left out), cut to one unit and six curve points: a balanced recall target that chose
    /// threshold 0.05, at which 36.6 % of the held-out benign flows alert.
    const COSTLY: &str = r#"{"benign_sketches": [], "curve": [[0.39000001549720764, 0.1215572033898305, 0.994781070322866], [0.42000001668930054, 0.09533898305084745, 0.9932478254459679], [0.45000001788139343, 0.07653601694915255, 0.9350729765590446], [0.48000001907348633, 0.058395127118644065, 0.7729323308270677], [0.5000000596046448, 0.04846398305084746, 0.5608727701606958], [0.5200000405311584, 0.03734110169491525, 0.554828247088309]], "description": "leave one capture out over the 7 training captures: each scored by a model fitted on the others", "objective": "recall:0.9", "pooled": {"balanced_accuracy": 0.816883907331889, "f1": 0.9606234502302515, "false_alert_rate": 0.3657309322033898, "fn_": 17, "fp": 2762, "mcc": 0.7640535362922021, "n": 41467, "pr_auc": 0.9893033441666952, "precision": 0.924659028914348, "recall": 0.9994987468671679, "roc_auc": 0.9677918722685327, "tn": 4790, "tp": 33898}, "pooled_benign_sketch": null, "rule": "balanced", "skipped": [], "split": {"captures": 7, "kind": "leave_one_capture_out"}, "threshold": 0.05000000074505806, "units": [{"alone": null, "metrics": {"balanced_accuracy": null, "f1": 0.0, "false_alert_rate": 0.21460176991150443, "fn_": 0, "fp": 97, "mcc": null, "n": 452, "pr_auc": null, "precision": 0.0, "recall": null, "roc_auc": null, "tn": 355, "tp": 0}, "unit": "hp4-1"}]}"#;

    #[test]
    fn a_threshold_flagging_many_held_out_benign_flows_is_warned_with_the_alternatives() {
        let mut o: OutOfCapture = serde_json::from_str(COSTLY).unwrap();
        let lines = summary_lines(&o);
        assert_eq!(
            lines.last().unwrap(),
            "warning: at threshold 0.05 the held-out captures' benign flows alert at 36.6 %: a network like them would see that many false alerts; on the held-out flows, threshold 0.42 gives 9.5 % at recall 0.993, threshold 0.5 gives 4.8 % at recall 0.561 (set with --threshold or --target-far on detect, eval and serve)"
        );
        // Within the bound: no warning.
        o.pooled.false_alert_rate = Some(0.099);
        assert!(!summary_lines(&o).iter().any(|l| l.starts_with("warning")));
    }

    #[test]
    fn reported_findings_print_five_per_check_then_a_count() {
        let finding = |check: &str, host: usize| {
            serde_json::json!({
                "check": check, "input": "sim.log", "host": format!("192.168.1.{host}"),
                "flows": 60, "summary": format!("a {check} from 192.168.1.{host}"), "kept": "kept as labeled: why",
            })
        };
        let mut reported: Vec<_> = (10..18).map(|h| finding("beacon", h)).collect();
        reported.push(finding("scan", 30));
        let lines = reported_lines(&reported);
        assert_eq!(lines.len(), 5 + 1 + 1, "{lines:#?}");
        assert_eq!(
            lines[0],
            "label check (beacon): sim.log: a beacon from 192.168.1.10 (kept as labeled: why)"
        );
        assert_eq!(
            lines[5],
            "label check (scan): sim.log: a scan from 192.168.1.30 (kept as labeled: why)"
        );
        assert_eq!(
            lines[6],
            "label check (beacon): 3 more findings kept as labeled, not printed (all in the model file, metrics.label_checks.reported; `iotguard explore` shows their evidence)"
        );
    }

    #[test]
    fn byte_counts_with_units() {
        assert_eq!(parse_bytes("4GiB"), Ok(4 << 30));
        assert_eq!(parse_bytes("512mib"), Ok(512 << 20));
        assert_eq!(parse_bytes("8G"), Ok(8_000_000_000));
        assert_eq!(parse_bytes("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_bytes("123456"), Ok(123_456));
        assert!(parse_bytes("4 parsecs").is_err());
        assert!(parse_bytes("GiB").is_err());
        assert!(parse_bytes("0").is_err());
    }

    #[test]
    fn the_memory_limit_lowers_the_row_budget_or_is_refused() {
        let per_row = BYTES_PER_ROW_FEATURE * 181 + BYTES_PER_ROW;
        assert_eq!(row_budget(1_000_000, None, 181).unwrap(), 1_000_000);
        let fit = ((4u64 << 30) - BASE_BYTES) / per_row;
        assert_eq!(row_budget(100_000_000, Some(4 << 30), 181).unwrap(), fit);
        assert_eq!(row_budget(1_000, Some(4 << 30), 181).unwrap(), 1_000);
        let err = row_budget(1_000_000, Some(BASE_BYTES), 181).unwrap_err();
        assert!(
            err.to_string().contains("leaves room for 0 training rows"),
            "{err}"
        );
    }
}
