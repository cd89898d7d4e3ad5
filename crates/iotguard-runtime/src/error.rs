//! The runtime's errors: what failed and on which input.

use std::io;

/// A runtime error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or input.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Training, loading or using a model failed.
    #[error(transparent)]
    Model(iotguard_models::Error),
    /// A configuration file (a label audit) is not valid; the message says where and why.
    #[error("{0}")]
    Invalid(String),
    /// An input could not be opened as flow records.
    #[error(transparent)]
    Open(#[from] iotguard_flow::OpenError),
    /// Reading or writing Parquet failed.
    #[cfg(feature = "parquet")]
    #[error(transparent)]
    Parquet(#[from] crate::parquet::Error),
}

impl Error {
    /// Builds an I/O error for a path.
    pub fn io(path: &str, source: io::Error) -> Error {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
