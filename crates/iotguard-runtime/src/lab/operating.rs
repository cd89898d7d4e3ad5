//! The operator's control over a loaded model's operating point: `--threshold X` (a score) and
//! `--target-far X` (a false-alert rate on benign flows of held-out captures, read from the
//! benign-score sketches the model file keeps under `metrics.out_of_capture`, or for a baseline
//! learned without labels from its training-score sketch under `metrics.baseline`), and the few
//! operating points `eval` reports beside the threshold in use.

use iotguard_models::metrics::BinaryMetrics;
use iotguard_models::ooc::OutOfCapture;
use iotguard_models::threshold::{Threshold, ThresholdMethod};
use serde::Serialize;

use super::LoadedModel;
use crate::error::{Error, Result};

/// A threshold the operator asks for instead of the model's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThresholdOverride {
    /// Alert at `score >= X`.
    Score(f32),
    /// The threshold whose false-alert rate on held-out benign flows is at most `X`, under the
    /// rule the model's threshold was chosen with.
    TargetFar(f64),
}

/// The false-alert rates `eval` shows the `--target-far` operating point of.
pub const OPERATING_FARS: [f64; 5] = [0.005, 0.01, 0.02, 0.05, 0.1];

/// The scores `eval` shows the `--threshold` operating point of (supervised kinds, whose
/// scores are probabilities).
pub const OPERATING_THRESHOLDS: [f32; 7] = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9];

impl LoadedModel {
    /// Returns how the model's threshold was chosen out of capture, if it was (model files
    /// written before `train` did so have none).
    pub fn out_of_capture(&self) -> Option<OutOfCapture> {
        let v = self.file.metrics.get("out_of_capture")?;
        serde_json::from_value(v.clone()).ok()
    }

    /// Returns the threshold `--target-far rate` gives: from the out-of-capture benign-score
    /// sketches, under the model's rule. Errors for a rate outside `[0, 1]` or a model file
    /// without sketches.
    pub fn threshold_for_far(&self, rate: f64) -> Result<f32> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(Error::Invalid(format!(
                "--target-far {rate}: a false-alert rate is in [0, 1]"
            )));
        }
        if let Some(b) = self.baseline() {
            return b.threshold_for_rate(rate).ok_or_else(|| {
                Error::Invalid(format!(
                    "--target-far {rate}: below the smallest rate the baseline's training-score \
                     sketch keeps"
                ))
            });
        }
        let ooc = self.out_of_capture().ok_or_else(|| {
            Error::Invalid(
                "--target-far needs the out-of-capture benign scores a model file keeps since \
                 `iotguard train` chooses its threshold out of capture; retrain the model, or \
                 give --threshold"
                    .into(),
            )
        })?;
        ooc.threshold_for_rate(rate).ok_or_else(|| {
            Error::Invalid(format!(
                "--target-far {rate}: the model's held-out captures have no benign flows to set it on"
            ))
        })
    }

    /// Replaces the model's threshold with the one the operator asks for.
    pub fn override_threshold(&mut self, o: ThresholdOverride) -> Result<()> {
        self.threshold = match o {
            ThresholdOverride::Score(x) => {
                if !x.is_finite() {
                    return Err(Error::Invalid(format!("--threshold {x} is not a number")));
                }
                Threshold::fixed(x)
            }
            ThresholdOverride::TargetFar(rate) => {
                let value = self.threshold_for_far(rate)?;
                Threshold {
                    value,
                    method: ThresholdMethod::FalseAlertRate {
                        target: rate,
                        achieved: match (self.baseline(), self.out_of_capture()) {
                            (Some(b), _) => b.sketch.rate_at(value),
                            (None, Some(o)) => expected_far(&o, value),
                            (None, None) => rate,
                        },
                    },
                    on_validation: true,
                }
            }
        };
        Ok(())
    }
}

/// What the threshold in use implies, from what the model file recorded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Implied {
    /// The threshold in use.
    pub threshold: f32,
    /// The false-alert rate expected at it (an upper bound: the nearest recorded point at or
    /// under the threshold), if the file records one.
    pub false_alert_rate: Option<f64>,
    /// The recall expected at it, likewise (never for a baseline: it saw no labels).
    pub recall: Option<f64>,
    /// Where the figures come from.
    pub source: &'static str,
}

impl LoadedModel {
    /// Returns what the threshold in use implies: for a supervised model, the pooled held-out
    /// false-alert rate and recall from the out-of-capture curve; for a baseline, the share of
    /// its training flows at or above it.
    pub fn implied(&self) -> Implied {
        let threshold = self.threshold.value;
        if let Some(b) = self.baseline() {
            return Implied {
                threshold,
                false_alert_rate: Some(b.sketch.rate_at(threshold)),
                recall: None,
                source: "baseline training flows (no labels, so no recall)",
            };
        }
        match self.out_of_capture().and_then(|o| o.expected_at(threshold)) {
            Some((far, recall)) => Implied {
                threshold,
                false_alert_rate: Some(far),
                recall: Some(recall),
                source: "captures held out in training, pooled",
            },
            None => Implied {
                threshold,
                false_alert_rate: None,
                recall: None,
                source: "not recorded in the model file",
            },
        }
    }
}

/// The held-out false-alert rate the sketches bound at `threshold`: the mean over units of
/// each unit's bound (the pooled sketch's when there are no units).
fn expected_far(o: &OutOfCapture, threshold: f32) -> f64 {
    if o.benign_sketches.is_empty() {
        return o
            .pooled_benign_sketch
            .as_ref()
            .map_or(1.0, |s| s.rate_at(threshold));
    }
    o.benign_sketches
        .iter()
        .map(|s| s.rate_at(threshold))
        .sum::<f64>()
        / o.benign_sketches.len() as f64
}

/// One operating point on the evaluated flows (pooled).
#[derive(Clone, Debug, Serialize)]
pub struct OperatingPoint {
    /// How the threshold is asked for: `model`, `--target-far 0.01`, `--threshold 0.3`.
    pub setting: String,
    /// The threshold.
    pub threshold: f32,
    /// Flows alerted on.
    pub alerts: u64,
    /// Precision (None without alerts).
    pub precision: Option<f64>,
    /// Recall (None without malicious flows).
    pub recall: Option<f64>,
    /// False-alert rate (None without benign flows).
    pub false_alert_rate: Option<f64>,
}

/// Returns the operating points `eval` reports: the model's threshold, each of
/// [`OPERATING_FARS`] when the model file has sketches, and each of [`OPERATING_THRESHOLDS`]
/// for supervised kinds.
pub(crate) fn points(loaded: &LoadedModel, scores: &[f32], target: &[bool]) -> Vec<OperatingPoint> {
    let mut settings = vec![("model".to_string(), loaded.threshold.value)];
    if loaded.out_of_capture().is_some() || loaded.baseline().is_some() {
        for far in OPERATING_FARS {
            if let Ok(t) = loaded.threshold_for_far(far) {
                settings.push((format!("--target-far {far}"), t));
            }
        }
    }
    if loaded.model.model_kind().supervised() {
        for t in OPERATING_THRESHOLDS {
            settings.push((format!("--threshold {t}"), t));
        }
    }
    settings
        .into_iter()
        .map(|(setting, threshold)| {
            let m = BinaryMetrics::compute(scores, target, threshold);
            OperatingPoint {
                setting,
                threshold,
                alerts: m.tp + m.fp,
                precision: m.precision,
                recall: m.recall,
                false_alert_rate: m.false_alert_rate,
            }
        })
        .collect()
}
