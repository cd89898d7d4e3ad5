//! The one flow record every reader produces and every later stage consumes.
//!
//! The fields follow Zeek's `Conn::Info`, because Zeek conn logs are what most sensors write and
//! the other formats (Argus, BoT-IoT, UNSW-NB15, TON_IoT) map onto them. An unset value is `None`,
//! never a sentinel zero: a flow with no payload bytes (`0`) and a flow whose payload was not
//! measured (`-`) are different facts.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use compact_str::CompactString;

use crate::label::Label;
use crate::native::Native;
use crate::time::{Interval, Timestamp};

/// One network flow (a Zeek `conn` record or its equivalent in another format).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FlowRecord {
    /// Time of the flow's first packet (0 when [`untimed`](FlowRecord::untimed)).
    pub ts: Timestamp,
    /// True when the input gives no time for the flow at all (TON_IoT's `train_test_network.csv`,
    /// BoT-IoT's 10-best files, UNSW-NB15's partitions): `ts` is then 0 and means nothing, the
    /// records keep their file order, and time-based features (per-host windows) are unavailable
    /// rather than computed on an invented clock.
    pub untimed: bool,
    /// The sensor's identifier for the flow (Zeek `uid`), used to pivot to other logs.
    pub uid: Option<CompactString>,
    /// Originator address (`id.orig_h`); unset in formats without addresses (UNSW-NB15 samples)
    /// and for non-IP flows (Argus ARP/LLC records).
    pub orig_h: Option<IpAddr>,
    /// Originator port (`id.orig_p`; for ICMP, the type).
    pub orig_p: Option<u16>,
    /// Responder address (`id.resp_h`).
    pub resp_h: Option<IpAddr>,
    /// Responder port (`id.resp_p`; for ICMP, the code).
    pub resp_p: Option<u16>,
    /// Transport protocol.
    pub proto: Protocol,
    /// Application protocol(s) found by the sensor, comma separated as Zeek writes them.
    pub service: Option<CompactString>,
    /// Length of the flow.
    pub duration: Option<Interval>,
    /// Payload bytes sent by the originator.
    pub orig_bytes: Option<u64>,
    /// Payload bytes sent by the responder.
    pub resp_bytes: Option<u64>,
    /// Connection state (Zeek's `conn_state`, or the source format's own state name).
    pub conn_state: Option<ConnState>,
    /// Whether the originator is inside the monitored networks.
    pub local_orig: Option<bool>,
    /// Whether the responder is inside the monitored networks.
    pub local_resp: Option<bool>,
    /// Bytes missed by the sensor (content gaps), a sign of packet loss.
    pub missed_bytes: Option<u64>,
    /// Zeek's state history string (`ShADadFf`: upper case is the originator).
    pub history: Option<CompactString>,
    /// Packets sent by the originator.
    pub orig_pkts: Option<u64>,
    /// IP-level bytes sent by the originator (headers included).
    pub orig_ip_bytes: Option<u64>,
    /// Packets sent by the responder.
    pub resp_pkts: Option<u64>,
    /// IP-level bytes sent by the responder (headers included).
    pub resp_ip_bytes: Option<u64>,
    /// Uids of encapsulating flows. `None` is unset (`-`); `Some(vec![])` is the empty set.
    pub tunnel_parents: Option<Vec<CompactString>>,
    /// Originator link-layer (MAC) address, where the sensor logs it.
    pub orig_l2_addr: Option<CompactString>,
    /// Responder link-layer (MAC) address, where the sensor logs it.
    pub resp_l2_addr: Option<CompactString>,
    /// The Community ID flow hash, where the sensor computes it.
    pub community_id: Option<CompactString>,
    /// The sensor (observer) that saw the flow, where the input names one.
    pub sensor: Option<Arc<str>>,
    /// Ground truth, for labeled captures.
    pub label: Option<Label>,
    /// The dataset's own columns (BoT-IoT's Argus statistics, TON_IoT's protocol fields), when
    /// the input carries a family's every column; boxed so other records pay one pointer.
    pub native: Option<Box<Native>>,
}

/// A transport protocol.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (v4 or v6).
    Icmp,
    /// Zeek's `unknown_transport`, and records that name no protocol.
    #[default]
    Unknown,
    /// Any other name a format uses (Argus: `arp`, `llc`, `igmp`, `man`, ...), lower case.
    Other(CompactString),
}

impl Protocol {
    /// Parses a protocol name, case-insensitively.
    pub fn parse(text: &str) -> Protocol {
        let t = text.trim();
        if t.eq_ignore_ascii_case("tcp") {
            Protocol::Tcp
        } else if t.eq_ignore_ascii_case("udp") {
            Protocol::Udp
        } else if t.eq_ignore_ascii_case("icmp") || t.eq_ignore_ascii_case("ipv6-icmp") {
            Protocol::Icmp
        } else if t.is_empty() || t.eq_ignore_ascii_case("unknown_transport") {
            Protocol::Unknown
        } else {
            Protocol::Other(CompactString::from(t).to_lowercase())
        }
    }

    /// Returns the name as Zeek writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
            Protocol::Unknown => "unknown_transport",
            Protocol::Other(s) => s,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A connection state: Zeek's thirteen, or another format's own (Argus `CON`, `INT`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // The Zeek states are documented by Zeek; names are Zeek's own.
pub enum ConnState {
    S0,
    S1,
    SF,
    REJ,
    S2,
    S3,
    RSTO,
    RSTR,
    RSTOS0,
    RSTRH,
    SH,
    SHR,
    OTH,
    /// A state name from a non-Zeek format, kept as written (upper case).
    Other(CompactString),
}

impl ConnState {
    /// The thirteen Zeek states, in Zeek's documentation order.
    pub const ZEEK: [ConnState; 13] = [
        ConnState::S0,
        ConnState::S1,
        ConnState::SF,
        ConnState::REJ,
        ConnState::S2,
        ConnState::S3,
        ConnState::RSTO,
        ConnState::RSTR,
        ConnState::RSTOS0,
        ConnState::RSTRH,
        ConnState::SH,
        ConnState::SHR,
        ConnState::OTH,
    ];

    /// Parses a state name; Zeek's names are matched exactly, others are kept upper-cased.
    pub fn parse(text: &str) -> ConnState {
        match text {
            "S0" => ConnState::S0,
            "S1" => ConnState::S1,
            "SF" => ConnState::SF,
            "REJ" => ConnState::REJ,
            "S2" => ConnState::S2,
            "S3" => ConnState::S3,
            "RSTO" => ConnState::RSTO,
            "RSTR" => ConnState::RSTR,
            "RSTOS0" => ConnState::RSTOS0,
            "RSTRH" => ConnState::RSTRH,
            "SH" => ConnState::SH,
            "SHR" => ConnState::SHR,
            "OTH" => ConnState::OTH,
            other => ConnState::Other(CompactString::from(other).to_uppercase()),
        }
    }

    /// Returns the state's name.
    pub fn as_str(&self) -> &str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
            ConnState::Other(s) => s,
        }
    }
}

impl fmt::Display for ConnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_round_trip() {
        for name in ["tcp", "udp", "icmp", "unknown_transport", "arp", "llc"] {
            assert_eq!(Protocol::parse(name).as_str(), name);
        }
        assert_eq!(Protocol::parse("TCP"), Protocol::Tcp);
        assert_eq!(Protocol::parse("ARP"), Protocol::Other("arp".into()));
    }

    #[test]
    fn conn_states_round_trip() {
        for s in ConnState::ZEEK {
            assert_eq!(ConnState::parse(s.as_str()), s);
        }
        assert_eq!(ConnState::parse("con"), ConnState::Other("CON".into()));
    }
}
