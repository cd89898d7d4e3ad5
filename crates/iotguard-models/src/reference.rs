//! The reference profile a model file keeps from training: what "normal" input looked like, so
//! detection can tell when live traffic no longer resembles it (the drift monitors of
//! `iotguard-monitor` compare live windows against it).
//!
//! Per feature a [`Histogram`] whose cut points are the training values' deciles (distinct
//! ones: a feature that is mostly 0 gets fewer bins), with the share of missing values; the
//! same kind of histogram for the model's training scores; the expected alert rate at the
//! model's threshold and the mean and standard deviation of the score. Profiled on at most
//! [`PROFILE_ROWS`] training rows, taken at an even stride (deterministic, no RNG).
//!
//! The histograms describe the rows the model calls benign (score under its threshold): the
//! population whose drift makes false alerts. Attacks come and go in bursts (a flood is
//! thousands of flows in a minute); a profile of every row would call each burst drift, and
//! the detector already reports those flows as alerts. The alert rate and the score's mean
//! and standard deviation are over every profiled row.
//!
//! Bins: a value `x` falls in bin `i`, the number of cut points strictly below `x`, so bin 0
//! is `(-inf, c0]`, bin `i` is `(c(i-1), c(i)]` and the last bin `(c(last), +inf)`. Missing
//! (non-finite) values have a cell of their own. Shares are of all rows, so the bins' shares
//! and the missing share add up to 1.

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::model::Scorer;

/// The profile layout this build writes.
pub const PROFILE_VERSION: u32 = 1;
/// The most training rows profiled.
pub const PROFILE_ROWS: usize = 100_000;
/// Quantile cut points per histogram (deciles: up to 10 bins).
pub const CUT_QUANTILES: usize = 9;

/// A quantile histogram of one variable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Ascending, distinct cut points (at most [`CUT_QUANTILES`]).
    pub cuts: Vec<f32>,
    /// Share of all rows in each bin (`cuts.len() + 1` bins).
    pub shares: Vec<f64>,
    /// Share of rows whose value is missing (NaN or infinite).
    pub missing: f64,
}

impl Histogram {
    /// Builds a histogram with cut points at the deciles of the finite values of `values`.
    pub fn from_values(values: &[f32]) -> Histogram {
        let mut finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
        finite.sort_by(f32::total_cmp);
        let mut cuts: Vec<f32> = Vec::with_capacity(CUT_QUANTILES);
        if !finite.is_empty() {
            for q in 1..=CUT_QUANTILES {
                // The lower empirical quantile: the value at rank floor(q/10 * (n - 1)).
                let rank = q * (finite.len() - 1) / (CUT_QUANTILES + 1);
                let c = finite[rank];
                if cuts.last() != Some(&c) {
                    cuts.push(c);
                }
            }
            // A cut at the maximum leaves its upper bin empty by construction: drop it.
            if cuts.last() == finite.last() && cuts.len() > 1 {
                cuts.pop();
            }
        }
        Histogram::with_cuts(cuts, values)
    }

    /// Builds the histogram of `values` over given cut points.
    pub fn with_cuts(cuts: Vec<f32>, values: &[f32]) -> Histogram {
        let mut counts = vec![0u64; cuts.len() + 1];
        let mut missing = 0u64;
        for &v in values {
            if v.is_finite() {
                counts[bin(&cuts, v)] += 1;
            } else {
                missing += 1;
            }
        }
        let n = values.len().max(1) as f64;
        Histogram {
            shares: counts.iter().map(|&c| c as f64 / n).collect(),
            missing: missing as f64 / n,
            cuts,
        }
    }
}

/// Returns the bin of a finite value: the number of cut points strictly below it.
pub fn bin(cuts: &[f32], v: f32) -> usize {
    cuts.partition_point(|&c| c < v)
}

/// One feature's reference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureProfile {
    /// The feature's name (the schema's).
    pub name: String,
    /// Its distribution on the training rows.
    pub histogram: Histogram,
}

/// What the model's input and output looked like at training time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceProfile {
    /// The profile layout ([`PROFILE_VERSION`]).
    pub version: u32,
    /// Training rows profiled.
    pub rows: u64,
    /// Among them, rows scoring under the threshold (what the histograms describe).
    pub benign_rows: u64,
    /// One per feature, in column order, over the rows under the threshold.
    pub features: Vec<FeatureProfile>,
    /// The distribution of the scores under the threshold.
    pub score: Histogram,
    /// Mean training score.
    pub score_mean: f64,
    /// Standard deviation of the training scores.
    pub score_std: f64,
    /// The threshold the alert rate was measured at.
    pub threshold: f32,
    /// Share of profiled rows scoring at or above the threshold.
    pub expected_alert_rate: f64,
}

impl ReferenceProfile {
    /// Profiles `data` (at most [`PROFILE_ROWS`] rows at an even stride) scored by `model` at
    /// `threshold`.
    pub fn build(data: &Dataset, model: &dyn Scorer, threshold: f32) -> ReferenceProfile {
        let n = data.n_rows();
        let dim = data.n_features();
        let step = n.div_ceil(PROFILE_ROWS).max(1);
        let rows: Vec<usize> = (0..n).step_by(step).collect();
        let mut matrix = Vec::with_capacity(rows.len() * dim);
        for &r in &rows {
            matrix.extend_from_slice(data.row(r));
        }
        let scores = if rows.is_empty() {
            Vec::new()
        } else {
            model.score_batch(&matrix, dim)
        };
        // What the detector does not alert on (a NaN score never alerts).
        let benign: Vec<bool> = scores
            .iter()
            .map(|&s| s < threshold || s.is_nan())
            .collect();
        let mut column = Vec::with_capacity(rows.len());
        let features = (0..dim)
            .map(|f| {
                column.clear();
                column.extend(
                    matrix
                        .chunks_exact(dim.max(1))
                        .zip(&benign)
                        .filter(|(_, &b)| b)
                        .map(|(row, _)| row[f]),
                );
                FeatureProfile {
                    name: data.feature_names[f].clone(),
                    histogram: Histogram::from_values(&column),
                }
            })
            .collect();
        let finite: Vec<f64> = scores
            .iter()
            .filter(|s| s.is_finite())
            .map(|&s| f64::from(s))
            .collect();
        let count = finite.len().max(1) as f64;
        let mean = finite.iter().sum::<f64>() / count;
        let var = finite.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / count;
        let alerts = scores.iter().filter(|&&s| s >= threshold).count();
        let benign_scores: Vec<f32> = scores
            .iter()
            .zip(&benign)
            .filter(|(_, &b)| b)
            .map(|(&s, _)| s)
            .collect();
        ReferenceProfile {
            version: PROFILE_VERSION,
            rows: rows.len() as u64,
            benign_rows: benign_scores.len() as u64,
            features,
            score: Histogram::from_values(&benign_scores),
            score_mean: mean,
            score_std: var.sqrt(),
            threshold,
            expected_alert_rate: alerts as f64 / scores.len().max(1) as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deciles_of_one_to_hundred() {
        let values: Vec<f32> = (1..=100).map(|v| v as f32).collect();
        let h = Histogram::from_values(&values);
        // Ranks floor(q * 99 / 10): 9, 19, ..., 89, values 10, 20, ..., 90.
        assert_eq!(
            h.cuts,
            vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0]
        );
        assert_eq!(h.shares, vec![0.1; 10]);
        assert_eq!(h.missing, 0.0);
    }

    #[test]
    fn a_mostly_zero_feature_gets_few_bins_and_missing_values_their_own_share() {
        // 6 zeros, 2 ones, one 5, one NaN.
        let values = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 5.0, f32::NAN];
        let h = Histogram::from_values(&values);
        // Finite sorted: 0 x6, 1, 1, 5 (n = 9); ranks q*8/10 = 0,1,2,3,4,4,5,6,7 -> 0 x6, 1 x2;
        // distinct cuts [0, 1].
        assert_eq!(h.cuts, vec![0.0, 1.0]);
        assert_eq!(h.shares, vec![0.6, 0.2, 0.1]);
        assert_eq!(h.missing, 0.1);
        assert_eq!(bin(&h.cuts, -1.0), 0);
        assert_eq!(bin(&h.cuts, 0.0), 0);
        assert_eq!(bin(&h.cuts, 0.5), 1);
        assert_eq!(bin(&h.cuts, 1.0), 1);
        assert_eq!(bin(&h.cuts, 1.5), 2);
    }

    #[test]
    fn a_constant_feature_has_one_cut_and_two_bins() {
        let h = Histogram::from_values(&[3.0; 5]);
        assert_eq!(h.cuts, vec![3.0]);
        assert_eq!(h.shares, vec![1.0, 0.0]);
        let empty = Histogram::from_values(&[]);
        assert_eq!(empty.cuts, Vec::<f32>::new());
        assert_eq!(empty.shares, vec![0.0]);
    }

    #[test]
    fn profile_of_a_trained_model() {
        let d = crate::tree::testdata::random_data(1_000, 3, 7, 0.0);
        let t = crate::lab::train(crate::lab::ModelKind::Logreg, &d, 1).unwrap();
        let p = ReferenceProfile::build(&d, &t.model, t.threshold.value);
        assert_eq!(p.rows, 1_000);
        let scores = t.model.score_batch(&d.features, 3);
        let under: Vec<f32> = scores
            .iter()
            .copied()
            .filter(|&s| s < t.threshold.value)
            .collect();
        assert_eq!(p.benign_rows, under.len() as u64);
        assert_eq!(p.score, Histogram::from_values(&under));
        assert_eq!(p.features.len(), 3);
        assert_eq!(p.features[0].name, d.feature_names[0]);
        let sum: f64 = p.features[1].histogram.shares.iter().sum();
        assert!((sum + p.features[1].histogram.missing - 1.0).abs() < 1e-12);
        let scores = t.model.score_batch(&d.features, 3);
        let alerts = scores.iter().filter(|&&s| s >= t.threshold.value).count();
        assert_eq!(p.expected_alert_rate, alerts as f64 / 1_000.0);
        assert_eq!(p.threshold, t.threshold.value);
    }
}
