//! Wires inputs, readers, statistics and outputs. (Being written.)

#[cfg(feature = "parquet")]
pub mod parquet;
