//! Evaluation metrics for detectors: confusion matrices, threshold metrics (precision, recall,
//! F1, MCC, balanced accuracy, false-alert rate) and ranking metrics (ROC-AUC, PR-AUC), for the
//! binary malicious/benign task and per class for multiclass work, plus a majority-class baseline.
//!
//! Conventions, chosen to match scikit-learn where scikit-learn is well defined:
//!
//! - A row is predicted positive (malicious) when `score >= threshold`.
//! - **ROC-AUC** is the Mann–Whitney rank statistic with tied scores given their average rank,
//!   which equals scikit-learn's `roc_auc_score` (trapezoids over the ROC curve with ties
//!   collapsed into one point): a tied positive/negative pair counts one half.
//! - **PR-AUC** is *average precision*, `Σ_k (R_k − R_{k−1}) · P_k` over the distinct score
//!   thresholds in decreasing order, equal to scikit-learn's `average_precision_score` (no
//!   trapezoidal interpolation, which is optimistic). Tied scores form one threshold.
//! - Scores are ordered with [`f32::total_cmp`]; the scorers in this crate never return NaN.
//!
//! Undefined values are `None`, never a silent 0 and never a panic (scikit-learn returns 0 with a
//! warning in several of these cases, which hides the problem in a report): precision is `None`
//! when nothing is predicted positive, recall and the AUCs when there are no positives, the
//! false-alert rate when there are no negatives, balanced accuracy and ROC-AUC when either class
//! is absent, MCC when any row or column of the confusion matrix is empty, and F1 when there are
//! neither actual nor predicted positives. `None` serialises as JSON `null`.

use serde::{Deserialize, Serialize};

/// Counts of (actual, predicted) class pairs.
///
/// `counts[actual * n_classes + predicted]`; for the binary matrix class 0 is benign and class 1
/// is malicious.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// The number of classes (rows and columns).
    pub n_classes: usize,
    /// Row-major counts, rows are actual classes and columns predicted classes.
    pub counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// Returns the binary matrix of predictions against targets (class 1 = `true` = malicious).
    ///
    /// Extra entries of the longer slice are ignored.
    pub fn binary(target: &[bool], predicted: &[bool]) -> ConfusionMatrix {
        let mut m = ConfusionMatrix {
            n_classes: 2,
            counts: vec![0; 4],
        };
        for (&a, &p) in target.iter().zip(predicted) {
            m.counts[usize::from(a) * 2 + usize::from(p)] += 1;
        }
        m
    }

    /// Returns the multiclass matrix of predicted against actual class indices.
    ///
    /// Labels at or above `n_classes` grow the matrix to fit them rather than panicking.
    pub fn multiclass(actual: &[u32], predicted: &[u32], n_classes: usize) -> ConfusionMatrix {
        let max_label = actual
            .iter()
            .chain(predicted)
            .map(|&c| c as usize + 1)
            .max()
            .unwrap_or(0);
        let k = n_classes.max(max_label);
        let mut m = ConfusionMatrix {
            n_classes: k,
            counts: vec![0; k * k],
        };
        for (&a, &p) in actual.iter().zip(predicted) {
            m.counts[a as usize * k + p as usize] += 1;
        }
        m
    }

    /// Returns the count of rows of class `actual` predicted as `predicted` (0 out of range).
    pub fn get(&self, actual: usize, predicted: usize) -> u64 {
        if actual >= self.n_classes || predicted >= self.n_classes {
            return 0;
        }
        self.counts[actual * self.n_classes + predicted]
    }

    /// Returns the number of rows counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Returns the one-vs-rest `(tp, fp, tn, fn)` counts of class `c`.
    pub fn one_vs_rest(&self, c: usize) -> (u64, u64, u64, u64) {
        let k = self.n_classes;
        let tp = self.get(c, c);
        let actual: u64 = (0..k).map(|p| self.get(c, p)).sum();
        let predicted: u64 = (0..k).map(|a| self.get(a, c)).sum();
        let fp = predicted - tp;
        let fn_ = actual - tp;
        let tn = self.total() - tp - fp - fn_;
        (tp, fp, tn, fn_)
    }
}

/// Threshold and ranking metrics of a binary detector on one evaluation set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    /// Malicious rows flagged.
    pub tp: u64,
    /// Benign rows flagged (false alerts).
    pub fp: u64,
    /// Benign rows not flagged.
    pub tn: u64,
    /// Malicious rows missed.
    pub fn_: u64,
    /// `tp / (tp + fp)`; `None` when nothing was flagged.
    pub precision: Option<f64>,
    /// `tp / (tp + fn)` (detection rate); `None` without positives.
    pub recall: Option<f64>,
    /// `2tp / (2tp + fp + fn)`; `None` without actual or predicted positives.
    pub f1: Option<f64>,
    /// Matthews correlation coefficient; `None` when a confusion-matrix margin is empty.
    pub mcc: Option<f64>,
    /// Mean of recall and specificity; `None` unless both classes are present.
    pub balanced_accuracy: Option<f64>,
    /// `fp / (fp + tn)`, the share of benign rows flagged; `None` without benign rows.
    pub false_alert_rate: Option<f64>,
    /// Area under the ROC curve (rank statistic, ties averaged); `None` unless both classes are
    /// present or when no scores were given.
    pub roc_auc: Option<f64>,
    /// Average precision; `None` without positives or when no scores were given.
    pub pr_auc: Option<f64>,
    /// Rows evaluated.
    pub n: u64,
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

impl BinaryMetrics {
    /// Returns the threshold metrics of confusion counts; the AUCs are `None`.
    pub fn from_counts(tp: u64, fp: u64, tn: u64, fn_: u64) -> BinaryMetrics {
        let recall = ratio(tp, tp + fn_);
        let specificity = ratio(tn, tn + fp);
        let (tpf, fpf, tnf, fnf) = (tp as f64, fp as f64, tn as f64, fn_ as f64);
        let margins = [tp + fp, tp + fn_, tn + fp, tn + fn_];
        let mcc = margins.iter().all(|&m| m > 0).then(|| {
            let den = margins.iter().map(|&m| m as f64).product::<f64>().sqrt();
            (tpf * tnf - fpf * fnf) / den
        });
        BinaryMetrics {
            tp,
            fp,
            tn,
            fn_,
            precision: ratio(tp, tp + fp),
            recall,
            f1: ratio(2 * tp, 2 * tp + fp + fn_),
            mcc,
            balanced_accuracy: recall.zip(specificity).map(|(r, s)| (r + s) / 2.0),
            false_alert_rate: ratio(fp, fp + tn),
            roc_auc: None,
            pr_auc: None,
            n: tp + fp + tn + fn_,
        }
    }

    /// Returns the metrics of hard predictions, with the AUCs computed from `scores` if given.
    pub fn from_predictions(
        predicted: &[bool],
        target: &[bool],
        scores: Option<&[f32]>,
    ) -> BinaryMetrics {
        let cm = ConfusionMatrix::binary(target, predicted);
        let mut m =
            BinaryMetrics::from_counts(cm.get(1, 1), cm.get(0, 1), cm.get(0, 0), cm.get(1, 0));
        if let Some(s) = scores {
            m.roc_auc = roc_auc(s, target);
            m.pr_auc = average_precision(s, target);
        }
        m
    }

    /// Returns the metrics of `scores` against `target`, flagging rows with `score >= threshold`.
    pub fn compute(scores: &[f32], target: &[bool], threshold: f32) -> BinaryMetrics {
        let predicted: Vec<bool> = scores.iter().map(|&s| s >= threshold).collect();
        BinaryMetrics::from_predictions(&predicted, target, Some(scores))
    }
}

/// Returns `(index, score)` pairs sorted by decreasing score.
fn sorted_desc(scores: &[f32], n: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<(usize, f32)> = scores.iter().copied().take(n).enumerate().collect();
    idx.sort_by(|a, b| b.1.total_cmp(&a.1));
    idx
}

/// Returns the ROC-AUC of `scores` against `target` (ties count one half).
///
/// `None` unless both classes are present. Equal to scikit-learn's `roc_auc_score`.
pub fn roc_auc(scores: &[f32], target: &[bool]) -> Option<f64> {
    let n = scores.len().min(target.len());
    let order = sorted_desc(scores, n);
    let (mut pos, mut neg) = (0u64, 0u64);
    // For each positive, count negatives ranked strictly below it plus half the tied ones:
    // walking down in groups of equal score, negatives below a group are `neg_total - neg_seen`.
    let n_pos = target[..n].iter().filter(|&&t| t).count() as u64;
    let n_neg = n as u64 - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut wins = 0.0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        let (mut gp, mut gn) = (0u64, 0u64);
        while j < order.len() && order[j].1.total_cmp(&order[i].1).is_eq() {
            if target[order[j].0] {
                gp += 1;
            } else {
                gn += 1;
            }
            j += 1;
        }
        let below = n_neg - neg - gn;
        wins += gp as f64 * (below as f64 + 0.5 * gn as f64);
        pos += gp;
        neg += gn;
        i = j;
    }
    debug_assert_eq!(pos, n_pos);
    Some(wins / (n_pos as f64 * n_neg as f64))
}

/// Returns the average precision (PR-AUC) of `scores` against `target`.
///
/// `None` without positives. Equal to scikit-learn's `average_precision_score`.
pub fn average_precision(scores: &[f32], target: &[bool]) -> Option<f64> {
    let n = scores.len().min(target.len());
    let n_pos = target[..n].iter().filter(|&&t| t).count() as u64;
    if n_pos == 0 {
        return None;
    }
    let order = sorted_desc(scores, n);
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut prev_recall = 0.0f64;
    let mut ap = 0.0f64;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && order[j].1.total_cmp(&order[i].1).is_eq() {
            if target[order[j].0] {
                tp += 1;
            } else {
                fp += 1;
            }
            j += 1;
        }
        let recall = tp as f64 / n_pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j;
    }
    Some(ap)
}

/// Returns the metrics of always predicting the majority class of `train_target` on
/// `test_target`, with a constant score (ROC-AUC 0.5, PR-AUC the positive share).
///
/// Ties (or an empty training set) predict benign, the cheaper mistake to report honestly.
pub fn majority_baseline(train_target: &[bool], test_target: &[bool]) -> BinaryMetrics {
    let pos = train_target.iter().filter(|&&t| t).count();
    let predict = pos * 2 > train_target.len();
    let predicted = vec![predict; test_target.len()];
    let scores = vec![0.5f32; test_target.len()];
    BinaryMetrics::from_predictions(&predicted, test_target, Some(&scores))
}

/// One class's metrics in a multiclass evaluation (one-vs-rest).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// The class index.
    pub class: u32,
    /// The class name, when names were given.
    pub name: Option<String>,
    /// Rows of this class in the evaluation set.
    pub support: u64,
    /// One-vs-rest metrics; AUCs are present only when per-class scores were given.
    pub metrics: BinaryMetrics,
}

/// A multiclass evaluation: the confusion matrix and per-class one-vs-rest metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MulticlassMetrics {
    /// Actual × predicted counts.
    pub confusion: ConfusionMatrix,
    /// Per-class metrics, in class order.
    pub per_class: Vec<ClassMetrics>,
    /// Share of rows predicted correctly; `None` for an empty set.
    pub accuracy: Option<f64>,
    /// Unweighted mean F1 over classes with a defined F1; `None` if none is defined.
    pub macro_f1: Option<f64>,
}

impl MulticlassMetrics {
    /// Returns the metrics of `predicted` against `actual` class indices.
    ///
    /// `scores`, if given, holds one score per class per row (row-major, `n_classes` wide) and
    /// fills the per-class ROC-AUC and PR-AUC. `names` labels the classes and may be empty.
    pub fn compute(
        actual: &[u32],
        predicted: &[u32],
        names: &[String],
        scores: Option<&[f32]>,
    ) -> MulticlassMetrics {
        let confusion = ConfusionMatrix::multiclass(actual, predicted, names.len());
        let k = confusion.n_classes;
        let per_class = (0..k)
            .map(|c| {
                let (tp, fp, tn, fn_) = confusion.one_vs_rest(c);
                let mut metrics = BinaryMetrics::from_counts(tp, fp, tn, fn_);
                if let Some(s) = scores.filter(|s| s.len() == actual.len() * k) {
                    let class_scores: Vec<f32> = s.chunks_exact(k).map(|r| r[c]).collect();
                    let is_c: Vec<bool> = actual.iter().map(|&a| a as usize == c).collect();
                    metrics.roc_auc = roc_auc(&class_scores, &is_c);
                    metrics.pr_auc = average_precision(&class_scores, &is_c);
                }
                ClassMetrics {
                    class: c as u32,
                    name: names.get(c).cloned(),
                    support: tp + fn_,
                    metrics,
                }
            })
            .collect::<Vec<_>>();
        let correct: u64 = (0..k).map(|c| confusion.get(c, c)).sum();
        let f1s: Vec<f64> = per_class.iter().filter_map(|c| c.metrics.f1).collect();
        MulticlassMetrics {
            accuracy: ratio(correct, confusion.total()),
            macro_f1: (!f1s.is_empty()).then(|| f1s.iter().sum::<f64>() / f1s.len() as f64),
            confusion,
            per_class,
        }
    }

    /// Returns the metrics of always predicting the most common class of `train_actual`
    /// (the lowest index on ties).
    pub fn majority_baseline(
        train_actual: &[u32],
        test_actual: &[u32],
        names: &[String],
    ) -> MulticlassMetrics {
        let k = train_actual
            .iter()
            .map(|&c| c as usize + 1)
            .max()
            .unwrap_or(0);
        let mut counts = vec![0u64; k];
        for &c in train_actual {
            counts[c as usize] += 1;
        }
        let majority = (0..k)
            .max_by_key(|&c| (counts[c], std::cmp::Reverse(c)))
            .unwrap_or(0);
        let predicted = vec![majority as u32; test_actual.len()];
        MulticlassMetrics::compute(test_actual, &predicted, names, None)
    }
}

/// How many rows of one detailed class a binary detector flagged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassDetection {
    /// The class index.
    pub class: u32,
    /// Rows of this class.
    pub n: u64,
    /// Rows of this class flagged as malicious.
    pub flagged: u64,
    /// `flagged / n`: the detection rate for attack classes, the false-alert rate for benign
    /// classes; `None` for an absent class.
    pub rate: Option<f64>,
}

/// Returns, per detailed class, the share of its rows a binary detector flagged.
///
/// This is the per-attack-type recall a binary detector can be judged on when rows also carry
/// a detailed class.
pub fn detection_by_class(
    flagged: &[bool],
    class: &[u32],
    n_classes: usize,
) -> Vec<ClassDetection> {
    let k = class
        .iter()
        .map(|&c| c as usize + 1)
        .max()
        .unwrap_or(0)
        .max(n_classes);
    let mut n = vec![0u64; k];
    let mut f = vec![0u64; k];
    for (&c, &p) in class.iter().zip(flagged) {
        n[c as usize] += 1;
        f[c as usize] += u64::from(p);
    }
    (0..k)
        .map(|c| ClassDetection {
            class: c as u32,
            n: n[c],
            flagged: f[c],
            rate: ratio(f[c], n[c]),
        })
        .collect()
}

#[cfg(test)]
mod tests;
