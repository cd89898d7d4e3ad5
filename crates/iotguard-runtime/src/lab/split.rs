//! How `compare` splits rows into training and test folds: leave one capture out, stratified
//! k-fold, or time-ordered within each capture.

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
        }
    }

    /// Returns one sentence saying how rows were split, for the reports.
    pub fn describe(self) -> String {
        match self {
            Split::Loco => "Leave one capture out: each capture is scored by models trained on the other captures only.".to_string(),
            Split::Kfold { folds } => format!("Stratified {folds}-fold over the pooled flows: flows of one capture are on both sides of every fold, so these numbers are optimistic (same hosts and sessions in training and test)."),
            Split::Time { folds } => format!("Time-ordered, {folds} folds: each capture's flows are cut in its own time order into {} blocks; fold i trains on the first i blocks of every capture and tests on the next one, so no model or threshold sees a flow later than one it is tested on (the first block is never tested).", folds + 1),
        }
    }

    /// Returns the folds of `d` under this split.
    pub(crate) fn plan(self, d: &Dataset, seed: u64) -> Result<FoldPlan> {
        let folds = match self {
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
            Split::Kfold { .. } | Split::Time { .. } => {
                (1..=n).map(|i| format!("fold {i} of {n}")).collect()
            }
        };
        Ok(FoldPlan { folds, names })
    }
}
