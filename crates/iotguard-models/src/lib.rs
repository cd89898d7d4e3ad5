//! Detection models over plain numeric datasets: training, scoring, explaining, evaluating.
//!
//! Invariants: this crate knows matrices, labels, groups and feature *names*, not networks: it
//! depends on no other project crate, does no I/O beyond (de)serialising model files given a
//! reader or writer, and nothing in it is async. Every model is `Send + Sync` (the runtime shares
//! them between threads), deterministic under a fixed seed, and explains each score.

pub mod autoencoder;
pub mod baseline;
pub mod binned;
pub mod boosting;
pub mod dataset;
pub mod ensemble;
mod error;
pub mod forest;
pub mod grouped;
pub mod import;
pub mod isolation;
pub mod lab;
pub mod model;
pub mod multiclass;
pub mod ooc;
pub mod operating;
pub mod persist;
pub mod reference;
pub mod reservoir;
pub mod shap;
pub mod synthetic;
pub mod tree;
pub mod tune;
pub mod weights;

pub use autoencoder::{Autoencoder, AutoencoderParams};
pub use binned::BinnedDataset;
pub use boosting::{GradientBoosting, GradientBoostingParams};
pub use dataset::Dataset;
pub use ensemble::{Ensemble, EnsembleParams};
pub use error::{Error, Result};
pub use forest::{MaxFeatures, RandomForest, RandomForestParams};
pub use isolation::{IsolationForest, IsolationForestParams};
pub use model::{Contribution, Explanation, Scorer};
pub use multiclass::{MulticlassParams, OneVsRest};
pub use tree::{DecisionTree, DecisionTreeParams};
pub use weights::ClassWeight;

pub mod cv;
pub mod linear;
pub mod metrics;
mod parallel;
pub mod scale;
pub mod threshold;
