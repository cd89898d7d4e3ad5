//! How `compare` splits rows into training and test folds: leave one capture out, stratified
//! k-fold, time-ordered within each capture, or each attack type held out in turn.

use iotguard_models::cv::{self, Fold};
use iotguard_models::Dataset;
use serde::Serialize;

use crate::error::{Error, Result};

/// How rows are split into folds. Every row is tested at most once, by a model that did not
/// train on it; the model's threshold is chosen on part of its own training rows only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Split {
    /// Leave one capture out: one fold per input, testing on it and training on all others.
    /// The honest estimate for a network the models have never seen.
    Loco,
    /// Stratified k-fold over the pooled rows. Flows of one capture (same hosts, same sessions)
    /// land on both sides, so this is optimistic: shown to measure that optimism.
    Kfold {
        /// The number of folds.
        folds: usize,
    },
    /// Time-ordered within each capture, expanding window: each capture's flows are cut in its
    /// own time order into `folds + 1` blocks; fold `i` trains on blocks `0..=i` of every
    /// capture and tests on block `i + 1`. Block 0 is never tested. Captures are not ordered
    /// against each other (they were recorded on different days and networks).
    Time {
        /// The number of folds.
        folds: usize,
    },
    /// Each attack type (detailed label of the malicious rows) held out in turn: fold `i` tests
    /// on every row of type `i` plus the `i`-th share of the benign rows (benign row `r`, counted
    /// in row order, is in share `r mod types`), and trains on the other benign shares plus the
    /// other types. Every row is tested exactly once; no tested benign row is trained on. The
    /// question an unsupervised detector exists to answer: does it catch an attack it has never
    /// seen?
    Family,
}

/// The folds of a split, with a name for each.
#[derive(Clone, Debug)]
pub(crate) struct FoldPlan {
    /// The folds, in order.
    pub(crate) folds: Vec<Fold>,
    /// One name per fold (the held-out capture, or `fold 2 of 5`).
    pub(crate) names: Vec<String>,
}

impl Split {
    /// Returns the split's name as `--split` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Split::Loco => "loco",
            Split::Kfold { .. } => "kfold",
            Split::Time { .. } => "time",
            Split::Family => "family",
        }
    }

    /// Returns one sentence saying how rows were split, for the reports.
    pub fn describe(self) -> String {
        match self {
            Split::Loco => "Leave one capture out: each capture is scored by models trained on the other captures only.".to_string(),
            Split::Kfold { folds } => format!("Stratified {folds}-fold over the pooled flows: flows of one capture are on both sides of every fold, so these numbers are optimistic (same hosts and sessions in training and test)."),
            Split::Time { folds } => format!("Time-ordered, {folds} folds: each capture's flows are cut in its own time order into {} blocks; fold i trains on the first i blocks of every capture and tests on the next one, so no model or threshold sees a flow later than one it is tested on (the first block is never tested).", folds + 1),
            Split::Family => "Each attack type held out in turn: its fold trains on the other attack types and on benign flows, and tests on every flow of the held-out type plus a share of the benign flows disjoint from the training ones (benign flows dealt round-robin in input order, one share per attack type), so each model meets the tested type for the first time.".to_string(),
        }
    }

    /// Returns the folds of `d` under this split.
    pub(crate) fn plan(self, d: &Dataset, seed: u64) -> Result<FoldPlan> {
        let folds = match self {
            Split::Family => return family_plan(d),
            Split::Loco => cv::leave_one_group_out(&d.group),
            Split::Kfold { folds } => cv::stratified_kfold(&d.target, folds, seed),
            Split::Time { folds } => {
                if d.time.len() != d.n_rows() {
                    return Err(Error::Model(iotguard_models::Error::InvalidData(
                        "a time-ordered split needs a time on every row".into(),
                    )));
                }
                let untimed = d.time.iter().filter(|t| t.is_nan()).count();
                if untimed > 0 {
                    return Err(Error::Model(iotguard_models::Error::InvalidData(format!(
                        "a time-ordered split needs a time on every row; {untimed} rows come from inputs with no time column (TON_IoT's train_test file, BoT-IoT's 10-best files): use --split loco or kfold"
                    ))));
                }
                cv::time_ordered_by_group(&d.time, &d.group, folds)
            }
        }
        .map_err(Error::Model)?;
        let n = folds.len();
        let names = match self {
            Split::Loco => cv::distinct_groups(&d.group)
                .into_iter()
                .map(|g| {
                    d.group_names
                        .get(g as usize)
                        .cloned()
                        .unwrap_or_else(|| format!("group {g}"))
                })
                .collect(),
            Split::Kfold { .. } | Split::Time { .. } | Split::Family => {
                (1..=n).map(|i| format!("fold {i} of {n}")).collect()
            }
        };
        Ok(FoldPlan { folds, names })
    }
}

/// The folds of [`Split::Family`]: one per attack type, in class order, named after it.
fn family_plan(d: &Dataset) -> Result<FoldPlan> {
    let invalid = |why: String| Error::Model(iotguard_models::Error::InvalidData(why));
    let n = d.n_rows();
    if d.class.len() != n {
        return Err(invalid(
            "a family split needs the detailed label (attack type) of every row".into(),
        ));
    }
    let mut types: Vec<u32> = (0..n)
        .filter(|&i| d.target[i])
        .map(|i| d.class[i])
        .collect();
    types.sort_unstable();
    types.dedup();
    let benign: Vec<usize> = (0..n).filter(|&i| !d.target[i]).collect();
    if types.len() < 2 {
        return Err(invalid(format!(
            "a family split needs at least two attack types; the input has {}",
            types.len()
        )));
    }
    if benign.len() < types.len() {
        return Err(invalid(format!(
            "a family split needs at least one benign flow per attack type ({} types, {} benign flows)",
            types.len(),
            benign.len()
        )));
    }
    let mut share = vec![usize::MAX; n];
    for (r, &i) in benign.iter().enumerate() {
        share[i] = r % types.len();
    }
    let folds = types
        .iter()
        .enumerate()
        .map(|(f, &t)| {
            let (test, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| {
                if d.target[i] {
                    d.class[i] == t
                } else {
                    share[i] == f
                }
            });
            Fold { train, test }
        })
        .collect();
    let names = types
        .iter()
        .map(|&t| {
            d.class_names
                .get(t as usize)
                .cloned()
                .unwrap_or_else(|| format!("class {t}"))
        })
        .collect();
    Ok(FoldPlan { folds, names })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten rows: benign at 0, 2, 3, 5, 7, 9; type 1 at 1 and 8; type 2 at 4 and 6.
    fn dataset(class: &[u32]) -> Dataset {
        Dataset {
            features: vec![0.0; class.len()],
            feature_names: vec!["x".into()],
            target: class.iter().map(|&c| c != 0).collect(),
            class: class.to_vec(),
            class_names: vec!["Benign".into(), "scan".into(), "flood".into()],
            group: vec![0; class.len()],
            group_names: vec!["one.csv".into()],
            ..Dataset::default()
        }
    }

    #[test]
    fn family_folds_hold_out_each_type_with_a_disjoint_benign_share() {
        let d = dataset(&[0, 1, 0, 0, 2, 0, 2, 0, 1, 0]);
        let plan = Split::Family.plan(&d, 1).unwrap();
        assert_eq!(plan.names, ["scan", "flood"]);
        // Benign rows in order 0, 2, 3, 5, 7, 9 are dealt to shares 0, 1, 0, 1, 0, 1.
        assert_eq!(plan.folds[0].test, [0, 1, 3, 7, 8]);
        assert_eq!(plan.folds[0].train, [2, 4, 5, 6, 9]);
        assert_eq!(plan.folds[1].test, [2, 4, 5, 6, 9]);
        assert_eq!(plan.folds[1].train, [0, 1, 3, 7, 8]);
    }

    #[test]
    fn family_split_needs_two_attack_types_and_detailed_labels() {
        let one = dataset(&[0, 1, 0, 1]);
        let err = Split::Family.plan(&one, 1).unwrap_err().to_string();
        assert!(
            err.contains("needs at least two attack types; the input has 1"),
            "{err}"
        );
        let mut unlabeled = dataset(&[0, 1, 0, 2]);
        unlabeled.class.clear();
        let err = Split::Family.plan(&unlabeled, 1).unwrap_err().to_string();
        assert!(err.contains("needs the detailed label"), "{err}");
    }
}
