//! Flows in the making: the scheduled events of a chunk, and the one place that turns a
//! connection's description ([`Conn`]) into a Zeek-like [`FlowRecord`].
//!
//! Scheduling decides *when* something happens and with what fixed target; building decides
//! the details (ports, sizes, states, uid) with the chunk's own generator, in timestamp order.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use compact_str::CompactString;
use iotguard_flow::{ConnState, FlowRecord, Interval, Label, Protocol, Timestamp};

use crate::network::Network;
use crate::rng::Rand;
use crate::uid::conn_uid;

/// What a scheduled event turns into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    // Benign.
    Dns,
    Ntp,
    Dhcp,
    Noise,
    Firmware,
    Mdns,
    Mdns6,
    Ssdp,
    CameraStream,
    CameraClip,
    PlugKeepalive,
    PlugUdp,
    ThermostatPoll,
    Weather,
    AssistantRequest,
    AssistantSession,
    AssistantCheckin,
    HubLocal,
    HubCloud,
    // Malicious.
    Scan,
    CncHeartbeat,
    CncAttempt,
    CncCommand,
    FloodSyn,
    FloodAck,
    FloodUdp,
    FloodHttp,
    BruteForce,
    Exfiltration,
    MalwareDownload,
    CncDownload,
}

/// A flow to build: when, by which device, and a kind-specific target (an address or device
/// index in `arg`, a port in `port`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    /// Start time, microseconds after the simulation's start.
    pub(crate) t: i64,
    pub(crate) device: u32,
    pub(crate) arg: u32,
    pub(crate) port: u16,
    pub(crate) kind: Kind,
}

/// A half-open span of simulated time in microseconds after the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) start: i64,
    pub(crate) end: i64,
}

impl Window {
    pub(crate) fn contains(self, t: i64) -> bool {
        self.start <= t && t < self.end
    }
}

/// Collects the events that fall in the chunk being built.
pub(crate) struct Sink<'a> {
    /// The chunk being built.
    pub(crate) keep: Window,
    /// Where the schedule being replayed may put events: from its own start to one chunk
    /// past its end (checked in debug builds; anything later would be lost).
    pub(crate) bounds: Window,
    pub(crate) out: &'a mut Vec<Event>,
}

impl Sink<'_> {
    /// Keeps the event if it falls in the chunk.
    #[inline]
    pub(crate) fn push(&mut self, t: i64, device: u32, kind: Kind, arg: u32, port: u16) {
        debug_assert!(
            self.bounds.contains(t),
            "{kind:?} at {t} outside {:?}",
            self.bounds
        );
        if self.keep.contains(t) {
            self.out.push(Event {
                t,
                device,
                arg,
                port,
                kind,
            });
        }
    }
}

/// The labels a simulated flow can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lab {
    Benign,
    Scan,
    Okiru,
    Cnc,
    HeartBeat,
    Ddos,
    Attack,
    FileDownload,
    CncFileDownload,
}

/// Per-packet header bytes (IP + transport) that Zeek counts in `*_ip_bytes`.
pub(crate) mod hdr {
    /// TCP segment from a Linux stack (20 IP + 20 TCP + 12 timestamp option).
    pub(crate) const TCP_LINUX: u64 = 52;
    /// TCP segment from an embedded stack (no options).
    pub(crate) const TCP_PLAIN: u64 = 40;
    /// A Linux SYN (MSS, SACK, timestamps, window scale options).
    pub(crate) const SYN_LINUX: u64 = 60;
    /// An embedded stack's SYN (MSS option only).
    pub(crate) const SYN_PLAIN: u64 = 44;
    /// A raw SYN or ACK written by a scanner or flooder (no options).
    pub(crate) const RAW: u64 = 40;
    /// UDP over IPv4.
    pub(crate) const UDP4: u64 = 28;
    /// UDP over IPv6.
    pub(crate) const UDP6: u64 = 48;
}

/// Everything about a connection but its time, uid, sensor and derived fields.
#[derive(Clone, Debug)]
pub(crate) struct Conn {
    pub(crate) proto: Protocol,
    pub(crate) orig: IpAddr,
    pub(crate) orig_p: u16,
    pub(crate) resp: IpAddr,
    pub(crate) resp_p: u16,
    pub(crate) service: Option<&'static str>,
    pub(crate) duration_us: i64,
    /// Payload bytes.
    pub(crate) orig_bytes: u64,
    pub(crate) resp_bytes: u64,
    pub(crate) state: ConnState,
    pub(crate) history: &'static str,
    pub(crate) orig_pkts: u64,
    pub(crate) resp_pkts: u64,
    /// Header bytes per packet, each way.
    pub(crate) orig_hdr: u64,
    pub(crate) resp_hdr: u64,
    pub(crate) missed: u64,
    pub(crate) label: Lab,
}

impl Conn {
    /// A connection with no packets yet: fill in what applies.
    pub(crate) fn new(
        proto: Protocol,
        orig: IpAddr,
        orig_p: u16,
        resp: IpAddr,
        resp_p: u16,
    ) -> Conn {
        let h = if proto == Protocol::Udp {
            if orig.is_ipv6() {
                hdr::UDP6
            } else {
                hdr::UDP4
            }
        } else {
            hdr::TCP_LINUX
        };
        Conn {
            proto,
            orig,
            orig_p,
            resp,
            resp_p,
            service: None,
            duration_us: 0,
            orig_bytes: 0,
            resp_bytes: 0,
            state: ConnState::OTH,
            history: "",
            orig_pkts: 0,
            resp_pkts: 0,
            orig_hdr: h,
            resp_hdr: h,
            missed: 0,
            label: Lab::Benign,
        }
    }

    /// Sets state, history and the packet and payload counts each way.
    pub(crate) fn shape(
        mut self,
        state: ConnState,
        history: &'static str,
        pkts: (u64, u64),
        bytes: (u64, u64),
    ) -> Conn {
        self.state = state;
        self.history = history;
        (self.orig_pkts, self.resp_pkts) = pkts;
        (self.orig_bytes, self.resp_bytes) = bytes;
        self
    }

    pub(crate) fn service(mut self, s: &'static str) -> Conn {
        self.service = Some(s);
        self
    }

    pub(crate) fn duration(mut self, us: i64) -> Conn {
        self.duration_us = us.max(1);
        self
    }

    pub(crate) fn headers(mut self, orig: u64, resp: u64) -> Conn {
        self.orig_hdr = orig;
        self.resp_hdr = resp;
        self
    }

    pub(crate) fn label(mut self, l: Lab) -> Conn {
        self.label = l;
        self
    }

    pub(crate) fn missed(mut self, m: u64) -> Conn {
        self.missed = m;
        self
    }
}

/// Returns typical packet counts of a TCP connection with a full handshake and close that
/// carried these payloads in segments of about `seg` bytes (1448 for bulk transfers, less for
/// chatty protocols), with delayed ACKs.
pub(crate) fn tcp_packets(rng: &mut Rand, bytes: (u64, u64), seg: u64) -> (u64, u64) {
    let oseg = bytes.0.div_ceil(seg);
    let rseg = bytes.1.div_ceil(seg);
    (
        4 + oseg + rseg.div_ceil(2) + rng.below(3),
        3 + rseg + oseg.div_ceil(2) + rng.below(2),
    )
}

/// Builds records from connections: holds the chunk's generator, labels and sensor name.
#[derive(Debug)]
pub(crate) struct Builder {
    pub(crate) rng: Rand,
    labels: [Label; 9],
    sensor: Option<Arc<str>>,
    start_ns: i64,
}

impl Builder {
    /// Makes a builder with its own labels and sensor name (one allocation each per chunk, so
    /// threads never share a reference count).
    pub(crate) fn new(net: &Network, rng: Rand) -> Builder {
        let m = |d| Label::new("Malicious", Some(d));
        Builder {
            rng,
            labels: [
                Label::new("Benign", None),
                m("PartOfAHorizontalPortScan"),
                m("Okiru"),
                m("C&C"),
                m("C&C-HeartBeat"),
                m("DDoS"),
                m("Attack"),
                m("FileDownload"),
                m("C&C-FileDownload"),
            ],
            sensor: net.config.sensor.as_deref().map(Arc::from),
            start_ns: net.start_ns,
        }
    }

    /// Returns an ephemeral source port: Linux's range, or an embedded stack's.
    #[inline]
    pub(crate) fn eph_port(&mut self, linux: bool) -> u16 {
        if linux {
            self.rng.range(32_768, 60_999) as u16
        } else {
            self.rng.range(49_152, 65_535) as u16
        }
    }

    /// Turns a connection that started `t` microseconds after the start into a record.
    pub(crate) fn record(&mut self, net: &Network, t: i64, c: Conn) -> FlowRecord {
        let uid = conn_uid(&mut self.rng);
        // Zeek leaves duration and payload sizes unset for a connection of a single packet.
        let seen = c.orig_pkts + c.resp_pkts > 1;
        let local = |a: IpAddr| match a {
            IpAddr::V4(v4) => net.is_local(u32::from(v4)),
            IpAddr::V6(_) => false,
        };
        FlowRecord {
            ts: Timestamp(self.start_ns + t * 1000),
            untimed: false,
            native: None,
            uid: Some(uid),
            orig_h: Some(c.orig),
            orig_p: Some(c.orig_p),
            resp_h: Some(c.resp),
            resp_p: Some(c.resp_p),
            proto: c.proto,
            service: c.service.map(CompactString::const_new),
            duration: seen.then_some(Interval(c.duration_us * 1000)),
            orig_bytes: seen.then_some(c.orig_bytes),
            resp_bytes: seen.then_some(c.resp_bytes),
            conn_state: Some(c.state),
            local_orig: Some(local(c.orig)),
            local_resp: Some(local(c.resp)),
            missed_bytes: Some(c.missed),
            history: Some(CompactString::const_new(c.history)),
            orig_pkts: Some(c.orig_pkts),
            orig_ip_bytes: Some(c.orig_bytes + c.orig_hdr * c.orig_pkts),
            resp_pkts: Some(c.resp_pkts),
            resp_ip_bytes: Some(c.resp_bytes + c.resp_hdr * c.resp_pkts),
            tunnel_parents: None,
            orig_l2_addr: None,
            resp_l2_addr: None,
            community_id: None,
            sensor: self.sensor.clone(),
            label: Some(self.labels[c.label as usize].clone()),
        }
    }
}

/// Shorthand for an IPv4 address as an [`IpAddr`].
#[inline]
pub(crate) fn v4(a: Ipv4Addr) -> IpAddr {
    IpAddr::V4(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_iot23s() {
        let net = Network::build(crate::SimConfig::default()).unwrap();
        let b = Builder::new(&net, Rand::new(0, 0, 0));
        for (i, l) in b.labels.iter().enumerate() {
            if i == Lab::Benign as usize {
                assert_eq!((&*l.name, l.detailed.is_none()), ("Benign", true));
            } else {
                assert_eq!(&*l.name, "Malicious");
            }
        }
        assert_eq!(
            b.labels[Lab::CncFileDownload as usize].detailed.as_deref(),
            Some("C&C-FileDownload")
        );
    }

    #[test]
    fn packet_counts_grow_with_payload() {
        let mut r = Rand::new(0, 0, 0);
        let (o, rp) = tcp_packets(&mut r, (75, 243), 1448);
        assert!((6..=8).contains(&o) && (5..=6).contains(&rp), "{o} {rp}");
        let (o, rp) = tcp_packets(&mut r, (100_000_000, 1_000_000), 1448);
        assert!(o > 69_000 && rp > 34_000, "{o} {rp}");
    }
}
