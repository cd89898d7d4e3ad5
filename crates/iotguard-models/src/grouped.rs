//! A baseline per group of flows: one unsupervised model for each value of a one-hot feature
//! family (`service.*`: DNS, HTTP, TLS, ... flows; `proto.*`), each with its own threshold, so
//! "normal" is learned per kind of traffic instead of once for the whole network.
//!
//! A row's group is the first column of the family set to 1, or `none` when no column is. A
//! group with fewer than [`MIN_GROUP_ROWS`] training rows has no model of its own and is scored
//! by the fallback, a baseline over every row. The score is the member's score divided by the
//! member's threshold, so 1 means "at its group's threshold" whatever the group; the
//! explanation is the member's (in its own units: which features made the flow unusual for its
//! group).

use serde::{Deserialize, Serialize};

use crate::lab::{ModelKind, TrainedModel};
use crate::model::{Explanation, Scorer};

/// The fewest training rows a group needs for a model of its own.
pub const MIN_GROUP_ROWS: usize = 50;

/// One group's model and threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The group (`service.dns`, `none`, or `all` for the fallback).
    pub group: String,
    /// Training rows of the group.
    pub rows: u64,
    /// The member's own threshold (its training scores, the baseline's target rate).
    pub threshold: f32,
    /// The fitted model.
    pub model: Box<TrainedModel>,
}

impl Member {
    fn scale(&self) -> f32 {
        self.threshold.max(f32::MIN_POSITIVE)
    }
}

/// Baselines per group of a one-hot feature family, with a fallback over every row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupedBaseline {
    /// The members' kind.
    pub kind: ModelKind,
    /// The feature family's prefix (`service.`).
    pub family: String,
    /// The family's columns, in schema order.
    pub columns: Vec<usize>,
    /// Per column, then one for `none`: the index of the group's member, if it has one.
    pub member_of: Vec<Option<usize>>,
    /// The groups' models.
    pub members: Vec<Member>,
    /// The model of every row, for groups without one.
    pub fallback: Member,
}

impl GroupedBaseline {
    /// Returns the position of `row`'s group among the family's columns (`columns.len()` for
    /// `none`).
    pub fn group_of(&self, row: &[f32]) -> usize {
        self.columns
            .iter()
            .position(|&c| row.get(c).is_some_and(|v| *v >= 0.5))
            .unwrap_or(self.columns.len())
    }

    /// Returns the member that scores `row`.
    pub fn member(&self, row: &[f32]) -> &Member {
        match self.member_of.get(self.group_of(row)) {
            Some(Some(m)) => &self.members[*m],
            _ => &self.fallback,
        }
    }
}

impl Scorer for GroupedBaseline {
    fn kind(&self) -> &'static str {
        self.kind.name()
    }

    fn score(&self, row: &[f32]) -> f32 {
        let m = self.member(row);
        m.model.score(row) / m.scale()
    }

    fn explain(&self, row: &[f32]) -> Explanation {
        self.member(row).model.explain(row)
    }

    fn explain_live(&self, row: &[f32]) -> Explanation {
        self.member(row).model.explain_live(row)
    }
}
