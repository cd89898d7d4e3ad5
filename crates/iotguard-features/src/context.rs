//! Network context beyond one host (issue 12 item 4): optional feature groups for the attack
//! families the per-host context misses, command-and-control beacons of unseen malware and
//! generic exploitation and brute-force flows over many hosts.
//!
//! - **`pair.*`** (per originator→responder pair): how many flows the pair has had, the gap since
//!   its previous flow, and the mean and coefficient of variation of the gaps between its flows
//!   (exact, since the pair was first seen). A beacon is a pair with many flows at regular gaps
//!   (CV near 0), which the per-host gaps blur when the host talks to others in between.
//! - **`dst.*`** (per responder, across the network): distinct originators that have contacted it
//!   (exact up to [`DST_ORIGS_CAP`], then saturated), flows to it, seconds since it was first seen,
//!   and whether it is a public address. A C&C server is a public destination one host talks to.
//! - **`port.*`** (per protocol and responder port): distinct originators and distinct responders
//!   on that port over the last [`PORT_WINDOW_SECS`] seconds (exact up to [`PORT_HOSTS_CAP`]). An
//!   exploitation or brute-force sweep is one port reaching many responders.
//! - **`service_port.*`** (per flow, no state): a recognised service on a port not conventional for it,
//!   a port whose conventional service differs from the one detected, and a port with a
//!   conventional service carrying payload both ways without any service detected.
//!
//! Every table is capped (least recently used evicted first) and drops entries idle for longer
//! than the configuration's idle timeout, judged against the current flow's `ts`, as the host
//! tables do. Update, then read: a flow's values include the flow itself.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

use iotguard_flow::{FlowRecord, Protocol};
use serde::{Deserialize, Serialize};

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
            ContextGroup::Pair => &["pair.flows", "pair.gap_s", "pair.gap_mean_s", "pair.gap_cv"],
            ContextGroup::Dst => &["dst.orig_hosts", "dst.flows", "dst.age_s", "dst.public"],
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

/// Distinct originators counted exactly per destination; more read as this many.
pub const DST_ORIGS_CAP: usize = 16;
/// Distinct hosts counted exactly per port and window; more read as this many.
pub const PORT_HOSTS_CAP: usize = 64;
/// The port fan-out window, in seconds.
pub const PORT_WINDOW_SECS: i64 = 60;
/// Most (protocol, port) entries kept (each at most about 2 KiB: 8 MiB in all).
pub const MAX_PORTS: usize = 4096;

const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Entry<K, V> {
    key: K,
    prev: u32,
    next: u32,
    /// The largest `ts` seen for the entry (ns).
    clock: i64,
    val: V,
}

/// A capped map with least-recently-used and idle eviction, as the host tables (an intrusive
/// list in order of use; the hash map's order never matters).
#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    index: HashMap<K, u32>,
    entries: Vec<Entry<K, V>>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    cap: usize,
    idle_ns: i64,
}

impl<K: Hash + Eq + Copy, V: Default> Lru<K, V> {
    pub(crate) fn new(cap: usize, idle_ns: i64) -> Self {
        Lru {
            index: HashMap::new(),
            entries: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            cap: cap.max(1),
            idle_ns,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn slots(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
        self.free.clear();
        self.head = NIL;
        self.tail = NIL;
    }

    fn unlink(&mut self, s: u32) {
        let (prev, next) = (self.entries[s as usize].prev, self.entries[s as usize].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
    }

    fn push_front(&mut self, s: u32) {
        self.entries[s as usize].prev = NIL;
        self.entries[s as usize].next = self.head;
        if self.head != NIL {
            self.entries[self.head as usize].prev = s;
        }
        self.head = s;
        if self.tail == NIL {
            self.tail = s;
        }
    }

    fn remove_tail(&mut self) -> u32 {
        let s = self.tail;
        self.unlink(s);
        let key = self.entries[s as usize].key;
        self.index.remove(&key);
        s
    }

    pub(crate) fn evict_idle(&mut self, now: i64) {
        let limit = now.saturating_sub(self.idle_ns);
        while self.tail != NIL && self.entries[self.tail as usize].clock < limit {
            let s = self.remove_tail();
            self.free.push(s);
        }
    }

    /// Returns the entry of `key` (fresh if new), its clock before this flow (`None` if new),
    /// and moves its clock to `max(clock, ts)`.
    pub(crate) fn touch(&mut self, key: K, ts: i64) -> (&mut V, Option<i64>) {
        let (s, before) = match self.index.get(&key) {
            Some(&s) => {
                self.unlink(s);
                let e = &mut self.entries[s as usize];
                let before = e.clock;
                e.clock = e.clock.max(ts);
                (s, Some(before))
            }
            None => {
                let s = if let Some(s) = self.free.pop() {
                    s
                } else if self.entries.len() < self.cap {
                    self.entries.push(Entry {
                        key,
                        prev: NIL,
                        next: NIL,
                        clock: ts,
                        val: V::default(),
                    });
                    (self.entries.len() - 1) as u32
                } else {
                    self.remove_tail()
                };
                let e = &mut self.entries[s as usize];
                e.key = key;
                e.clock = ts;
                e.val = V::default();
                self.index.insert(key, s);
                (s, None)
            }
        };
        self.push_front(s);
        (&mut self.entries[s as usize].val, before)
    }
}

/// A pair's gaps: count of flows, and Welford sums of the gaps between them.
#[derive(Clone, Copy, Debug, Default)]
struct PairState {
    flows: u64,
    gaps: u64,
    mean: f64,
    m2: f64,
}

#[derive(Clone, Copy, Debug, Default)]
struct DstState {
    first: i64,
    flows: u64,
    n_origs: u8,
    origs: [u64; DST_ORIGS_CAP],
}

/// Hosts seen on a port, with the time each was last seen.
#[derive(Clone, Debug, Default)]
struct Recent {
    seen: Vec<(u64, i64)>,
}

impl Recent {
    /// Records `h` at `ts` and returns how many distinct hosts were seen in `(ts − window, ts]`
    /// (this one included), at most [`PORT_HOSTS_CAP`].
    fn add(&mut self, h: u64, ts: i64, window: i64) -> usize {
        let since = ts.saturating_sub(window);
        self.seen.retain(|&(_, t)| t > since);
        match self.seen.iter_mut().find(|(k, _)| *k == h) {
            Some(e) => e.1 = e.1.max(ts),
            None => {
                if self.seen.len() == PORT_HOSTS_CAP {
                    // Full: forget the host seen longest ago (ties: the first).
                    let oldest = (0..self.seen.len())
                        .min_by_key(|&i| self.seen[i].1)
                        .unwrap_or(0);
                    self.seen.swap_remove(oldest);
                }
                self.seen.push((h, ts));
            }
        }
        self.seen.len()
    }
}

#[derive(Clone, Debug, Default)]
struct PortState {
    origs: Recent,
    resps: Recent,
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
                    p.flows += 1;
                    let gap = before.map(|c| ts.saturating_sub(c).max(0) as f64 * 1e-9);
                    if let Some(g) = gap {
                        p.gaps += 1;
                        let d = g - p.mean;
                        p.mean += d / p.gaps as f64;
                        p.m2 += d * (g - p.mean);
                    }
                    put(p.flows as f64);
                    put(gap.unwrap_or(nan));
                    put(if p.gaps >= 1 { p.mean } else { nan });
                    put(if p.gaps >= 2 && p.mean > 0.0 {
                        (p.m2 / p.gaps as f64).max(0.0).sqrt() / p.mean
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
                    d.flows += 1;
                    if let Some(o) = rec.orig_h.map(hash_addr) {
                        let n = d.n_origs as usize;
                        if n < DST_ORIGS_CAP && !d.origs[..n].contains(&o) {
                            d.origs[n] = o;
                            d.n_origs += 1;
                        }
                    }
                    put(f64::from(d.n_origs));
                    put(d.flows as f64);
                    put(ts.saturating_sub(d.first).max(0) as f64 * 1e-9);
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
