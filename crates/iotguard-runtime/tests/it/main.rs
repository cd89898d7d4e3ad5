//! The integration tests of iotguard-runtime, in one test binary.

mod explore;
#[cfg(feature = "parquet")]
mod parquet_flows;
mod report;
