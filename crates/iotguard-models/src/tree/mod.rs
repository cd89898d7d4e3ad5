//! The tree representation shared by every tree model, and the single decision tree.
//!
//! A [`Tree`] is flat arrays: per node a split (feature, `f32` threshold, which side missing
//! values take, children) plus its value and cover (the training weight that reached it: hessian
//! sum for boosting, weighted sample count for classification trees). TreeSHAP needs the cover.
//! A row goes left when `value <= threshold`, or when it is missing and the node says so.
//!
//! Classification trees are CART with Gini impurity, found over histograms of the binned dataset
//! by the same grower boosting uses (the `grow` module); a leaf's value is the (class-weighted) share
//! of malicious training rows that reached it.

pub mod flat;
pub(crate) mod grow;
mod hist;
#[cfg(test)]
pub(crate) mod testdata;

use crate::binned::BinnedDataset;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::model::{Explanation, Scorer};
pub use crate::weights::ClassWeight;
use grow::{GrowParams, Grower};

/// One node of a [`Tree`]. A leaf points to itself on both sides, so a row can take a fixed
/// number of branch-free steps (the tree's depth) and end on its leaf.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Node {
    /// The feature split on.
    pub feature: u32,
    /// Rows with `value <= threshold` go left.
    pub threshold: f32,
    /// The left child's index (the node's own index for a leaf).
    pub left: u32,
    /// The right child's index (the node's own index for a leaf).
    pub right: u32,
    /// Whether missing values go left.
    pub default_left: bool,
}

impl Node {
    /// Returns a leaf at index `index`.
    pub(crate) fn leaf(index: usize) -> Self {
        Node {
            feature: 0,
            threshold: 0.0,
            left: index as u32,
            right: index as u32,
            default_left: false,
        }
    }

    /// Returns whether the node is a leaf.
    pub fn is_leaf(&self) -> bool {
        self.left == self.right
    }

    /// Returns the child a row takes (a leaf returns itself), without branching.
    #[inline(always)]
    pub fn next(&self, row: &[f32]) -> usize {
        let v = row[self.feature as usize];
        let left = (v <= self.threshold) | (v.is_nan() & self.default_left);
        let children = [self.right, self.left];
        children[usize::from(left)] as usize
    }
}

/// Trees at most this deep are walked a fixed number of steps; deeper ones stop at leaves.
const LOCKSTEP_DEPTH: u32 = 12;

/// A binary tree in flat arrays, node 0 the root.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tree {
    pub(crate) nodes: Vec<Node>,
    pub(crate) value: Vec<f64>,
    pub(crate) cover: Vec<f64>,
    depth: u32,
    expected: f64,
}

impl Tree {
    /// Builds a tree from its nodes, each node's value and each node's cover (training weight
    /// reaching it; a node's cover is the sum of its children's).
    ///
    /// # Panics
    ///
    /// Panics if the arrays differ in length or are empty (an internal invariant).
    pub fn new(nodes: Vec<Node>, value: Vec<f64>, cover: Vec<f64>) -> Self {
        assert!(!nodes.is_empty() && nodes.len() == value.len() && nodes.len() == cover.len());
        let mut t = Tree {
            nodes,
            value,
            cover,
            depth: 0,
            expected: 0.0,
        };
        t.refresh();
        t
    }

    /// Recomputes the depth and expected value after values change.
    fn refresh(&mut self) {
        let mut depth = vec![0u32; self.nodes.len()];
        let mut max = 0;
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.is_leaf() {
                depth[n.left as usize] = depth[i] + 1;
                depth[n.right as usize] = depth[i] + 1;
                max = max.max(depth[i] + 1);
            }
        }
        self.depth = max;
        let mut s = 0.0;
        for (i, n) in self.nodes.iter().enumerate() {
            if n.is_leaf() {
                s += self.cover[i] * self.value[i];
            }
        }
        self.expected = if self.cover[0] > 0.0 {
            s / self.cover[0]
        } else {
            self.value[0]
        };
    }

    /// Multiplies every node value by `f` (boosting's shrinkage).
    pub(crate) fn scale_values(&mut self, f: f64) {
        for v in &mut self.value {
            *v *= f;
        }
        self.refresh();
    }

    /// Returns the nodes.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Returns each node's value (a leaf's output; an internal node's value as if it were one).
    pub fn values(&self) -> &[f64] {
        &self.value
    }

    /// Returns each node's cover.
    pub fn covers(&self) -> &[f64] {
        &self.cover
    }

    /// Returns the index of the leaf `row` lands in.
    ///
    /// Shallow trees take exactly `depth` branch-free steps (leaves loop to themselves); deep
    /// trees (forests grown to purity) stop at the leaf, since their leaves are far shallower
    /// than the deepest one.
    #[inline]
    pub fn leaf(&self, row: &[f32]) -> usize {
        let mut i = 0;
        if self.depth <= LOCKSTEP_DEPTH {
            for _ in 0..self.depth {
                i = self.nodes[i].next(row);
            }
        } else {
            while !self.nodes[i].is_leaf() {
                i = self.nodes[i].next(row);
            }
        }
        i
    }

    /// Returns the tree's output for `row`.
    #[inline]
    pub fn predict(&self, row: &[f32]) -> f64 {
        self.value[self.leaf(row)]
    }

    /// Returns the number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_leaf()).count()
    }

    /// Returns the depth (edges from the root to the deepest leaf).
    pub fn depth(&self) -> usize {
        self.depth as usize
    }

    /// Returns the cover-weighted mean output: the expected output over the training data.
    pub fn expected_value(&self) -> f64 {
        self.expected
    }
}

/// Returns the random stream `stream` of `seed`: independent streams for trees, rounds and
/// workers, so results do not depend on which thread draws.
pub(crate) fn rng_for(seed: u64, stream: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Returns `init + scale · Σ trees` for every row of `rows` (row-major, `n_features` wide).
///
/// Rows are scored in blocks of 64, tree by tree, so one tree stays in cache for a block; large
/// batches are split between all cores.
pub(crate) fn sum_trees_batch(
    trees: &[Tree],
    rows: &[f32],
    n_features: usize,
    init: f64,
    scale: f64,
) -> Vec<f64> {
    let n = rows.len() / n_features.max(1);
    let mut out = vec![init; n];
    // Each block's rows walk a tree in lockstep, a fixed number (the tree's depth) of branch-free
    // steps, so the CPU overlaps the independent walks instead of stalling on mispredicted
    // branches. Measured, this beats stopping each row at its leaf even for forests grown to
    // purity, whose leaves sit at very uneven depths.
    let work = |rows: &[f32], out: &mut [f64]| {
        let mut idx = [0usize; 64];
        for (rb, ob) in rows.chunks(64 * n_features).zip(out.chunks_mut(64)) {
            let k = ob.len();
            for t in trees {
                idx[..k].fill(0);
                for _ in 0..t.depth {
                    for (j, i) in idx[..k].iter_mut().enumerate() {
                        *i = t.nodes[*i].next(&rb[j * n_features..(j + 1) * n_features]);
                    }
                }
                for (o, &i) in ob.iter_mut().zip(&idx[..k]) {
                    *o += scale * t.value[i];
                }
            }
        }
    };
    let threads = crate::binned::n_threads(0);
    if threads == 1 || n < 4096 {
        work(rows, &mut out);
        return out;
    }
    let per = n.div_ceil(threads);
    std::thread::scope(|s| {
        for (rc, oc) in rows.chunks(per * n_features).zip(out.chunks_mut(per)) {
            s.spawn(move || work(rc, oc));
        }
    });
    out
}

/// Checks that `data` can train a classifier: rows, features, whole matrix.
pub(crate) fn check_train(data: &Dataset) -> Result<()> {
    data.validate()?;
    if data.n_rows() == 0 || data.n_features() == 0 {
        return Err(Error::InvalidData("no rows or no features".into()));
    }
    Ok(())
}

/// Settings of a classification (Gini) tree, shared by the decision tree and the forest.
#[derive(Clone, Debug)]
pub(crate) struct CartSettings {
    pub(crate) max_depth: Option<usize>,
    pub(crate) min_samples_leaf: usize,
    pub(crate) features_per_node: Option<usize>,
}

/// Grows a Gini tree on `rows` whose per-row weight is `w` (0 for rows not drawn).
pub(crate) fn grow_cart<R: rand::Rng>(
    data: &BinnedDataset,
    target: &[bool],
    w: &[f32],
    s: &CartSettings,
    n_threads: usize,
    rng: &mut R,
) -> Tree {
    let g: Vec<f32> = w
        .iter()
        .zip(target)
        .map(|(&w, &t)| if t { w } else { 0.0 })
        .collect();
    let rows: Vec<u32> = (0..w.len() as u32)
        .filter(|&r| w[r as usize] > 0.0)
        .collect();
    let features: Vec<usize> = (0..data.n_features()).collect();
    let params = GrowParams {
        max_depth: s.max_depth.unwrap_or(usize::MAX),
        max_leaves: usize::MAX,
        min_samples_leaf: s.min_samples_leaf.max(1) as u32,
        min_child_weight: 0.0,
        lambda: 0.0,
        min_split_gain: 1e-12,
        features_per_node: s.features_per_node,
        subtract: false,
        n_threads,
    };
    Grower::new(data, &g, w, &features, &params, rng)
        .grow(rows)
        .tree
}

/// Hyperparameters of a single classification tree (CART, Gini, all rows, all features).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecisionTreeParams {
    /// Maximum depth; `None` grows until leaves are pure or too small.
    pub max_depth: Option<usize>,
    /// Minimum training rows per leaf (at least 1).
    pub min_samples_leaf: usize,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// Value bins per feature (2..=255).
    pub max_bins: usize,
    /// Seed for the binning sample.
    pub seed: u64,
}

impl Default for DecisionTreeParams {
    fn default() -> Self {
        DecisionTreeParams {
            max_depth: None,
            min_samples_leaf: 1,
            class_weight: ClassWeight::None,
            max_bins: 255,
            seed: 0,
        }
    }
}

impl DecisionTreeParams {
    /// Sets the maximum depth.
    pub fn max_depth(mut self, d: Option<usize>) -> Self {
        self.max_depth = d;
        self
    }

    /// Sets the minimum rows per leaf.
    pub fn min_samples_leaf(mut self, n: usize) -> Self {
        self.min_samples_leaf = n;
        self
    }

    /// Sets the class weighting.
    pub fn class_weight(mut self, c: ClassWeight) -> Self {
        self.class_weight = c;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Trains a tree on `data`.
    pub fn fit(self, data: &Dataset) -> Result<DecisionTree> {
        check_train(data)?;
        let binned = BinnedDataset::from_dataset(data, self.max_bins, self.seed)?;
        let (wn, wp) = self.class_weight.weights(&data.target);
        let (wn, wp) = (wn as f32, wp as f32);
        let w: Vec<f32> = data
            .target
            .iter()
            .map(|&t| if t { wp } else { wn })
            .collect();
        let s = CartSettings {
            max_depth: self.max_depth,
            min_samples_leaf: self.min_samples_leaf,
            features_per_node: None,
        };
        let mut rng = rng_for(self.seed, 0);
        let tree = grow_cart(&binned, &data.target, &w, &s, 0, &mut rng);
        Ok(DecisionTree {
            tree,
            n_features: data.n_features(),
        })
    }
}

/// A trained classification tree; its score is the leaf's share of malicious training rows.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecisionTree {
    /// The tree.
    pub tree: Tree,
    /// Number of features rows must have.
    pub n_features: usize,
}

impl Scorer for DecisionTree {
    fn kind(&self) -> &'static str {
        "decision_tree"
    }

    fn score(&self, row: &[f32]) -> f32 {
        self.tree.predict(row) as f32
    }

    /// Explains in probability space with exact TreeSHAP: `base + Σ = raw = score`.
    fn explain(&self, row: &[f32]) -> Explanation {
        crate::shap::explain_trees(std::slice::from_ref(&self.tree), 1.0, 0.0, row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::testdata::{accuracy, xor_data};

    #[test]
    fn models_are_send_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<DecisionTree>();
        check::<crate::forest::RandomForest>();
        check::<crate::boosting::GradientBoosting>();
        check::<crate::isolation::IsolationForest>();
        check::<crate::binned::BinnedDataset>();
        let _: Box<dyn Scorer> = Box::new(crate::forest::RandomForest::new(Vec::new(), 0));
    }

    #[test]
    fn learns_xor_and_handles_nan() {
        let train = xor_data(4000, 1, 0.0);
        let test = xor_data(2000, 2, 0.0);
        let m = DecisionTreeParams::default().fit(&train).unwrap();
        assert!(accuracy(&m, &test) > 0.97, "{}", accuracy(&m, &test));
        let mut row = test.row(0).to_vec();
        row[0] = f32::NAN;
        let s = m.score(&row);
        assert!((0.0..=1.0).contains(&s));
        let m2 = DecisionTreeParams::default().fit(&train).unwrap();
        assert_eq!(m, m2);
        let json = serde_json::to_string(&m).unwrap();
        let back: DecisionTree = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn missing_values_are_routed_by_training() {
        // x is missing exactly when the row is malicious: the tree must learn that.
        let n = 1000;
        let mut features = Vec::new();
        let mut target = Vec::new();
        for i in 0..n {
            let t = i % 3 == 0;
            features.push(if t { f32::NAN } else { (i % 17) as f32 });
            target.push(t);
        }
        let d = Dataset {
            feature_names: vec!["x".into()],
            features,
            target,
            ..Dataset::default()
        };
        let m = DecisionTreeParams::default().fit(&d).unwrap();
        assert_eq!(m.score(&[f32::NAN]), 1.0);
        assert_eq!(m.score(&[5.0]), 0.0);
    }
}
