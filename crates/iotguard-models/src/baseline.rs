//! Baselines learned without labels: an unsupervised model (isolation forest or autoencoder)
//! fitted on every row as if all were normal traffic, with its alert threshold set on its own
//! training scores for a target false-alert rate.
//!
//! This is the workflow of a network with no labeled capture (Kitsune's: learn the first part
//! of the traffic, then detect). Labels, where rows carry them, are not looked at: the caller
//! hands over rows whose `target` is all `false`. The threshold is the lowest score at which at
//! most `target_far` of the training rows alert ([`threshold_for_false_alert_rate`]), so on the
//! training traffic itself the alert rate is at most the target; on later traffic of the same
//! network it is an estimate, and attacks inside the training traffic raise the threshold (the
//! model learns them as normal). The summary keeps a sketch of the training scores, so an
//! operator can ask for another rate (`--target-far`) without retraining.

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::lab::{fit_setting, ModelKind, Trained};
use crate::metrics::BinaryMetrics;
use crate::operating::BenignSketch;
use crate::threshold::{threshold_for_false_alert_rate, Threshold, ThresholdMethod};
use crate::tune::Setting;

/// The share of training flows a baseline alerts on unless told otherwise (1 %).
pub const DEFAULT_TARGET_FAR: f64 = 0.01;

/// The fewest rows a baseline is learned from.
pub const MIN_ROWS: usize = 10;

/// How a baseline's threshold was chosen, and the training scores behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineSummary {
    /// The false-alert rate asked for on the training flows.
    pub target_far: f64,
    /// The chosen threshold.
    pub threshold: f32,
    /// Training rows (all taken as normal traffic).
    pub rows: u64,
    /// Training rows at or above the threshold.
    pub alerts: u64,
    /// `alerts / rows`: at most `target_far`.
    pub achieved_far: f64,
    /// In words, for readers of the model file.
    pub description: String,
    /// A sketch of the training scores (for `--target-far` on the baseline).
    pub sketch: BenignSketch,
}

/// Fits an unsupervised `kind` on every row of `data` as normal traffic and sets its threshold
/// for a false-alert rate of `target_far` on those rows. Refuses supervised kinds, rows marked
/// malicious (the caller drops labels first), fewer than [`MIN_ROWS`] rows and a rate outside
/// `(0, 1)`.
pub fn train_baseline(
    kind: ModelKind,
    data: &Dataset,
    target_far: f64,
    seed: u64,
) -> Result<(Trained, BaselineSummary)> {
    data.validate()?;
    if kind.supervised() {
        return Err(Error::InvalidParams(format!(
            "a baseline without labels is an iforest or autoencoder, not {kind}"
        )));
    }
    if !(target_far > 0.0 && target_far < 1.0) {
        return Err(Error::InvalidParams(format!(
            "the target false-alert rate {target_far} is not in (0, 1)"
        )));
    }
    if data.target.iter().any(|t| *t) {
        return Err(Error::InvalidData(
            "a baseline is learned from rows taken as normal; drop the labels first".into(),
        ));
    }
    if data.n_rows() < MIN_ROWS {
        return Err(Error::InvalidData(format!(
            "{} flows are too few to learn a baseline from (at least {MIN_ROWS})",
            data.n_rows()
        )));
    }
    let (model, params) = fit_setting(kind, &Setting::Default, data, seed)?;
    let scores = crate::Scorer::score_batch(&model, &data.features, data.n_features());
    let chosen = threshold_for_false_alert_rate(&scores, target_far).ok_or_else(|| {
        Error::InvalidData("every training score is NaN: no threshold can be set".into())
    })?;
    let validation = BinaryMetrics::compute(&scores, &data.target, chosen.value);
    let alerts = validation.fp;
    let rows = data.n_rows() as u64;
    let achieved = alerts as f64 / rows as f64;
    let sketch = BenignSketch::new("training".to_string(), &scores).ok_or_else(|| {
        Error::InvalidData("every training score is NaN: no threshold can be set".into())
    })?;
    let summary = BaselineSummary {
        target_far,
        threshold: chosen.value,
        rows,
        alerts,
        achieved_far: achieved,
        description: format!(
            "learned without labels from {rows} flows taken as normal traffic; threshold: the \
             lowest score at which at most {target_far} of them alert ({alerts} do)"
        ),
        sketch,
    };
    let trained = Trained {
        model,
        params,
        threshold: Threshold {
            value: chosen.value,
            method: ThresholdMethod::TrainingScores {
                target_far,
                achieved,
            },
            on_validation: false,
        },
        validation,
        fit_rows: data.n_rows(),
    };
    Ok((trained, summary))
}

impl BaselineSummary {
    /// Returns the threshold at which at most `rate` of the training flows alert, from the
    /// sketch (`None` below the sketch's smallest rate).
    pub fn threshold_for_rate(&self, rate: f64) -> Option<f32> {
        self.sketch.threshold_at(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::testdata::random_data;
    use crate::Scorer;

    fn normal(n: usize) -> Dataset {
        let mut d = random_data(n, 4, 1, 0.0);
        d.target = vec![false; n];
        d
    }

    #[test]
    fn the_threshold_flags_at_most_the_target_share_of_training_rows() {
        let d = normal(2_000);
        for kind in [ModelKind::Iforest, ModelKind::Autoencoder] {
            let (t, s) = train_baseline(kind, &d, 0.01, 1).unwrap();
            assert_eq!(s.rows, 2_000);
            assert_eq!(s.alerts, 20, "{kind}");
            assert_eq!(s.achieved_far, 0.01);
            assert_eq!(t.threshold.value, s.threshold);
            assert_eq!(
                t.threshold.method,
                ThresholdMethod::TrainingScores {
                    target_far: 0.01,
                    achieved: 0.01
                }
            );
            assert_eq!(s.threshold_for_rate(0.01), Some(s.threshold));
            // A point far outside the training cloud alerts, its centre does not.
            assert!(
                t.model.score(&[40.0, -40.0, 40.0, -40.0]) >= s.threshold,
                "{kind}"
            );
            assert!(t.model.score(&[0.5, 0.5, 0.5, 0.5]) < s.threshold, "{kind}");
        }
    }

    #[test]
    fn supervised_kinds_labels_and_tiny_inputs_are_refused() {
        let d = normal(100);
        let err = |r: Result<(Trained, BaselineSummary)>| r.err().unwrap().to_string();
        assert!(err(train_baseline(ModelKind::Forest, &d, 0.01, 1))
            .contains("an iforest or autoencoder, not forest"));
        assert!(err(train_baseline(ModelKind::Iforest, &d, 1.0, 1)).contains("not in (0, 1)"));
        let mut labeled = d.clone();
        labeled.target[3] = true;
        assert!(err(train_baseline(ModelKind::Iforest, &labeled, 0.01, 1))
            .contains("drop the labels first"));
        assert!(err(train_baseline(ModelKind::Iforest, &normal(9), 0.01, 1))
            .contains("9 flows are too few"));
    }
}
