//! `iotguard train`: one model on labeled flows into a self-describing model file.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use iotguard_models::lab::ModelKind;
use iotguard_models::tune::{Choice, GbdtSetting};

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
    /// The model kind: logreg, svm, tree, forest, gbdt, iforest, autoencoder, ensemble
    /// [default: forest, the best kind on F1, false-alert rate and MCC across captures in
    /// BENCHMARKS.md].
    #[arg(long = "model", value_parser = |s: &str| s.parse::<ModelKind>())]
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
    let kind = args.kind.unwrap_or(DEFAULT_KIND);
    anyhow::ensure!(
        args.gbdt_setting.is_none() || kind == ModelKind::Gbdt,
        "--gbdt-setting is for --model gbdt, not {kind}"
    );
    let (inputs, mut config) = args.input.prepare()?;
    args.audit.load(&mut config)?;
    let features = args.features.resolve(&inputs, &config)?;
    let mut errors = ErrorPrinter::default();
    let (file, built) = iotguard_runtime::lab::train_model(
        kind,
        &inputs,
        &config,
        &features,
        args.seed,
        &choice(args.tune, args.gbdt_setting),
        &mut |e| errors.print(e),
    )
    .with_context(|| format!("training a {kind} model"))?;
    errors.finish(args.input.rejects.is_some());
    report_inputs(&built.outcome);
    report_audit(&built.audited);
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
    let v = &file.metrics["validation"];
    output::info(&format!(
        "trained {} on {} flows ({} malicious) from {} input(s); {} other and {} unlabeled flows left out",
        kind,
        file.training.rows,
        file.training.malicious,
        inputs.len(),
        built.excluded_other,
        built.excluded_unlabeled
    ));
    output::info(&format!(
        "threshold {} chosen on held-out rows: precision {}, recall {}, f1 {}; wrote {}",
        file.threshold["value"],
        v["precision"],
        v["recall"],
        v["f1"],
        args.out.display()
    ));
    Ok(if built.outcome.failed_inputs.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    })
}
