//! The detection crate's errors: what failed, and where.

use std::io;

/// A detection error. Bad input is not one of them: rejected records are counted and reported.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A model cannot be used (its features differ from the running one's, or it is malformed).
    #[error("model: {0}")]
    Model(String),
    /// The configuration is invalid.
    #[error("config: {0}")]
    Config(String),
    /// The runtime failed (an input could not be opened, a model file could not be loaded).
    #[error(transparent)]
    Runtime(#[from] iotguard_runtime::Error),
    /// A sink failed.
    #[error("sink {sink}: {source}")]
    Sink {
        /// The sink's name.
        sink: String,
        /// What failed.
        #[source]
        source: crate::sink::SinkError,
    },
    /// The alert store cannot commit and holds as many unsaved incidents as it may: the alerts
    /// it refused were not kept anywhere, so the run must stop.
    #[error(
        "alert store: {held} incidents wait for a commit that keeps failing; {refused} more \
         alerts refused (the disk is probably full)"
    )]
    Unsaved {
        /// Incidents held in memory.
        held: usize,
        /// Alerts refused by this call.
        refused: usize,
    },
    /// A thread of the pipeline died (the scoring thread panicked): the flows it held were
    /// not scored, so the run stops.
    #[error("pipeline: {0}")]
    Worker(String),
    /// The alert store failed.
    #[error("alert store: {0}")]
    Store(#[from] rusqlite::Error),
}

impl Error {
    /// Builds an I/O error for a path.
    pub fn io(path: impl std::fmt::Display, source: io::Error) -> Error {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }
}

/// The detection crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
