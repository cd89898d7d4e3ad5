//! Hosts: flows per originating host and input, per class and per label, in a table capped at
//! a configured number of hosts (hosts past the cap are counted, not tracked); the top talkers
//! of each class and each one's label mix are read from it, and so is "this host has malicious
//! flows" (and where its malicious flows go) for the label checks.

use std::collections::HashMap;
use std::net::IpAddr;

use iotguard_flow::FlowRecord;
use serde::Serialize;

use super::summary::{class_index, CLASSES};
use crate::topk::TopK;

/// One originating host of one input.
#[derive(Clone, Debug, Default)]
pub(crate) struct HostStat {
    /// Flows per class, as [`CLASSES`].
    pub(crate) flows: [u64; 4],
    /// Flows per label id (detailed label, else the label's name).
    pub(crate) labels: Vec<(u32, u64)>,
    /// The first and last malicious flow's time (ns).
    pub(crate) malicious_span: Option<(i64, i64)>,
    /// The external responders of the host's answered malicious flows, the heaviest kept (a C&C
    /// channel the labels name shows up here); `None` until the first such flow.
    pub(crate) malicious_external: Option<TopK<IpAddr>>,
    /// The same flows per external responder and port: whether a channel's malicious flows are
    /// on the port its benign ones use.
    pub(crate) malicious_external_ports: Option<TopK<(IpAddr, u16)>>,
}

/// How many external responders of a host's malicious flows are counted (Misra–Gries: any
/// responder with more than a seventeenth of them is kept).
const MALICIOUS_EXTERNAL_KEPT: usize = 16;

impl HostStat {
    /// The external endpoint that gets the most of the host's malicious flows, with (a lower
    /// bound of) their count.
    pub(crate) fn top_malicious_external(&self) -> Option<(IpAddr, u64)> {
        self.malicious_external
            .as_ref()
            .and_then(|t| t.top(1).into_iter().next())
    }
}

/// Originating hosts per input.
#[derive(Debug)]
pub(crate) struct HostTable {
    cap: usize,
    hosts: HashMap<(u32, IpAddr), HostStat>,
    /// Flows whose host was not tracked because the table was full.
    pub(crate) untracked_flows: u64,
}

impl HostTable {
    pub(crate) fn new(cap: usize) -> Self {
        HostTable {
            cap,
            hosts: HashMap::new(),
            untracked_flows: 0,
        }
    }

    /// Counts `rec` (whose label has id `label`, if labeled) for its originator.
    pub(crate) fn record(&mut self, input: u32, rec: &FlowRecord, label: Option<u32>) {
        let Some(h) = rec.orig_h else { return };
        let full = self.hosts.len() >= self.cap;
        let stat = match self.hosts.get_mut(&(input, h)) {
            Some(s) => s,
            None if full => {
                self.untracked_flows += 1;
                return;
            }
            None => self.hosts.entry((input, h)).or_default(),
        };
        let class = class_index(rec);
        stat.flows[class] += 1;
        // A channel is answered: a scan's unanswered attempts to thousands of addresses would
        // crowd it out of the sketch.
        let answered = !super::groups::unanswered(rec.conn_state.as_ref());
        if let (1, true, Some(r)) = (class, answered, rec.resp_h.filter(|r| external(*r))) {
            stat.malicious_external
                .get_or_insert_with(|| TopK::new(MALICIOUS_EXTERNAL_KEPT))
                .add(&r);
            if let Some(p) = rec.resp_p {
                stat.malicious_external_ports
                    .get_or_insert_with(|| TopK::new(MALICIOUS_EXTERNAL_KEPT))
                    .add(&(r, p));
            }
        }
        if class == 1 && !rec.untimed {
            let t = rec.ts.as_nanos();
            stat.malicious_span = Some(
                stat.malicious_span
                    .map_or((t, t), |(a, b)| (a.min(t), b.max(t))),
            );
        }
        if let Some(l) = label {
            match stat.labels.iter_mut().find(|x| x.0 == l) {
                Some(x) => x.1 += 1,
                None => stat.labels.push((l, 1)),
            }
        }
    }

    /// The host's counts, if tracked.
    pub(crate) fn get(&self, input: u32, h: IpAddr) -> Option<&HostStat> {
        self.hosts.get(&(input, h))
    }

    /// Whether every host was tracked.
    pub(crate) fn is_exact(&self) -> bool {
        self.untracked_flows == 0
    }

    /// The `top` hosts with the most flows of each class, with their label mix.
    pub(crate) fn report(&self, top: usize, inputs: &[String], labels: &[String]) -> Hosts {
        let mut talkers = Vec::new();
        for (c, class) in CLASSES.iter().enumerate() {
            let mut v: Vec<(&(u32, IpAddr), &HostStat)> =
                self.hosts.iter().filter(|(_, s)| s.flows[c] > 0).collect();
            v.sort_by(|a, b| b.1.flows[c].cmp(&a.1.flows[c]).then(a.0.cmp(b.0)));
            for (&(input, host), s) in v.into_iter().take(top) {
                let mut mix: Vec<(String, u64)> = s
                    .labels
                    .iter()
                    .map(|&(l, n)| (labels[l as usize].clone(), n))
                    .collect();
                mix.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                talkers.push(Talker {
                    class: class.to_string(),
                    host: host.to_string(),
                    input: inputs[input as usize].clone(),
                    flows: s.flows[c],
                    all_flows: s.flows.iter().sum(),
                    label_mix: mix,
                });
            }
        }
        Hosts {
            originators: self.hosts.len() as u64,
            exact: self.is_exact(),
            top_talkers: talkers,
        }
    }
}

/// The hosts section.
#[derive(Clone, Debug, Serialize)]
pub struct Hosts {
    /// Distinct (input, originator) pairs tracked.
    pub originators: u64,
    /// False when the table was full and some hosts' flows were not counted.
    pub exact: bool,
    /// The top talkers of each class, class by class, most flows first.
    pub top_talkers: Vec<Talker>,
}

/// One originator among the top talkers of a class.
#[derive(Clone, Debug, Serialize)]
pub struct Talker {
    /// The class it is a top talker of.
    pub class: String,
    /// Its address.
    pub host: String,
    /// The input.
    pub input: String,
    /// Its flows of that class.
    pub flows: u64,
    /// All its flows.
    pub all_flows: u64,
    /// Its flows per label (detailed label, else the label's name), most first.
    pub label_mix: Vec<(String, u64)>,
}

/// Whether an address is outside private, shared (CGNAT), local and multicast ranges.
pub(crate) fn external(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(a) => {
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast()
                || a.is_unspecified()
                || a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64)
        }
        std::net::IpAddr::V6(a) => {
            let s = a.segments()[0];
            !(a.is_loopback()
                || a.is_multicast()
                || a.is_unspecified()
                || (s & 0xfe00) == 0xfc00
                || (s & 0xffc0) == 0xfe80)
        }
    }
}
