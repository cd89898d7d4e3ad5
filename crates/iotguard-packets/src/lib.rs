//! The flow meter: packets in, flow records out, with the meaning Zeek's `conn.log` gives each
//! field, so that everything above the flow records (features, models, detection) takes a
//! capture file as it takes Zeek's log of it.
//!
//! - [`pcap`] reads pcap and pcapng files into packets (through `pcap-parser`).
//! - [`decode`] takes a packet's link layer to its addresses, ports and TCP flags (through
//!   `etherparse`), or to an IP fragment.
//! - `frag` reassembles IPv4 and IPv6 fragments into datagrams before the connection table,
//!   as Zeek does (etherparse's `IpDefragBuf` for each datagram's bytes; the keying, Zeek's
//!   rules on overlaps, the timeout and the bounds are written here).
//! - `live` (the `live` feature) captures from a network interface through libpcap into the
//!   same meter.
//! - [`meter`] keeps the table of open connections, with Zeek's TCP endpoint state machine,
//!   history letters and timeouts, and emits a [`FlowRecord`](iotguard_flow::FlowRecord) when a
//!   connection ends. Only this part is written by hand: no crate keeps Zeek's connection
//!   semantics.
//! - `idle` orders a full table's connections by last activity, so that evicting the one idle
//!   longest costs a heap operation, not a walk of a million connections.
//!
//! Invariant: every packet read is either part of exactly one emitted flow or counted in
//! [`MeterStats`] with the reason it is not (not IP, of an unknown link
//! type, truncated or malformed, or an IP fragment whose datagram timed out, was evicted, was
//! unfinished when the capture ended, or which was rejected as inconsistent with it; until
//! then, pending). A fragment of a reassembled datagram is part of the datagram's flow, where
//! the datagram counts as one packet, as in Zeek's conn.log. The connection table is bounded
//! and a full table evicts (emits) its oldest connection, never drops it; reassembly is
//! bounded in datagrams, bytes and time, and what it drops is counted.

pub mod decode;
mod frag;
mod idle;
#[cfg(feature = "live")]
pub mod live;
pub mod meter;
pub mod pcap;

pub use meter::{likely_server as likely_server_port, FlowMeter, MeterConfig, MeterStats};
pub use pcap::{read_pcap, PcapError};
