//! `iotguard compare`: every model kind, leave-one-capture-out on the same features, into a
//! JSON and a Markdown report.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use iotguard_features::FeatureConfig;
use iotguard_models::lab::ModelKind;
use iotguard_models::metrics::BinaryMetrics;
use iotguard_runtime::lab::{CompareReport, FeatureSet};

use super::{report_inputs, ErrorPrinter, InputArgs};
use crate::{exit, output};

/// Arguments of `compare`.
#[derive(Args, Debug)]
pub(crate) struct CompareArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The folder the reports go to (`report.json`, `report.md`).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The model kinds to compare [default: all].
    #[arg(long = "models", value_delimiter = ',', value_parser = |s: &str| s.parse::<ModelKind>())]
    kinds: Vec<ModelKind>,
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
    /// Add a multiclass section: the detailed label predicted by one forest per label,
    /// 5-fold cross-validated (`multiclass` in report.json, a section in report.md).
    #[arg(long)]
    multiclass: bool,
}

pub(crate) fn run(args: CompareArgs) -> anyhow::Result<u8> {
    let kinds = if args.kinds.is_empty() {
        ModelKind::ALL.to_vec()
    } else {
        args.kinds.clone()
    };
    let (inputs, config) = args.input.prepare()?;
    anyhow::ensure!(
        inputs.len() >= 2,
        "leave-one-capture-out needs at least two labeled inputs"
    );
    let mut errors = ErrorPrinter::default();
    let (report, built) = iotguard_runtime::lab::compare(
        &kinds,
        &inputs,
        &config,
        &FeatureConfig::default(),
        if args.flow_features_only {
            FeatureSet::Flow
        } else {
            FeatureSet::All
        },
        args.seed,
        &mut |e| errors.print(e),
    )?;
    errors.finish(args.input.rejects.is_some());
    report_inputs(&built.outcome);
    if let Some(path) = &args.export_dataset {
        export(path, &built.dataset)?;
        output::info(&format!(
            "wrote the dataset ({} rows) to {}",
            built.dataset.n_rows(),
            path.display()
        ));
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
    let mut md = render(&report);
    if let Some(m) = &multiclass {
        md.push_str(&iotguard_runtime::multiclass::render_markdown(m));
    }
    let md_path = args.out.join("report.md");
    std::fs::write(&md_path, &md).with_context(|| format!("writing {}", md_path.display()))?;
    output::out(&md);
    for (kind, why) in &report.failures {
        output::error(&format!("{kind}: {why}"));
    }
    output::info(&format!(
        "wrote {} and {}",
        json.display(),
        md_path.display()
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

/// The Markdown report: the protocol, then one row per model under the baseline.
fn render(r: &CompareReport) -> String {
    let f = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |x| format!("{x:.3}"));
    let row = |name: &str, m: &BinaryMetrics, train: String, predict: String| {
        format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {train} | {predict} |\n",
            f(m.precision),
            f(m.recall),
            f(m.f1),
            f(m.false_alert_rate),
            f(m.mcc),
            f(m.pr_auc),
            f(m.roc_auc)
        )
    };
    let mut out = format!(
        "# Model comparison, leave one capture out\n\n{} labeled flows ({} malicious) from {} captures, {} features per flow ({}); {} Background/Unknown and {} unlabeled flows left out. Each capture is scored by models trained on the other captures only; each model's threshold is chosen on a held-out fifth of its training captures' flows. Metrics pool every held-out flow.\n\n",
        r.rows,
        r.malicious,
        r.inputs.len(),
        r.features,
        match r.feature_set {
            FeatureSet::All => "per flow and per host",
            FeatureSet::Flow => "per flow only",
        },
        r.excluded_other,
        r.excluded_unlabeled
    );
    out.push_str("| model | precision | recall | F1 | false-alert rate | MCC | PR-AUC | ROC-AUC | train s (all folds) | predict rows/s |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    out.push_str(&row("majority class", &r.baseline, "–".into(), "–".into()));
    for m in &r.models {
        out.push_str(&row(
            m.kind.name(),
            &m.pooled,
            format!("{:.2}", m.train_secs),
            format!("{:.0}", m.predict_rows_per_sec),
        ));
    }
    out.push_str("\nCaptures (folds):\n\n");
    for (i, name) in r.inputs.iter().enumerate() {
        out.push_str(&format!("{}. {name}\n", i + 1));
    }
    out
}
