//! `compare`: every model kind evaluated on the same features and folds, with a majority-class
//! baseline, into one report.

use iotguard_features::FeatureConfig;
use iotguard_flow::ParseError;
use iotguard_models::lab::{self, ModelKind};
use iotguard_models::metrics::BinaryMetrics;
use serde::Serialize;

use super::dataset;
use crate::batch::BatchConfig;
use crate::dataset::BuiltDataset;
use crate::error::Result;
use crate::input::Input;

/// What `compare` gives: every model kind evaluated leave-one-capture-out on the same features
/// and folds, with a majority-class baseline.
#[derive(Clone, Debug, Serialize)]
pub struct CompareReport {
    /// The inputs (captures), one fold each.
    pub inputs: Vec<String>,
    /// Labeled flows (rows) evaluated.
    pub rows: u64,
    /// Malicious among them.
    pub malicious: u64,
    /// Flows left out: Background/Unknown.
    pub excluded_other: u64,
    /// Flows left out: unlabeled.
    pub excluded_unlabeled: u64,
    /// Features per row.
    pub features: usize,
    /// Which features the models saw.
    pub feature_set: FeatureSet,
    /// Always predicting the majority class of all rows (the row every model must beat).
    pub baseline: BinaryMetrics,
    /// Each kind's leave-one-capture-out result.
    pub models: Vec<lab::GroupOutResult>,
    /// Kinds that could not be evaluated, with the reason.
    pub failures: Vec<(String, String)>,
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

/// Evaluates every kind in `kinds` leave-one-capture-out over labeled inputs.
pub fn compare(
    kinds: &[ModelKind],
    inputs: &[Input],
    batch: &BatchConfig,
    features: &FeatureConfig,
    feature_set: FeatureSet,
    seed: u64,
    on_error: &mut dyn FnMut(&ParseError),
) -> Result<(CompareReport, BuiltDataset)> {
    let built = dataset(inputs, batch, features, on_error)?;
    let selected;
    let d = match feature_set {
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
    let mut models = Vec::new();
    let mut failures = Vec::new();
    for &kind in kinds {
        match lab::leave_one_group_out_eval(kind, d, seed) {
            Ok(r) => models.push(r),
            Err(e) => failures.push((kind.name().to_string(), e.to_string())),
        }
    }
    let report = CompareReport {
        inputs: d.group_names.clone(),
        rows: d.n_rows() as u64,
        malicious: d.target.iter().filter(|t| **t).count() as u64,
        excluded_other: built.excluded_other,
        excluded_unlabeled: built.excluded_unlabeled,
        features: d.n_features(),
        feature_set,
        baseline: iotguard_models::metrics::majority_baseline(&d.target, &d.target),
        models,
        failures,
    };
    Ok((report, built))
}
