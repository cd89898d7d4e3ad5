//! Out-of-capture scores over the training data, and the operating point chosen from them.
//!
//! A threshold chosen on rows of the training captures does not transfer to another network:
//! those rows share hosts and sessions with the rows the model was fitted on, so their scores
//! are more confident than a new capture's. [`plan`] splits the training rows into held-out
//! units: each capture when there are several (leave one capture out, or grouped folds of
//! captures past [`MAX_FOLDS`] captures), or [`TIME_BLOCKS`] contiguous time blocks when there
//! is one capture only (optimistic: hosts span blocks, and the summary says so). [`scores`]
//! scores every unit with a model fitted on the other units only; [`summarize`] chooses the
//! threshold with an [`Objective`] and a [`Rule`] and measures every unit and the pool at it.
//!
//! Rows of *train-only* groups ([`plan_with`]: simulated or otherwise augmented training data)
//! are in every fold's training rows and in no unit: they teach the models but are never held
//! out, so they never move the threshold or the out-of-capture estimate.

use serde::{Deserialize, Serialize};

use crate::cv::{distinct_groups, Fold};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::lab::{fit_setting, ModelKind};
use crate::metrics::BinaryMetrics;
use crate::model::Scorer;
use crate::operating::{self, BenignSketch, Objective, Rule, Unit};
use crate::tune::Setting;

/// At most this many folds: with more captures, captures are grouped into this many folds.
pub const MAX_FOLDS: usize = 10;

/// Time blocks one capture is cut into when it is the only one.
pub const TIME_BLOCKS: usize = 5;

/// How the training rows were split into held-out units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum OocSplit {
    /// Each capture held out in turn.
    LeaveOneCaptureOut {
        /// Captures (units).
        captures: usize,
    },
    /// Captures grouped into folds, each fold held out in turn.
    CaptureFolds {
        /// Captures (units).
        captures: usize,
        /// Folds.
        folds: usize,
    },
    /// One capture cut into contiguous time blocks, each held out in turn.
    TimeBlocks {
        /// Blocks (units).
        blocks: usize,
    },
}

impl OocSplit {
    /// One sentence saying how the out-of-capture scores were made.
    pub fn describe(&self) -> String {
        match self {
            OocSplit::LeaveOneCaptureOut { captures } => format!(
                "leave one capture out over the {captures} training captures: each scored by a model fitted on the others"
            ),
            OocSplit::CaptureFolds { captures, folds } => format!(
                "{captures} training captures grouped into {folds} folds: each capture scored by a model fitted on the other folds"
            ),
            OocSplit::TimeBlocks { blocks } => format!(
                "one training capture only, so it was cut into {blocks} time blocks, each scored by a model fitted on the others (hosts span blocks: optimistic, not out of capture)"
            ),
        }
    }
}

/// The unit of a train-only row ([`plan_with`]): in no unit, never tested.
pub const TRAIN_ONLY: u32 = u32::MAX;

/// The held-out units of a dataset and the folds that score them.
#[derive(Clone, Debug)]
pub struct Plan {
    /// How the units were made.
    pub split: OocSplit,
    /// The folds; each tests whole units.
    pub folds: Vec<Fold>,
    /// The unit of every row ([`TRAIN_ONLY`] for rows of train-only groups).
    pub unit: Vec<u32>,
    /// The units' names.
    pub names: Vec<String>,
}

/// Splits `d`'s rows into held-out units (see the module docs).
pub fn plan(d: &Dataset) -> Result<Plan> {
    plan_with(d, &[])
}

/// [`plan`], with the rows of the groups in `train_only` in every fold's training rows and in
/// no unit ([`TRAIN_ONLY`]). The units are made of the other rows alone (one capture left: time
/// blocks of it); an error when no row is left to hold out.
pub fn plan_with(d: &Dataset, train_only: &[u32]) -> Result<Plan> {
    d.validate()?;
    let n = d.n_rows();
    let grouped = d.group.len() == n;
    let extra: Vec<usize> = if grouped {
        (0..n)
            .filter(|&i| train_only.contains(&d.group[i]))
            .collect()
    } else {
        Vec::new()
    };
    if extra.is_empty() {
        return plan_units(&d.group, &d.time, &d.group_names, n);
    }
    let kept: Vec<usize> = (0..n)
        .filter(|&i| !train_only.contains(&d.group[i]))
        .collect();
    if kept.is_empty() {
        return Err(Error::InvalidData(
            "every row is train-only: no capture to hold out".into(),
        ));
    }
    // Plan the held-out rows alone, then map back to `d`'s rows and add the train-only ones to
    // every fold's training rows.
    let group: Vec<u32> = kept.iter().map(|&i| d.group[i]).collect();
    let time: Vec<f64> = if d.time.len() == n {
        kept.iter().map(|&i| d.time[i]).collect()
    } else {
        Vec::new()
    };
    let inner = plan_units(&group, &time, &d.group_names, kept.len())?;
    let mut unit = vec![TRAIN_ONLY; n];
    for (k, &i) in kept.iter().enumerate() {
        unit[i] = inner.unit[k];
    }
    let folds = inner
        .folds
        .into_iter()
        .map(|f| {
            let mut train: Vec<usize> = f.train.iter().map(|&k| kept[k]).collect();
            train.extend_from_slice(&extra);
            train.sort_unstable();
            Fold {
                train,
                test: f.test.iter().map(|&k| kept[k]).collect(),
            }
        })
        .collect();
    Ok(Plan {
        split: inner.split,
        folds,
        unit,
        names: inner.names,
    })
}

/// The units of `n` rows with these groups and times (each ignored unless it has `n` entries).
fn plan_units(group: &[u32], time: &[f64], group_names: &[String], n: usize) -> Result<Plan> {
    if n == 0 {
        return Err(Error::InvalidData("no rows".into()));
    }
    let groups = if group.len() == n {
        distinct_groups(group)
    } else {
        Vec::new()
    };
    if groups.len() >= 2 {
        let name = |g: u32| {
            group_names
                .get(g as usize)
                .cloned()
                .unwrap_or_else(|| format!("group {g}"))
        };
        let index: std::collections::HashMap<u32, u32> = groups
            .iter()
            .enumerate()
            .map(|(i, &g)| (g, i as u32))
            .collect();
        let unit: Vec<u32> = group.iter().map(|g| index[g]).collect();
        let names = groups.iter().map(|&g| name(g)).collect();
        let n_units = groups.len();
        // Units per fold: one each up to MAX_FOLDS, else the largest first, dealt round-robin.
        let (fold_of_unit, split) = if n_units <= MAX_FOLDS {
            (
                (0..n_units).collect::<Vec<_>>(),
                OocSplit::LeaveOneCaptureOut { captures: n_units },
            )
        } else {
            let mut sizes = vec![0usize; n_units];
            for &u in &unit {
                sizes[u as usize] += 1;
            }
            let mut order: Vec<usize> = (0..n_units).collect();
            order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
            let mut fold_of = vec![0; n_units];
            for (k, &u) in order.iter().enumerate() {
                fold_of[u] = k % MAX_FOLDS;
            }
            (
                fold_of,
                OocSplit::CaptureFolds {
                    captures: n_units,
                    folds: MAX_FOLDS,
                },
            )
        };
        let n_folds = fold_of_unit.iter().max().map_or(0, |m| m + 1);
        let folds = folds_of(&unit, |u| fold_of_unit[u as usize], n_folds);
        return Ok(Plan {
            split,
            folds,
            unit,
            names,
        });
    }
    // One capture: contiguous blocks in time order (row order without times).
    let blocks = TIME_BLOCKS.min(n);
    let mut order: Vec<usize> = (0..n).collect();
    if time.len() == n {
        order.sort_by(|&a, &b| time[a].total_cmp(&time[b]).then(a.cmp(&b)));
    }
    let mut unit = vec![0u32; n];
    for (k, &i) in order.iter().enumerate() {
        unit[i] = (k * blocks / n) as u32;
    }
    let folds = folds_of(&unit, |u| u as usize, blocks);
    Ok(Plan {
        split: OocSplit::TimeBlocks { blocks },
        folds,
        unit,
        names: (1..=blocks)
            .map(|b| format!("time block {b} of {blocks}"))
            .collect(),
    })
}

fn folds_of(unit: &[u32], fold_of: impl Fn(u32) -> usize, n_folds: usize) -> Vec<Fold> {
    let mut folds: Vec<Fold> = (0..n_folds)
        .map(|_| Fold {
            train: Vec::new(),
            test: Vec::new(),
        })
        .collect();
    for (i, &u) in unit.iter().enumerate() {
        let f = fold_of(u);
        for (k, fold) in folds.iter_mut().enumerate() {
            if k == f {
                fold.test.push(i);
            } else {
                fold.train.push(i);
            }
        }
    }
    folds
}

/// Every row's out-of-capture score (NaN for rows of folds that could not be fitted) and the
/// folds skipped, with why.
#[derive(Clone, Debug)]
pub struct Scores {
    /// One score per row of the dataset.
    pub scores: Vec<f32>,
    /// Skipped folds, with the reason.
    pub skipped: Vec<String>,
}

/// Scores every unit of `plan` with a model of `kind` at `setting` fitted on the other units.
/// A fold whose training rows cannot fit the kind (one class only for a classifier, no benign
/// row for an unsupervised kind) is skipped and said so; any other fitting error is returned.
pub fn scores(
    kind: ModelKind,
    setting: &Setting,
    d: &Dataset,
    plan: &Plan,
    seed: u64,
) -> Result<Scores> {
    let mut out = vec![f32::NAN; d.n_rows()];
    let mut skipped = Vec::new();
    for fold in &plan.folds {
        let held: Vec<&str> = {
            let mut u: Vec<u32> = fold.test.iter().map(|&i| plan.unit[i]).collect();
            u.sort_unstable();
            u.dedup();
            u.iter().map(|&u| plan.names[u as usize].as_str()).collect()
        };
        let train = d.subset(&fold.train);
        let malicious = train.target.iter().filter(|t| **t).count();
        let fit_needs = if kind.supervised() {
            (malicious == 0 || malicious == train.n_rows()).then_some("one class only")
        } else {
            (malicious == train.n_rows()).then_some("no benign row")
        };
        if let Some(why) = fit_needs {
            skipped.push(format!(
                "{}: the other units' rows hold {why}",
                held.join(", ")
            ));
            continue;
        }
        let (model, _) = fit_setting(kind, setting, &train, seed)?;
        let test = d.subset(&fold.test);
        let s = model.score_batch(&test.features, test.n_features());
        for (k, &i) in fold.test.iter().enumerate() {
            out[i] = s[k];
        }
    }
    Ok(Scores {
        scores: out,
        skipped,
    })
}

/// One held-out unit at the chosen threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    /// The unit (capture or time block).
    pub unit: String,
    /// The threshold the objective picks on this unit alone (none where undefined).
    pub alone: Option<f32>,
    /// Its rows at the chosen threshold.
    pub metrics: BinaryMetrics,
}

/// How a model's threshold was chosen out of capture, and what it expects there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutOfCapture {
    /// How the held-out units were made.
    pub split: OocSplit,
    /// [`OocSplit::describe`], for readers of the file.
    pub description: String,
    /// The objective.
    pub objective: Objective,
    /// How the units were combined.
    pub rule: Rule,
    /// The chosen threshold.
    pub threshold: f32,
    /// Every scored unit at the threshold.
    pub units: Vec<UnitResult>,
    /// Every scored row at the threshold.
    pub pooled: BinaryMetrics,
    /// Folds that could not be fitted.
    #[serde(default)]
    pub skipped: Vec<String>,
    /// Per unit with benign rows: a sketch of its benign scores (for `--target-far`).
    #[serde(default)]
    pub benign_sketches: Vec<BenignSketch>,
    /// The same over every unit's benign rows.
    #[serde(default)]
    pub pooled_benign_sketch: Option<BenignSketch>,
    /// The pooled held-out curve: `[threshold, false-alert rate, recall]` over every scored row
    /// at each threshold of the pooled benign sketch, ascending thresholds (what a threshold
    /// set by the operator implies; absent from files written before it).
    #[serde(default)]
    pub curve: Vec<[f64; 3]>,
}

impl OutOfCapture {
    /// Returns the pooled held-out false-alert rate and recall at `threshold`, from the curve:
    /// the point with the highest threshold at or under it (so at least that many alerts);
    /// `None` below the curve or without one.
    pub fn expected_at(&self, threshold: f32) -> Option<(f64, f64)> {
        self.curve
            .iter()
            .rev()
            .find(|p| p[0] as f32 <= threshold)
            .map(|p| (p[1], p[2]))
    }

    /// Returns the threshold for a false-alert rate of `rate` on held-out benign rows under the
    /// model's rule, from the stored sketches.
    pub fn threshold_for_rate(&self, rate: f64) -> Option<f32> {
        operating::threshold_for_rate(
            &self.benign_sketches,
            self.pooled_benign_sketch.as_ref(),
            rate,
            self.rule,
        )
    }
}

/// Chooses the threshold from out-of-capture `scores` and measures every unit and the pool at
/// it; `None` when the objective is defined on no unit (no scored row of the class it needs).
pub fn summarize(
    d: &Dataset,
    plan: &Plan,
    scores: &Scores,
    objective: Objective,
    rule: Rule,
) -> Option<OutOfCapture> {
    let n_units = plan.names.len();
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); n_units];
    for (i, &u) in plan.unit.iter().enumerate() {
        if u != TRAIN_ONLY && !scores.scores[i].is_nan() {
            rows[u as usize].push(i);
        }
    }
    let per: Vec<(Vec<f32>, Vec<bool>)> = rows
        .iter()
        .map(|r| {
            (
                r.iter().map(|&i| scores.scores[i]).collect(),
                r.iter().map(|&i| d.target[i]).collect(),
            )
        })
        .collect();
    let units: Vec<Unit<'_>> = per
        .iter()
        .filter(|(s, _)| !s.is_empty())
        .map(|(s, t)| Unit {
            scores: s,
            target: t,
        })
        .collect();
    let threshold = operating::choose(&units, objective, rule)?;
    let alone = operating::per_unit(&units, objective);
    let mut results = Vec::new();
    let mut sketches = Vec::new();
    let (mut all_s, mut all_t, mut all_benign) = (Vec::new(), Vec::new(), Vec::new());
    let mut k = 0;
    for (u, (s, t)) in per.iter().enumerate() {
        if s.is_empty() {
            continue;
        }
        results.push(UnitResult {
            unit: plan.names[u].clone(),
            alone: alone[k],
            metrics: BinaryMetrics::compute(s, t, threshold),
        });
        k += 1;
        let benign: Vec<f32> = s.iter().zip(t).filter(|p| !*p.1).map(|p| *p.0).collect();
        sketches.extend(BenignSketch::new(plan.names[u].clone(), &benign));
        all_benign.extend(benign);
        all_s.extend_from_slice(s);
        all_t.extend_from_slice(t);
    }
    let pooled_benign_sketch = BenignSketch::new("pooled".into(), &all_benign);
    let mut curve: Vec<[f64; 3]> = pooled_benign_sketch
        .iter()
        .flat_map(|sk| sk.points.iter())
        .map(|p| {
            let m = BinaryMetrics::compute(&all_s, &all_t, p[1] as f32);
            [
                p[1],
                m.false_alert_rate.unwrap_or(0.0),
                m.recall.unwrap_or(f64::NAN),
            ]
        })
        .filter(|p| p[2].is_finite())
        .collect();
    curve.sort_by(|a, b| a[0].total_cmp(&b[0]));
    curve.dedup_by(|a, b| a[0] == b[0]);
    Some(OutOfCapture {
        split: plan.split,
        description: plan.split.describe(),
        objective,
        rule,
        threshold,
        units: results,
        pooled: BinaryMetrics::compute(&all_s, &all_t, threshold),
        skipped: scores.skipped.clone(),
        benign_sketches: sketches,
        pooled_benign_sketch,
        curve,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grouped(groups: &[u32], times: bool) -> Dataset {
        let n = groups.len();
        Dataset {
            feature_names: vec!["x".into()],
            features: (0..n).map(|i| i as f32).collect(),
            target: (0..n).map(|i| i % 2 == 0).collect(),
            group: groups.to_vec(),
            group_names: vec!["a".into(), "b".into(), "c".into()],
            time: if times {
                (0..n).map(|i| (n - i) as f64).collect()
            } else {
                Vec::new()
            },
            ..Dataset::default()
        }
    }

    #[test]
    fn captures_are_held_out_whole() {
        let d = grouped(&[0, 0, 1, 1, 2, 2, 2], false);
        let p = plan(&d).unwrap();
        assert_eq!(p.split, OocSplit::LeaveOneCaptureOut { captures: 3 });
        assert_eq!(p.folds.len(), 3);
        assert_eq!(p.folds[2].test, vec![4, 5, 6]);
        assert_eq!(p.folds[2].train, vec![0, 1, 2, 3]);
        assert_eq!(p.names, vec!["a", "b", "c"]);
    }

    #[test]
    fn train_only_rows_are_in_every_fold_and_no_unit() {
        let d = grouped(&[0, 0, 1, 2, 1, 2], false);
        let p = plan_with(&d, &[1]).unwrap();
        assert_eq!(p.split, OocSplit::LeaveOneCaptureOut { captures: 2 });
        assert_eq!(p.names, vec!["a", "c"]);
        assert_eq!(p.unit, vec![0, 0, TRAIN_ONLY, 1, TRAIN_ONLY, 1]);
        assert_eq!(p.folds.len(), 2);
        assert_eq!(
            (p.folds[0].test.clone(), p.folds[0].train.clone()),
            (vec![0, 1], vec![2, 3, 4, 5])
        );
        assert_eq!(
            (p.folds[1].test.clone(), p.folds[1].train.clone()),
            (vec![3, 5], vec![0, 1, 2, 4])
        );
        // One capture left to hold out: its time blocks, with the train-only rows in each fold.
        let p = plan_with(&d, &[1, 2]).unwrap();
        assert_eq!(p.split, OocSplit::TimeBlocks { blocks: 2 });
        assert_eq!(p.folds[0].train, vec![1, 2, 3, 4, 5]);
        assert_eq!(p.folds[0].test, vec![0]);
        // Nothing left to hold out is an error, not an empty plan.
        assert!(plan_with(&d, &[0, 1, 2]).is_err());
    }

    #[test]
    fn many_captures_are_grouped_into_folds() {
        let groups: Vec<u32> = (0..24).map(|i| i / 2).collect();
        let mut d = grouped(&groups, false);
        d.group_names = (0..12).map(|g| format!("c{g}")).collect();
        let p = plan(&d).unwrap();
        assert_eq!(
            p.split,
            OocSplit::CaptureFolds {
                captures: 12,
                folds: MAX_FOLDS
            }
        );
        assert_eq!(p.folds.len(), MAX_FOLDS);
        // Every row is tested once, and a capture never lands on both sides.
        let mut tested: Vec<usize> = p.folds.iter().flat_map(|f| f.test.clone()).collect();
        tested.sort_unstable();
        assert_eq!(tested, (0..24).collect::<Vec<_>>());
        for f in &p.folds {
            for &i in &f.test {
                assert!(f.train.iter().all(|&j| d.group[j] != d.group[i]));
            }
        }
    }

    #[test]
    fn one_capture_is_cut_in_time_order() {
        let d = grouped(&[0; 10], true);
        let p = plan(&d).unwrap();
        assert_eq!(p.split, OocSplit::TimeBlocks { blocks: 5 });
        // Times run backwards, so the last two rows are the first block.
        assert_eq!(p.folds[0].test, vec![8, 9]);
        assert!(p.split.describe().contains("not out of capture"));
    }
}
