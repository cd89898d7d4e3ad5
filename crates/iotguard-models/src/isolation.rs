//! Isolation forest (Liu, Ting & Zhou 2008): unsupervised anomaly scores from random splits.
//!
//! Each tree is grown on `sample_size` rows drawn without replacement from the tree's own random
//! stream `(seed, i + 1)`: a random feature among those not constant in the node, a threshold
//! uniform between its minimum and maximum, until one row is left or the depth reaches
//! `ceil(log2 ψ)`. A leaf's value is its depth plus `c(size)`, the average path length of an
//! unbuilt subtree of that size, so the trees are ordinary [`Tree`]s whose output is the path
//! length `h(x)`. Missing values go to the child that received more sample rows.
//!
//! The score is `2^(−E[h(x)] / c(ψ))` in (0, 1]: about 0.5 for ordinary rows, near 1 for rows
//! isolated quickly. Explanations use the raw output `log2(score) = −E[h(x)] / c(ψ)`, which is
//! linear in the trees, so TreeSHAP (covers = sample counts) gives exact path-dependent Shapley
//! values of it: a positive contribution means the feature shortened the row's paths. They do
//! not add up to the score itself, only to its logarithm.

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::model::{Explanation, Scorer};
use crate::tree::{rng_for, sum_trees_batch, Node, Tree};
use rand::Rng;
use std::collections::HashSet;

/// Hyperparameters of an isolation forest.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IsolationForestParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Rows per tree (ψ).
    pub sample_size: usize,
    /// Seed for row samples, features and thresholds.
    pub seed: u64,
}

impl Default for IsolationForestParams {
    fn default() -> Self {
        IsolationForestParams {
            n_trees: 100,
            sample_size: 256,
            seed: 0,
        }
    }
}

impl IsolationForestParams {
    /// Sets the number of trees.
    pub fn n_trees(mut self, n: usize) -> Self {
        self.n_trees = n;
        self
    }

    /// Sets the rows per tree.
    pub fn sample_size(mut self, n: usize) -> Self {
        self.sample_size = n;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Fits the forest to `data`'s features (labels are ignored).
    pub fn fit(self, data: &Dataset) -> Result<IsolationForest> {
        data.validate()?;
        let n = data.n_rows();
        let m = data.n_features();
        if n < 2 || m == 0 {
            return Err(Error::InvalidData(
                "need at least 2 rows and 1 feature".into(),
            ));
        }
        if self.n_trees == 0 || self.sample_size < 2 {
            return Err(Error::InvalidParams(
                "n_trees must be > 0 and sample_size >= 2".into(),
            ));
        }
        let psi = self.sample_size.min(n);
        let limit = (psi as f64).log2().ceil() as usize;
        let trees = (0..self.n_trees)
            .map(|i| {
                let mut rng = rng_for(self.seed, i as u64 + 1);
                let rows: Vec<usize> = if psi == n {
                    (0..n).collect()
                } else {
                    let mut seen = HashSet::with_capacity(psi);
                    let mut rows = Vec::with_capacity(psi);
                    while rows.len() < psi {
                        let r = rng.random_range(0..n);
                        if seen.insert(r) {
                            rows.push(r);
                        }
                    }
                    rows
                };
                let mut b = Builder {
                    data,
                    rng: &mut rng,
                    limit,
                    nodes: Vec::new(),
                    value: Vec::new(),
                    cover: Vec::new(),
                };
                b.build(rows, 0);
                Tree::new(b.nodes, b.value, b.cover)
            })
            .collect();
        Ok(IsolationForest {
            trees,
            c_psi: c(psi),
            n_features: m,
        })
    }
}

/// Returns `c(n)`, the average path length of an unsuccessful search in a binary search tree of
/// `n` keys: `2 H(n−1) − 2(n−1)/n`.
fn c(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let k = (n - 1) as f64;
            2.0 * (k.ln() + 0.577_215_664_901_532_9) - 2.0 * k / n as f64
        }
    }
}

struct Builder<'a, R> {
    data: &'a Dataset,
    rng: &'a mut R,
    limit: usize,
    nodes: Vec<Node>,
    value: Vec<f64>,
    cover: Vec<f64>,
}

impl<R: Rng> Builder<'_, R> {
    /// Builds the subtree over `rows` at `depth` and returns its node index.
    fn build(&mut self, rows: Vec<usize>, depth: usize) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node::leaf(id));
        self.value.push(depth as f64 + c(rows.len()));
        self.cover.push(rows.len() as f64);
        if depth >= self.limit || rows.len() <= 1 {
            return id;
        }
        // Try features in a random order; split on the first one not constant here.
        let m = self.data.n_features();
        let mut order: Vec<usize> = (0..m).collect();
        for i in 0..m {
            let j = self.rng.random_range(i..m);
            order.swap(i, j);
            let f = order[i];
            let (lo, hi) = rows
                .iter()
                .map(|&r| self.data.row(r)[f])
                .filter(|v| !v.is_nan())
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
            if lo >= hi || lo.is_nan() || hi.is_nan() {
                continue;
            }
            let u: f32 = self.rng.random();
            let mut t = lo + u * (hi - lo);
            if t >= hi || t.is_nan() {
                t = lo;
            }
            let (mut left, mut right) = (Vec::new(), Vec::new());
            let mut nan = Vec::new();
            for &r in &rows {
                let v = self.data.row(r)[f];
                if v.is_nan() {
                    nan.push(r);
                } else if v <= t {
                    left.push(r);
                } else {
                    right.push(r);
                }
            }
            let default_left = left.len() >= right.len();
            if default_left {
                left.extend(nan);
            } else {
                right.extend(nan);
            }
            let l = self.build(left, depth + 1);
            let r = self.build(right, depth + 1);
            self.nodes[id] = Node {
                feature: f as u32,
                threshold: t,
                left: l as u32,
                right: r as u32,
                default_left,
            };
            return id;
        }
        id
    }
}

/// A fitted isolation forest; scores are in (0, 1], higher is more anomalous.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IsolationForest {
    /// The trees; each outputs the path length `h(x)`.
    pub trees: Vec<Tree>,
    /// `c(ψ)`, the path length normaliser.
    pub c_psi: f64,
    /// Number of features rows must have.
    pub n_features: usize,
}

impl IsolationForest {
    /// Returns `log2(score) = −E[h(x)] / c(ψ)`, the raw output explanations decompose.
    pub fn raw(&self, row: &[f32]) -> f64 {
        let scale = self.scale();
        let mut f = 0.0;
        for t in &self.trees {
            f += scale * t.predict(row);
        }
        f
    }

    fn scale(&self) -> f64 {
        -1.0 / (self.trees.len() as f64 * self.c_psi.max(f64::MIN_POSITIVE))
    }
}

impl Scorer for IsolationForest {
    fn kind(&self) -> &'static str {
        "isolation_forest"
    }

    fn score(&self, row: &[f32]) -> f32 {
        self.raw(row).exp2() as f32
    }

    fn score_batch(&self, rows: &[f32], n_features: usize) -> Vec<f32> {
        sum_trees_batch(&self.trees, rows, n_features, 0.0, self.scale())
            .into_iter()
            .map(|f| f.exp2() as f32)
            .collect()
    }

    /// Exact TreeSHAP of `raw = log2(score)`; `base + Σ contributions = log2(score)`.
    fn explain(&self, row: &[f32]) -> Explanation {
        crate::shap::explain_trees(&self.trees, self.scale(), 0.0, row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::testdata::random_data;

    #[test]
    fn outliers_score_higher_and_explanations_point_at_them() {
        let d = random_data(5_000, 5, 1, 0.0);
        let m = IsolationForestParams::default().seed(3).fit(&d).unwrap();
        let normal = m.score(&[0.5, 0.5, 0.5, 0.5, 0.5]);
        let outlier = m.score(&[0.5, 0.5, 25.0, 0.5, 0.5]);
        assert!(
            outlier > normal + 0.05 && normal < 0.5,
            "{outlier} {normal}"
        );
        let e = m.explain(&[0.5, 0.5, 25.0, 0.5, 0.5]);
        let sum: f64 = e.contributions.iter().map(|c| c.contribution).sum();
        assert!((e.base + sum - e.raw).abs() < 1e-9);
        assert!((e.raw.exp2() - f64::from(outlier)).abs() < 1e-6);
        let top = e
            .contributions
            .iter()
            .max_by(|a, b| a.contribution.total_cmp(&b.contribution))
            .unwrap();
        assert_eq!(top.feature, 2);
        let s = m.score(&[f32::NAN; 5]);
        assert!(s > 0.0 && s <= 1.0);
    }

    #[test]
    fn deterministic_and_serialisable() {
        let d = random_data(2_000, 4, 2, 0.0);
        let a = IsolationForestParams::default().seed(9).fit(&d).unwrap();
        let b = IsolationForestParams::default().seed(9).fit(&d).unwrap();
        assert_eq!(a, b);
        assert_ne!(
            a,
            IsolationForestParams::default().seed(10).fit(&d).unwrap()
        );
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<IsolationForest>(&json).unwrap(), a);
        let batch = a.score_batch(&d.features, 4);
        for (i, s) in batch.iter().enumerate().step_by(97) {
            assert!((s - a.score(d.row(i))).abs() < 1e-6);
        }
    }
}
