//! L2-regularised logistic regression: `P(malicious | x) = σ(b + Σ wⱼ zⱼ)` over standardised
//! features, trained by minimising the (class-weighted) mean log-loss with L-BFGS.

use serde::{Deserialize, Serialize};

use super::{fit_linear, sigmoid, ClassWeight, FitInfo, Linear, LinearOptions, Loss};
use crate::error::Result;
use crate::model::{Explanation, Scorer};
use crate::threshold::Threshold;
use crate::Dataset;

/// Hyperparameters of [`LogisticRegression`]: a consuming builder, checked by
/// [`LogisticRegressionParams::fit`].
///
/// ```
/// use iotguard_models::linear::{ClassWeight, LogisticRegressionParams};
/// let params = LogisticRegressionParams::new().l2(1e-3).class_weight(ClassWeight::Balanced);
/// assert_eq!(params.options().l2, 1e-3);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegressionParams(LinearOptions);

linear_params_setters!(LogisticRegressionParams);

impl LogisticRegressionParams {
    /// Returns the default parameters (`l2 = 1e-4`, 200 iterations, `tol = 1e-5`, no weights).
    pub fn new() -> Self {
        Self::default()
    }

    /// Trains on every row of `data`.
    ///
    /// Errors on invalid parameters, a malformed dataset, or a dataset without both classes.
    /// Hitting `max_iter` is not an error: see [`LogisticRegression::fit_info`].
    pub fn fit(&self, data: &Dataset) -> Result<LogisticRegression> {
        let (linear, info) = fit_linear(data, &self.0, Loss::Logistic)?;
        Ok(LogisticRegression {
            params: self.clone(),
            feature_names: data.feature_names.clone(),
            linear,
            info,
            threshold: None,
        })
    }
}

/// A fitted logistic regression; its score is the probability of malicious.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    params: LogisticRegressionParams,
    feature_names: Vec<String>,
    linear: Linear,
    info: FitInfo,
    /// The alert threshold, once chosen on validation data.
    #[serde(default)]
    threshold: Option<Threshold>,
}

linear_model_accessors!(LogisticRegression, LogisticRegressionParams);

impl LogisticRegression {
    /// Returns the log-odds of malicious for `row`.
    pub fn decision_function(&self, row: &[f32]) -> f64 {
        self.linear.raw(row)
    }
}

impl Scorer for LogisticRegression {
    fn kind(&self) -> &'static str {
        "logreg"
    }

    fn score(&self, row: &[f32]) -> f32 {
        sigmoid(self.linear.raw(row)) as f32
    }

    /// Explains the log-odds exactly: `base` is the intercept, each contribution `wⱼ·zⱼ`.
    fn explain(&self, row: &[f32]) -> Explanation {
        self.linear.explain(row)
    }
}
