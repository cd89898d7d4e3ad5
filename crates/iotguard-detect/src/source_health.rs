//! [`SourceHealth`]: what the pipeline last saw of its source (reading, waiting for more,
//! ended, failed) and the last input it could not read, kept in [`crate::Stats`] so `/health`
//! can report it while the pipeline runs.

use serde::Serialize;

/// The source's state as the pipeline last saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    /// The pipeline has not asked the source for anything yet.
    Starting,
    /// Events are arriving.
    Reading,
    /// Nothing new for a while; the source is live (a followed log, Kafka, a paced replay).
    Waiting,
    /// The source has ended (a replay read to its end).
    Ended,
    /// The pipeline stopped before the source ended (Ctrl-C, SIGTERM, a fatal sink error).
    Stopped,
    /// The source returned an error and the pipeline stopped.
    Failed,
}

/// The source's state and the inputs it could not read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceHealth {
    /// Its state.
    pub state: SourceState,
    /// Inputs it could not read (or could not read to their end), so far.
    pub unreadable: u64,
    /// The last such failure, or the error it failed with, in words.
    pub last_error: Option<String>,
}

impl Default for SourceHealth {
    fn default() -> Self {
        SourceHealth {
            state: SourceState::Starting,
            unreadable: 0,
            last_error: None,
        }
    }
}
