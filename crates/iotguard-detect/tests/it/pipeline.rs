//! The pipeline from a replayed file through the detector to real sinks.
