//! Linear support vector machine with the squared hinge loss and an L2 penalty (scikit-learn's
//! `LinearSVC` default loss), over standardised features, trained with L-BFGS.
//!
//! The squared hinge is differentiable, so the same smooth solver as logistic regression
//! applies. The score is `σ(margin)`: monotone in the margin (so rankings, AUCs and thresholds
//! are unaffected) and in `[0, 1]` like other classifiers' scores, but **not a calibrated
//! probability**. Choose thresholds on validation data (see `threshold`), not at 0.5 by habit
//! (0.5 is the SVM's own decision boundary, margin 0).

use serde::{Deserialize, Serialize};

use super::{fit_linear, sigmoid, ClassWeight, FitInfo, Linear, LinearOptions, Loss};
use crate::error::Result;
use crate::model::{Explanation, Scorer};
use crate::threshold::Threshold;
use crate::Dataset;

/// Hyperparameters of [`LinearSvm`]: a consuming builder, checked by [`LinearSvmParams::fit`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinearSvmParams(LinearOptions);

linear_params_setters!(LinearSvmParams);

impl LinearSvmParams {
    /// Returns the default parameters (`l2 = 1e-4`, 200 iterations, `tol = 1e-5`, no weights).
    pub fn new() -> Self {
        Self::default()
    }

    /// Trains on every row of `data`.
    ///
    /// Errors on invalid parameters, a malformed dataset, or a dataset without both classes.
    pub fn fit(&self, data: &Dataset) -> Result<LinearSvm> {
        let (linear, info) = fit_linear(data, &self.0, Loss::SquaredHinge)?;
        Ok(LinearSvm {
            params: self.clone(),
            feature_names: data.feature_names.clone(),
            linear,
            info,
            threshold: None,
        })
    }
}

/// A fitted linear SVM; its score is `σ(margin)`, not a calibrated probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearSvm {
    params: LinearSvmParams,
    feature_names: Vec<String>,
    linear: Linear,
    info: FitInfo,
    /// The alert threshold, once chosen on validation data.
    #[serde(default)]
    threshold: Option<Threshold>,
}

linear_model_accessors!(LinearSvm, LinearSvmParams);

impl LinearSvm {
    /// Returns the signed margin of `row` (positive: malicious side of the boundary).
    pub fn decision_function(&self, row: &[f32]) -> f64 {
        self.linear.raw(row)
    }
}

impl Scorer for LinearSvm {
    fn kind(&self) -> &'static str {
        "linear_svm"
    }

    /// Returns `σ(margin)`: ordered like the margin, not a probability.
    fn score(&self, row: &[f32]) -> f32 {
        sigmoid(self.linear.raw(row)) as f32
    }

    /// Explains the margin exactly: `base` is the intercept, each contribution `wⱼ·zⱼ`.
    fn explain(&self, row: &[f32]) -> Explanation {
        self.linear.explain(row)
    }
}
