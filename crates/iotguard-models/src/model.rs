//! What every trained model offers: a score per row and an explanation of it.

/// One feature's part in a score.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Contribution {
    /// The feature's column index.
    pub feature: usize,
    /// The feature's value in the row.
    pub value: f32,
    /// How much the feature moved the model's raw output (log-odds for classifiers, error for
    /// the autoencoder), signed: positive pushes towards malicious / anomalous.
    pub contribution: f64,
}

/// Why a row got its score.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Explanation {
    /// The model's raw output before any link function (log-odds, margin, anomaly score).
    pub raw: f64,
    /// The raw output with no features known (the expected raw output over training data).
    pub base: f64,
    /// Per-feature contributions; for exact methods (TreeSHAP, linear) `base + sum = raw`.
    pub contributions: Vec<Contribution>,
}

/// A trained model that scores rows.
///
/// Scores are in `[0, 1]` for classifiers (probability of malicious) and non-negative for
/// anomaly detectors (higher is more anomalous; document the scale). Implementations are
/// `Send + Sync` so one model serves many threads.
pub trait Scorer: Send + Sync {
    /// Returns the model kind's name (`logreg`, `forest`, ...).
    fn kind(&self) -> &'static str;

    /// Scores one row of features.
    fn score(&self, row: &[f32]) -> f32;

    /// Scores many rows (row-major, `n_features` per row); implementations may batch.
    fn score_batch(&self, rows: &[f32], n_features: usize) -> Vec<f32> {
        rows.chunks_exact(n_features.max(1))
            .map(|r| self.score(r))
            .collect()
    }

    /// Explains one row's score.
    fn explain(&self, row: &[f32]) -> crate::model::Explanation;

    /// Explains one row's score for live detection, where an explanation must cost about as
    /// much as a few hundred scorings: a model whose exact explanation costs far more may
    /// estimate it (a random forest: [`crate::forest::LIVE_TREES`] of its trees). The default
    /// is [`Scorer::explain`].
    fn explain_live(&self, row: &[f32]) -> crate::model::Explanation {
        self.explain(row)
    }
}
