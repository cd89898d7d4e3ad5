//! `iotguard features`: the feature rows `train` fits on, as Parquet, for training elsewhere
//! (Spark, XGBoost, LightGBM); `import-model` brings the result back.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use iotguard_runtime::dataset::Labels;

use super::{report_audit, report_inputs, AuditArg, ErrorPrinter, FeaturesArg, InputArgs};
use crate::{exit, output};

/// Arguments of `features`.
#[derive(Args, Debug)]
pub(crate) struct FeaturesArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    audit: AuditArg,
    #[command(flatten)]
    features: FeaturesArg,
    /// The folder to write `features.parquet` (capture, label 0/1, detailed_label, time, then
    /// one Float32 column per feature, NaN = missing) and `feature_schema.json` (the feature
    /// names in order, schema version and fingerprint; also in the Parquet file's key-value
    /// metadata) into; created if needed.
    #[arg(long, short, value_name = "DIR")]
    out: PathBuf,
    /// Write every flow as a row whatever label it carries (label 0, detailed_label
    /// Unlabeled): the rows `train --unlabeled` learns a baseline from, for unlabeled inputs.
    #[arg(long)]
    unlabeled: bool,
}

pub(crate) fn run(args: FeaturesArgs) -> anyhow::Result<u8> {
    let (inputs, mut config) = args.input.prepare()?;
    args.audit.load(&mut config)?;
    let features = args.features.resolve(&inputs, &config)?;
    let mut errors = ErrorPrinter::default();
    let labels = if args.unlabeled {
        Labels::Ignored
    } else {
        Labels::AsGiven
    };
    let built =
        iotguard_runtime::lab::feature_rows(&inputs, &config, &features, labels, &mut |e| {
            errors.print(e)
        })
        .context("building the feature rows")?;
    errors.finish(args.input.rejects.is_some());
    report_inputs(&built.outcome);
    report_audit(&built.audited);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let schema = iotguard_runtime::lab::feature_schema_file(&built, &features);
    let json = serde_json::to_string_pretty(&schema)?;
    let parquet = args.out.join("features.parquet");
    write_parquet(&parquet, &built.dataset, &json)?;
    let schema_path = args.out.join("feature_schema.json");
    std::fs::write(&schema_path, format!("{json}\n"))
        .with_context(|| format!("writing {}", schema_path.display()))?;
    if args.unlabeled {
        let i = &built.ignored;
        output::info(&format!(
            "--unlabeled: every flow is a row labeled 0; labels ignored: {} benign, {} malicious, \
             {} other",
            i.benign, i.malicious, i.other
        ));
    }
    output::info(&format!(
        "wrote {} rows ({} malicious) of {} features from {} input(s) to {} and the schema to {}; \
         {} other and {} unlabeled flows left out, as train leaves them out",
        schema.rows,
        schema.malicious,
        schema.spec.names.len(),
        inputs.len(),
        parquet.display(),
        schema_path.display(),
        built.excluded_other,
        built.excluded_unlabeled
    ));
    Ok(if built.outcome.failed_inputs.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    })
}

#[cfg(feature = "parquet")]
fn write_parquet(path: &Path, d: &iotguard_models::Dataset, schema: &str) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = iotguard_runtime::parquet::write_features(BufWriter::new(file), d, schema)
        .with_context(|| format!("writing {}", path.display()))?;
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(not(feature = "parquet"))]
fn write_parquet(_: &Path, _: &iotguard_models::Dataset, _: &str) -> anyhow::Result<()> {
    anyhow::bail!("this build has no Parquet support (build with the `parquet` feature)")
}
