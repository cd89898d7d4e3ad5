//! `compare`: every model kind evaluated on the same features and folds, with a majority-class
//! baseline, into one report (rendered by [`crate::report`]).

use iotguard_features::FeatureConfig;
use iotguard_flow::ParseError;
use iotguard_models::lab::ModelKind;
use iotguard_models::metrics::{BinaryMetrics, ClassDetection};
use iotguard_models::tune::Choice;
use iotguard_models::Dataset;
use serde::Serialize;

use super::dataset;
use super::evaluate::{evaluate_kind, per_class, ModelResult, IMPORTANCE_ROWS};
use super::split::Split;
use crate::audit::AuditCount;
use crate::batch::BatchConfig;
use crate::dataset::BuiltDataset;
use crate::error::Result;
use crate::input::Input;

/// What `compare` gives: every model kind evaluated on the same features and folds, with a
/// majority-class baseline.
#[derive(Clone, Debug, Serialize)]
pub struct CompareReport {
    /// How rows were split into folds.
    pub split: Split,
    /// One name per fold, in fold order.
    pub folds: Vec<String>,
    /// The inputs (captures).
    pub inputs: Vec<String>,
    /// Inputs with at least one labeled flow.
    pub labeled_inputs: usize,
    /// Labeled flows (rows) tested: every row for `loco` and `kfold`; the time split never
    /// tests the first block of each capture.
    pub rows: u64,
    /// Malicious among them.
    pub malicious: u64,
    /// Labeled flows read, tested or not.
    pub labeled_rows: u64,
    /// Flows left out: Background/Unknown.
    pub excluded_other: u64,
    /// Flows left out: unlabeled.
    pub excluded_unlabeled: u64,
    /// What the label audit changed, rule by rule (absent without one); flows it moved to
    /// `other` are among `excluded_other`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub label_audit: Vec<AuditCount>,
    /// Features per row.
    pub features: usize,
    /// Which features the models saw.
    pub feature_set: FeatureSet,
    /// The detailed classes (attack families and `Benign`) that `per_class` entries index.
    pub class_names: Vec<String>,
    /// Test rows explained per model for the importance ranking (at most).
    pub importance_rows: usize,
    /// Each fold predicting the majority class of its training rows (the row every model must
    /// beat).
    pub baseline: Baseline,
    /// Each kind's result.
    pub models: Vec<ModelResult>,
    /// Kinds that could not be evaluated, with the reason.
    pub failures: Vec<(String, String)>,
}

/// The majority-class baseline's result.
#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    /// Metrics pooled over every tested row.
    pub pooled: BinaryMetrics,
    /// Per detailed class, as for the models.
    pub per_class: Vec<ClassDetection>,
}

/// Which features `compare` gives the models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureSet {
    /// Every feature: per flow and per host.
    All,
    /// Per-flow features only (no `orig_host.*` / `resp_host.*` context), to measure what the
    /// per-host context adds.
    Flow,
}

/// What `compare` runs.
#[derive(Clone, Debug)]
pub struct CompareConfig {
    /// The model kinds, in report order.
    pub kinds: Vec<ModelKind>,
    /// How rows are split into folds.
    pub split: Split,
    /// Which features the models see.
    pub feature_set: FeatureSet,
    /// The seed for splits, sampling and initialisation.
    pub seed: u64,
    /// How each fold's hyperparameters are set: defaults, a fixed gbdt setting, or chosen by
    /// nested leave-one-capture-out over the fold's training captures
    /// ([`iotguard_models::tune`]; kinds without a grid keep their default).
    pub hyperparameters: Choice,
}

/// Evaluates every configured kind over labeled inputs.
pub fn compare(
    config: &CompareConfig,
    inputs: &[Input],
    batch: &BatchConfig,
    features: &FeatureConfig,
    on_error: &mut dyn FnMut(&ParseError),
) -> Result<(CompareReport, BuiltDataset)> {
    let built = dataset(inputs, batch, features, on_error)?;
    let selected;
    let d = match config.feature_set {
        FeatureSet::All => &built.dataset,
        FeatureSet::Flow => {
            let keep: Vec<usize> = (0..built.dataset.n_features())
                .filter(|&c| {
                    let name = &built.dataset.feature_names[c];
                    !name.starts_with("orig_host.") && !name.starts_with("resp_host.")
                })
                .collect();
            selected = built.dataset.select_features(&keep);
            &selected
        }
    };
    let mut report = compare_dataset(config, d)?;
    report.excluded_other = built.excluded_other;
    report.excluded_unlabeled = built.excluded_unlabeled;
    report.label_audit = built.audited.clone();
    Ok((report, built))
}

/// Evaluates every configured kind on a dataset (`excluded_*` are left at 0).
pub fn compare_dataset(config: &CompareConfig, d: &Dataset) -> Result<CompareReport> {
    let plan = config.split.plan(d, config.seed)?;
    let mut tested: Vec<usize> = plan.folds.iter().flat_map(|f| f.test.clone()).collect();
    tested.sort_unstable();
    let mut models = Vec::new();
    let mut failures = Vec::new();
    for &kind in &config.kinds {
        match evaluate_kind(
            kind,
            d,
            &plan,
            &tested,
            config.seed,
            &config.hyperparameters,
        ) {
            Ok(r) => models.push(r),
            Err(e) => failures.push((kind.name().to_string(), e.to_string())),
        }
    }
    // The baseline predicts, for each fold, the majority class of that fold's training rows
    // (benign on a tie, as `metrics::majority_baseline` does).
    let mut alert = vec![false; d.n_rows()];
    for fold in &plan.folds {
        let malicious = fold.train.iter().filter(|&&i| d.target[i]).count();
        let malicious = malicious * 2 > fold.train.len();
        for &i in &fold.test {
            alert[i] = malicious;
        }
    }
    let alert: Vec<bool> = tested.iter().map(|&i| alert[i]).collect();
    let target: Vec<bool> = tested.iter().map(|&i| d.target[i]).collect();
    let constant = vec![0.5f32; target.len()];
    Ok(CompareReport {
        split: config.split,
        folds: plan.names,
        inputs: d.group_names.clone(),
        labeled_inputs: iotguard_models::cv::distinct_groups(&d.group).len(),
        rows: tested.len() as u64,
        malicious: target.iter().filter(|t| **t).count() as u64,
        labeled_rows: d.n_rows() as u64,
        excluded_other: 0,
        excluded_unlabeled: 0,
        label_audit: Vec::new(),
        features: d.n_features(),
        feature_set: config.feature_set,
        class_names: d.class_names.clone(),
        importance_rows: IMPORTANCE_ROWS,
        baseline: Baseline {
            pooled: BinaryMetrics::from_predictions(&alert, &target, Some(&constant)),
            per_class: per_class(d, &tested, &alert),
        },
        models,
        failures,
    })
}
