//! `iotguard compare`: every model kind on the same features and folds (leave one capture out,
//! stratified k-fold, time-ordered or each attack type held out), into a JSON, a Markdown and a
//! self-contained HTML report with plots.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use iotguard_models::lab::ModelKind;
use iotguard_models::tune::GbdtSetting;
use iotguard_runtime::lab::{CompareConfig, FeatureSet, Split};

use super::{report_audit, report_inputs, AuditArg, ErrorPrinter, FeaturesArg, InputArgs};
use crate::{exit, output};

/// Arguments of `compare`.
#[derive(Args, Debug)]
pub(crate) struct CompareArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    audit: AuditArg,
    #[command(flatten)]
    features: FeaturesArg,
    /// The folder the reports go to (`report.json`, `report.md`, `report.html`).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The model kinds to compare [default: all].
    #[arg(long = "models", value_delimiter = ',', ignore_case = true, value_parser = super::model_kind_parser())]
    kinds: Vec<ModelKind>,
    /// How flows are split into training and test folds: `loco` (leave one capture out),
    /// `kfold` (stratified over the pooled flows; optimistic) or `time` (each capture cut in its
    /// own time order; train on the earlier blocks, test on the next) or `family` (each attack
    /// type held out in turn, tested with a disjoint share of the benign flows).
    #[arg(long, value_enum, ignore_case = true, default_value_t = SplitArg::Loco)]
    split: SplitArg,
    /// Folds for `--split kfold` and `--split time`.
    #[arg(long, value_name = "K", default_value_t = 5)]
    folds: usize,
    /// The seed for splits, sampling and initialisation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Give the models per-flow features only, to measure what per-host context adds.
    #[arg(long)]
    flow_features_only: bool,
    /// Also write the dataset (groups, targets, classes, times, every feature) as Parquet, for
    /// other tools to train on exactly these features (`bench/model_bench.py` does).
    #[arg(long, value_name = "FILE")]
    export_dataset: Option<PathBuf>,
    /// Stop after building (and exporting) the dataset: evaluate no model.
    #[arg(long, requires = "export_dataset")]
    export_only: bool,
    /// Choose each fold's hyperparameters out of sample: among a fixed grid (gbdt: six settings),
    /// by nested leave-one-capture-out over that fold's training captures, keeping the best
    /// Matthews correlation. Kinds without a grid keep their defaults. Slower: the grid is
    /// trained once per training capture per fold.
    #[arg(long, conflicts_with = "gbdt_setting")]
    tune: bool,
    /// Evaluate gbdt at this setting of the grid `--tune` chooses from, in every fold (names
    /// such as `depth6-lr0.3-leaf1`, the default, or `leaves31-lr0.1-leaf20`; a wrong name
    /// lists them). The other kinds keep their defaults.
    #[arg(long, value_name = "NAME", value_parser = super::train::gbdt_setting)]
    gbdt_setting: Option<GbdtSetting>,
    /// Add a multiclass section: the detailed label predicted by one forest per label,
    /// 5-fold cross-validated (`multiclass` in report.json, a section in report.md).
    #[arg(long)]
    multiclass: bool,
}

/// The values of `--split`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SplitArg {
    /// Leave one capture out.
    Loco,
    /// Stratified k-fold over the pooled flows.
    Kfold,
    /// Time-ordered within each capture.
    Time,
    /// Each attack type (detailed label) held out in turn.
    Family,
}

pub(crate) fn run(args: CompareArgs) -> anyhow::Result<u8> {
    let kinds = if args.kinds.is_empty() {
        ModelKind::ALL.to_vec()
    } else {
        args.kinds.clone()
    };
    let split = match args.split {
        SplitArg::Loco => Split::Loco,
        SplitArg::Kfold => Split::Kfold { folds: args.folds },
        SplitArg::Time => Split::Time { folds: args.folds },
        SplitArg::Family => Split::Family,
    };
    let (inputs, mut config) = args.input.prepare()?;
    args.audit.load(&mut config)?;
    anyhow::ensure!(
        split != Split::Loco || inputs.len() >= 2,
        "leave-one-capture-out needs at least two labeled inputs"
    );
    let features = args.features.resolve(&inputs, &config)?;
    let mut errors = ErrorPrinter::default();
    let compare = CompareConfig {
        // `--export-only` evaluates no model (the folds are still planned, so a split the
        // inputs cannot take is refused before anything is written).
        kinds: if args.export_only { Vec::new() } else { kinds },
        split,
        feature_set: if args.flow_features_only {
            FeatureSet::Flow
        } else {
            FeatureSet::All
        },
        seed: args.seed,
        hyperparameters: super::train::choice(args.tune, args.gbdt_setting),
    };
    let (report, built) =
        iotguard_runtime::lab::compare(&compare, &inputs, &config, &features, &mut |e| {
            errors.print(e)
        })?;
    errors.finish(args.input.rejects.is_some());
    report_inputs(&built.outcome);
    report_audit(&built.audited);
    if let Some(path) = &args.export_dataset {
        export(path, &built.dataset)?;
        output::info(&format!(
            "wrote the dataset ({} rows) to {}",
            built.dataset.n_rows(),
            path.display()
        ));
        if args.export_only {
            return Ok(exit::OK);
        }
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let multiclass = if args.multiclass {
        Some(iotguard_runtime::multiclass::multiclass_report(
            &built.dataset,
            args.seed,
        )?)
    } else {
        None
    };
    let mut json_value = serde_json::to_value(&report)?;
    if let Some(m) = &multiclass {
        json_value["multiclass"] = serde_json::to_value(m)?;
    }
    let json = args.out.join("report.json");
    std::fs::write(&json, serde_json::to_vec_pretty(&json_value)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let mut md = iotguard_runtime::report::markdown(&report);
    if let Some(m) = &multiclass {
        md.push_str(&iotguard_runtime::multiclass::render_markdown(m));
    }
    let md_path = args.out.join("report.md");
    std::fs::write(&md_path, &md).with_context(|| format!("writing {}", md_path.display()))?;
    let html = iotguard_runtime::report::html(&report, multiclass.as_ref())?;
    let html_path = args.out.join("report.html");
    std::fs::write(&html_path, &html)
        .with_context(|| format!("writing {}", html_path.display()))?;
    output::out(&md);
    for (kind, why) in &report.failures {
        output::error(&format!("{kind}: {why}"));
    }
    output::info(&format!(
        "wrote {}, {} and {}",
        json.display(),
        md_path.display(),
        html_path.display()
    ));
    Ok(
        if report.failures.is_empty() && built.outcome.failed_inputs.is_empty() {
            exit::OK
        } else {
            exit::ERROR
        },
    )
}

#[cfg(feature = "parquet")]
fn export(path: &std::path::Path, d: &iotguard_models::Dataset) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = iotguard_runtime::parquet::write_dataset(std::io::BufWriter::new(file), d)
        .with_context(|| format!("writing {}", path.display()))?;
    std::io::Write::flush(&mut w).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(not(feature = "parquet"))]
fn export(_path: &std::path::Path, _d: &iotguard_models::Dataset) -> anyhow::Result<()> {
    anyhow::bail!("this build has no Parquet support (build with the `parquet` feature)")
}
