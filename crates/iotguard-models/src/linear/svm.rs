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

impl LinearSvm {
    /// Returns the parameters it was trained with.
    pub fn params(&self) -> &LinearSvmParams {
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

    /// Returns the weights on standardised features.
    pub fn weights(&self) -> &[f64] {
        &self.linear.weights
    }

    /// Returns the intercept (the margin at the training mean, and the mean training margin).
    pub fn intercept(&self) -> f64 {
        self.linear.intercept
    }

    /// Returns coefficients and intercept on the original feature scale (complete rows).
    pub fn unstandardized_coefficients(&self) -> (Vec<f64>, f64) {
        self.linear.unstandardized()
    }

    /// Returns the signed margin of `row` (positive: malicious side of the boundary).
    pub fn decision_function(&self, row: &[f32]) -> f64 {
        self.linear.raw(row)
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
