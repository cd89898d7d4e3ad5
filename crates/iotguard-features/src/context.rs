//! Network context beyond one host (issue 12 item 4): optional feature groups for the attack
//! families the per-host context misses, command-and-control beacons of unseen malware and
//! generic exploitation and brute-force flows over many hosts.
//!
//! - **`pair.*`** (per originator→responder pair): its flows over about the last
//!   [`CONTEXT_HORIZON_SECS`] (a count damped with that half-life), the gap since its previous
//!   flow, and the mean and coefficient of variation of the gaps between its flows (weighted,
//!   each earlier gap's weight damped with the same half-life). A beacon is a pair with many
//!   flows at regular gaps (CV near 0), which the per-host gaps blur when the host talks to
//!   others in between.
//! - **`dst.*`** (per responder, across the network): distinct originators that contacted it over
//!   the last [`CONTEXT_HORIZON_SECS`] (exact up to [`DST_ORIGS_CAP`], then saturated), its flows
//!   (damped count), seconds since it was first seen (capped at the horizon), and whether it is a
//!   public address. A C&C server is a public destination one host talks to.
//! - **`port.*`** (per protocol and responder port): distinct originators and distinct responders
//!   on that port over the last [`PORT_WINDOW_SECS`] seconds (exact up to [`PORT_HOSTS_CAP`]). An
//!   exploitation or brute-force sweep is one port reaching many responders.
//! - **`service_port.*`** (per flow, no state): a recognised service on a port not conventional for it,
//!   a port whose conventional service differs from the one detected, and a port with a
//!   conventional service carrying payload both ways without any service detected.
//!
//! **Stationary over long streams**: no value counts from the start of the stream. Counts and
//! gap statistics are damped, distinct counts windowed, the age capped, so a stream of days has the same value
//! ranges as a capture of an hour once it is [`CONTEXT_HORIZON_SECS`] or so old. (Cumulative
//! counts and ages grew with the stream's length, and the drift monitor flagged them long before
//! the network changed; so did the gaps' coefficient of variation when it was exact over all of a
//! pair's gaps, its sample growing with the stream.) A gap is at most the idle timeout, after
//! which a pair is forgotten.
//!
//! Every table is a capped [`Lru`] (least recently used evicted first) that drops entries idle
//! for longer than the configuration's idle timeout, judged against the current flow's `ts`, as
//! the host tables do. Update, then read: a flow's values include the flow itself.

use std::net::IpAddr;

use iotguard_flow::{FlowRecord, Protocol};
use serde::{Deserialize, Serialize};

use crate::lru::Lru;
use crate::window::hash_addr;

/// An optional group of network-context features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContextGroup {
    /// `pair.*`: per originator→responder pair periodicity and regularity (beacons).
    Pair,
    /// `dst.*`: destination rarity and novelty across the network.
    Dst,
    /// `port.*`: per responder port fan-out over hosts in a window.
    Port,
    /// `service_port.*`: service/port mismatch flags.
    Service,
}

impl ContextGroup {
    /// Every group, in schema order.
    pub const ALL: [ContextGroup; 4] = [
        ContextGroup::Pair,
        ContextGroup::Dst,
        ContextGroup::Port,
        ContextGroup::Service,
    ];

    /// The group's name (`pair`, `dst`, `port`, `service`), its features' prefix.
    pub fn name(self) -> &'static str {
        match self {
            ContextGroup::Pair => "pair",
            ContextGroup::Dst => "dst",
            ContextGroup::Port => "port",
            ContextGroup::Service => "service",
        }
    }

    /// The group's feature names, in vector order.
    pub fn feature_names(self) -> &'static [&'static str] {
        match self {
            ContextGroup::Pair => &[
                "pair.flows_10m",
                "pair.gap_s",
                "pair.gap_mean_s",
                "pair.gap_cv",
            ],
            ContextGroup::Dst => &[
                "dst.orig_hosts_10m",
                "dst.flows_10m",
                "dst.age_10m_s",
                "dst.public",
            ],
            ContextGroup::Port => &["port.orig_hosts_1m", "port.resp_hosts_1m"],
            ContextGroup::Service => &[
                "service_port.odd_port",
                "service_port.mismatch",
                "service_port.none_detected",
            ],
        }
    }
}

impl std::str::FromStr for ContextGroup {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ContextGroup::ALL
            .into_iter()
            .find(|g| g.name() == s)
            .ok_or_else(|| format!("unknown feature group {s:?} (pair, dst, port, service)"))
    }
}

impl std::fmt::Display for ContextGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The horizon of the destination and pair features that would otherwise grow with the
/// stream's length, in seconds: the half-life of the damped flow counts, the window of a
/// destination's distinct originators, and the cap of its age.
pub const CONTEXT_HORIZON_SECS: i64 = 600;
/// Distinct originators counted exactly per destination and horizon; more read as this many.
pub const DST_ORIGS_CAP: usize = 16;
/// Distinct hosts counted exactly per port and window; more read as this many.
pub const PORT_HOSTS_CAP: usize = 64;
/// The port fan-out window, in seconds.
pub const PORT_WINDOW_SECS: i64 = 60;
/// Most (protocol, port) entries kept (each at most about 2 KiB: 8 MiB in all).
pub const MAX_PORTS: usize = 4096;

/// A pair's damped flow count, and damped weighted mean and sum of squared deviations of the
/// gaps between its flows (`w`: their damped weight; `gaps`: how many, for the minimum counts).
#[derive(Clone, Copy, Debug, Default)]
struct PairState {
    flows: f64,
    gaps: u64,
    w: f64,
    mean: f64,
    m2: f64,
}

#[derive(Clone, Copy, Debug, Default)]
struct DstState {
    first: i64,
    flows: f64,
    origs: Recent<DST_ORIGS_CAP>,
}

/// Adds one flow to a count damped with half-life [`CONTEXT_HORIZON_SECS`], last updated
/// `dt_ns` before this flow (0 for a flow written out of order: no decay).
fn damped_add(count: f64, dt_ns: i64) -> f64 {
    let dt = dt_ns.max(0) as f64 * 1e-9;
    count * (-dt / CONTEXT_HORIZON_SECS as f64).exp2() + 1.0
}

/// Distinct hosts seen recently, with the time each was last seen (at most `N`: when full, the
/// host seen longest ago is forgotten for a new one).
#[derive(Clone, Copy, Debug)]
struct Recent<const N: usize> {
    seen: [(u64, i64); N],
    len: usize,
}

impl<const N: usize> Default for Recent<N> {
    fn default() -> Self {
        Recent {
            seen: [(0, 0); N],
            len: 0,
        }
    }
}

impl<const N: usize> Recent<N> {
    /// Records `h` at `ts` and returns how many distinct hosts were seen in `(ts − window, ts]`
    /// (this one included), at most `N`.
    fn add(&mut self, h: u64, ts: i64, window: i64) -> usize {
        let since = ts.saturating_sub(window);
        // Keep the hosts seen in the window, in order.
        let mut kept = 0;
        for i in 0..self.len {
            if self.seen[i].1 > since {
                self.seen[kept] = self.seen[i];
                kept += 1;
            }
        }
        self.len = kept;
        let seen = &mut self.seen[..self.len];
        match seen.iter_mut().find(|(k, _)| *k == h) {
            Some(e) => e.1 = e.1.max(ts),
            None => {
                if self.len == N {
                    // Full: forget the host seen longest ago (ties: the first), moving the
                    // last into its place.
                    let oldest = (0..self.len).min_by_key(|&i| self.seen[i].1).unwrap_or(0);
                    self.seen[oldest] = self.seen[self.len - 1];
                    self.len -= 1;
                }
                self.seen[self.len] = (h, ts);
                self.len += 1;
            }
        }
        self.len
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct PortState {
    origs: Recent<PORT_HOSTS_CAP>,
    resps: Recent<PORT_HOSTS_CAP>,
}

/// The state of the enabled context groups.
#[derive(Debug)]
pub(crate) struct Context {
    groups: [bool; 4],
    width: usize,
    pairs: Lru<(IpAddr, IpAddr), PairState>,
    dsts: Lru<IpAddr, DstState>,
    ports: Lru<(u8, u16), PortState>,
}

impl Context {
    pub(crate) fn new(groups: &[ContextGroup], max_entries: usize, idle_ns: i64) -> Context {
        let on: [bool; 4] = std::array::from_fn(|i| groups.contains(&ContextGroup::ALL[i]));
        let width = ContextGroup::ALL
            .iter()
            .zip(on)
            .filter(|(_, o)| *o)
            .map(|(g, _)| g.feature_names().len())
            .sum();
        Context {
            groups: on,
            width,
            pairs: Lru::new(max_entries, idle_ns),
            dsts: Lru::new(max_entries, idle_ns),
            ports: Lru::new(MAX_PORTS.min(max_entries), idle_ns),
        }
    }

    /// Appends the enabled groups' names, in schema order.
    pub(crate) fn names(groups: &[ContextGroup], out: &mut Vec<String>) {
        for g in ContextGroup::ALL {
            if groups.contains(&g) {
                out.extend(g.feature_names().iter().map(|s| s.to_string()));
            }
        }
    }

    pub(crate) fn width(&self) -> usize {
        self.width
    }

    /// Entries held per table: pairs, destinations, ports.
    pub(crate) fn lens(&self) -> [usize; 3] {
        [self.pairs.len(), self.dsts.len(), self.ports.len()]
    }

    /// Slots allocated per table (never above the caps).
    pub(crate) fn slots(&self) -> [usize; 3] {
        [self.pairs.slots(), self.dsts.slots(), self.ports.slots()]
    }

    pub(crate) fn clear(&mut self) {
        self.pairs.clear();
        self.dsts.clear();
        self.ports.clear();
    }

    /// Updates the enabled groups with `rec` and writes their features into `out`
    /// ([`width`](Context::width) long). `timed`: whether the flow has a time; an untimed flow
    /// leaves the tables alone and has its stateful features missing.
    pub(crate) fn update_and_read(&mut self, rec: &FlowRecord, timed: bool, out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.width);
        let ts = rec.ts.as_nanos();
        let mut i = 0;
        let mut put = |v: f64| {
            out[i] = v as f32;
            i += 1;
        };
        let nan = f64::NAN;
        if self.groups[0] {
            match (rec.orig_h, rec.resp_h) {
                (Some(o), Some(r)) if timed => {
                    self.pairs.evict_idle(ts);
                    let (p, before) = self.pairs.touch((o, r), ts);
                    p.flows = damped_add(p.flows, before.map_or(0, |c| ts.saturating_sub(c)));
                    let gap = before.map(|c| ts.saturating_sub(c).max(0) as f64 * 1e-9);
                    if let Some(g) = gap {
                        // West's weighted incremental mean and variance, the earlier gaps'
                        // weights damped as the flow count (a constant gap keeps M2 at 0).
                        let decay = (-g / CONTEXT_HORIZON_SECS as f64).exp2();
                        p.gaps += 1;
                        p.w = p.w * decay + 1.0;
                        p.m2 *= decay;
                        let d = g - p.mean;
                        p.mean += d / p.w;
                        p.m2 += d * (g - p.mean);
                    }
                    put(p.flows);
                    put(gap.unwrap_or(nan));
                    put(if p.gaps >= 1 { p.mean } else { nan });
                    put(if p.gaps >= 2 && p.mean > 0.0 {
                        (p.m2 / p.w).max(0.0).sqrt() / p.mean
                    } else {
                        nan
                    });
                }
                _ => (0..4).for_each(|_| put(nan)),
            }
        }
        if self.groups[1] {
            match rec.resp_h {
                Some(r) if timed => {
                    self.dsts.evict_idle(ts);
                    let (d, before) = self.dsts.touch(r, ts);
                    if before.is_none() {
                        d.first = ts;
                    }
                    d.flows = damped_add(d.flows, before.map_or(0, |c| ts.saturating_sub(c)));
                    let horizon = CONTEXT_HORIZON_SECS * 1_000_000_000;
                    let origs = rec.orig_h.map(|o| d.origs.add(hash_addr(o), ts, horizon));
                    put(origs.map_or(nan, |n| n as f64));
                    put(d.flows);
                    put(ts.saturating_sub(d.first).clamp(0, horizon) as f64 * 1e-9);
                    put(if is_public(r) { 1.0 } else { 0.0 });
                }
                Some(r) => {
                    (0..3).for_each(|_| put(nan));
                    put(if is_public(r) { 1.0 } else { 0.0 });
                }
                None => (0..4).for_each(|_| put(nan)),
            }
        }
        if self.groups[2] {
            let port = rec.resp_p.filter(|_| rec.proto != Protocol::Icmp);
            match port {
                Some(p) if timed => {
                    self.ports.evict_idle(ts);
                    let (s, _) = self.ports.touch((proto_code(&rec.proto), p), ts);
                    let w = PORT_WINDOW_SECS * 1_000_000_000;
                    let o = rec.orig_h.map(|h| s.origs.add(hash_addr(h), ts, w));
                    let r = rec.resp_h.map(|h| s.resps.add(hash_addr(h), ts, w));
                    put(o.map_or(nan, |n| n as f64));
                    put(r.map_or(nan, |n| n as f64));
                }
                _ => (0..2).for_each(|_| put(nan)),
            }
        }
        if self.groups[3] {
            let [odd, mismatch, none] = service_flags(rec);
            put(odd);
            put(mismatch);
            put(none);
        }
        debug_assert_eq!(i, self.width);
    }
}

fn proto_code(p: &Protocol) -> u8 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Icmp => 1,
        _ => 0,
    }
}

/// Whether an address is a public (globally routed) unicast address: not private, loopback,
/// link-local, multicast, broadcast, unspecified, shared (100.64/10), documentation, unique
/// local (fc00::/7) or an IPv4-mapped private one.
pub(crate) fn is_public(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => {
            let o = v.octets();
            !(v.is_private()
                || v.is_loopback()
                || v.is_link_local()
                || v.is_multicast()
                || v.is_broadcast()
                || v.is_unspecified()
                || v.is_documentation()
                || o[0] == 0
                || o[0] >= 240
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v) => match v.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let s = v.segments();
                !(v.is_loopback()
                    || v.is_unspecified()
                    || v.is_multicast()
                    || (s[0] & 0xfe00) == 0xfc00
                    || (s[0] & 0xffc0) == 0xfe80
                    || s[0] == 0x2001 && s[1] == 0x0db8)
            }
        },
    }
}

/// Recognised services (Zeek analyzer names) and the ports conventional for them.
const CONVENTIONAL: [(&str, &[u16]); 13] = [
    ("dns", &[53, 5353, 5355, 853]),
    ("http", &[80, 8080, 8000, 8008, 8081, 8888, 3128, 591]),
    (
        "ssl",
        &[443, 8443, 993, 995, 465, 636, 853, 5223, 8883, 5061, 3389],
    ),
    ("ssh", &[22, 2222]),
    ("dhcp", &[67, 68]),
    ("ntp", &[123]),
    (
        "irc",
        &[
            194, 6660, 6661, 6662, 6663, 6664, 6665, 6666, 6667, 6668, 6669, 7000,
        ],
    ),
    ("ftp", &[21]),
    ("smtp", &[25, 587, 465]),
    ("snmp", &[161, 162]),
    ("sip", &[5060, 5061]),
    ("mqtt", &[1883, 8883]),
    ("quic", &[443]),
];

/// Ports with a conventional service Zeek does not name (telnet) are "known" too.
const KNOWN_UNNAMED: [u16; 2] = [23, 2323];

/// `[odd_port, port_mismatch, none_on_known_port]` for a flow (0 or 1 each; `NaN` without a
/// responder port, or for ICMP).
pub(crate) fn service_flags(rec: &FlowRecord) -> [f64; 3] {
    let Some(port) = rec.resp_p.filter(|_| rec.proto != Protocol::Icmp) else {
        return [f64::NAN; 3];
    };
    let port_known =
        CONVENTIONAL.iter().any(|(_, ps)| ps.contains(&port)) || KNOWN_UNNAMED.contains(&port);
    let mut recognised = false;
    let mut odd = false;
    let mut fits_port = false;
    let mut any = false;
    if let Some(s) = &rec.service {
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            any = true;
            if let Some((_, ps)) = CONVENTIONAL
                .iter()
                .find(|(n, _)| part.eq_ignore_ascii_case(n))
            {
                recognised = true;
                if ps.contains(&port) {
                    fits_port = true;
                } else {
                    odd = true;
                }
            }
        }
    }
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let mismatch = recognised && port_known && !fits_port;
    let payload_both = rec.orig_bytes.unwrap_or(0) > 0 && rec.resp_bytes.unwrap_or(0) > 0;
    let none = !any && port_known && payload_both;
    [flag(odd && !fits_port), flag(mismatch), flag(none)]
}
