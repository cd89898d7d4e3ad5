//! Models trained elsewhere: the feature rows other tools train on (`iotguard features`) and
//! their boosters brought back as model files (`iotguard import-model`).
//!
//! The rows are exactly the rows `train` fits on: the same [`build_dataset`] call through the
//! same extractor, label audit and exclusions (Background, Unknown and unlabeled flows feed
//! host state but are not rows). The feature schema written beside them ([`FeatureSchemaFile`])
//! is the [`FeatureSpec`] model files record, so an imported model carries the same version,
//! fingerprint, names and extractor configuration as one trained here, and `detect`, `eval`
//! and `serve` load it through [`super::load_model_from`] like any other.
//!
//! [`build_dataset`]: crate::dataset::build_dataset

use iotguard_features::{FeatureConfig, FeatureExtractor};
use iotguard_flow::ParseError;
use iotguard_models::import::{check_feature_names, import, Source};
use iotguard_models::lab::TrainedModel;
use iotguard_models::persist::{
    FeatureSpec, ModelFile, TrainingSummary, MODEL_FILE_VERSION, MODEL_FORMAT,
};
use iotguard_models::reference::ReferenceProfile;
use iotguard_models::threshold::Threshold;
use serde::{Deserialize, Serialize};

use super::{dataset, feature_spec};
use crate::batch::BatchConfig;
use crate::dataset::{build_dataset_with, BuiltDataset, Labels};
use crate::error::{Error, Result};
use crate::input::Input;

/// The `format` of a feature schema file.
pub const FEATURE_SCHEMA_FORMAT: &str = "iotguard-feature-schema";

/// The threshold an imported model gets without `--threshold`: the packages' own cut-off for
/// `predict` of a class.
pub const DEFAULT_IMPORT_THRESHOLD: f32 = 0.5;

/// `feature_schema.json`: the model files' feature spec plus what the rows hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureSchemaFile {
    /// Always [`FEATURE_SCHEMA_FORMAT`].
    pub format: String,
    /// The feature spec, as model files record it (version, fingerprint, names, config).
    #[serde(flatten)]
    pub spec: FeatureSpec,
    /// The columns before the features, in order, each with its meaning.
    pub columns: Vec<Column>,
    /// Rows written.
    pub rows: u64,
    /// Malicious rows.
    pub malicious: u64,
    /// The captures (inputs), as the `capture` column names them.
    pub captures: Vec<String>,
}

/// A column of the feature rows that is not a feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub meaning: String,
}

/// Builds the feature rows of `inputs` exactly as `train` builds them: with
/// [`Labels::AsGiven`], the labeled rows `train` fits on; with [`Labels::Ignored`], every flow
/// as a benign row, the rows `train --unlabeled` learns a baseline from.
pub fn feature_rows(
    inputs: &[Input],
    batch: &BatchConfig,
    features: &FeatureConfig,
    labels: Labels,
    on_error: &mut dyn FnMut(&ParseError),
) -> Result<BuiltDataset> {
    match labels {
        Labels::AsGiven => dataset(inputs, batch, features, on_error),
        Labels::Ignored => build_dataset_with(
            inputs,
            batch,
            features,
            Labels::Ignored,
            &Default::default(),
            on_error,
        ),
    }
}

/// Returns the schema file describing `built`'s rows.
pub fn feature_schema_file(built: &BuiltDataset, features: &FeatureConfig) -> FeatureSchemaFile {
    let d = &built.dataset;
    let col = |n: &str, m: &str| Column {
        name: n.to_string(),
        meaning: m.to_string(),
    };
    FeatureSchemaFile {
        format: FEATURE_SCHEMA_FORMAT.to_string(),
        spec: feature_spec(&built.schema, features),
        columns: vec![
            col("capture", "the input (capture) the flow came from"),
            col(
                "label",
                "1 malicious, 0 benign (the input's label, after any label audit)",
            ),
            col(
                "detailed_label",
                "the detailed label (attack family), Benign for benign flows",
            ),
            col(
                "time",
                "the flow's start, seconds since the Unix epoch (NaN: untimed input)",
            ),
        ],
        rows: d.n_rows() as u64,
        malicious: d.target.iter().filter(|t| **t).count() as u64,
        captures: d.group_names.clone(),
    }
}

/// What `import-model` was asked for.
#[derive(Clone, Debug)]
pub struct ImportConfig {
    /// The package the booster comes from.
    pub source: Source,
    /// The booster file's name, recorded in the model file.
    pub file_name: String,
    /// The alert threshold; `None` takes [`DEFAULT_IMPORT_THRESHOLD`].
    pub threshold: Option<f32>,
    /// The feature schema the booster was trained on (`feature_schema.json`); `None`: the
    /// default feature set.
    pub schema: Option<FeatureSpec>,
    /// Match the booster's columns to the schema's by position, not by name: for boosters
    /// saved without names (XGBoost4J-Spark on a vector column, a booster trained on a bare
    /// array) or with other names (LightGBM's `Column_0`, ...). Only the count is checked.
    pub by_position: bool,
}

/// Returns the feature spec this build computes for `config`.
fn running_spec(config: &FeatureConfig) -> Result<FeatureSpec> {
    let bad = |e: String| import_error(format!("feature config: {e}"));
    let schema = FeatureExtractor::try_new(config.clone())
        .map_err(|e| bad(e.to_string()))?
        .schema()
        .clone();
    Ok(feature_spec(&schema, config))
}

fn import_error(why: String) -> Error {
    Error::Model(iotguard_models::Error::Import(why))
}

/// Returns the feature configuration an import uses: the schema file's, checked against this
/// build, or the default set.
pub fn import_features(config: &ImportConfig) -> Result<FeatureConfig> {
    let Some(spec) = &config.schema else {
        return Ok(FeatureConfig::default());
    };
    let features: FeatureConfig = serde_json::from_value(spec.config.clone())
        .map_err(|e| import_error(format!("feature schema config: {e}")))?;
    let running = running_spec(&features)?;
    if running.version != spec.version || running.fingerprint != spec.fingerprint {
        return Err(import_error(format!(
            "the feature schema (version {}, fingerprint {}) is not the one this build computes \
             (version {}, fingerprint {}); write the features again with this build",
            spec.version, spec.fingerprint, running.version, running.fingerprint
        )));
    }
    Ok(features)
}

/// Converts a booster's saved text into a model file: its features checked against the schema
/// (the first mismatch named), its trees our own gbdt, its threshold given or 0.5, and
/// `metrics.imported` saying where it came from and how the threshold was set. With `rows`
/// (the training rows, from [`feature_rows`] over the inputs given to `features`), they are
/// recorded as its training data and its drift reference profile is built on them, as `train`
/// builds one; without, the file has no profile and detection runs no drift monitors.
pub fn import_model(
    text: &str,
    config: &ImportConfig,
    rows: Option<&BuiltDataset>,
) -> Result<ModelFile> {
    let features = import_features(config)?;
    let mut spec = running_spec(&features)?;
    let mut imported = import(config.source, text).map_err(Error::Model)?;
    if config.schema.is_none() {
        // Without a schema file, a booster trained on the default set as it was before the
        // network-context groups joined it (no `pair.*`, `dst.*`, ... columns) is that set:
        // known by its names, or by position by its count.
        let plain = FeatureConfig {
            context: Vec::new(),
            ..features.clone()
        };
        let plain_spec = running_spec(&plain)?;
        let n = imported.feature_names.len();
        let plain_set = if config.by_position {
            n != spec.names.len() && n == plain_spec.names.len()
        } else {
            imported.feature_names != spec.names && imported.feature_names == plain_spec.names
        };
        if plain_set {
            // The spec carries its feature config: the model file records the plain set.
            spec = plain_spec;
        }
    }
    let matched = if config.by_position {
        if imported.feature_names.len() != spec.names.len() {
            return Err(import_error(format!(
                "the model has {} features and the feature schema {}: matched by position, \
                 they must be as many",
                imported.feature_names.len(),
                spec.names.len()
            )));
        }
        imported.feature_names = spec.names.clone();
        "by position"
    } else if !imported.named {
        return Err(import_error(format!(
            "the model has no feature names, only a count ({}): it was trained on a bare array \
             or a Spark vector column. If its columns are the feature schema's, in order, pass \
             --by-position; better, train on a DataFrame of the columns `iotguard features` \
             wrote, so the names are saved and checked",
            imported.feature_names.len()
        )));
    } else {
        check_feature_names(&imported.feature_names, &spec.names).map_err(Error::Model)?;
        "by name"
    };
    let value = config.threshold.unwrap_or(DEFAULT_IMPORT_THRESHOLD);
    if !(0.0..=1.0).contains(&value) {
        return Err(import_error(format!(
            "threshold {value} is not a probability in [0, 1]"
        )));
    }
    let set_by = if config.threshold.is_some() {
        "--threshold"
    } else {
        "default"
    };
    // The f32 as its shortest decimal (0.4, not 0.4000000059604645), as the threshold is written.
    let shown: f64 = value.to_string().parse().unwrap_or(f64::from(value));
    let model = TrainedModel::Gbdt(imported.model);
    let (training, reference) = match rows {
        Some(built) => {
            let d = &built.dataset;
            if d.feature_names != spec.names {
                return Err(import_error(
                    "the profiling rows were built with other features than the schema's".into(),
                ));
            }
            let training = TrainingSummary {
                rows: d.n_rows() as u64,
                malicious: d.target.iter().filter(|t| **t).count() as u64,
                inputs: d.group_names.clone(),
                augment: Vec::new(),
                sampling: None,
            };
            (training, Some(ReferenceProfile::build(d, &model, value)))
        }
        None => (TrainingSummary::default(), None),
    };
    Ok(ModelFile {
        format: MODEL_FORMAT.to_string(),
        version: MODEL_FILE_VERSION,
        kind: "gbdt".to_string(),
        params: serde_json::json!({ "imported_from": config.source.name() }),
        features: spec,
        threshold: serde_json::to_value(Threshold::fixed(value)).unwrap_or_default(),
        training,
        metrics: serde_json::json!({
            "imported": {
                "from": config.source.name(),
                "file": config.file_name,
                "source": imported.source,
                "features_matched": matched,
                "threshold": { "value": shown, "set_by": set_by },
            }
        }),
        created_unix_secs: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
        model: serde_json::to_value(&model)
            .map_err(|e| import_error(format!("serialising: {e}")))?,
        reference,
        lineage: None,
    })
}
