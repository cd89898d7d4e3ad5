//! What each input holds, per label class: flows, time span, detailed labels, hosts, protocols,
//! services, connection states and responder ports, counted in one pass in bounded memory.
//!
//! Counts of categories (protocols, services, states, labels) are exact: there are few. Hosts
//! and ports can be millions (a scan), so the top ones come from [`TopK`] and distinct hosts are
//! counted exactly up to [`DISTINCT_CAP`], past which the figure is a lower bound and says so.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use iotguard_flow::{FlowRecord, Timestamp};
use serde::Serialize;

use crate::topk::TopK;

/// Distinct hosts are counted exactly up to this many per class and input.
pub const DISTINCT_CAP: usize = 100_000;
/// How many keys each top table tracks.
const TOP_CAPACITY: usize = 4_096;

/// The classes a flow is counted under, in report order.
pub const CLASSES: [&str; 4] = ["benign", "malicious", "other", "unlabeled"];

/// Returns the index in [`CLASSES`] of a record's class.
pub(crate) fn class_index(rec: &FlowRecord) -> usize {
    match rec.label.as_ref().map(|l| l.class) {
        Some(iotguard_flow::LabelClass::Benign) => 0,
        Some(iotguard_flow::LabelClass::Malicious) => 1,
        Some(iotguard_flow::LabelClass::Other) => 2,
        None => 3,
    }
}

/// Counts for one class of one input (or of every input).
#[derive(Clone, Debug)]
pub(crate) struct ClassCounter {
    flows: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    detailed: BTreeMap<String, u64>,
    protocols: BTreeMap<String, u64>,
    services: BTreeMap<String, u64>,
    states: BTreeMap<String, u64>,
    ports: TopK<u32>,
    orig: TopK<IpAddr>,
    orig_seen: Distinct,
    resp_seen: Distinct,
}

/// Exact distinct count up to [`DISTINCT_CAP`].
#[derive(Clone, Debug, Default)]
struct Distinct {
    set: HashSet<IpAddr>,
    capped: bool,
}

impl Distinct {
    fn add(&mut self, h: IpAddr) {
        if self.set.len() < DISTINCT_CAP {
            self.set.insert(h);
        } else if !self.set.contains(&h) {
            self.capped = true;
        }
    }

    fn merge(&mut self, other: &Distinct) {
        for h in &other.set {
            self.add(*h);
        }
        self.capped |= other.capped;
    }

    fn count(&self) -> Count {
        Count {
            n: self.set.len() as u64,
            exact: !self.capped,
        }
    }
}

/// A count that may be a lower bound.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Count {
    /// The count.
    pub n: u64,
    /// False when the count stopped at its cap (the true figure is larger).
    pub exact: bool,
}

impl Default for ClassCounter {
    fn default() -> Self {
        ClassCounter {
            flows: 0,
            first: None,
            last: None,
            detailed: BTreeMap::new(),
            protocols: BTreeMap::new(),
            services: BTreeMap::new(),
            states: BTreeMap::new(),
            ports: TopK::new(TOP_CAPACITY),
            orig: TopK::new(TOP_CAPACITY),
            orig_seen: Distinct::default(),
            resp_seen: Distinct::default(),
        }
    }
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    if let Some(c) = map.get_mut(key) {
        *c += 1;
    } else {
        map.insert(key.to_string(), 1);
    }
}

fn merge_map(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

const PROTO_NAMES: [&str; 4] = ["tcp", "udp", "icmp", "other"];

/// A responder port as a small key: protocol, whether set, port.
fn port_key(rec: &FlowRecord) -> u32 {
    let proto = match rec.proto {
        iotguard_flow::Protocol::Tcp => 0,
        iotguard_flow::Protocol::Udp => 1,
        iotguard_flow::Protocol::Icmp => 2,
        _ => 3,
    };
    (proto << 17) | rec.resp_p.map_or(0, |p| (1 << 16) | u32::from(p))
}

/// A port key as reports name it: `tcp/23`, `udp/123`, `icmp/3` (ICMP code), `other/-`.
fn port_name(key: u32) -> String {
    let proto = PROTO_NAMES[(key >> 17) as usize & 3];
    if key & (1 << 16) != 0 {
        format!("{proto}/{}", key & 0xffff)
    } else {
        format!("{proto}/-")
    }
}

impl ClassCounter {
    pub(crate) fn record(&mut self, rec: &FlowRecord) {
        self.flows += 1;
        if !rec.untimed {
            self.first = Some(self.first.map_or(rec.ts, |t| t.min(rec.ts)));
            self.last = Some(self.last.map_or(rec.ts, |t| t.max(rec.ts)));
        }
        if let Some(l) = &rec.label {
            bump(
                &mut self.detailed,
                l.detailed.as_deref().unwrap_or(l.name.as_ref()),
            );
        }
        bump(&mut self.protocols, rec.proto.as_str());
        bump(&mut self.services, rec.service.as_deref().unwrap_or("-"));
        bump(
            &mut self.states,
            rec.conn_state.as_ref().map_or("-", |s| s.as_str()),
        );
        self.ports.add(&port_key(rec));
        if let Some(h) = rec.orig_h {
            self.orig.add(&h);
            self.orig_seen.add(h);
        }
        if let Some(h) = rec.resp_h {
            self.resp_seen.add(h);
        }
    }

    pub(crate) fn merge(&mut self, o: &ClassCounter) {
        self.flows += o.flows;
        self.first = min_opt(self.first, o.first);
        self.last = max_opt(self.last, o.last);
        merge_map(&mut self.detailed, &o.detailed);
        merge_map(&mut self.protocols, &o.protocols);
        merge_map(&mut self.services, &o.services);
        merge_map(&mut self.states, &o.states);
        self.ports.merge(&o.ports);
        self.orig.merge(&o.orig);
        self.orig_seen.merge(&o.orig_seen);
        self.resp_seen.merge(&o.resp_seen);
    }

    fn finish(&self, top: usize) -> ClassSummary {
        ClassSummary {
            flows: self.flows,
            first: self.first.map(Timestamp::to_rfc3339),
            last: self.last.map(Timestamp::to_rfc3339),
            detailed_labels: self.detailed.clone(),
            protocols: self.protocols.clone(),
            services: self.services.clone(),
            conn_states: self.states.clone(),
            top_resp_ports: self
                .ports
                .top(top)
                .into_iter()
                .map(|(k, c)| (port_name(k), c))
                .collect(),
            top_orig_hosts: self
                .orig
                .top(top)
                .into_iter()
                .map(|(h, c)| (h.to_string(), c))
                .collect(),
            top_exact: self.ports.is_exact() && self.orig.is_exact(),
            originators: self.orig_seen.count(),
            responders: self.resp_seen.count(),
        }
    }
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// One input's (or every input's) counts per class.
#[derive(Clone, Debug, Default)]
pub(crate) struct InputCounter {
    classes: [ClassCounter; 4],
    all: ClassCounter,
}

impl InputCounter {
    pub(crate) fn record(&mut self, rec: &FlowRecord) {
        self.classes[class_index(rec)].record(rec);
        self.all.record(rec);
    }

    pub(crate) fn merge(&mut self, o: &InputCounter) {
        for (a, b) in self.classes.iter_mut().zip(&o.classes) {
            a.merge(b);
        }
        self.all.merge(&o.all);
    }

    pub(crate) fn finish(&self, input: &str, bad_records: u64, top: usize) -> InputSummary {
        let all = self.all.finish(top);
        let span_secs = match (self.all.first, self.all.last) {
            (Some(a), Some(b)) => (b.as_nanos() - a.as_nanos()) as f64 / 1e9,
            _ => 0.0,
        };
        InputSummary {
            input: input.to_string(),
            flows: self.all.flows,
            bad_records,
            span_secs,
            all,
            classes: CLASSES
                .iter()
                .zip(&self.classes)
                .filter(|(_, c)| c.flows > 0)
                .map(|(name, c)| (name.to_string(), c.finish(top)))
                .collect(),
        }
    }
}

/// What one input (or every input, `all`) holds.
#[derive(Clone, Debug, Serialize)]
pub struct InputSummary {
    /// The input's name (`all` for every input together).
    pub input: String,
    /// Flows read.
    pub flows: u64,
    /// Records rejected as malformed.
    pub bad_records: u64,
    /// Seconds from the first flow to the last.
    pub span_secs: f64,
    /// Every flow's figures.
    pub all: ClassSummary,
    /// The same per class (`benign`, `malicious`, `other`, `unlabeled`), classes with flows only.
    pub classes: BTreeMap<String, ClassSummary>,
}

/// The figures of one class of flows.
#[derive(Clone, Debug, Serialize)]
pub struct ClassSummary {
    /// Flows.
    pub flows: u64,
    /// The first flow's time, RFC 3339 UTC.
    pub first: Option<String>,
    /// The last flow's time.
    pub last: Option<String>,
    /// Flows per detailed label (the label's name where it has none).
    pub detailed_labels: BTreeMap<String, u64>,
    /// Flows per transport protocol.
    pub protocols: BTreeMap<String, u64>,
    /// Flows per service (`-` unset).
    pub services: BTreeMap<String, u64>,
    /// Flows per connection state (`-` unset).
    pub conn_states: BTreeMap<String, u64>,
    /// The most frequent responder ports (`tcp/23`).
    pub top_resp_ports: Vec<(String, u64)>,
    /// The most frequent originators.
    pub top_orig_hosts: Vec<(String, u64)>,
    /// False when the top tables overflowed (counts are then lower bounds).
    pub top_exact: bool,
    /// Distinct originating addresses.
    pub originators: Count,
    /// Distinct responding addresses.
    pub responders: Count,
}
