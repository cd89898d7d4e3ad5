//! Operating points: which alert threshold a stated objective picks from scores of held-out
//! units (captures, or time blocks of one capture), and the compact sketch of benign held-out
//! scores a model file keeps so an operator can ask for a false-alert rate later.
//!
//! An [`Objective`] says what the threshold should achieve (`f1`, `target-far:X`,
//! `recall:X`); a [`Rule`] says how the held-out units are combined:
//!
//! - [`Rule::Pooled`]: the objective on the union of every unit's scores. A unit with many
//!   benign rows whose scores have a heavy tail (one odd capture) sets the threshold alone.
//! - [`Rule::Median`]: the objective on each unit alone, then the median of those thresholds
//!   (units where the objective is undefined, such as a recall target on a benign-only
//!   capture, do not vote). Robust to one odd capture.
//! - [`Rule::Balanced`]: the objective on the union with each unit's benign rows and its
//!   malicious rows weighing as much in total as any other unit's.
//!
//! A row alerts when `score >= threshold`; NaN scores are ignored.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::threshold::threshold_for_false_alert_rate;

/// What a threshold should achieve on held-out scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Objective {
    /// The highest F1.
    F1,
    /// The lowest threshold whose false-alert rate on benign rows is at most this.
    TargetFar(f64),
    /// The highest threshold whose recall on malicious rows is at least this.
    Recall(f64),
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Objective::F1 => f.write_str("f1"),
            Objective::TargetFar(x) => write!(f, "target-far:{x}"),
            Objective::Recall(x) => write!(f, "recall:{x}"),
        }
    }
}

impl FromStr for Objective {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rate = |v: &str| -> Result<f64, String> {
            match v.parse::<f64>() {
                Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
                _ => Err(format!(
                    "`{v}` is not a rate in [0, 1] (as in target-far:0.01)"
                )),
            }
        };
        match s.split_once(':') {
            None if s == "f1" => Ok(Objective::F1),
            Some(("target-far", v)) => Ok(Objective::TargetFar(rate(v)?)),
            Some(("recall", v)) => Ok(Objective::Recall(rate(v)?)),
            _ => Err(format!(
                "unknown objective `{s}`; one of f1, target-far:X, recall:X"
            )),
        }
    }
}

impl Serialize for Objective {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Objective {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How held-out units are combined into one threshold (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The objective on the union of the units' scores.
    Pooled,
    /// The median of the thresholds the objective picks on each unit alone.
    Median,
    /// The objective on the union, each unit's benign and malicious rows weighing the same.
    Balanced,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 3] = [Rule::Pooled, Rule::Median, Rule::Balanced];

    /// How the rule combines held-out units, in words (for summaries).
    pub fn describe(self) -> &'static str {
        match self {
            Rule::Pooled => "over every held-out flow together",
            Rule::Median => "the median of the thresholds it gives on each held-out input alone",
            Rule::Balanced => "over every held-out flow, each held-out input weighing the same",
        }
    }

    /// The rule's name.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Pooled => "pooled",
            Rule::Median => "median",
            Rule::Balanced => "balanced",
        }
    }
}

impl FromStr for Rule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rule::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("unknown rule `{s}`; one of pooled, median, balanced"))
    }
}

/// One held-out unit's scores and labels.
#[derive(Clone, Copy, Debug)]
pub struct Unit<'a> {
    /// Scores of the unit's rows by a model that did not train on them.
    pub scores: &'a [f32],
    /// Whether each row is malicious.
    pub target: &'a [bool],
}

/// Returns the smallest `f32` greater than `x`.
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

/// Chooses the threshold `objective` picks on weighted rows `(score, malicious, weight)`.
/// `None` when the objective is undefined (no malicious rows for F1 or recall, no benign rows
/// for a false-alert rate).
fn choose_weighted(rows: &mut [(f32, bool, f64)], objective: Objective) -> Option<f32> {
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let pos: f64 = rows.iter().filter(|r| r.1).map(|r| r.2).sum();
    let neg: f64 = rows.iter().filter(|r| !r.1).map(|r| r.2).sum();
    rows.first()?;
    // Cumulative weighted (tp, fp) at each distinct score, descending.
    let mut points: Vec<(f32, f64, f64)> = Vec::new();
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < rows.len() {
        let v = rows[i].0;
        while i < rows.len() && rows[i].0 == v {
            if rows[i].1 {
                tp += rows[i].2;
            } else {
                fp += rows[i].2;
            }
            i += 1;
        }
        points.push((v, tp, fp));
    }
    match objective {
        Objective::F1 => {
            if pos <= 0.0 {
                return None;
            }
            let mut best: Option<(f64, f32)> = None;
            for &(v, tp, fp) in &points {
                let f1 = 2.0 * tp / (tp + fp + pos);
                if best.is_none_or(|(b, _)| f1 > b + 1e-12) {
                    best = Some((f1, v));
                }
            }
            best.map(|b| b.1)
        }
        Objective::TargetFar(x) => {
            if neg <= 0.0 {
                return None;
            }
            // The lowest threshold that keeps the rate at or under x: just above the first
            // score whose benign rows would exceed it (every row alerts when none does).
            Some(
                points
                    .iter()
                    .find(|p| p.2 / neg > x + 1e-12)
                    .map_or(points[points.len() - 1].0, |p| next_up(p.0)),
            )
        }
        Objective::Recall(x) => {
            if pos <= 0.0 {
                return None;
            }
            points
                .iter()
                .find(|p| p.1 / pos >= x - 1e-12)
                .map(|p| p.0)
                .or(points.last().map(|p| p.0))
        }
    }
}

/// Returns the median of `values` (the mean of the two middle ones for an even count).
fn median(mut values: Vec<f32>) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f32::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        ((f64::from(values[n / 2 - 1]) + f64::from(values[n / 2])) / 2.0) as f32
    })
}

/// Returns the threshold `objective` picks on each unit alone (`None` where it is undefined).
pub fn per_unit(units: &[Unit<'_>], objective: Objective) -> Vec<Option<f32>> {
    units
        .iter()
        .map(|u| {
            let mut rows = weighted(u, 1.0, 1.0);
            choose_weighted(&mut rows, objective)
        })
        .collect()
}

fn weighted(u: &Unit<'_>, w_pos: f64, w_neg: f64) -> Vec<(f32, bool, f64)> {
    u.scores
        .iter()
        .zip(u.target)
        .filter(|(s, _)| !s.is_nan())
        .map(|(&s, &t)| (s, t, if t { w_pos } else { w_neg }))
        .collect()
}

/// Returns the threshold `objective` picks over `units` under `rule`; `None` when no unit
/// defines it.
pub fn choose(units: &[Unit<'_>], objective: Objective, rule: Rule) -> Option<f32> {
    match rule {
        Rule::Median => median(per_unit(units, objective).into_iter().flatten().collect()),
        Rule::Pooled | Rule::Balanced => {
            let mut rows = Vec::new();
            for u in units {
                let (mut w_pos, mut w_neg) = (1.0, 1.0);
                if rule == Rule::Balanced {
                    let pos = u.target.iter().filter(|t| **t).count().max(1) as f64;
                    let neg = u.target.iter().filter(|t| !**t).count().max(1) as f64;
                    (w_pos, w_neg) = (1.0 / pos, 1.0 / neg);
                }
                rows.extend(weighted(u, w_pos, w_neg));
            }
            choose_weighted(&mut rows, objective)
        }
    }
}

/// The false-alert rates a [`BenignSketch`] keeps a threshold for.
pub const SKETCH_RATES: [f64; 27] = [
    0.0, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04,
    0.05, 0.06, 0.08, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0,
];

/// A compact sketch of one held-out unit's benign scores: for each rate of [`SKETCH_RATES`],
/// the lowest threshold whose false-alert rate on them is at most that rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenignSketch {
    /// The unit (held-out capture or time block), or `pooled`.
    pub unit: String,
    /// Benign rows behind the sketch.
    pub benign: u64,
    /// `[rate, threshold]` pairs, rates ascending.
    pub points: Vec<[f64; 2]>,
}

impl BenignSketch {
    /// Sketches `benign_scores`; `None` without any finite score.
    pub fn new(unit: String, benign_scores: &[f32]) -> Option<BenignSketch> {
        let benign = benign_scores.iter().filter(|s| !s.is_nan()).count() as u64;
        let points = SKETCH_RATES
            .iter()
            .filter_map(|&r| {
                threshold_for_false_alert_rate(benign_scores, r).map(|t| [r, f64::from(t.value)])
            })
            .collect::<Vec<_>>();
        (!points.is_empty()).then_some(BenignSketch {
            unit,
            benign,
            points,
        })
    }

    /// Returns the threshold kept for the largest sketched rate at or under `rate` (so the
    /// unit's false-alert rate at it is at most `rate`); `None` for a rate below every point.
    pub fn threshold_at(&self, rate: f64) -> Option<f32> {
        self.points
            .iter()
            .rev()
            .find(|p| p[0] <= rate + 1e-12)
            .map(|p| p[1] as f32)
    }

    /// Returns an upper bound of the unit's false-alert rate at `threshold`: the lowest
    /// sketched rate whose threshold is at or under it.
    pub fn rate_at(&self, threshold: f32) -> f64 {
        self.points
            .iter()
            .find(|p| p[1] as f32 <= threshold)
            .map_or(1.0, |p| p[0])
    }
}

/// Returns the threshold for a false-alert rate of `rate` from per-unit sketches under `rule`:
/// the median of the units' thresholds, the pooled sketch's (`pooled` must then be given), or
/// the lowest sketched threshold whose mean unit rate is at most `rate` (balanced).
pub fn threshold_for_rate(
    units: &[BenignSketch],
    pooled: Option<&BenignSketch>,
    rate: f64,
    rule: Rule,
) -> Option<f32> {
    match rule {
        Rule::Median => median(units.iter().filter_map(|s| s.threshold_at(rate)).collect()),
        Rule::Pooled => pooled?.threshold_at(rate),
        Rule::Balanced => {
            if units.is_empty() {
                return None;
            }
            let mut candidates: Vec<f32> = units
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p[1] as f32))
                .collect();
            candidates.sort_by(f32::total_cmp);
            candidates.dedup();
            candidates.into_iter().find(|&t| {
                let mean = units.iter().map(|s| s.rate_at(t)).sum::<f64>() / units.len() as f64;
                mean <= rate + 1e-12
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit<'a>(scores: &'a [f32], target: &'a [bool]) -> Unit<'a> {
        Unit { scores, target }
    }

    #[test]
    fn objectives_parse_and_print() {
        for s in ["f1", "target-far:0.01", "recall:0.9"] {
            assert_eq!(s.parse::<Objective>().unwrap().to_string(), s);
        }
        assert!("target-far:2".parse::<Objective>().is_err());
        assert!("far:0.1".parse::<Objective>().is_err());
        let json = serde_json::to_string(&Objective::TargetFar(0.02)).unwrap();
        assert_eq!(json, "\"target-far:0.02\"");
        assert_eq!(
            serde_json::from_str::<Objective>(&json).unwrap(),
            Objective::TargetFar(0.02)
        );
    }

    #[test]
    fn each_objective_on_one_unit() {
        let s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05];
        let y = [
            true, true, false, true, true, false, true, false, false, false,
        ];
        let u = [unit(&s, &y)];
        // F1: at 0.3, tp 5, fp 2: 10/12 = 0.833 (at 0.5: 8/10 = 0.8).
        assert_eq!(choose(&u, Objective::F1, Rule::Pooled), Some(0.3));
        // 5 benign rows: 20 % allows one, so the threshold sits just above 0.4.
        let t = choose(&u, Objective::TargetFar(0.2), Rule::Pooled).unwrap();
        assert!(t > 0.4 && t <= 0.5, "{t}");
        let t = choose(&u, Objective::TargetFar(0.0), Rule::Pooled).unwrap();
        assert!(t > 0.7 && t <= 0.8, "{t}");
        assert_eq!(choose(&u, Objective::Recall(0.8), Rule::Pooled), Some(0.5));
        assert_eq!(choose(&u, Objective::Recall(1.0), Rule::Pooled), Some(0.3));
    }

    #[test]
    fn the_median_ignores_one_odd_unit_and_units_without_a_definition() {
        let benign = [false; 4];
        let (a, b, odd) = (
            [0.1f32, 0.1, 0.1, 0.2],
            [0.1f32, 0.2, 0.1, 0.1],
            [0.9f32; 4],
        );
        let units = [unit(&a, &benign), unit(&b, &benign), unit(&odd, &benign)];
        let t = choose(&units, Objective::TargetFar(0.25), Rule::Median).unwrap();
        assert!(t > 0.1 && t <= 0.2, "{t}");
        // Pooled: the odd unit's four 0.9 rows are a third of the benign rows.
        let t = choose(&units, Objective::TargetFar(0.25), Rule::Pooled).unwrap();
        assert!(t > 0.9, "{t}");
        assert_eq!(choose(&units, Objective::Recall(0.9), Rule::Median), None);
    }

    #[test]
    fn balanced_weights_units_equally() {
        // Unit a: 2 benign rows, one at 0.8; unit b: 8 benign rows at 0.1.
        let (a, ya) = ([0.8f32, 0.1], [false, false]);
        let (b, yb) = ([0.1f32; 8], [false; 8]);
        let units = [unit(&a, &ya), unit(&b, &yb)];
        // Pooled: 1 of 10 benign rows at 0.8 is 10 %, allowed.
        let t = choose(&units, Objective::TargetFar(0.1), Rule::Pooled).unwrap();
        assert!(t > 0.1 && t <= 0.8, "{t}");
        // Balanced: it is half of unit a, a quarter of the weight.
        let t = choose(&units, Objective::TargetFar(0.1), Rule::Balanced).unwrap();
        assert!(t > 0.8, "{t}");
    }

    #[test]
    fn sketches_give_thresholds_and_rates() {
        let benign: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let s = BenignSketch::new("x".into(), &benign).unwrap();
        assert_eq!(s.benign, 1000);
        let t = s.threshold_at(0.01).unwrap();
        assert_eq!(benign.iter().filter(|&&v| v >= t).count(), 10);
        // 0.012 is not sketched: the 0.01 point is used (rate at most 0.012).
        assert_eq!(s.threshold_at(0.012), Some(t));
        assert_eq!(s.rate_at(t), 0.01);
        assert_eq!(s.rate_at(-1.0), 1.0);
        let units = [
            s.clone(),
            s.clone(),
            BenignSketch::new("odd".into(), &[0.99; 10]).unwrap(),
        ];
        assert_eq!(
            threshold_for_rate(&units, None, 0.01, Rule::Median),
            Some(t)
        );
        assert_eq!(
            threshold_for_rate(&units, Some(&s), 0.01, Rule::Pooled),
            Some(t)
        );
        let b = threshold_for_rate(&units, None, 0.01, Rule::Balanced).unwrap();
        assert!(b > 0.99, "{b}");
    }
}
