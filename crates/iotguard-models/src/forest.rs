//! Random forest of Gini classification trees over one shared binned dataset.
//!
//! Trees are trained in parallel: workers take tree indices from a shared counter, and tree `i`
//! draws its bootstrap and per-node feature samples from its own random stream `(seed, i + 1)`,
//! so the forest does not depend on the thread count or scheduling. A bootstrap sample is kept as
//! per-row multiplicities (weights), never as copied rows.
//!
//! The score is the mean over trees of the leaf's (class-weighted) share of malicious rows; the
//! raw output used by explanations is that same mean probability (not log-odds), so the exact
//! TreeSHAP values of the trees average into exact values for the forest.

use crate::binned::{n_threads, BinnedDataset};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::model::{Explanation, Scorer};
use crate::tree::flat::FlatTrees;
use crate::tree::{
    check_train, grow_cart, rng_for, sum_trees_batch, CartSettings, ClassWeight, Tree,
};
use rand::Rng;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// How many features each split considers.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum MaxFeatures {
    /// `ceil(sqrt(n_features))` (scikit-learn's default for classification).
    Sqrt,
    /// Every feature (bagged trees).
    All,
    /// A share of the features, at least one.
    Fraction(f64),
    /// A fixed number of features.
    Count(usize),
}

impl MaxFeatures {
    fn count(self, m: usize) -> usize {
        match self {
            MaxFeatures::Sqrt => (m as f64).sqrt().ceil() as usize,
            MaxFeatures::All => m,
            MaxFeatures::Fraction(f) => (f * m as f64).ceil() as usize,
            MaxFeatures::Count(k) => k,
        }
        .clamp(1, m.max(1))
    }
}

/// Hyperparameters of a random forest; a consuming builder whose `fit` returns the model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RandomForestParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Maximum depth; `None` grows until leaves are pure or too small.
    pub max_depth: Option<usize>,
    /// Minimum distinct training rows per leaf.
    pub min_samples_leaf: usize,
    /// Features considered per split.
    pub max_features: MaxFeatures,
    /// Whether each tree sees a bootstrap sample (else all rows).
    pub bootstrap: bool,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// Value bins per feature (2..=255).
    pub max_bins: usize,
    /// Worker threads; 0 uses all cores. Results do not depend on it.
    pub n_threads: usize,
    /// Seed for binning, bootstraps and feature sampling.
    pub seed: u64,
}

impl Default for RandomForestParams {
    fn default() -> Self {
        RandomForestParams {
            n_trees: 100,
            max_depth: None,
            min_samples_leaf: 1,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
            class_weight: ClassWeight::None,
            max_bins: 255,
            n_threads: 0,
            seed: 0,
        }
    }
}

impl RandomForestParams {
    /// Sets the number of trees.
    pub fn n_trees(mut self, n: usize) -> Self {
        self.n_trees = n;
        self
    }

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

    /// Sets the features considered per split.
    pub fn max_features(mut self, m: MaxFeatures) -> Self {
        self.max_features = m;
        self
    }

    /// Sets bootstrapping.
    pub fn bootstrap(mut self, b: bool) -> Self {
        self.bootstrap = b;
        self
    }

    /// Sets the class weighting.
    pub fn class_weight(mut self, c: ClassWeight) -> Self {
        self.class_weight = c;
        self
    }

    /// Sets the number of threads (0: all cores).
    pub fn n_threads(mut self, n: usize) -> Self {
        self.n_threads = n;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Trains the forest on `data`.
    ///
    /// ```
    /// use iotguard_models::{Dataset, RandomForestParams, Scorer};
    ///
    /// let rows: Vec<[f32; 2]> = (0..400).map(|i| [(i % 20) as f32, (i / 20) as f32]).collect();
    /// let data = Dataset {
    ///     feature_names: vec!["a".into(), "b".into()],
    ///     features: rows.iter().flatten().copied().collect(),
    ///     target: rows.iter().map(|r| r[0] > 9.0).collect(),
    ///     ..Dataset::default()
    /// };
    /// let forest = RandomForestParams::default().n_trees(10).seed(7).fit(&data)?;
    /// assert!(forest.score(&[15.0, 3.0]) > 0.9);
    /// # Ok::<(), iotguard_models::Error>(())
    /// ```
    pub fn fit(self, data: &Dataset) -> Result<RandomForest> {
        check_train(data)?;
        if self.n_trees == 0 {
            return Err(Error::InvalidParams("n_trees must be > 0".into()));
        }
        let binned = BinnedDataset::from_dataset(data, self.max_bins, self.seed)?;
        let n = data.n_rows();
        let m = data.n_features();
        let (wn, wp) = self.class_weight.weights(&data.target);
        let (wn, wp) = (wn as f32, wp as f32);
        let settings = CartSettings {
            max_depth: self.max_depth,
            min_samples_leaf: self.min_samples_leaf,
            features_per_node: Some(self.max_features.count(m)),
        };
        let next = AtomicUsize::new(0);
        let slots: Mutex<Vec<Option<Tree>>> = Mutex::new(vec![None; self.n_trees]);
        let threads = n_threads(self.n_threads).min(self.n_trees);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut w = vec![0f32; n];
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= self.n_trees {
                            break;
                        }
                        let mut rng = rng_for(self.seed, i as u64 + 1);
                        if self.bootstrap {
                            w.fill(0.0);
                            for _ in 0..n {
                                w[rng.random_range(0..n)] += 1.0;
                            }
                            for (x, &t) in w.iter_mut().zip(&data.target) {
                                *x *= if t { wp } else { wn };
                            }
                        } else {
                            for (x, &t) in w.iter_mut().zip(&data.target) {
                                *x = if t { wp } else { wn };
                            }
                        }
                        let tree = grow_cart(&binned, &data.target, &w, &settings, 1, &mut rng);
                        slots.lock().expect("no worker panics")[i] = Some(tree);
                    }
                });
            }
        });
        let trees = slots
            .into_inner()
            .expect("no worker panics")
            .into_iter()
            .map(|t| t.expect("every tree trained"))
            .collect();
        Ok(RandomForest::new(trees, m))
    }
}

/// A trained random forest; the score is the mean leaf probability of malicious.
///
/// Scoring one row walks [`FlatTrees`], laid out from `trees` on the first score (see
/// [`crate::tree::flat`]); the scores are bit-identical to walking `trees`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RandomForest {
    /// The trees.
    pub trees: Vec<Tree>,
    /// Number of features rows must have.
    pub n_features: usize,
    /// The trees laid out for scoring, built on first use from `trees` (which must not change
    /// after the first score).
    #[serde(skip)]
    flat: OnceLock<FlatTrees>,
}

impl PartialEq for RandomForest {
    /// Equal trees and width (the scoring layout follows from the trees).
    fn eq(&self, other: &Self) -> bool {
        self.trees == other.trees && self.n_features == other.n_features
    }
}

impl RandomForest {
    /// Builds a forest of `trees` over rows of `n_features`.
    pub fn new(trees: Vec<Tree>, n_features: usize) -> RandomForest {
        RandomForest {
            trees,
            n_features,
            flat: OnceLock::new(),
        }
    }

    /// Returns the trees laid out for scoring.
    fn flat(&self) -> &FlatTrees {
        self.flat.get_or_init(|| FlatTrees::new(&self.trees))
    }
}

impl Scorer for RandomForest {
    fn kind(&self) -> &'static str {
        "forest"
    }

    fn score(&self, row: &[f32]) -> f32 {
        let scale = 1.0 / self.trees.len() as f64;
        self.flat().sum(row, scale) as f32
    }

    fn score_batch(&self, rows: &[f32], n_features: usize) -> Vec<f32> {
        let scale = 1.0 / self.trees.len() as f64;
        sum_trees_batch(&self.trees, rows, n_features, 0.0, scale)
            .into_iter()
            .map(|f| f as f32)
            .collect()
    }

    /// Exact TreeSHAP of the mean probability: `raw` is the score, `base` the mean over the
    /// trees of their cover-weighted mean leaf value.
    fn explain(&self, row: &[f32]) -> Explanation {
        crate::shap::explain_trees(&self.trees, 1.0 / self.trees.len() as f64, 0.0, row)
    }

    /// Exact TreeSHAP of the forest made of its first [`LIVE_TREES`] trees: the trees of a
    /// random forest are drawn alike (bootstrap rows, random features), so their mean SHAP
    /// values estimate the whole forest's without bias, at a fraction of the cost (TreeSHAP of
    /// a deep tree costs about a thousand scorings of it). `base + Σ contributions = raw` holds
    /// for those trees' mean, not for the whole forest's score.
    fn explain_live(&self, row: &[f32]) -> Explanation {
        let trees = &self.trees[..self.trees.len().min(LIVE_TREES)];
        crate::shap::explain_trees(trees, 1.0 / trees.len() as f64, 0.0, row)
    }
}

/// The trees live detection explains a random forest with ([`Scorer::explain_live`]).
pub const LIVE_TREES: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::testdata::{accuracy, random_data, xor_data};

    /// The live explanation is the exact TreeSHAP of the first [`LIVE_TREES`] trees, and
    /// names the same top feature as the whole forest's nearly always.
    #[test]
    fn live_explanations_estimate_the_whole_forests() {
        let train = random_data(3_000, 8, 1, 0.02);
        let test = random_data(200, 8, 2, 0.0);
        let m = RandomForestParams::default().seed(4).fit(&train).unwrap();
        assert_eq!(m.trees.len(), 100);
        let first = RandomForest::new(m.trees[..LIVE_TREES].to_vec(), m.n_features);
        let top = |e: &Explanation| {
            e.contributions
                .iter()
                .max_by(|a, b| a.contribution.abs().total_cmp(&b.contribution.abs()))
                .map(|c| c.feature)
        };
        let mut same = 0;
        for r in 0..test.n_rows() {
            let row = test.row(r);
            let live = m.explain_live(row);
            assert_eq!(live, first.explain(row));
            let sum: f64 = live.contributions.iter().map(|c| c.contribution).sum();
            assert!((live.base + sum - live.raw).abs() < 1e-9);
            same += usize::from(top(&live) == top(&m.explain(row)));
        }
        assert!(same >= 190, "the same top feature for {same} of 200 rows");
    }

    #[test]
    fn learns_rules_and_is_additive() {
        let train = random_data(10_000, 8, 1, 0.02);
        let test = random_data(3_000, 8, 2, 0.0);
        let m = RandomForestParams::default()
            .n_trees(30)
            .fit(&train)
            .unwrap();
        assert!(accuracy(&m, &test) > 0.96, "{}", accuracy(&m, &test));
        for r in 0..100 {
            let mut row = test.row(r).to_vec();
            if r % 3 == 0 {
                row[r % 8] = f32::NAN;
            }
            let e = m.explain(&row);
            let sum: f64 = e.contributions.iter().map(|c| c.contribution).sum();
            assert!((e.base + sum - e.raw).abs() < 1e-6);
            assert!((e.raw - f64::from(m.score(&row))).abs() < 1e-6);
        }
        let x = RandomForestParams::default()
            .n_trees(20)
            .fit(&xor_data(4000, 5, 0.0))
            .unwrap();
        assert!(accuracy(&x, &xor_data(2000, 6, 0.0)) > 0.96);
    }

    #[test]
    fn identical_rows_with_conflicting_labels_are_a_leaf_not_a_panic() {
        // Rows whose features are all equal but whose labels differ (a dataset with no time
        // has every per-host feature missing, and many flows then look alike): a node of them
        // has no feature left to scan, which once divided by zero.
        let mut d = Dataset {
            feature_names: (0..4).map(|i| format!("f{i}")).collect(),
            ..Dataset::default()
        };
        for i in 0..600 {
            let x = if i < 300 { 1.0 } else { (i % 7) as f32 };
            d.features.extend([x, f32::NAN, 0.0, f32::NAN]);
            d.target.push(i % 3 == 0);
        }
        for threads in [1, 2] {
            let m = RandomForestParams::default()
                .n_trees(10)
                .n_threads(threads)
                .seed(5)
                .fit(&d)
                .unwrap();
            let s = m.score(&[1.0, f32::NAN, 0.0, f32::NAN]);
            assert!(s.is_finite() && (0.0..=1.0).contains(&s), "{s}");
        }
    }

    #[test]
    fn features_constant_in_a_node_do_not_use_up_its_draws() {
        // One informative column among 99 that never vary (one-hot columns of values absent
        // here): 10 features per node. Drawing 10 of all 100 would miss the informative one in
        // 90 % of roots and leave those trees a single leaf; skipping constant columns finds it
        // at every node, so every tree splits and the forest separates the classes.
        let n = 2_000;
        let mut d = Dataset {
            feature_names: (0..100).map(|i| format!("f{i}")).collect(),
            ..Dataset::default()
        };
        for i in 0..n {
            let x = (i % 100) as f32;
            d.features.push(x);
            d.features.extend(std::iter::repeat_n(0.0, 99));
            d.target.push(x >= 50.0);
        }
        let m = RandomForestParams::default()
            .n_trees(20)
            .seed(3)
            .fit(&d)
            .unwrap();
        assert!(
            m.trees.iter().all(|t| t.nodes.len() == 3),
            "every tree is one split"
        );
        assert_eq!(accuracy(&m, &d), 1.0);
    }

    #[test]
    fn deterministic_across_thread_counts() {
        let d = random_data(5_000, 6, 3, 0.1);
        let p = RandomForestParams::default()
            .n_trees(8)
            .class_weight(ClassWeight::Balanced)
            .seed(7);
        let a = p.clone().n_threads(1).fit(&d).unwrap();
        let b = p.clone().n_threads(2).fit(&d).unwrap();
        let c = p.clone().n_threads(5).fit(&d).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_ne!(a, p.seed(8).fit(&d).unwrap());
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<RandomForest>(&json).unwrap(), a);
        let batch = a.score_batch(&d.features, 6);
        for (i, s) in batch.iter().enumerate().step_by(101) {
            assert_eq!(*s, a.score(d.row(i)));
        }
        // The scoring layout is no part of the model: a scored forest equals its copy read back.
        let back: RandomForest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }

    /// Scoring through the flat layout gives the forest's score bit for bit as the per-tree
    /// walk did (`f += scale * tree.predict(row)` in tree order), on many rows, some with
    /// missing values.
    #[test]
    fn scores_are_bit_identical_to_the_per_tree_walk() {
        let train = random_data(5_000, 8, 21, 0.05);
        let test = random_data(20_000, 8, 22, 0.0);
        let m = RandomForestParams::default().seed(9).fit(&train).unwrap();
        let scale = 1.0 / m.trees.len() as f64;
        for r in 0..test.n_rows() {
            let mut row = test.row(r).to_vec();
            if r % 5 == 3 {
                row[r % 8] = f32::NAN;
            }
            let mut f = 0.0;
            for t in &m.trees {
                f += scale * t.predict(&row);
            }
            assert_eq!(m.score(&row).to_bits(), (f as f32).to_bits(), "row {r}");
        }
    }
}
