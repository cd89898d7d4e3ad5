//! Live capture as a detection source (`detect --interface IFACE`): an interface's packets,
//! read through libpcap and put through the flow meter by `iotguard_packets::live`, reach the
//! pipeline as flow records through a [`Source`](iotguard_detect::source::Source).
//!
//! This crate is the adapter only: capture and metering are in `iotguard-packets` (its `live`
//! feature), which knows nothing of detection.
//!
//! Invariant: every packet the kernel passed is in a flow or counted by the meter (not IP,
//! malformed), and every packet the kernel dropped is counted, told and makes `detect` exit
//! non-zero; on stop every open connection is ended and delivered as a flow.

pub mod source;

pub use iotguard_packets::live::{LiveConfig, LiveError};
pub use source::{CaptureSnapshot, CaptureSource, CaptureStats};
