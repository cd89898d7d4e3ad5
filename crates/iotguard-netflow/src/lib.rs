//! A NetFlow v5/v9 and IPFIX collector: routers and probes (softflowd, OpenWrt, MikroTik,
//! Cisco) export flows over UDP; this crate turns each export into [`iotguard_flow::FlowRecord`]s
//! and hands them to detection as a [`iotguard_detect::source::Source`].
//!
//! - [`wire`]: the datagrams, their templates, the elements detection uses.
//! - [`record`]: exported flows as records with Zeek's meanings where NetFlow allows them.
//! - [`sequence`]: loss on the way, from the exporters' sequence numbers.
//! - [`collector`]: the UDP socket on its own thread, and the counters.
//!
//! Invariant: every datagram received is counted, and either decoded (each of its flow records
//! delivered) or rejected whole with its exporter and reason; loss the sequence numbers reveal
//! is counted and told.

pub mod collector;
pub mod record;
pub mod sequence;
pub mod wire;

pub use collector::{NetflowSnapshot, NetflowSource, NetflowStats};
pub use wire::{Datagram, Decoder, ExportedFlow, WireError};
