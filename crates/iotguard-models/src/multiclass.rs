//! Multiclass detection on the detailed label (`Dataset::class`): one random forest per class,
//! that class against the rest, and a k-fold evaluation of it.
//!
//! Each class's forest is a binary [`RandomForest`] with balanced class weights, so a rare
//! attack type weighs as much as everything else in its own forest (the remedy for imbalance).
//! A row's class probabilities are the forests' scores normalised to sum to 1, and the predicted
//! class is the most probable one (the lowest index on ties). A class absent from the training
//! rows scores 0; a class that is every training row scores 1. Explanations are the predicted
//! (or any) class's forest's exact TreeSHAP values of its unnormalised score.
//!
//! The forests are fitted one after the other, each on all cores and each with the same seed, so
//! the model does not depend on the thread count.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::cv::stratified_kfold_labels;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::forest::{RandomForest, RandomForestParams};
use crate::metrics::MulticlassMetrics;
use crate::model::{Explanation, Scorer};
use crate::weights::ClassWeight;

/// Hyperparameters of a one-vs-rest multiclass model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MulticlassParams {
    /// The forest fitted for each class (its class weight applies to that class against the
    /// rest).
    pub forest: RandomForestParams,
}

impl Default for MulticlassParams {
    fn default() -> Self {
        MulticlassParams {
            forest: RandomForestParams::default()
                .n_trees(30)
                .min_samples_leaf(2)
                .class_weight(ClassWeight::Balanced),
        }
    }
}

impl MulticlassParams {
    /// Sets the seed of every class's forest.
    pub fn seed(mut self, seed: u64) -> Self {
        self.forest = self.forest.seed(seed);
        self
    }

    /// Fits one forest per class of `data.class` (`data.class_names` names them).
    pub fn fit(&self, data: &Dataset) -> Result<OneVsRest> {
        data.validate()?;
        if data.class.len() != data.n_rows() || data.n_rows() == 0 {
            return Err(Error::InvalidData(format!(
                "multiclass training needs a detailed class per row, got {} classes for {} rows",
                data.class.len(),
                data.n_rows()
            )));
        }
        let k = n_classes(data);
        let mut counts = vec![0usize; k];
        for &c in &data.class {
            counts[c as usize] += 1;
        }
        let models = (0..k)
            .map(|c| {
                Ok(match counts[c] {
                    0 => ClassModel::Absent,
                    n if n == data.n_rows() => ClassModel::Every,
                    _ => {
                        let one = Dataset {
                            target: data.class.iter().map(|&x| x as usize == c).collect(),
                            ..data.clone()
                        };
                        ClassModel::Forest(self.forest.clone().fit(&one)?)
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(OneVsRest {
            class_names: data.class_names.clone(),
            models,
        })
    }
}

/// What one class contributes to a one-vs-rest model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassModel {
    /// The class had no training rows: it scores 0.
    Absent,
    /// The class was every training row: it scores 1.
    Every,
    /// The class's forest against the rest.
    Forest(RandomForest),
}

impl ClassModel {
    fn score(&self, row: &[f32]) -> f32 {
        match self {
            ClassModel::Absent => 0.0,
            ClassModel::Every => 1.0,
            ClassModel::Forest(f) => f.score(row),
        }
    }

    fn score_batch(&self, rows: &[f32], n_features: usize) -> Vec<f32> {
        match self {
            ClassModel::Forest(f) => f.score_batch(rows, n_features),
            other => vec![other.score(&[]); rows.len() / n_features.max(1)],
        }
    }
}

/// A fitted one-vs-rest multiclass model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OneVsRest {
    /// The class names, by class index.
    pub class_names: Vec<String>,
    /// One model per class index.
    pub models: Vec<ClassModel>,
}

impl OneVsRest {
    /// Returns the number of classes.
    pub fn n_classes(&self) -> usize {
        self.models.len()
    }

    /// Returns the class probabilities of one row (summing to 1).
    pub fn probabilities(&self, row: &[f32]) -> Vec<f32> {
        let mut p: Vec<f32> = self.models.iter().map(|m| m.score(row)).collect();
        normalise(&mut p);
        p
    }

    /// Returns the class probabilities of many rows, row-major, [`OneVsRest::n_classes`] wide.
    pub fn probabilities_batch(&self, rows: &[f32], n_features: usize) -> Vec<f32> {
        let k = self.n_classes();
        let n = rows.len() / n_features.max(1);
        let mut p = vec![0f32; n * k];
        for (c, m) in self.models.iter().enumerate() {
            for (i, s) in m.score_batch(rows, n_features).into_iter().enumerate() {
                p[i * k + c] = s;
            }
        }
        for row in p.chunks_exact_mut(k.max(1)) {
            normalise(row);
        }
        p
    }

    /// Returns the most probable class of one row (the lowest index on ties).
    pub fn predict(&self, row: &[f32]) -> u32 {
        argmax(&self.probabilities(row))
    }

    /// Explains class `class`'s unnormalised score of `row` (exact TreeSHAP of its forest);
    /// `None` for a class with no forest (absent from, or the whole of, the training rows).
    pub fn explain(&self, row: &[f32], class: u32) -> Option<Explanation> {
        match self.models.get(class as usize)? {
            ClassModel::Forest(f) => Some(f.explain(row)),
            _ => None,
        }
    }
}

/// Returns the number of classes: named, or seen in `data.class`.
fn n_classes(data: &Dataset) -> usize {
    data.class
        .iter()
        .map(|&c| c as usize + 1)
        .max()
        .unwrap_or(0)
        .max(data.class_names.len())
}

/// Returns the most common class (the lowest index on ties; 0 for no rows).
fn most_common(class: &[u32]) -> u32 {
    let mut counts = std::collections::BTreeMap::new();
    for &c in class {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(c, n)| (n, std::cmp::Reverse(c)))
        .map_or(0, |(c, _)| c)
}

/// Scales `p` to sum to 1 (all equal when it sums to 0).
fn normalise(p: &mut [f32]) {
    let sum: f32 = p.iter().sum();
    if sum > 0.0 {
        p.iter_mut().for_each(|x| *x /= sum);
    } else if !p.is_empty() {
        let u = 1.0 / p.len() as f32;
        p.iter_mut().for_each(|x| *x = u);
    }
}

/// Returns the index of the largest value (the first on ties).
fn argmax(p: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in p.iter().enumerate() {
        if x > p[best] {
            best = i;
        }
    }
    best as u32
}

/// What a k-fold evaluation of the multiclass model gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MulticlassEval {
    /// Folds, stratified on the detailed class.
    pub folds: usize,
    /// Every row scored once, by the model of the fold that held it out.
    pub metrics: MulticlassMetrics,
    /// Always predicting the training folds' most common class.
    pub baseline: MulticlassMetrics,
    /// Seconds spent fitting, summed over folds.
    pub train_secs: f64,
    /// Rows classified per second (batch), over all folds.
    pub predict_rows_per_sec: f64,
}

/// Evaluates the multiclass model with `folds`-fold cross-validation stratified on the detailed
/// class: each row is predicted by the model trained on the other folds, and the predictions
/// are pooled.
///
/// Random folds put flows of the same hosts and sessions on both sides, so this measures how
/// well attack *types* are told apart within known traffic, not transfer to a new capture.
pub fn cross_validate(
    data: &Dataset,
    folds: usize,
    params: &MulticlassParams,
    seed: u64,
) -> Result<MulticlassEval> {
    data.validate()?;
    if data.class.len() != data.n_rows() {
        return Err(Error::InvalidData(
            "multiclass evaluation needs a detailed class per row".into(),
        ));
    }
    let splits = stratified_kfold_labels(&data.class, folds, seed)?;
    let k = n_classes(data);
    let mut predicted = vec![0u32; data.n_rows()];
    let mut probabilities = vec![0f32; data.n_rows() * k];
    let mut baseline_pred = vec![0u32; data.n_rows()];
    let (mut train_secs, mut predict_secs) = (0.0, 0.0);
    for fold in &splits {
        let train = data.subset(&fold.train);
        let test = data.subset(&fold.test);
        let started = Instant::now();
        let model = params.fit(&train)?;
        train_secs += started.elapsed().as_secs_f64();
        let started = Instant::now();
        let p = model.probabilities_batch(&test.features, test.n_features());
        predict_secs += started.elapsed().as_secs_f64();
        let width = model.n_classes();
        let majority = most_common(&train.class);
        for (r, &i) in fold.test.iter().enumerate() {
            let row = &p[r * width..(r + 1) * width];
            predicted[i] = argmax(row);
            for (c, &v) in row.iter().enumerate().take(k) {
                probabilities[i * k + c] = v;
            }
            baseline_pred[i] = majority;
        }
    }
    let names = &data.class_names;
    Ok(MulticlassEval {
        folds,
        metrics: MulticlassMetrics::compute(&data.class, &predicted, names, Some(&probabilities)),
        baseline: MulticlassMetrics::compute(&data.class, &baseline_pred, names, None),
        train_secs,
        predict_rows_per_sec: data.n_rows() as f64 / predict_secs.max(1e-9),
    })
}

#[cfg(test)]
mod tests;
