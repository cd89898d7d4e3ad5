//! Errors of training and loading models.

/// A model error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data cannot be trained on as given (no rows, one class only, shape mismatch).
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// A hyperparameter is out of range.
    #[error("invalid parameter: {0}")]
    InvalidParams(String),
    /// A model file cannot be used (unknown version, feature schema mismatch, corrupt).
    #[error("model file: {0}")]
    ModelFile(String),
    /// A model file of another package (XGBoost, LightGBM) cannot be imported.
    #[error("import: {0}")]
    Import(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
