//! The label checks' evidence, gathered in the one pass: per input, originator, protocol and
//! responder port (the finest set of flows a label-audit rule can name, with the state), flows
//! per class and state, and for its benign flows the responders, timing and rate; per group,
//! per-flow signatures of benign and malicious flows (to find look-alikes); per connection
//! tuple, the classes it carried.
//!
//! Memory is bounded: the group table, the responder sets, the signature sets and the tuple
//! table each stop growing at a configured size, and what was not tracked is counted so the
//! report can say the checks were partial. Timing assumes each input is in time order, as
//! Zeek writes conn logs; flows earlier than the previous one count as a gap of zero.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use iotguard_flow::{ConnState, FlowRecord, LabelClass, Protocol};

use crate::topk::TopK;

/// Where a group's flows go: one responder port, or every port (for floods that spread).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct GroupKey {
    pub(crate) input: u32,
    pub(crate) orig: IpAddr,
    pub(crate) proto: Protocol,
    /// `None`: every port of the host and protocol together.
    pub(crate) port: Option<u16>,
}

/// Benign flows' timing, in event time (ns).
#[derive(Clone, Debug, Default)]
pub(crate) struct Timing {
    pub(crate) first: i64,
    pub(crate) last: i64,
    pub(crate) max_gap: i64,
    /// Gaps by power of two of milliseconds: bin k holds gaps in [2^(k-1), 2^k) ms (bin 0: < 1 ms; the last holds longer ones).
    pub(crate) gaps: [u32; 32],
    /// The most flows that started within one second.
    pub(crate) peak_per_sec: u64,
    sec: i64,
    in_sec: u64,
}

impl Timing {
    fn add(&mut self, t: i64, first: bool) {
        if first {
            *self = Timing {
                first: t,
                last: t,
                sec: t.div_euclid(1_000_000_000),
                in_sec: 1,
                peak_per_sec: 1,
                ..Timing::default()
            };
            return;
        }
        let gap = (t - self.last).max(0);
        self.max_gap = self.max_gap.max(gap);
        let ms = gap / 1_000_000;
        let bin = if ms == 0 {
            0
        } else {
            (64 - ms.leading_zeros()) as usize
        };
        self.gaps[bin.min(31)] += 1;
        self.last = self.last.max(t);
        let sec = t.div_euclid(1_000_000_000);
        if sec == self.sec {
            self.in_sec += 1;
        } else {
            self.sec = sec;
            self.in_sec = 1;
        }
        self.peak_per_sec = self.peak_per_sec.max(self.in_sec);
    }

    /// The gap below which a share `q` of the gaps fall, to a power of two of milliseconds
    /// (the upper edge of its bin), in seconds.
    pub(crate) fn gap_quantile_secs(&self) -> impl Fn(f64) -> Option<f64> + '_ {
        move |q| {
            let total: u64 = self.gaps.iter().map(|&g| u64::from(g)).sum();
            if total == 0 {
                return None;
            }
            let mut acc = 0u64;
            for (k, &g) in self.gaps.iter().enumerate() {
                acc += u64::from(g);
                if acc as f64 >= q * total as f64 {
                    return Some((1u64 << k) as f64 / 1000.0);
                }
            }
            None
        }
    }
}

/// One group's counts.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    /// Flows per class: benign, malicious, other.
    pub(crate) class: [u64; 3],
    /// Flows per state (`None`: unset) and class.
    pub(crate) states: Vec<(Option<ConnState>, [u64; 3])>,
    /// Benign flows in an unanswered state (no reply, rejected or reset before an answer).
    pub(crate) benign_unanswered: u64,
    /// Benign flows' responders: the most frequent ones (exact below 16 distinct).
    pub(crate) benign_top_resp: TopK<IpAddr>,
    /// Distinct responders of benign flows (a lower bound when `resp_capped`).
    pub(crate) benign_resp: HashSet<u64>,
    pub(crate) resp_capped: bool,
    /// Benign flows' timing.
    pub(crate) timing: Timing,
    /// The first service a benign flow had.
    pub(crate) benign_service: Option<String>,
    /// Signatures of benign flows (responder and per-flow features).
    pub(crate) benign_sigs: HashSet<u64>,
    /// Signatures of malicious flows: per signature, its state's index in `states` and count.
    pub(crate) malicious_sigs: HashMap<u64, (usize, u64)>,
    /// Whether a signature could not be kept (budget spent): look-alike counts are partial.
    pub(crate) sigs_capped: bool,
}

impl Group {
    /// The benign flows' states with their counts, as evidence text: `"SF 12"`, `"- 3"` (unset).
    pub(crate) fn benign_states(&self) -> Vec<String> {
        self.states
            .iter()
            .filter(|(_, c)| c[0] > 0)
            .map(|(s, c)| {
                format!(
                    "{} {}",
                    s.as_ref().map_or("-", |s| s.as_str()),
                    crate::report::count(c[0])
                )
            })
            .collect()
    }

    fn new() -> Self {
        Group {
            class: [0; 3],
            states: Vec::new(),
            benign_unanswered: 0,
            benign_top_resp: TopK::new(16),
            benign_resp: HashSet::new(),
            resp_capped: false,
            timing: Timing::default(),
            benign_service: None,
            benign_sigs: HashSet::new(),
            malicious_sigs: HashMap::new(),
            sigs_capped: false,
        }
    }
}

/// Whether a state means the responder never answered (or rejected the attempt).
pub(crate) fn unanswered(s: Option<&ConnState>) -> bool {
    use ConnState::*;
    matches!(s, Some(S0 | REJ | RSTOS0 | RSTRH | SH | SHR))
}

/// The limits of the evidence tables.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    pub(crate) groups: usize,
    pub(crate) responders: usize,
    pub(crate) signatures: usize,
    pub(crate) tuples: usize,
}

/// Every group, and the tuple table.
#[derive(Debug)]
pub(crate) struct Groups {
    budget: Budget,
    pub(crate) index: HashMap<GroupKey, usize>,
    pub(crate) groups: Vec<Group>,
    responders: usize,
    signatures: usize,
    /// Per connection tuple hash: its group and flows per class (benign, malicious).
    pub(crate) tuples: HashMap<u64, (usize, [u32; 2])>,
    /// Labeled flows whose group or tuple was not tracked (a table was full).
    pub(crate) untracked_groups: u64,
    pub(crate) untracked_tuples: u64,
}

fn hash_of(v: impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

impl Groups {
    pub(crate) fn new(budget: Budget) -> Self {
        Groups {
            budget,
            index: HashMap::new(),
            groups: Vec::new(),
            responders: 0,
            signatures: 0,
            tuples: HashMap::new(),
            untracked_groups: 0,
            untracked_tuples: 0,
        }
    }

    fn slot(&mut self, key: GroupKey) -> Option<usize> {
        if let Some(&g) = self.index.get(&key) {
            return Some(g);
        }
        if self.groups.len() >= self.budget.groups {
            return None;
        }
        self.groups.push(Group::new());
        self.index.insert(key, self.groups.len() - 1);
        Some(self.groups.len() - 1)
    }

    /// Records a labeled flow of `input`; `flow_features` is its per-flow feature part.
    pub(crate) fn record(&mut self, input: u32, rec: &FlowRecord, flow_features: &[f32]) {
        let (Some(label), Some(orig)) = (&rec.label, rec.orig_h) else {
            return;
        };
        let class = match label.class {
            LabelClass::Benign => 0,
            LabelClass::Malicious => 1,
            LabelClass::Other => 2,
        };
        let proto = rec.proto.clone();
        let port_key = GroupKey {
            input,
            orig,
            proto: proto.clone(),
            port: rec.resp_p.filter(|_| rec.proto != Protocol::Icmp),
        };
        let all_key = GroupKey {
            input,
            orig,
            proto,
            port: None,
        };
        let sig = (class < 2).then(|| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            rec.resp_h.hash(&mut h);
            for v in flow_features {
                v.to_bits().hash(&mut h);
            }
            h.finish()
        });
        let mut tracked = None;
        for (k, key) in [port_key, all_key].into_iter().enumerate() {
            // ICMP and port-less flows have only the every-port group.
            if k == 0 && key.port.is_none() {
                continue;
            }
            let Some(g) = self.slot(key) else {
                self.untracked_groups += 1;
                continue;
            };
            if k == 0 || tracked.is_none() {
                tracked = Some(g);
            }
            self.update(g, rec, class, sig.filter(|_| k == 0));
        }
        if let (Some(g), true) = (tracked, class < 2) {
            let tuple = hash_of((
                input,
                rec.orig_h,
                rec.orig_p,
                rec.resp_h,
                rec.resp_p,
                rec.proto.as_str(),
            ));
            let full = self.tuples.len() >= self.budget.tuples;
            match self.tuples.get_mut(&tuple) {
                Some(t) => t.1[class] = t.1[class].saturating_add(1),
                None if full => self.untracked_tuples += 1,
                None => {
                    let mut c = [0u32; 2];
                    c[class] = 1;
                    self.tuples.insert(tuple, (g, c));
                }
            }
        }
    }

    fn update(&mut self, g: usize, rec: &FlowRecord, class: usize, sig: Option<u64>) {
        let group = &mut self.groups[g];
        group.class[class] += 1;
        let state_slot = match group.states.iter().position(|(s, _)| *s == rec.conn_state) {
            Some(i) => i,
            None => {
                group.states.push((rec.conn_state.clone(), [0; 3]));
                group.states.len() - 1
            }
        };
        group.states[state_slot].1[class] += 1;
        if class == 0 {
            let first = group.class[0] == 1;
            // An input without time gives no timing (no invented gaps, no invented beacons).
            if !rec.untimed {
                group.timing.add(rec.ts.as_nanos(), first);
            }
            if unanswered(rec.conn_state.as_ref()) {
                group.benign_unanswered += 1;
            }
            if group.benign_service.is_none() {
                group.benign_service = rec.service.as_deref().map(str::to_string);
            }
            if let Some(r) = rec.resp_h {
                group.benign_top_resp.add(&r);
                let h = hash_of(r);
                if !group.benign_resp.contains(&h) {
                    if self.responders < self.budget.responders {
                        group.benign_resp.insert(h);
                        self.responders += 1;
                    } else {
                        group.resp_capped = true;
                    }
                }
            }
        }
        if let Some(sig) = sig {
            let room = self.signatures < self.budget.signatures;
            let group = &mut self.groups[g];
            if class == 0 {
                if !group.benign_sigs.contains(&sig) {
                    if room {
                        group.benign_sigs.insert(sig);
                        self.signatures += 1;
                    } else {
                        group.sigs_capped = true;
                    }
                }
            } else if let Some(e) = group.malicious_sigs.get_mut(&sig) {
                e.1 += 1;
            } else if room {
                group.malicious_sigs.insert(sig, (state_slot, 1));
                self.signatures += 1;
            } else {
                group.sigs_capped = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_keeps_span_longest_gap_rate_and_gap_quantiles() {
        let mut t = Timing::default();
        let s = 1_000_000_000i64;
        // Every 3 s for 10 flows, then a 100 s silence, then 5 flows in one second.
        let mut times: Vec<i64> = (0..10).map(|i| i * 3 * s).collect();
        times.extend((0..5).map(|i| 127 * s + i * s / 10));
        for (i, &ts) in times.iter().enumerate() {
            t.add(ts, i == 0);
        }
        assert_eq!((t.first, t.last), (0, 127 * s + 4 * s / 10));
        assert_eq!(t.max_gap, 100 * s);
        assert_eq!(t.peak_per_sec, 5);
        let q = t.gap_quantile_secs();
        // Nine 3 s gaps (bin [2.048, 4.096) s), four 0.1 s gaps, one of 100 s.
        assert_eq!(q(0.5), Some(4.096));
        assert_eq!(q(0.2), Some(0.128));
        assert_eq!(q(1.0), Some(131.072));
    }

    #[test]
    fn unanswered_states() {
        assert!(unanswered(Some(&ConnState::S0)) && unanswered(Some(&ConnState::REJ)));
        assert!(!unanswered(Some(&ConnState::SF)) && !unanswered(None));
    }
}
