//! Detection models over plain numeric datasets: training, scoring, explaining, evaluating.
//!
//! Invariants: this crate knows matrices, labels, groups and feature *names*, not networks: it
//! depends on no other project crate, does no I/O beyond (de)serialising model files given a
//! reader or writer, and nothing in it is async. Every model is `Send + Sync` (the runtime shares
//! them between threads), deterministic under a fixed seed, and explains each score.

pub mod dataset;
mod error;
pub mod model;
pub mod persist;

pub use dataset::Dataset;
pub use error::{Error, Result};
pub use model::{Contribution, Explanation, Scorer};

pub mod cv;
pub mod linear;
pub mod metrics;
mod parallel;
pub mod scale;
pub mod threshold;
