//! Histogram-based gradient-boosted trees for binary classification (log loss).
//!
//! Each round fits a tree to the log loss's negative gradient and hessian on the binned dataset
//! (second-order leaf values `G/(H+λ)`, as XGBoost and LightGBM), grown best-first up to
//! `max_leaves` and `max_depth`, with the histogram subtraction trick and histograms built on all
//! cores. Leaf values are shrunk by the learning rate. Early stopping watches the log loss on a
//! validation set: a given one, or a stratified, seeded share of the training rows; the model
//! keeps the trees up to the best round.
//!
//! The raw output is log-odds: `init + Σ trees`; the score is its sigmoid. Explanations are exact
//! TreeSHAP in log-odds.

use crate::binned::BinnedDataset;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::model::{Explanation, Scorer};
use crate::tree::grow::{GrowParams, Grower};
use crate::tree::{check_train, rng_for, sum_trees_batch, ClassWeight, Tree};
use rand::Rng;
use rayon::prelude::*;

/// Hyperparameters of gradient boosting; a consuming builder whose `fit` returns the model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GradientBoostingParams {
    /// Maximum boosting rounds (trees).
    pub n_rounds: usize,
    /// Shrinkage applied to each tree's leaf values.
    pub learning_rate: f64,
    /// Maximum tree depth; `None` limits trees by `max_leaves` only.
    pub max_depth: Option<usize>,
    /// Maximum leaves per tree (grown best-first).
    pub max_leaves: usize,
    /// Minimum training rows per leaf.
    pub min_samples_leaf: usize,
    /// Minimum hessian sum per leaf.
    pub min_child_weight: f64,
    /// L2 regularisation of leaf values.
    pub lambda: f64,
    /// Minimum gain for a split.
    pub min_split_gain: f64,
    /// Share of rows drawn (without replacement) for each tree.
    pub subsample: f64,
    /// Share of features drawn for each tree.
    pub colsample: f64,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// Stop when validation log loss has not improved for this many rounds.
    pub early_stopping_rounds: Option<usize>,
    /// Share of training rows held out (stratified) for early stopping when no validation set
    /// is given.
    pub validation_fraction: f64,
    /// Value bins per feature (2..=255).
    pub max_bins: usize,
    /// Worker threads; 0 uses all cores. Results do not depend on it.
    pub n_threads: usize,
    /// Seed for binning, subsampling and the validation split.
    pub seed: u64,
}

impl Default for GradientBoostingParams {
    fn default() -> Self {
        GradientBoostingParams {
            n_rounds: 100,
            learning_rate: 0.1,
            max_depth: None,
            max_leaves: 31,
            min_samples_leaf: 20,
            min_child_weight: 1e-3,
            lambda: 1.0,
            min_split_gain: 0.0,
            subsample: 1.0,
            colsample: 1.0,
            class_weight: ClassWeight::None,
            early_stopping_rounds: None,
            validation_fraction: 0.1,
            max_bins: 255,
            n_threads: 0,
            seed: 0,
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty),* $(,)?) => {
        $( $(#[$doc])* pub fn $name(mut self, v: $ty) -> Self { self.$name = v; self } )*
    };
}

impl GradientBoostingParams {
    setters! {
        /// Sets the number of rounds.
        n_rounds: usize,
        /// Sets the learning rate.
        learning_rate: f64,
        /// Sets the maximum depth.
        max_depth: Option<usize>,
        /// Sets the maximum leaves per tree.
        max_leaves: usize,
        /// Sets the minimum rows per leaf.
        min_samples_leaf: usize,
        /// Sets the minimum hessian per leaf.
        min_child_weight: f64,
        /// Sets the L2 regularisation.
        lambda: f64,
        /// Sets the minimum split gain.
        min_split_gain: f64,
        /// Sets the row subsampling share.
        subsample: f64,
        /// Sets the feature subsampling share.
        colsample: f64,
        /// Sets the class weighting.
        class_weight: ClassWeight,
        /// Sets early stopping.
        early_stopping_rounds: Option<usize>,
        /// Sets the held-out share for early stopping.
        validation_fraction: f64,
        /// Sets the number of bins.
        max_bins: usize,
        /// Sets the number of threads (0: all cores).
        n_threads: usize,
        /// Sets the seed.
        seed: u64,
    }

    fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidParams(m.into()));
        if self.n_rounds == 0 || self.max_leaves < 2 {
            return bad("n_rounds must be > 0 and max_leaves >= 2");
        }
        if self.learning_rate.is_nan()
            || self.learning_rate <= 0.0
            || self.lambda < 0.0
            || self.min_child_weight < 0.0
        {
            return bad("learning_rate must be > 0, lambda and min_child_weight >= 0");
        }
        let unit = |x: f64| x > 0.0 && x <= 1.0;
        if !unit(self.subsample) || !unit(self.colsample) {
            return bad("subsample and colsample must be in (0, 1]");
        }
        if self.early_stopping_rounds.is_some()
            && (self.validation_fraction.is_nan()
                || self.validation_fraction <= 0.0
                || self.validation_fraction >= 1.0)
        {
            return bad("validation_fraction must be in (0, 1)");
        }
        Ok(())
    }

    /// Trains on `data`; with early stopping, a stratified `validation_fraction` of it is held
    /// out to decide when to stop.
    ///
    /// ```
    /// use iotguard_models::{Dataset, GradientBoostingParams, Scorer};
    ///
    /// let rows: Vec<[f32; 2]> = (0..400).map(|i| [(i % 20) as f32, (i / 20) as f32]).collect();
    /// let data = Dataset {
    ///     feature_names: vec!["a".into(), "b".into()],
    ///     features: rows.iter().flatten().copied().collect(),
    ///     target: rows.iter().map(|r| r[0] > 9.0).collect(),
    ///     ..Dataset::default()
    /// };
    /// let model = GradientBoostingParams::default().n_rounds(20).min_samples_leaf(5).fit(&data)?;
    /// assert!(model.score(&[15.0, 3.0]) > 0.9);
    /// let why = model.explain(&[15.0, 3.0]);
    /// let sum: f64 = why.contributions.iter().map(|c| c.contribution).sum();
    /// assert!((why.base + sum - why.raw).abs() < 1e-9);
    /// # Ok::<(), iotguard_models::Error>(())
    /// ```
    pub fn fit(self, data: &Dataset) -> Result<GradientBoosting> {
        self.check()?;
        check_train(data)?;
        if self.early_stopping_rounds.is_some() {
            let (tr, va) = stratified_split(&data.target, self.validation_fraction, self.seed);
            self.train(&data.subset(&tr), Some(&data.subset(&va)))
        } else {
            self.train(data, None)
        }
    }

    /// Trains on `train`, watching log loss on `valid` for early stopping (if set).
    pub fn fit_with_validation(self, train: &Dataset, valid: &Dataset) -> Result<GradientBoosting> {
        self.check()?;
        check_train(train)?;
        valid.validate()?;
        if valid.n_features() != train.n_features() {
            return Err(Error::InvalidData(
                "validation set has other features".into(),
            ));
        }
        self.train(train, Some(valid))
    }

    /// Trains on a pool of exactly `n_threads` workers (see [`crate::parallel::with_pool`]).
    fn train(self, data: &Dataset, valid: Option<&Dataset>) -> Result<GradientBoosting> {
        let threads = crate::binned::n_threads(self.n_threads);
        crate::parallel::with_pool(threads, || self.train_on_pool(data, valid, threads))?
    }

    fn train_on_pool(
        &self,
        data: &Dataset,
        valid: Option<&Dataset>,
        threads: usize,
    ) -> Result<GradientBoosting> {
        let binned = BinnedDataset::from_dataset(data, self.max_bins, self.seed)?;
        let n = data.n_rows();
        let m = data.n_features();
        let (wn, wp) = self.class_weight.weights(&data.target);
        let (wn, wp) = (wn as f32, wp as f32);
        let w: Vec<f32> = data
            .target
            .iter()
            .map(|&t| if t { wp } else { wn })
            .collect();
        let (sw, swy) = w
            .iter()
            .zip(&data.target)
            .fold((0.0f64, 0.0f64), |(a, b), (&w, &t)| {
                (a + f64::from(w), b + if t { f64::from(w) } else { 0.0 })
            });
        let p0 = (swy / sw).clamp(1e-6, 1.0 - 1e-6);
        let init = (p0 / (1.0 - p0)).ln();
        let mut raw = vec![init; n];
        let mut g = vec![0f32; n];
        let mut h = vec![0f32; n];
        let mut val_raw = valid.map(|v| vec![init; v.n_rows()]);
        let grow = GrowParams {
            max_depth: self.max_depth.unwrap_or(usize::MAX),
            max_leaves: self.max_leaves,
            min_samples_leaf: self.min_samples_leaf.max(1) as u32,
            min_child_weight: self.min_child_weight,
            lambda: self.lambda,
            min_split_gain: self.min_split_gain,
            features_per_node: None,
            subtract: true,
            n_threads: threads,
        };
        let mut trees: Vec<Tree> = Vec::new();
        let mut best = (f64::INFINITY, 0usize);
        let all_rows: Vec<u32> = (0..n as u32).collect();
        for round in 0..self.n_rounds {
            gradients(&raw, &data.target, &w, &mut g, &mut h, threads);
            let mut rng = rng_for(self.seed, round as u64 + 1);
            let mut features: Vec<usize> = (0..m).collect();
            if self.colsample < 1.0 {
                let k = ((self.colsample * m as f64).ceil() as usize).clamp(1, m);
                for i in 0..k {
                    let j = rng.random_range(i..m);
                    features.swap(i, j);
                }
                features.truncate(k);
                features.sort_unstable();
            }
            let rows: Vec<u32> = if self.subsample < 1.0 {
                all_rows
                    .iter()
                    .copied()
                    .filter(|_| rng.random::<f64>() < self.subsample)
                    .collect()
            } else {
                all_rows.clone()
            };
            let sampled_all = rows.len() == n;
            let mut grown = Grower::new(&binned, &g, &h, &features, &grow, &mut rng).grow(rows);
            grown.tree.scale_values(self.learning_rate);
            if sampled_all {
                for &(node, s, e) in &grown.leaves {
                    let v = grown.tree.value[node];
                    for &r in &grown.rows[s..e] {
                        raw[r as usize] += v;
                    }
                }
            } else {
                for (r, f) in raw.iter_mut().enumerate() {
                    *f += predict_binned(&grown.tree, &grown.split_bin, &binned, r);
                }
            }
            if let (Some(v), Some(vr)) = (valid, val_raw.as_mut()) {
                for (i, f) in vr.iter_mut().enumerate() {
                    *f += grown.tree.predict(v.row(i));
                }
                let loss = log_loss(vr, &v.target, wn, wp);
                if loss < best.0 - 1e-12 {
                    best = (loss, round);
                }
            }
            trees.push(grown.tree);
            if let Some(esr) = self.early_stopping_rounds {
                if valid.is_some() && round >= best.1 + esr {
                    break;
                }
            }
        }
        if valid.is_some() && self.early_stopping_rounds.is_some() {
            trees.truncate(best.1 + 1);
        }
        Ok(GradientBoosting {
            init,
            trees,
            n_features: m,
            validation_loss: valid.map(|_| best.0),
        })
    }
}

/// Routes binned row `r` through a freshly grown tree using its split bins.
fn predict_binned(t: &Tree, split_bin: &[u8], data: &BinnedDataset, r: usize) -> f64 {
    let mut i = 0;
    loop {
        let nd = &t.nodes[i];
        if nd.is_leaf() {
            return t.value[i];
        }
        let f = nd.feature as usize;
        let b = data.column(f)[r];
        let left = if b == data.feature(f).nan_bin() {
            nd.default_left
        } else {
            b <= split_bin[i]
        };
        i = if left { nd.left } else { nd.right } as usize;
    }
}

/// Rows per piece of the gradient pass on several threads.
const GRADIENT_CHUNK: usize = 1 << 13;

/// Writes the log loss's negative gradient `w(y − p)` and hessian `w p(1 − p)` (each row on its
/// own, so pieces change nothing).
fn gradients(raw: &[f64], y: &[bool], w: &[f32], g: &mut [f32], h: &mut [f32], threads: usize) {
    if threads <= 1 || raw.len() < 2 * GRADIENT_CHUNK {
        gradient_piece(raw, y, w, g, h);
        return;
    }
    let c = GRADIENT_CHUNK;
    raw.par_chunks(c)
        .zip(y.par_chunks(c))
        .zip(w.par_chunks(c).zip(g.par_chunks_mut(c)))
        .zip(h.par_chunks_mut(c))
        .for_each(|(((r, y), (w, g)), h)| gradient_piece(r, y, w, g, h));
}

/// [`gradients`] of one piece of rows.
fn gradient_piece(raw: &[f64], y: &[bool], w: &[f32], g: &mut [f32], h: &mut [f32]) {
    for i in 0..raw.len() {
        let p = sigmoid(raw[i]);
        let t = if y[i] { 1.0 } else { 0.0 };
        g[i] = (f64::from(w[i]) * (t - p)) as f32;
        h[i] = (f64::from(w[i]) * (p * (1.0 - p)).max(1e-16)) as f32;
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Returns the class-weighted mean log loss of raw log-odds `raw`.
fn log_loss(raw: &[f64], y: &[bool], wn: f32, wp: f32) -> f64 {
    let mut s = 0.0;
    let mut sw = 0.0;
    for (&f, &t) in raw.iter().zip(y) {
        // log(1 + e^-z) computed stably, z the signed margin.
        let z = if t { f } else { -f };
        let w = f64::from(if t { wp } else { wn });
        s += w
            * (if z > 0.0 {
                (-z).exp().ln_1p()
            } else {
                -z + z.exp().ln_1p()
            });
        sw += w;
    }
    s / sw
}

/// Splits row indices into (train, validation), holding out `fraction` of each class, seeded.
fn stratified_split(target: &[bool], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = rng_for(seed, 0);
    let mut train = Vec::new();
    let mut valid = Vec::new();
    for class in [false, true] {
        let mut idx: Vec<usize> = (0..target.len()).filter(|&i| target[i] == class).collect();
        for i in (1..idx.len()).rev() {
            idx.swap(i, rng.random_range(0..=i));
        }
        let k = (idx.len() as f64 * fraction).round() as usize;
        valid.extend_from_slice(&idx[..k]);
        train.extend_from_slice(&idx[k..]);
    }
    train.sort_unstable();
    valid.sort_unstable();
    (train, valid)
}

/// A trained gradient-boosted tree ensemble; raw output is log-odds of malicious.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GradientBoosting {
    /// The initial log-odds (weighted share of malicious training rows).
    pub init: f64,
    /// The trees, leaf values already shrunk by the learning rate.
    pub trees: Vec<Tree>,
    /// Number of features rows must have.
    pub n_features: usize,
    /// The best validation log loss, when a validation set was used.
    pub validation_loss: Option<f64>,
}

impl GradientBoosting {
    /// Returns the raw output (log-odds) for `row`.
    pub fn raw(&self, row: &[f32]) -> f64 {
        let mut f = self.init;
        for t in &self.trees {
            f += t.predict(row);
        }
        f
    }
}

impl Scorer for GradientBoosting {
    fn kind(&self) -> &'static str {
        "gbdt"
    }

    fn score(&self, row: &[f32]) -> f32 {
        sigmoid(self.raw(row)) as f32
    }

    fn score_batch(&self, rows: &[f32], n_features: usize) -> Vec<f32> {
        sum_trees_batch(&self.trees, rows, n_features, self.init, 1.0)
            .into_iter()
            .map(|f| sigmoid(f) as f32)
            .collect()
    }

    /// Exact TreeSHAP in log-odds: `raw` is the log-odds, `base` the expected log-odds.
    fn explain(&self, row: &[f32]) -> Explanation {
        crate::shap::explain_trees(&self.trees, 1.0, self.init, row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::testdata::{accuracy, random_data, xor_data};

    fn with_nans(mut d: Dataset, every: usize) -> Dataset {
        for (i, v) in d.features.iter_mut().enumerate() {
            if i % every == 0 {
                *v = f32::NAN;
            }
        }
        d
    }

    #[test]
    fn learns_a_nonlinear_rule_and_xor() {
        let train = random_data(20_000, 8, 1, 0.0);
        let test = random_data(5_000, 8, 2, 0.0);
        let m = GradientBoostingParams::default().fit(&train).unwrap();
        assert!(accuracy(&m, &test) > 0.98, "{}", accuracy(&m, &test));
        let m = GradientBoostingParams::default()
            .fit(&xor_data(5_000, 3, 0.0))
            .unwrap();
        assert!(accuracy(&m, &xor_data(2_000, 4, 0.0)) > 0.98);
    }

    #[test]
    fn treeshap_is_additive() {
        let train = with_nans(random_data(5_000, 6, 5, 0.05), 13);
        let m = GradientBoostingParams::default()
            .n_rounds(30)
            .max_depth(Some(5))
            .fit(&train)
            .unwrap();
        for r in 0..200 {
            let row = train.row(r);
            let e = m.explain(row);
            let sum: f64 = e.contributions.iter().map(|c| c.contribution).sum();
            assert!((e.base + sum - e.raw).abs() < 1e-6, "row {r}");
            assert!((e.raw - m.raw(row)).abs() < 1e-9);
        }
    }

    #[test]
    fn deterministic_across_runs_and_thread_counts() {
        let d = with_nans(random_data(30_000, 10, 9, 0.1), 17);
        let p = GradientBoostingParams::default()
            .n_rounds(15)
            .subsample(0.8)
            .colsample(0.7)
            .seed(42);
        let a = p.clone().n_threads(1).fit(&d).unwrap();
        let b = p.clone().n_threads(2).fit(&d).unwrap();
        let c = p.clone().n_threads(3).fit(&d).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        let other = p.seed(43).fit(&d).unwrap();
        assert_ne!(a, other);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<GradientBoosting>(&json).unwrap(), a);
        let batch = a.score_batch(&d.features, d.n_features());
        for (i, s) in batch.iter().enumerate().step_by(997) {
            assert_eq!(*s, a.score(d.row(i)));
        }
    }

    #[test]
    fn deterministic_across_thread_counts_with_sparse_rows_and_large_nodes() {
        // Mostly-zero features: histograms are built from sparse rows in several chunks, and the
        // root's rows are partitioned on several threads.
        let mut d = random_data(200_000, 8, 31, 0.1);
        for (i, v) in d.features.iter_mut().enumerate() {
            if i % 7 < 4 {
                *v = 0.0;
            }
        }
        let d = with_nans(d, 23);
        let p = GradientBoostingParams::default().n_rounds(3).seed(5);
        let a = p.clone().n_threads(1).fit(&d).unwrap();
        assert_eq!(a, p.clone().n_threads(2).fit(&d).unwrap());
        assert_eq!(a, p.n_threads(3).fit(&d).unwrap());
        assert!(a.trees.iter().all(|t| t.n_leaves() == 31));
    }

    #[test]
    fn deterministic_at_the_lab_setting_with_more_threads_than_features() {
        // Every node goes through the feature blocks (one feature per block at 5 threads), tiny
        // leaves included; dense and sparse rows.
        let dense = with_nans(random_data(20_000, 3, 12, 0.1), 11);
        let mut sparse = random_data(20_000, 6, 13, 0.1);
        for (i, v) in sparse.features.iter_mut().enumerate() {
            if i % 5 < 4 {
                *v = 0.0;
            }
        }
        for d in [dense, sparse] {
            let p = GradientBoostingParams::default()
                .n_rounds(8)
                .max_depth(Some(6))
                .max_leaves(64)
                .min_samples_leaf(1)
                .learning_rate(0.3);
            let a = p.clone().n_threads(1).fit(&d).unwrap();
            assert_eq!(a, p.clone().n_threads(2).fit(&d).unwrap());
            assert_eq!(a, p.n_threads(5).fit(&d).unwrap());
            assert!(a.trees.iter().all(|t| t.n_leaves() > 32));
        }
    }

    #[test]
    fn early_stopping_stops_on_noise() {
        let d = random_data(5_000, 8, 21, 0.3);
        let m = GradientBoostingParams::default()
            .n_rounds(500)
            .learning_rate(0.3)
            .early_stopping_rounds(Some(10))
            .fit(&d)
            .unwrap();
        assert!(m.trees.len() < 500, "{}", m.trees.len());
        assert!(m.validation_loss.unwrap() < 0.69);
    }

    #[test]
    fn class_weights_raise_minority_scores() {
        let d = random_data(10_000, 6, 4, 0.2);
        let minority: Vec<usize> = (0..d.n_rows())
            .filter(|&i| !d.target[i] || i % 10 == 0)
            .collect();
        let d = d.subset(&minority);
        let plain = GradientBoostingParams::default()
            .n_rounds(20)
            .fit(&d)
            .unwrap();
        let bal = GradientBoostingParams::default()
            .n_rounds(20)
            .class_weight(ClassWeight::Balanced)
            .fit(&d)
            .unwrap();
        let mean = |m: &GradientBoosting| {
            let s = m.score_batch(&d.features, d.n_features());
            s.iter().map(|&x| f64::from(x)).sum::<f64>() / s.len() as f64
        };
        assert!(mean(&bal) > mean(&plain) + 0.1);
    }

    #[test]
    fn rejects_bad_params() {
        let d = random_data(100, 3, 1, 0.0);
        assert!(GradientBoostingParams::default()
            .learning_rate(0.0)
            .fit(&d)
            .is_err());
        assert!(GradientBoostingParams::default()
            .subsample(1.5)
            .fit(&d)
            .is_err());
        assert!(GradientBoostingParams::default()
            .max_bins(300)
            .fit(&d)
            .is_err());
    }
}
