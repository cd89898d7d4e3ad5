//! The flow meter: packets in, flow records out, with the meaning Zeek's `conn.log` gives each
//! field, so that everything above the flow records (features, models, detection) takes a
//! capture file as it takes Zeek's log of it.
//!
//! - [`pcap`] reads pcap and pcapng files into packets (through `pcap-parser`).
//! - [`decode`] takes a packet's link layer to its addresses, ports and TCP flags (through
//!   `etherparse`).
//! - `live` (the `live` feature) captures from a network interface through libpcap into the
//!   same meter.
//! - [`meter`] keeps the table of open connections, with Zeek's TCP endpoint state machine,
//!   history letters and timeouts, and emits a [`FlowRecord`](iotguard_flow::FlowRecord) when a
//!   connection ends. Only this part is written by hand: no crate keeps Zeek's connection
//!   semantics.
//!
//! Invariant: every packet read is either part of exactly one emitted flow or counted in
//! [`MeterStats`](meter::MeterStats) with the reason it is not (not IP, truncated, a fragment
//! after the first); the table is bounded and a full table evicts (emits) its oldest
//! connection, never drops it.

pub mod decode;
#[cfg(feature = "live")]
pub mod live;
pub mod meter;
pub mod pcap;

pub use meter::{likely_server as likely_server_port, FlowMeter, MeterConfig, MeterStats};
pub use pcap::{read_pcap, PcapError};
