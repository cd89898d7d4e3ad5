//! The model lab's workflows on flow inputs: train a model into a model file, evaluate a model
//! file per input and pooled, compare every kind (`compare.rs`), and retrain a model on
//! analyst verdicts over archived flows (`retrain.rs`), and export feature rows for training
//! elsewhere and import the boosters trained on them (`import.rs`). Features come from
//! [`crate::dataset`], the same extractor detection uses.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use iotguard_features::{FeatureConfig, FeatureExtractor, FeatureSchema};
use iotguard_flow::ParseError;
use iotguard_models::lab::{self, ModelKind, TrainedModel};
use iotguard_models::metrics::{average_precision, BinaryMetrics};
use iotguard_models::ooc::OutOfCapture;
use iotguard_models::operating::{Objective, Rule};
use iotguard_models::persist::{
    FeatureSpec, ModelFile, TrainingSummary, MODEL_FILE_VERSION, MODEL_FORMAT,
};
use iotguard_models::reference::ReferenceProfile;
use iotguard_models::threshold::Threshold;
use iotguard_models::Scorer;
use serde::Serialize;

use crate::batch::BatchConfig;
use crate::dataset::{build_dataset, BuiltDataset};
use crate::error::{Error, Result};
use crate::input::Input;

mod baseline;
mod compare;
mod curves;
mod evaluate;
mod import;
mod operating;
mod retrain;
mod split;

pub use baseline::{
    baseline_file, learning_placeholder, train_baseline_model, BaselineParams,
    DEFAULT_BASELINE_KIND,
};
pub use compare::{compare, compare_dataset, Baseline, CompareConfig, CompareReport, FeatureSet};
pub use evaluate::{
    FeatureImportance, FoldResult, Importance, ModelResult, IMPORTANCE_ROWS, SINGLE_ROWS_PER_FOLD,
    TOP_FEATURES,
};
pub use import::{
    feature_rows, feature_schema_file, import_features, import_model, Column, FeatureSchemaFile,
    ImportConfig, DEFAULT_IMPORT_THRESHOLD, FEATURE_SCHEMA_FORMAT,
};
pub use iotguard_models::tune::Choice;
pub use operating::{
    Implied, OperatingPoint, ThresholdOverride, OPERATING_FARS, OPERATING_THRESHOLDS,
};
pub use retrain::{
    cut_time, model_version, retrain, Comparison, Data, Lineage, Parent, RetrainConfig, Retrained,
    Span, PRESUMED,
};
pub use split::Split;

/// Builds the labeled dataset of `inputs` (no progress reporting: the lab commands are short).
fn dataset(
    inputs: &[Input],
    batch: &BatchConfig,
    features: &FeatureConfig,
    on_error: &mut dyn FnMut(&ParseError),
) -> Result<BuiltDataset> {
    build_dataset(
        inputs,
        batch,
        features,
        &Arc::new(AtomicU64::new(0)),
        on_error,
    )
}

/// Returns the feature spec a model file records for a schema and config.
pub fn feature_spec(schema: &FeatureSchema, config: &FeatureConfig) -> FeatureSpec {
    FeatureSpec {
        version: schema.version,
        fingerprint: schema.fingerprint_hex(),
        names: schema.names.clone(),
        config: serde_json::to_value(config).unwrap_or(serde_json::Value::Null),
    }
}

/// Trains a model of `kind` on labeled inputs and returns its model file, the threshold chosen
/// on a stratified fifth of the training rows (quick: `demo` and tests). `iotguard train` uses
/// [`train_model_out_of_capture`]. With [`Choice::Tune`], the hyperparameters are first chosen
/// by nested leave-one-capture-out over the inputs ([`iotguard_models::tune`]; at least two
/// labeled inputs), recorded under `metrics.tuning`.
pub fn train_model(
    kind: ModelKind,
    inputs: &[Input],
    batch: &BatchConfig,
    features: &FeatureConfig,
    seed: u64,
    hyperparameters: &Choice,
    on_error: &mut dyn FnMut(&ParseError),
) -> Result<(ModelFile, BuiltDataset)> {
    let (file, built, _) = train_built(
        kind,
        inputs,
        &[],
        batch,
        features,
        seed,
        hyperparameters,
        None,
        on_error,
    )?;
    Ok((file, built))
}

/// Trains a model of `kind` on labeled inputs with its threshold chosen out of capture
/// ([`lab::train_out_of_capture`]: each input scored by a model fitted on the others, the
/// threshold `objective` picks under `rule` (`None`: the defaults for the split, see
/// [`lab::default_operating`]), the model then fitted on every row). The summary
/// (per held-out input and pooled, with the benign-score sketches `--target-far` needs) is
/// stored under `metrics.out_of_capture` and returned; `None` when no out-of-capture threshold
/// could be chosen and the row holdout was used instead (the caller says so).
///
/// `augment` are training-only inputs ([`crate::augment`]): their rows are in every fit and in
/// no held-out unit, and the file records them under `training.augment`, apart from `inputs`.
#[allow(clippy::too_many_arguments)]
pub fn train_model_out_of_capture(
    kind: ModelKind,
    inputs: &[Input],
    augment: &[Input],
    batch: &BatchConfig,
    features: &FeatureConfig,
    seed: u64,
    hyperparameters: &Choice,
    objective: Option<Objective>,
    rule: Option<Rule>,
    on_error: &mut dyn FnMut(&ParseError),
) -> Result<(ModelFile, BuiltDataset, Option<OutOfCapture>)> {
    train_built(
        kind,
        inputs,
        augment,
        batch,
        features,
        seed,
        hyperparameters,
        Some((objective, rule)),
        on_error,
    )
}

#[allow(clippy::too_many_arguments)]
fn train_built(
    kind: ModelKind,
    inputs: &[Input],
    augment: &[Input],
    batch: &BatchConfig,
    features: &FeatureConfig,
    seed: u64,
    hyperparameters: &Choice,
    operating: Option<(Option<Objective>, Option<Rule>)>,
    on_error: &mut dyn FnMut(&ParseError),
) -> Result<(ModelFile, BuiltDataset, Option<OutOfCapture>)> {
    let all: Vec<Input> = inputs.iter().chain(augment).cloned().collect();
    let built = dataset(&all, batch, features, on_error)?;
    let d = &built.dataset;
    let train_only: Vec<u32> = (inputs.len() as u32..all.len() as u32).collect();
    let (setting, tuned) = hyperparameters
        .resolve(kind, d, seed, &train_only)
        .map_err(Error::Model)?;
    let (trained, ooc) = match operating {
        Some((objective, rule)) => {
            lab::train_out_of_capture(kind, &setting, d, seed, objective, rule, &train_only)
                .map_err(Error::Model)?
        }
        None => (
            lab::train_setting(kind, &setting, d, seed).map_err(Error::Model)?,
            None,
        ),
    };
    let mut metrics = match &ooc {
        Some(o) => serde_json::json!({ "out_of_capture": o }),
        None => serde_json::json!({ "validation": trained.validation }),
    };
    if let Some(t) = &tuned {
        metrics["tuning"] = serde_json::to_value(t).unwrap_or_default();
    }
    // Profiled with the final model at its threshold: what the drift monitors compare with. On
    // the inputs' rows alone: training-only rows (a simulated network) are not the traffic the
    // detector will be compared against.
    let own;
    let profiled = if train_only.is_empty() {
        d
    } else {
        let rows: Vec<usize> = (0..d.n_rows())
            .filter(|&i| !train_only.contains(&d.group[i]))
            .collect();
        own = d.subset(&rows);
        &own
    };
    let reference = ReferenceProfile::build(profiled, &trained.model, trained.threshold.value);
    let file = ModelFile {
        format: MODEL_FORMAT.to_string(),
        version: MODEL_FILE_VERSION,
        kind: kind.name().to_string(),
        params: trained.params,
        features: feature_spec(&built.schema, features),
        threshold: serde_json::to_value(&trained.threshold).unwrap_or_default(),
        training: TrainingSummary {
            rows: d.n_rows() as u64,
            malicious: d.target.iter().filter(|t| **t).count() as u64,
            inputs: d.group_names[..inputs.len()].to_vec(),
            augment: d.group_names[inputs.len()..].to_vec(),
            sampling: built.sampling.max_rows.map(|_| built.sampling.clone()),
        },
        metrics,
        created_unix_secs: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
        model: serde_json::to_value(&trained.model)
            .map_err(|e| Error::Model(iotguard_models::Error::ModelFile(e.to_string())))?,
        reference: Some(reference),
        lineage: None,
    };
    Ok((file, built, ooc))
}

/// A model file loaded and checked against this build's feature extractor.
#[derive(Clone)]
pub struct LoadedModel {
    /// The file as read.
    pub file: ModelFile,
    /// The fitted model.
    pub model: TrainedModel,
    /// Its decision threshold.
    pub threshold: Threshold,
    /// The feature configuration it was trained with.
    pub features: FeatureConfig,
}

/// Loads a model file, refusing one whose features this build does not compute.
pub fn load_model(path: &Path) -> Result<LoadedModel> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::io(&name, e))?;
    load_model_from(&name, BufReader::new(file))
}

/// Loads a model file from a reader (`name` names it in errors), refusing one whose features
/// this build does not compute.
pub fn load_model_from(name: &str, reader: impl std::io::Read) -> Result<LoadedModel> {
    let model_file = ModelFile::load(reader).map_err(Error::Model)?;
    let bad =
        |what: String| Error::Model(iotguard_models::Error::ModelFile(format!("{name}: {what}")));
    let features: FeatureConfig = serde_json::from_value(model_file.features.config.clone())
        .map_err(|e| bad(format!("feature config: {e}")))?;
    let schema = FeatureExtractor::try_new(features.clone())
        .map_err(|e| bad(format!("feature config: {e}")))?
        .schema()
        .clone();
    model_file
        .check_features(&feature_spec(&schema, &features))
        .map_err(Error::Model)?;
    let model: TrainedModel =
        serde_json::from_value(model_file.model.clone()).map_err(|e| bad(format!("model: {e}")))?;
    let threshold: Threshold = serde_json::from_value(model_file.threshold.clone())
        .map_err(|e| bad(format!("threshold: {e}")))?;
    Ok(LoadedModel {
        file: model_file,
        model,
        threshold,
        features,
    })
}

/// Detection metrics on one input or pooled. Background/Unknown and unlabeled flows are not in
/// them (`excluded_*` counts them).
#[derive(Clone, Debug, Serialize)]
pub struct EvalRow {
    /// The input (`pooled` for all together).
    pub input: String,
    /// Labeled flows scored.
    pub flows: u64,
    /// Malicious among them.
    pub malicious: u64,
    /// Flows alerted on.
    pub alerts: u64,
    /// True positives, false positives, true negatives, false negatives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// True negatives.
    pub tn: u64,
    /// False negatives.
    pub fn_: u64,
    /// Precision (None without alerts).
    pub precision: Option<f64>,
    /// Recall (None without malicious flows).
    pub recall: Option<f64>,
    /// F1.
    pub f1: Option<f64>,
    /// Share of benign flows alerted on (None without benign flows).
    pub false_alert_rate: Option<f64>,
    /// Matthews correlation coefficient.
    pub mcc: Option<f64>,
    /// Area under the precision-recall curve (average precision).
    pub pr_auc: Option<f64>,
    /// Recall per attack family (the detailed label of the malicious flows, `C&C`, `DDoS`,
    /// `PartOfAHorizontalPortScan`, ...), in order of first appearance; absent without
    /// malicious flows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<FamilyRecall>,
}

/// How many flows of one attack family a model flagged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FamilyRecall {
    /// The detailed label (the label's name when the flows have none).
    pub family: String,
    /// Malicious flows of this family.
    pub flows: u64,
    /// Of them, flows alerted on.
    pub detected: u64,
    /// `detected / flows`.
    pub recall: f64,
}

/// Per attack family (a malicious row's detailed class), the rows and how many were flagged, in
/// class order; benign rows are not counted.
pub fn family_recall(
    class_names: &[String],
    class: &[u32],
    target: &[bool],
    flagged: &[bool],
) -> Vec<FamilyRecall> {
    let mut n = vec![(0u64, 0u64); class_names.len()];
    for ((&c, &t), &f) in class.iter().zip(target).zip(flagged) {
        if t {
            if let Some(e) = n.get_mut(c as usize) {
                e.0 += 1;
                e.1 += u64::from(f);
            }
        }
    }
    n.iter()
        .zip(class_names)
        .filter(|((flows, _), _)| *flows > 0)
        .map(|(&(flows, detected), name)| FamilyRecall {
            family: name.clone(),
            flows,
            detected,
            recall: detected as f64 / flows as f64,
        })
        .collect()
}

fn eval_row(
    input: String,
    scores: &[f32],
    target: &[bool],
    threshold: f32,
    families: Vec<FamilyRecall>,
) -> EvalRow {
    let m = BinaryMetrics::compute(scores, target, threshold);
    EvalRow {
        input,
        flows: target.len() as u64,
        malicious: target.iter().filter(|t| **t).count() as u64,
        alerts: m.tp + m.fp,
        tp: m.tp,
        fp: m.fp,
        tn: m.tn,
        fn_: m.fn_,
        precision: m.precision,
        recall: m.recall,
        f1: m.f1,
        false_alert_rate: m.false_alert_rate,
        mcc: m.mcc,
        pr_auc: average_precision(scores, target),
        families,
    }
}

/// What `evaluate` gives: one row per input and the pooled row.
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    /// The model kind.
    pub model: String,
    /// The threshold used.
    pub threshold: f32,
    /// Per input, in input order.
    pub inputs: Vec<EvalRow>,
    /// All inputs together.
    pub pooled: EvalRow,
    /// Pooled precision, recall and false-alert rate at a few other thresholds: those
    /// `--target-far` would give (from the model's out-of-capture sketches) and fixed scores.
    pub operating_points: Vec<OperatingPoint>,
    /// Flows left out: Background/Unknown.
    pub excluded_other: u64,
    /// Flows left out: unlabeled.
    pub excluded_unlabeled: u64,
    /// What the label audit changed, rule by rule (absent without one); flows it moved to
    /// `other` are among `excluded_other`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub label_audit: Vec<crate::audit::AuditCount>,
}

/// Scores labeled inputs with a model and measures it per input and pooled.
pub fn evaluate(
    loaded: &LoadedModel,
    inputs: &[Input],
    batch: &BatchConfig,
    on_error: &mut dyn FnMut(&ParseError),
) -> Result<(EvalReport, BuiltDataset)> {
    let built = dataset(inputs, batch, &loaded.features, on_error)?;
    let d = &built.dataset;
    let scores = loaded.model.score_batch(&d.features, d.n_features());
    let t = loaded.threshold.value;
    let flagged: Vec<bool> = scores.iter().map(|&x| x >= t).collect();
    let families = |rows: &[usize]| {
        let pick = |v: &[u32]| rows.iter().map(|&i| v[i]).collect::<Vec<_>>();
        let class = if d.class.len() == d.n_rows() {
            pick(&d.class)
        } else {
            Vec::new()
        };
        let y: Vec<bool> = rows.iter().map(|&i| d.target[i]).collect();
        let f: Vec<bool> = rows.iter().map(|&i| flagged[i]).collect();
        family_recall(&d.class_names, &class, &y, &f)
    };
    let per_input = (0..inputs.len())
        .map(|g| {
            let rows: Vec<usize> = (0..d.n_rows())
                .filter(|&i| d.group[i] as usize == g)
                .collect();
            let s: Vec<f32> = rows.iter().map(|&i| scores[i]).collect();
            let y: Vec<bool> = rows.iter().map(|&i| d.target[i]).collect();
            eval_row(inputs[g].name(), &s, &y, t, families(&rows))
        })
        .collect();
    let all: Vec<usize> = (0..d.n_rows()).collect();
    let report = EvalReport {
        model: loaded.model.kind().to_string(),
        threshold: t,
        inputs: per_input,
        pooled: eval_row("pooled".to_string(), &scores, &d.target, t, families(&all)),
        operating_points: operating::points(loaded, &scores, &d.target),
        excluded_other: built.excluded_other,
        excluded_unlabeled: built.excluded_unlabeled,
        label_audit: built.audited.clone(),
    };
    Ok((report, built))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_recall_counts_malicious_rows_per_detailed_class() {
        let names: Vec<String> = ["Benign", "C&C", "Attack", "DDoS"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let class = [0, 1, 1, 1, 2, 2, 0, 0];
        let target = [false, true, true, true, true, true, false, false];
        let flagged = [true, true, false, true, false, false, false, false];
        let r = family_recall(&names, &class, &target, &flagged);
        assert_eq!(
            r,
            [
                FamilyRecall {
                    family: "C&C".into(),
                    flows: 3,
                    detected: 2,
                    recall: 2.0 / 3.0
                },
                FamilyRecall {
                    family: "Attack".into(),
                    flows: 2,
                    detected: 0,
                    recall: 0.0
                },
            ]
        );
        // No classes (a dataset without them): nothing.
        assert!(family_recall(&[], &[], &target, &flagged).is_empty());
    }
}
