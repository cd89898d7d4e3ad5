//! `iotguard import-model`: an XGBoost or LightGBM booster trained on `iotguard features` rows
//! into an iotguard model file that `detect`, `eval` and `serve` load like any other.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use iotguard_models::import::Source;
use iotguard_runtime::dataset::Labels;
use iotguard_runtime::lab::{FeatureSchemaFile, ImportConfig, FEATURE_SCHEMA_FORMAT};

use super::{report_inputs, ErrorPrinter, InputArgs};
use crate::{exit, output};

/// Arguments of `import-model`.
#[derive(Args, Debug)]
pub(crate) struct ImportModelArgs {
    /// The package that saved the model: `xgboost` (JSON from `booster.save_model("m.json")`,
    /// binary:logistic) or `lightgbm` (text from `booster.save_model("m.txt")`, binary).
    #[arg(long = "from", value_name = "PACKAGE", ignore_case = true, value_parser = Source::NAMES)]
    from: String,
    /// The saved model.
    #[arg(value_name = "MODEL_FILE")]
    model: PathBuf,
    /// Where to write the iotguard model file.
    #[arg(long, short, value_name = "FILE")]
    out: PathBuf,
    /// The `feature_schema.json` that `iotguard features` wrote beside the rows the model was
    /// trained on (or its folder); needed when they used a native feature set [default: the
    /// default feature set].
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    /// Match the model's columns to the feature schema's by position instead of by name, only
    /// their count checked: for a booster saved without feature names (XGBoost4J-Spark trained
    /// on a VectorAssembler column, or a booster trained on a bare array) or with generic ones
    /// (LightGBM's `Column_0`, ...). The columns must be the schema's, in its order.
    #[arg(long)]
    by_position: bool,
    /// The probability at or above which a flow alerts [default: 0.5].
    #[arg(long, value_name = "P")]
    threshold: Option<f32>,
    /// The labeled flow inputs the booster was trained on (those given to `features`): their
    /// rows are recorded as its training data and its drift reference profile is built on
    /// them, as `train` does, so `detect` runs drift monitors [default: none, no monitors].
    #[arg(long, value_name = "PATH", num_args = 1..)]
    profile_on: Vec<PathBuf>,
}

pub(crate) fn run(args: ImportModelArgs) -> anyhow::Result<u8> {
    let source: Source = args.from.parse()?;
    let schema = args.schema.as_deref().map(read_schema).transpose()?;
    let text = std::fs::read_to_string(&args.model)
        .with_context(|| format!("reading {}", args.model.display()))?;
    let config = ImportConfig {
        source,
        file_name: args
            .model
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        threshold: args.threshold,
        schema,
        by_position: args.by_position,
    };
    let rows = if args.profile_on.is_empty() {
        None
    } else {
        let input = InputArgs {
            paths: args.profile_on.clone(),
            format: None,
            threads: None,
            rejects: None,
            sensor: None,
            max_line_bytes: iotguard_flow::DEFAULT_MAX_LINE,
            since: None,
            until: None,
            header_from: None,
        };
        let (inputs, batch) = input.prepare()?;
        let features = iotguard_runtime::lab::import_features(&config)?;
        let mut errors = ErrorPrinter::default();
        let built = iotguard_runtime::lab::feature_rows(
            &inputs,
            &batch,
            &features,
            Labels::AsGiven,
            &mut |e| errors.print(e),
        )
        .context("building the profiling rows")?;
        errors.finish(false);
        report_inputs(&built.outcome);
        anyhow::ensure!(
            built.outcome.failed_inputs.is_empty(),
            "--profile-on: an input could not be read to its end"
        );
        Some(built)
    };
    let file = match iotguard_runtime::lab::import_model(&text, &config, rows.as_ref()) {
        Ok(file) => file,
        // A native feature set's rows have more columns than the default schema assumed here.
        Err(e) if args.schema.is_none() && e.to_string().contains("the feature schema") => {
            return Err(anyhow::Error::new(e).context(format!(
                "importing {} against the default feature set (rows written with another \
                 set need --schema FEATURES_DIR)",
                args.model.display()
            )));
        }
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("importing {}", args.model.display())))
        }
    };
    let out =
        File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    file.save(BufWriter::new(out))
        .with_context(|| format!("writing {}", args.out.display()))?;
    let imported = &file.metrics["imported"];
    if let Some(best) = imported["source"]["best_iteration"].as_u64() {
        output::warn(&format!(
            "the booster records early stopping's best iteration {best}, but all {} saved trees \
             are imported (as Booster.predict scores); save booster[:{}] to keep only those",
            imported["source"]["trees"],
            best + 1
        ));
    }
    if let Some(r) = &file.reference {
        output::info(&format!(
            "training data and drift reference profile from {} rows of {} input(s)",
            r.rows,
            file.training.inputs.len()
        ));
    }
    output::info(&format!(
        "imported a {} model ({} trees over {} features) at threshold {} ({}); wrote {}",
        source.name(),
        imported["source"]["trees"],
        file.features.names.len(),
        imported["threshold"]["value"],
        imported["threshold"]["set_by"].as_str().unwrap_or("?"),
        args.out.display()
    ));
    Ok(exit::OK)
}

/// Reads a `feature_schema.json` (given as the file or its folder).
fn read_schema(path: &Path) -> anyhow::Result<iotguard_models::persist::FeatureSpec> {
    let path = if path.is_dir() {
        path.join("feature_schema.json")
    } else {
        path.to_path_buf()
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let file: FeatureSchemaFile = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a feature schema file", path.display()))?;
    anyhow::ensure!(
        file.format == FEATURE_SCHEMA_FORMAT,
        "{}: format `{}` is not {FEATURE_SCHEMA_FORMAT}",
        path.display(),
        file.format
    );
    Ok(file.spec)
}
