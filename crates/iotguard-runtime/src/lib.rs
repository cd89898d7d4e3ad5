//! Wires inputs, readers, statistics and outputs: the engine behind the `iotguard` command.
//!
//! Today it owns reading inputs (files, folders, standard input, compressed or not), the
//! statistics of `inspect`, the outputs of `convert` (Zeek TSV, Zeek JSON, Parquet) and reject
//! files. Real-time detection, sources and sinks will live here too. Invariant: nothing here
//! knows about HTTP, and nothing prints: the CLI decides what the user sees.

pub mod audit;
pub mod augment;
pub mod batch;
pub mod dataset;
mod error;
pub mod explore;
pub mod input;
pub mod inspect;
pub mod lab;
pub mod multiclass;
#[cfg(feature = "parquet")]
pub mod parquet;
mod parquet_input;
mod pcap_input;
pub mod report;
pub mod topk;
pub mod window;

pub use error::{Error, Result};
