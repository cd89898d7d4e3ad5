//! Models trained elsewhere: XGBoost JSON and LightGBM text boosters turned into our own
//! [`GradientBoosting`], so they are scored, thresholded and explained (TreeSHAP) like a model
//! trained here.
//!
//! Both packages' binary-logistic boosters are a sum of regression trees plus a base margin in
//! log-odds, then a sigmoid: exactly what [`GradientBoosting`] is. What differs is how a split
//! compares, and that is converted exactly for `f32` features (ours are `f32`, and both packages
//! see the `f32` values `iotguard features` wrote):
//!
//! - XGBoost sends `x < c` left (`c` an `f32`): for `f32` `x` that is `x <= next_down(c)`.
//! - LightGBM sends `x <= t` left (`t` an `f64`): that is `x <= ` the largest `f32` at or below `t`.
//! - Missing values: XGBoost's `default_left`; LightGBM's `decision_type` bits (NaN missing type:
//!   the default-left bit; None: a missing value is compared as 0; Zero: accepted only where 0
//!   and the missing direction agree, otherwise refused).
//!
//! Covers (what TreeSHAP weighs paths by) are each package's own: XGBoost's `sum_hessian`,
//! LightGBM's `internal_count`/`leaf_count`, the ones their `pred_contribs` use. Categorical
//! splits, multiclass, DART, linear trees and random-forest mode are refused with an error that
//! says so. Nothing here panics on a truncated or garbled file: every index is checked.
//!
//! What this module does not do: read files (callers pass the text) or know the running feature
//! schema (callers pass its names to [`check_feature_names`]).

mod lightgbm;
mod xgboost;

use std::collections::VecDeque;
use std::str::FromStr;

use crate::boosting::GradientBoosting;
use crate::error::{Error, Result};
use crate::tree::{Node, Tree};

/// The package a model file comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// An XGBoost booster saved as JSON (`booster.save_model("m.json")`).
    Xgboost,
    /// A LightGBM booster saved as text (`booster.save_model("m.txt")`).
    Lightgbm,
}

impl Source {
    /// Every source's name, as `--from` takes it.
    pub const NAMES: [&'static str; 2] = ["xgboost", "lightgbm"];

    /// Returns the source's name.
    pub fn name(self) -> &'static str {
        match self {
            Source::Xgboost => "xgboost",
            Source::Lightgbm => "lightgbm",
        }
    }
}

impl FromStr for Source {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "xgboost" => Ok(Source::Xgboost),
            "lightgbm" => Ok(Source::Lightgbm),
            other => Err(Error::Import(format!(
                "unknown source `{other}` (xgboost or lightgbm)"
            ))),
        }
    }
}

/// A booster read from another package.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The booster as our own model: base margin plus trees, log-odds, sigmoid.
    pub model: GradientBoosting,
    /// The feature names the booster was trained with, in column order; `f0`, `f1`, ... when
    /// the file has none (see `named`).
    pub feature_names: Vec<String>,
    /// Whether the file names its features. XGBoost saves none for a booster trained on a bare
    /// array or a Spark vector column (XGBoost4J-Spark): its columns can only be matched to a
    /// schema by position.
    pub named: bool,
    /// What the file said about itself (package version, objective, trees, base score), kept
    /// in the model file.
    pub source: serde_json::Value,
}

/// Reads a booster of `source` from its saved text.
pub fn import(source: Source, text: &str) -> Result<Imported> {
    match source {
        Source::Xgboost => xgboost::parse(text),
        Source::Lightgbm => lightgbm::parse(text),
    }
}

/// Refuses a booster whose features are not the schema's, in order, naming the first mismatch.
pub fn check_feature_names(model: &[String], schema: &[String]) -> Result<()> {
    for (i, (m, s)) in model.iter().zip(schema).enumerate() {
        if m != s {
            return Err(Error::Import(format!(
                "feature {i} of the model is `{m}` where the feature schema has `{s}`; train on \
                 the columns `iotguard features` wrote, in their order"
            )));
        }
    }
    if model.len() != schema.len() {
        let (which, more) = if model.len() > schema.len() {
            ("the model has", &model[schema.len()])
        } else {
            ("the feature schema has", &schema[model.len()])
        };
        return Err(Error::Import(format!(
            "the model has {} features and the feature schema {}: {which} `{more}` (feature {}) \
             and the other ends before it",
            model.len(),
            schema.len(),
            model.len().min(schema.len())
        )));
    }
    Ok(())
}

/// One node of a tree as a package stores it, before renumbering.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawNode {
    /// The split, `None` for a leaf.
    pub(crate) split: Option<RawSplit>,
    /// The leaf's output (ignored for splits: recomputed from the children).
    pub(crate) value: f64,
    /// The training weight (hessian sum or row count) that reached the node.
    pub(crate) cover: f64,
}

/// A split already in our convention: `x <= threshold` goes left, NaN by `default_left`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawSplit {
    pub(crate) feature: usize,
    pub(crate) threshold: f32,
    pub(crate) default_left: bool,
    pub(crate) left: usize,
    pub(crate) right: usize,
}

/// Builds a [`Tree`] from a package's nodes (node 0 the root), renumbered breadth first so every
/// child follows its parent; refuses a child index out of range, a node reached twice (a cycle
/// or shared child), a feature the model does not have and a value that is not finite.
pub(crate) fn build_tree(raw: &[RawNode], n_features: usize, tree: usize) -> Result<Tree> {
    let bad = |why: String| Error::Import(format!("tree {tree}: {why}"));
    if raw.is_empty() {
        return Err(bad("no nodes".into()));
    }
    let mut order = Vec::with_capacity(raw.len());
    let mut new_index = vec![usize::MAX; raw.len()];
    let mut queue = VecDeque::from([0usize]);
    new_index[0] = 0;
    while let Some(i) = queue.pop_front() {
        order.push(i);
        if let Some(s) = raw[i].split {
            for child in [s.left, s.right] {
                if child >= raw.len() {
                    return Err(bad(format!("node {i} has child {child} of {}", raw.len())));
                }
                if new_index[child] != usize::MAX {
                    return Err(bad(format!("node {child} is reached twice")));
                }
                new_index[child] = order.len() + queue.len();
                queue.push_back(child);
            }
        }
    }
    let n = order.len();
    let mut nodes = Vec::with_capacity(n);
    let mut value = vec![0.0; n];
    let mut cover = vec![0.0; n];
    for (k, &i) in order.iter().enumerate() {
        let r = &raw[i];
        if !r.cover.is_finite() || r.cover < 0.0 {
            return Err(bad(format!("node {i} has cover {}", r.cover)));
        }
        cover[k] = r.cover;
        match r.split {
            None => {
                if !r.value.is_finite() {
                    return Err(bad(format!("leaf {i} has value {}", r.value)));
                }
                value[k] = r.value;
                nodes.push(Node::leaf(k));
            }
            Some(s) => {
                if s.feature >= n_features {
                    return Err(bad(format!(
                        "node {i} splits on feature {} of {n_features}",
                        s.feature
                    )));
                }
                if s.threshold.is_nan() {
                    return Err(bad(format!("node {i} has a NaN threshold")));
                }
                nodes.push(Node {
                    feature: s.feature as u32,
                    threshold: s.threshold,
                    left: new_index[s.left] as u32,
                    right: new_index[s.right] as u32,
                    default_left: s.default_left,
                });
            }
        }
    }
    // An internal node's value "as if it were a leaf": its children's cover-weighted mean.
    for k in (0..n).rev() {
        let node = nodes[k];
        if !node.is_leaf() {
            let (l, r) = (node.left as usize, node.right as usize);
            let c = cover[l] + cover[r];
            value[k] = if c > 0.0 {
                (cover[l] * value[l] + cover[r] * value[r]) / c
            } else {
                (value[l] + value[r]) / 2.0
            };
        }
    }
    let built = Tree::new(nodes, value, cover);
    if built.depth() > MAX_DEPTH {
        return Err(bad(format!(
            "{} levels deep: trees deeper than {MAX_DEPTH} are refused (TreeSHAP explains a row \
             by recursing over the tree's depth)",
            built.depth()
        )));
    }
    Ok(built)
}

/// The deepest tree accepted: far deeper than boosters grow (XGBoost's default depth is 6,
/// LightGBM's 31 leaves are at most 30 deep), shallow enough that TreeSHAP's recursion and its
/// cost (leaves × depth²) stay small whatever a garbled file says.
pub(crate) const MAX_DEPTH: usize = 128;

/// Returns the largest `f32` below `x` (for finite `x` and +∞; −∞ and NaN are returned as they
/// are). `f32::next_down` needs Rust 1.86.
pub(crate) fn next_down(x: f32) -> f32 {
    if x.is_nan() || x == f32::NEG_INFINITY {
        return x;
    }
    if x == 0.0 {
        return -f32::from_bits(1);
    }
    let bits = x.to_bits();
    if x > 0.0 {
        f32::from_bits(bits - 1)
    } else {
        f32::from_bits(bits + 1)
    }
}

/// Returns the largest `f32` at or below `t`: for `f32` `x`, `x <= t` exactly when
/// `x <= f32_at_or_below(t)`.
pub(crate) fn f32_at_or_below(t: f64) -> f32 {
    let f = t as f32;
    if f64::from(f) > t {
        next_down(f)
    } else {
        f
    }
}

#[cfg(test)]
mod tests;
