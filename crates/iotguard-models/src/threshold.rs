//! Alert thresholds on model scores, chosen on validation data and stored with the model.
//!
//! A row alerts when `score >= value` (NaN scores never alert). Three ways to choose `value`:
//! the score maximising F1 on labelled validation rows, the lowest threshold keeping the
//! false-alert rate on benign validation rows at or under a target, and (for unsupervised
//! detectors) a quantile of benign scores. Choosing a threshold on the test set inflates every
//! reported number; [`Threshold::on_validation`] records which data it came from so reports can
//! say so.

use serde::{Deserialize, Serialize};

/// How a threshold was chosen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ThresholdMethod {
    /// The score that maximised F1, with the F1 reached.
    MaxF1 {
        /// F1 at the chosen threshold on the data it was chosen on.
        f1: f64,
    },
    /// The lowest threshold with a benign false-alert rate at or under `target`.
    FalseAlertRate {
        /// The requested false-alert rate.
        target: f64,
        /// The rate reached on the data it was chosen on.
        achieved: f64,
    },
    /// The `q`-quantile of benign scores (linear interpolation, as NumPy's default).
    BenignQuantile {
        /// The quantile in `[0, 1]`.
        q: f64,
    },
    /// Chosen from out-of-capture scores of the training data ([`crate::ooc`]): the objective
    /// applied under the rule; the model file's `out_of_capture` section has the details.
    OutOfCapture {
        /// The objective (`f1`, `target-far:X`, `recall:X`).
        objective: crate::operating::Objective,
        /// How the held-out units were combined.
        rule: crate::operating::Rule,
    },
    /// A baseline learned without labels ([`crate::baseline`]): the lowest score at which at
    /// most `target_far` of its own training flows (all taken as normal) alert.
    TrainingScores {
        /// The requested false-alert rate on the training flows.
        target_far: f64,
        /// The share of training flows at or above the threshold.
        achieved: f64,
    },
    /// Set by hand.
    Fixed,
}

/// An alert threshold and how it was chosen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Rows with `score >= value` alert.
    pub value: f32,
    /// How `value` was chosen.
    pub method: ThresholdMethod,
    /// Whether it was chosen on validation data held out from both training and testing.
    pub on_validation: bool,
}

impl Threshold {
    /// Returns a hand-set threshold.
    pub fn fixed(value: f32) -> Threshold {
        Threshold {
            value,
            method: ThresholdMethod::Fixed,
            on_validation: false,
        }
    }

    /// Returns whether `score` alerts.
    pub fn is_alert(&self, score: f32) -> bool {
        score >= self.value
    }
}

/// Returns the smallest `f32` greater than `x` (for finite `x`; `f32::next_up` needs Rust 1.86).
fn next_up(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f32::from_bits(1);
    }
    let bits = x.to_bits();
    f32::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

/// Returns finite scores sorted descending.
fn finite_desc(scores: &[f32]) -> Vec<f32> {
    let mut s: Vec<f32> = scores.iter().copied().filter(|s| !s.is_nan()).collect();
    s.sort_by(|a, b| b.total_cmp(a));
    s
}

/// Returns the threshold maximising F1 of `score >= threshold` against `target`, marked as
/// chosen on validation data.
///
/// Candidates are the distinct scores; among equal F1s the highest threshold (fewest alerts)
/// wins. `None` without positives (F1 is then 0 or undefined everywhere). NaN scores are ignored.
pub fn max_f1_threshold(scores: &[f32], target: &[bool]) -> Option<Threshold> {
    let mut pairs: Vec<(f32, bool)> = scores
        .iter()
        .zip(target)
        .filter(|(s, _)| !s.is_nan())
        .map(|(&s, &t)| (s, t))
        .collect();
    let n_pos = pairs.iter().filter(|p| p.1).count() as u64;
    if n_pos == 0 {
        return None;
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut best: Option<(f64, f32)> = None;
    let mut i = 0;
    while i < pairs.len() {
        let v = pairs[i].0;
        while i < pairs.len() && pairs[i].0 == v {
            if pairs[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        // F1 = 2tp / (2tp + fp + fn) with fn = n_pos - tp.
        let f1 = 2.0 * tp as f64 / (tp + fp + n_pos) as f64;
        if best.is_none_or(|(b, _)| f1 > b) {
            best = Some((f1, v));
        }
    }
    best.map(|(f1, value)| Threshold {
        value,
        method: ThresholdMethod::MaxF1 { f1 },
        on_validation: true,
    })
}

/// Returns the lowest threshold at which at most a `rate` share of `benign_scores` alert, marked
/// as chosen on validation data.
///
/// With `n` benign rows at most `floor(rate · n)` may alert; the threshold sits just above the
/// first score that would exceed that, so ties never push the rate over the target. `None` for
/// an empty set or a rate outside `[0, 1]`.
pub fn threshold_for_false_alert_rate(benign_scores: &[f32], rate: f64) -> Option<Threshold> {
    let s = finite_desc(benign_scores);
    if s.is_empty() || !(0.0..=1.0).contains(&rate) {
        return None;
    }
    // The largest m with m / n <= rate, judged by the same division that reports the rate
    // (so 0.03 of 100 rows allows 3 even when 0.03 · 100 rounds to 2.9999999999999996).
    let n = s.len();
    let mut allowed = ((rate * n as f64).floor() as usize).min(n);
    while allowed < n && (allowed + 1) as f64 / n as f64 <= rate {
        allowed += 1;
    }
    while allowed > 0 && allowed as f64 / n as f64 > rate {
        allowed -= 1;
    }
    let value = if allowed >= s.len() {
        s[s.len() - 1]
    } else {
        next_up(s[allowed])
    };
    let alerts = s.iter().filter(|&&x| x >= value).count();
    Some(Threshold {
        value,
        method: ThresholdMethod::FalseAlertRate {
            target: rate,
            achieved: alerts as f64 / s.len() as f64,
        },
        on_validation: true,
    })
}

/// Returns the `q`-quantile of benign scores as a threshold (linear interpolation between order
/// statistics, NumPy's default), marked as chosen on validation data.
///
/// The usual rule for unsupervised detectors: `q = 0.99` alerts on about 1 % of benign traffic.
/// `None` for an empty set or `q` outside `[0, 1]`.
pub fn quantile_threshold(benign_scores: &[f32], q: f64) -> Option<Threshold> {
    let mut s = finite_desc(benign_scores);
    if s.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    s.reverse();
    let pos = q * (s.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    let value = (f64::from(s[lo]) + frac * (f64::from(s[hi]) - f64::from(s[lo]))) as f32;
    Some(Threshold {
        value,
        method: ThresholdMethod::BenignQuantile { q },
        on_validation: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_f1_picks_best_cut() {
        let s = [0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.35];
        let y = [false, false, false, true, true, true, false];
        let t = max_f1_threshold(&s, &y).unwrap();
        assert_eq!(t.value, 0.6);
        assert_eq!(t.method, ThresholdMethod::MaxF1 { f1: 1.0 });
        assert!(t.on_validation);
        assert!(max_f1_threshold(&s, &[false; 7]).is_none());
        // Ties: at 0.5 the tied benign row comes with the positive.
        let t = max_f1_threshold(&[0.5, 0.5, 0.1], &[true, false, false]).unwrap();
        assert_eq!(t.value, 0.5);
    }

    #[test]
    fn false_alert_rate_is_respected_with_ties() {
        let benign: Vec<f32> = (0..100).map(|i| i as f32 / 100.0).collect();
        let t = threshold_for_false_alert_rate(&benign, 0.05).unwrap();
        let alerts = benign.iter().filter(|&&s| t.is_alert(s)).count();
        assert_eq!(alerts, 5);
        assert!(t.value > 0.94 && t.value <= 0.95);
        let tied = [0.9f32, 0.9, 0.9, 0.1];
        let t = threshold_for_false_alert_rate(&tied, 0.5).unwrap();
        assert_eq!(tied.iter().filter(|&&s| t.is_alert(s)).count(), 0);
        let t = threshold_for_false_alert_rate(&tied, 1.0).unwrap();
        assert_eq!(t.value, 0.1);
        assert!(threshold_for_false_alert_rate(&[], 0.1).is_none());
        assert!(threshold_for_false_alert_rate(&tied, 1.5).is_none());
    }

    #[test]
    fn quantile_interpolates() {
        let t = quantile_threshold(&[4.0, 1.0, 3.0, 2.0], 0.5).unwrap();
        assert_eq!(t.value, 2.5);
        assert_eq!(quantile_threshold(&[4.0, 1.0], 1.0).unwrap().value, 4.0);
        assert!(quantile_threshold(&[1.0], -0.1).is_none());
        assert!(!Threshold::fixed(0.5).is_alert(f32::NAN));
        assert_eq!(next_up(0.0), f32::from_bits(1));
        assert!(next_up(-1.0) > -1.0);
    }

    proptest::proptest! {
        #[test]
        fn false_alert_rate_is_met_and_minimal(
            raw in proptest::collection::vec(0u8..20, 1..80),
            rate in 0.0f64..=1.0,
        ) {
            let s: Vec<f32> = raw.iter().map(|&v| f32::from(v) / 19.0).collect();
            let t = threshold_for_false_alert_rate(&s, rate).unwrap();
            let alerts = |v: f32| s.iter().filter(|&&x| x >= v).count() as f64 / s.len() as f64;
            proptest::prop_assert!(alerts(t.value) <= rate);
            // Any lower score as threshold would exceed the rate.
            for &lower in s.iter().filter(|&&x| x < t.value) {
                proptest::prop_assert!(alerts(lower) > rate);
            }
        }

        #[test]
        fn max_f1_beats_every_other_cut(
            rows in proptest::collection::vec((0u8..10, proptest::bool::ANY), 1..60),
        ) {
            let s: Vec<f32> = rows.iter().map(|r| f32::from(r.0)).collect();
            let y: Vec<bool> = rows.iter().map(|r| r.1).collect();
            let Some(t) = max_f1_threshold(&s, &y) else {
                proptest::prop_assert!(y.iter().all(|&v| !v));
                return Ok(());
            };
            let f1 = |v: f32| crate::metrics::BinaryMetrics::compute(&s, &y, v).f1.unwrap_or(0.0);
            let ThresholdMethod::MaxF1 { f1: best } = t.method else { unreachable!() };
            proptest::prop_assert!((f1(t.value) - best).abs() < 1e-12);
            for &v in &s {
                proptest::prop_assert!(f1(v) <= best + 1e-12);
            }
        }
    }

    #[test]
    fn serde_round_trip() {
        let t = threshold_for_false_alert_rate(&[0.1, 0.2], 0.5).unwrap();
        let back: Threshold = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }
}
