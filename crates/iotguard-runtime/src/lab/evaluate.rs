//! One model kind evaluated over a fold plan: every test row scored by the model that did not
//! train on it, at that model's threshold (chosen on its own validation rows), with the numbers
//! the report plots: curves, per-class detection, global importance and speed.

use std::time::Instant;

use iotguard_models::lab::{self, ModelKind};
use iotguard_models::metrics::{detection_by_class, BinaryMetrics, ClassDetection};
use iotguard_models::tune::{Choice, Tuned};
use iotguard_models::{Dataset, Scorer};
use serde::Serialize;

use super::curves::{pr_points, roc_points};
use super::split::FoldPlan;
use crate::error::{Error, Result};

/// Rows explained per model for global importance, spread evenly over the folds' test rows
/// (exact TreeSHAP over every row of a large capture takes longer than all the training).
pub const IMPORTANCE_ROWS: usize = 2_000;

/// Test rows per fold scored one at a time to measure single-row prediction speed.
pub const SINGLE_ROWS_PER_FOLD: usize = 5_000;

/// Features kept per model in the importance ranking.
pub const TOP_FEATURES: usize = 15;

/// One fold's result.
#[derive(Clone, Debug, Serialize)]
pub struct FoldResult {
    /// The fold's name (the held-out capture, or `fold 2 of 5`).
    pub name: String,
    /// The threshold the fold's model chose on its validation rows.
    pub threshold: f32,
    /// Metrics on the fold's test rows.
    pub metrics: BinaryMetrics,
    /// The hyperparameter setting the fold's model was trained with.
    pub setting: String,
    /// With `--tune`: how that setting was chosen on the fold's training captures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tuned: Option<Tuned>,
}

/// One feature's global importance.
#[derive(Clone, Debug, Serialize)]
pub struct FeatureImportance {
    /// The feature's name.
    pub feature: String,
    /// Mean absolute contribution to the raw output over the explained rows.
    pub mean_abs: f64,
}

/// Global importance: mean |contribution| from `Scorer::explain` (exact TreeSHAP for trees,
/// coefficient × standardised value for linear models) over a sample of test rows.
#[derive(Clone, Debug, Serialize)]
pub struct Importance {
    /// Test rows explained (an even sample of each fold's test rows).
    pub rows: u64,
    /// The most important features, most important first.
    pub top: Vec<FeatureImportance>,
}

/// One model kind's result over every fold.
#[derive(Clone, Debug, Serialize)]
pub struct ModelResult {
    /// The model kind.
    pub kind: ModelKind,
    /// Metrics pooled over every tested row, each at its own fold model's threshold.
    pub pooled: BinaryMetrics,
    /// Per fold, in fold order.
    pub per_fold: Vec<FoldResult>,
    /// Per detailed class (in the report's `class_names` order): rows and rows flagged. The
    /// rate is the recall of an attack class and the false-alert rate of the benign class.
    pub per_class: Vec<ClassDetection>,
    /// ROC curve of the pooled scores, `[false-alert rate, recall]`, downsampled.
    pub roc: Vec<[f64; 2]>,
    /// Precision-recall curve of the pooled scores, `[recall, precision]`, downsampled.
    pub pr: Vec<[f64; 2]>,
    /// Global feature importance.
    pub importance: Importance,
    /// Seconds spent training (fitting and choosing the threshold), summed over folds.
    pub train_secs: f64,
    /// Seconds spent choosing hyperparameters (nested leave-one-capture-out), summed over
    /// folds; 0 without `--tune`.
    pub tune_secs: f64,
    /// Rows scored per second in batches (`score_batch` over each fold's test rows).
    pub predict_rows_per_sec: f64,
    /// Rows scored per second one at a time (`score`, up to [`SINGLE_ROWS_PER_FOLD`] per fold).
    pub predict_single_rows_per_sec: f64,
}

/// Pooled predictions over the tested rows: the row indices, their scores and alerts.
struct Pooled {
    scores: Vec<f32>,
    alert: Vec<bool>,
}

/// Evaluates `kind` over `plan`'s folds of `d`; `tested` lists the rows some fold tests.
pub(crate) fn evaluate_kind(
    kind: ModelKind,
    d: &Dataset,
    plan: &FoldPlan,
    tested: &[usize],
    seed: u64,
    choice: &Choice,
) -> Result<ModelResult> {
    let mut pooled = Pooled {
        scores: vec![f32::NAN; d.n_rows()],
        alert: vec![false; d.n_rows()],
    };
    let mut per_fold = Vec::with_capacity(plan.folds.len());
    let mut importance = vec![0f64; d.n_features()];
    let mut explained = 0u64;
    let explain_per_fold = (IMPORTANCE_ROWS / plan.folds.len().max(1)).max(1);
    let (mut train_secs, mut tune_secs) = (0.0, 0.0);
    let (mut batch_secs, mut batch_rows) = (0.0, 0usize);
    let (mut single_secs, mut single_rows) = (0.0, 0usize);
    for (fold, name) in plan.folds.iter().zip(&plan.names) {
        let train_rows = d.subset(&fold.train);
        // A fold whose training rows hold one class only cannot train a classifier.
        let malicious = train_rows.target.iter().filter(|t| **t).count();
        if kind.supervised() && (malicious == 0 || malicious == train_rows.n_rows()) {
            return Err(Error::Model(iotguard_models::Error::InvalidData(format!(
                "{name}: its training rows hold one class only"
            ))));
        }
        let started = Instant::now();
        let (setting, tuned) = choice
            .resolve(kind, &train_rows, seed, &[])
            .map_err(Error::Model)?;
        if tuned.is_some() {
            tune_secs += started.elapsed().as_secs_f64();
        }
        let started = Instant::now();
        let trained =
            lab::train_setting(kind, &setting, &train_rows, seed).map_err(Error::Model)?;
        train_secs += started.elapsed().as_secs_f64();
        let test = d.subset(&fold.test);

        let started = Instant::now();
        let scores = trained.model.score_batch(&test.features, test.n_features());
        batch_secs += started.elapsed().as_secs_f64();
        batch_rows += scores.len();

        let single = test.n_rows().min(SINGLE_ROWS_PER_FOLD);
        let started = Instant::now();
        let checksum: f64 = (0..single)
            .map(|i| f64::from(trained.model.score(test.row(i))))
            .sum();
        single_secs += started.elapsed().as_secs_f64();
        single_rows += single;
        std::hint::black_box(checksum);

        // An even sample: row k * n / m for k < m.
        let (n, m) = (test.n_rows(), test.n_rows().min(explain_per_fold));
        for i in (0..m).map(|k| k * n / m) {
            for c in trained.model.explain(test.row(i)).contributions {
                if let Some(slot) = importance.get_mut(c.feature) {
                    *slot += c.contribution.abs();
                }
            }
            explained += 1;
        }

        let alerts: Vec<bool> = scores
            .iter()
            .map(|&s| trained.threshold.is_alert(s))
            .collect();
        for (k, &i) in fold.test.iter().enumerate() {
            pooled.scores[i] = scores[k];
            pooled.alert[i] = alerts[k];
        }
        per_fold.push(FoldResult {
            name: name.clone(),
            threshold: trained.threshold.value,
            metrics: BinaryMetrics::from_predictions(&alerts, &test.target, Some(&scores)),
            setting: setting.name(),
            tuned,
        });
    }
    let pick = |v: &[f32]| -> Vec<f32> { tested.iter().map(|&i| v[i]).collect() };
    let scores = pick(&pooled.scores);
    let alert: Vec<bool> = tested.iter().map(|&i| pooled.alert[i]).collect();
    let target: Vec<bool> = tested.iter().map(|&i| d.target[i]).collect();
    Ok(ModelResult {
        kind,
        pooled: BinaryMetrics::from_predictions(&alert, &target, Some(&scores)),
        per_fold,
        per_class: per_class(d, tested, &alert),
        roc: roc_points(&scores, &target),
        pr: pr_points(&scores, &target),
        importance: top_features(d, &importance, explained),
        train_secs,
        tune_secs,
        predict_rows_per_sec: batch_rows as f64 / f64::max(batch_secs, 1e-9),
        predict_single_rows_per_sec: single_rows as f64 / f64::max(single_secs, 1e-9),
    })
}

/// Returns per detailed class the tested rows and how many were flagged (empty when the
/// dataset has no classes).
pub(crate) fn per_class(d: &Dataset, tested: &[usize], alert: &[bool]) -> Vec<ClassDetection> {
    if d.class.len() != d.n_rows() {
        return Vec::new();
    }
    let class: Vec<u32> = tested.iter().map(|&i| d.class[i]).collect();
    detection_by_class(alert, &class, d.class_names.len())
}

fn top_features(d: &Dataset, sums: &[f64], rows: u64) -> Importance {
    let mut ranked: Vec<(usize, f64)> = sums
        .iter()
        .map(|&s| s / rows.max(1) as f64)
        .enumerate()
        .filter(|(_, v)| *v > 0.0)
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Importance {
        rows,
        top: ranked
            .into_iter()
            .take(TOP_FEATURES)
            .map(|(c, v)| FeatureImportance {
                feature: d.feature_names[c].clone(),
                mean_abs: v,
            })
            .collect(),
    }
}
