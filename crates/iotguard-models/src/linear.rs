//! Linear detectors: L2-regularised logistic regression and linear SVM (squared hinge), trained
//! with a hand-written L-BFGS over standardised features on all cores.
//!
//! Shared machinery lives here: the standardised linear function (`raw = b + Σ wⱼ zⱼ` with
//! `zⱼ = (xⱼ − meanⱼ) / stdⱼ` and missing values imputed as the mean, i.e. `zⱼ = 0`), its exact
//! explanation (`base = b`, contribution `wⱼ zⱼ`; because the training rows' `z` have mean 0,
//! `b` is also the mean raw output over the training data), class weights, and the parallel
//! objective.
//!
//! The objective is `(1/n) Σᵢ cᵢ ℓ(yᵢ, rawᵢ) + (l2/2)‖w‖²` with `yᵢ ∈ {−1, +1}`, the class
//! weight `cᵢ`, and an unpenalised intercept. It is evaluated over fixed chunks of
//! 4,096 rows spread over `available_parallelism()` scoped threads; each chunk's
//! partial sums are stored in its own slot and added in chunk order, so the result is bitwise
//! the same for any thread count and any scheduling: a model depends only on data and
//! parameters.
//!
//! Layout: `objective` (losses and the parallel objective), `lbfgs` (the optimiser, and why it
//! is hand-written), `logistic` and `svm` (params builders and fitted models).

/// Implements the shared builder setters on a params type wrapping [`LinearOptions`] as `.0`.
macro_rules! linear_params_setters {
    ($t:ty) => {
        impl $t {
            /// Sets the L2 penalty λ on the standardised weights (default `1e-4`).
            pub fn l2(mut self, l2: f64) -> Self {
                self.0.l2 = l2;
                self
            }

            /// Sets the L-BFGS iteration limit (default 200).
            pub fn max_iter(mut self, max_iter: usize) -> Self {
                self.0.max_iter = max_iter;
                self
            }

            /// Sets the gradient tolerance (default `1e-5`).
            pub fn tol(mut self, tol: f64) -> Self {
                self.0.tol = tol;
                self
            }

            /// Sets the class weighting (default none).
            pub fn class_weight(mut self, class_weight: ClassWeight) -> Self {
                self.0.class_weight = class_weight;
                self
            }

            /// Sets the seed recorded with the model (see [`LinearOptions::seed`]).
            pub fn seed(mut self, seed: u64) -> Self {
                self.0.seed = seed;
                self
            }

            /// Sets the training thread count (default: all available; results are identical).
            pub fn n_threads(mut self, n_threads: usize) -> Self {
                self.0.n_threads = Some(n_threads);
                self
            }

            /// Returns the options set so far.
            pub fn options(&self) -> &LinearOptions {
                &self.0
            }
        }
    };
}

/// Implements the accessors both fitted linear models share (`params`, `feature_names`,
/// `fit_info`, weights, intercept, threshold, class weight); each model keeps its own
/// `decision_function` and `Scorer` impl, which say what its raw output means.
macro_rules! linear_model_accessors {
    ($model:ty, $params:ty) => {
        impl $model {
            /// Returns the parameters it was trained with.
            pub fn params(&self) -> &$params {
                &self.params
            }

            /// Returns the feature names it was trained on, in column order.
            pub fn feature_names(&self) -> &[String] {
                &self.feature_names
            }

            /// Returns how training went (iterations, convergence, final objective).
            pub fn fit_info(&self) -> &FitInfo {
                &self.info
            }

            /// Returns the weights on standardised features (comparable across features).
            pub fn weights(&self) -> &[f64] {
                &self.linear.weights
            }

            /// Returns the intercept: the raw output at the training mean, which is also the
            /// mean raw output over the training rows.
            pub fn intercept(&self) -> f64 {
                self.linear.intercept
            }

            /// Returns coefficients and intercept on the original feature scale (complete rows).
            pub fn unstandardized_coefficients(&self) -> (Vec<f64>, f64) {
                self.linear.unstandardized()
            }

            /// Returns the model with its alert threshold set; choose it on validation data (see
            /// [`crate::threshold`]) so it travels in the model file.
            pub fn with_threshold(mut self, threshold: Threshold) -> Self {
                self.threshold = Some(threshold);
                self
            }

            /// Returns the stored alert threshold, if one was set.
            pub fn threshold(&self) -> Option<&Threshold> {
                self.threshold.as_ref()
            }

            /// Returns whether `row` alerts under the stored threshold; `None` without one.
            pub fn is_alert(&self, row: &[f32]) -> Option<bool> {
                let score = self.score(row);
                self.threshold.as_ref().map(|t| t.is_alert(score))
            }

            /// Returns the class weighting used.
            pub fn class_weight(&self) -> &ClassWeight {
                &self.params.0.class_weight
            }
        }
    };
}

mod lbfgs;
mod logistic;
mod objective;
mod svm;

pub use logistic::{LogisticRegression, LogisticRegressionParams};
pub use svm::{LinearSvm, LinearSvmParams};

pub use crate::weights::ClassWeight;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Contribution, Explanation};
use crate::parallel;
use crate::scale::Standardizer;
use crate::Dataset;
use objective::{Loss, Problem};

/// The options both linear models share (set through each model's params builder).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearOptions {
    /// L2 penalty strength λ on the standardised weights (the intercept is not penalised).
    /// scikit-learn's `C` corresponds to `λ = 1 / (C · n)` for unit class weights.
    pub l2: f64,
    /// L-BFGS iteration limit.
    pub max_iter: usize,
    /// Converged when the objective's gradient has no component above `tol`.
    pub tol: f64,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// Recorded with the model. The full-batch solver draws no random numbers, so a fit is a
    /// deterministic function of the data and the other parameters; the seed is kept so the
    /// params contract matches the other models and stochastic solvers can be added.
    pub seed: u64,
    /// Threads for training; `None` uses `std::thread::available_parallelism()`. Results are
    /// identical for any value.
    pub n_threads: Option<usize>,
}

impl Default for LinearOptions {
    fn default() -> Self {
        LinearOptions {
            l2: 1e-4,
            max_iter: 200,
            tol: 1e-5,
            class_weight: ClassWeight::None,
            seed: 0,
            n_threads: None,
        }
    }
}

impl LinearOptions {
    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidParams(m));
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return bad(format!("l2 must be finite and >= 0, got {}", self.l2));
        }
        if self.max_iter == 0 {
            return bad("max_iter must be >= 1".into());
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return bad(format!("tol must be finite and > 0, got {}", self.tol));
        }
        if let ClassWeight::Manual { negative, positive } = self.class_weight {
            if !(negative.is_finite() && positive.is_finite() && negative > 0.0 && positive > 0.0) {
                return bad("manual class weights must be finite and > 0".into());
            }
        }
        if self.n_threads == Some(0) {
            return bad("n_threads must be >= 1".into());
        }
        Ok(())
    }
}

/// How training went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitInfo {
    /// L-BFGS iterations run.
    pub n_iter: usize,
    /// Objective evaluations (passes over the data).
    pub n_eval: usize,
    /// Whether a convergence test stopped training (not the iteration limit).
    pub converged: bool,
    /// The final objective value.
    pub objective: f64,
    /// The final gradient's largest absolute component.
    pub grad_inf: f64,
}

/// A fitted linear function over standardised features.
///
/// Serialised as its standardizer, weights and intercept; the per-feature factors used for fast
/// scoring are rebuilt on load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "LinearRepr", into = "LinearRepr")]
pub(crate) struct Linear {
    standardizer: Standardizer,
    weights: Vec<f64>,
    intercept: f64,
    /// `weights[j] / std[j]`, so a contribution is `(x − mean) · factor`.
    factor: Vec<f64>,
}

#[derive(Serialize, Deserialize)]
struct LinearRepr {
    standardizer: Standardizer,
    weights: Vec<f64>,
    intercept: f64,
}

impl From<LinearRepr> for Linear {
    fn from(r: LinearRepr) -> Self {
        Linear::new(r.standardizer, r.weights, r.intercept)
    }
}

impl From<Linear> for LinearRepr {
    fn from(l: Linear) -> Self {
        LinearRepr {
            standardizer: l.standardizer,
            weights: l.weights,
            intercept: l.intercept,
        }
    }
}

impl Linear {
    fn new(standardizer: Standardizer, weights: Vec<f64>, intercept: f64) -> Linear {
        let factor = weights
            .iter()
            .zip(&standardizer.std)
            .map(|(w, s)| w / s)
            .collect();
        Linear {
            standardizer,
            weights,
            intercept,
            factor,
        }
    }

    /// Returns the raw output, calling `sink(j, contribution)` for each feature in order.
    ///
    /// The one code path behind both scoring and explaining, so the two agree bit for bit.
    /// A contribution is `(x − mean)·(w / std) = w·z`, or 0 for a missing (non-finite) value,
    /// computed branch-free; the sum uses four interleaved accumulators (fixed grouping: fast
    /// and deterministic). Rows shorter than the model count their missing tail as missing
    /// values; extra trailing values are ignored.
    #[inline]
    fn accumulate(&self, row: &[f32], mut sink: impl FnMut(usize, f64)) -> f64 {
        let d = self.factor.len();
        if row.len() < d {
            let mut padded = row.to_vec();
            padded.resize(d, f32::NAN);
            return self.accumulate(&padded, sink);
        }
        let mean = &self.standardizer.mean[..d];
        let factor = &self.factor[..d];
        let row = &row[..d];
        let contribution = |x: f32, m: f64, f: f64| {
            let c = (f64::from(x) - m) * f;
            if x.is_finite() {
                c
            } else {
                0.0
            }
        };
        let mut acc = [0.0f64; 4];
        let (rows4, means4, factors4) = (
            row.chunks_exact(4),
            mean.chunks_exact(4),
            factor.chunks_exact(4),
        );
        let tail_start = d - rows4.remainder().len();
        for (q, ((x, m), f)) in rows4.zip(means4).zip(factors4).enumerate() {
            for k in 0..4 {
                let c = contribution(x[k], m[k], f[k]);
                sink(q * 4 + k, c);
                acc[k] += c;
            }
        }
        let mut tail = 0.0;
        for j in tail_start..d {
            let c = contribution(row[j], mean[j], factor[j]);
            sink(j, c);
            tail += c;
        }
        self.intercept + (((acc[0] + acc[1]) + (acc[2] + acc[3])) + tail)
    }

    /// Returns the raw output (log-odds or margin) of `row`.
    #[inline]
    pub(crate) fn raw(&self, row: &[f32]) -> f64 {
        self.accumulate(row, |_, _| {})
    }

    /// Returns the exact explanation: `base = intercept`, contributions `wⱼ·zⱼ`; `raw` is bit for
    /// bit what [`Linear::raw`] returns.
    pub(crate) fn explain(&self, row: &[f32]) -> Explanation {
        let mut contributions = Vec::with_capacity(self.factor.len());
        let raw = self.accumulate(row, |j, contribution| {
            contributions.push(Contribution {
                feature: j,
                value: row.get(j).copied().unwrap_or(f32::NAN),
                contribution,
            });
        });
        Explanation {
            raw,
            base: self.intercept,
            contributions,
        }
    }

    /// Returns the raw-space coefficients and intercept: `raw = b + Σ cⱼ xⱼ` for complete rows.
    pub(crate) fn unstandardized(&self) -> (Vec<f64>, f64) {
        let b = self.intercept
            - self
                .factor
                .iter()
                .zip(&self.standardizer.mean)
                .map(|(f, m)| f * m)
                .sum::<f64>();
        (self.factor.clone(), b)
    }
}

/// Returns the logistic sigmoid.
#[inline]
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Fits weights and intercept of `loss` on `data`; shared by both models.
pub(crate) fn fit_linear(
    data: &Dataset,
    opts: &LinearOptions,
    loss: Loss,
) -> Result<(Linear, FitInfo)> {
    opts.check()?;
    data.validate()?;
    let n = data.n_rows();
    let n_pos = data.target.iter().filter(|&&t| t).count();
    if n == 0 || n_pos == 0 || n_pos == n {
        return Err(Error::InvalidData(format!(
            "need rows of both classes, got {n_pos} malicious of {n}"
        )));
    }
    let d = data.n_features();
    let n_threads = parallel::thread_count(opts.n_threads);
    let standardizer = Standardizer::fit_threads(&data.features, d, n_threads)?;
    let z = standardizer.transform_threads(&data.features, n_threads);
    let (wn, wp) = opts.class_weight.weights(&data.target);
    let weights = [wn, wp];
    let problem = Problem {
        z: &z,
        d,
        target: &data.target,
        weights,
        l2: opts.l2,
        loss,
        n_threads,
    };
    let mut theta0 = vec![0.0; d + 1];
    if let Loss::Logistic = loss {
        // Start at the weighted log-odds: the optimum when no feature helps.
        theta0[d] = (weights[1] * n_pos as f64 / (weights[0] * (n - n_pos) as f64)).ln();
    }
    let r = lbfgs::minimize(
        |theta, grad| problem.eval(theta, grad),
        theta0,
        lbfgs::LbfgsOptions {
            max_iter: opts.max_iter,
            tol: opts.tol,
            memory: 10,
        },
    );
    if r.x.iter().any(|x| !x.is_finite()) {
        return Err(Error::InvalidData(
            "training diverged (non-finite weights)".into(),
        ));
    }
    let info = FitInfo {
        n_iter: r.n_iter,
        n_eval: r.n_eval,
        converged: r.converged,
        objective: r.f,
        grad_inf: r.grad_inf,
    };
    let mut x = r.x;
    let intercept = x.pop().unwrap_or(0.0);
    Ok((Linear::new(standardizer, x, intercept), info))
}

#[cfg(test)]
mod tests;
