//! A source's alerting flows that form no pattern yet, tallied per pair (destination, port),
//! per destination host and per port, and the test that promotes the flows starting to form
//! one into a typed incident of their own.
//!
//! Everything here is bounded: at most `max_peers` pairs per source (flows of further pairs are
//! counted in the source's unclassified incident and never promoted), at most `max_uids` uids
//! per pair and 16 × `max_uids` per source.

use std::collections::HashMap;
use std::net::IpAddr;

use compact_str::CompactString;
use iotguard_flow::{FlowRecord, Protocol, Timestamp};

use crate::config::DetectConfig;
use crate::risk::AttackType;
use crate::typing::{
    is_auth, is_beacon, is_brute_force, is_exfiltration, is_flood, Agg, SCAN_MIN_TARGETS,
    SCAN_PAIR_MAX_FLOWS,
};

/// A destination and port.
pub(crate) type PairKey = (Option<IpAddr>, Option<u16>);

/// One pair's flows.
#[derive(Debug)]
pub(crate) struct PairEntry {
    pub(crate) agg: Agg,
    pub(crate) uids: Vec<CompactString>,
    pub(crate) proto: Protocol,
    pub(crate) service: Option<CompactString>,
    pub(crate) src_port: Option<u16>,
}

impl PairEntry {
    fn new(rec: &FlowRecord) -> PairEntry {
        PairEntry {
            agg: Agg::new(rec.ts),
            uids: Vec::new(),
            proto: rec.proto.clone(),
            service: rec.service.clone(),
            src_port: rec.orig_p,
        }
    }
}

/// The flows against one destination host.
#[derive(Debug)]
struct DstTally {
    agg: Agg,
    /// Distinct ports tried on it.
    ports: u32,
}

/// What a source's unclassified flows started to form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Promotion {
    /// One pair's flows: a beacon, brute force or exfiltration.
    Pair(AttackType, Option<IpAddr>, Option<u16>),
    /// The flows against one host: a flood.
    Flood(Option<IpAddr>),
    /// The few-flow pairs on one port: a horizontal scan.
    HorizontalScan(Option<u16>),
    /// The few-flow pairs on one host: a vertical scan.
    VerticalScan(Option<IpAddr>),
}

impl Promotion {
    /// Returns the attack type of the incident the flows move to.
    pub(crate) fn attack(self) -> AttackType {
        match self {
            Promotion::Pair(t, _, _) => t,
            Promotion::Flood(_) => AttackType::Flood,
            Promotion::HorizontalScan(_) => AttackType::HorizontalScan,
            Promotion::VerticalScan(_) => AttackType::VerticalScan,
        }
    }
}

/// A source's untyped flows.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pairs: HashMap<PairKey, PairEntry>,
    dsts: HashMap<Option<IpAddr>, DstTally>,
    /// Distinct destinations per port.
    ports: HashMap<Option<u16>, u32>,
    /// Uids kept over all pairs.
    uid_count: usize,
}

/// A source's untyped flows keep at most this many times `max_uids` uids over all their pairs
/// (each pair at most `max_uids`), so a host with a thousand odd pairs costs kilobytes.
const PENDING_UID_FACTOR: usize = 16;

impl Pending {
    /// Tallies an alerting flow and returns the pattern its pair, host or port now forms.
    pub(crate) fn add(
        &mut self,
        rec: &FlowRecord,
        score: f32,
        config: &DetectConfig,
    ) -> Option<Promotion> {
        let key = (rec.resp_h, rec.resp_p);
        let is_new = !self.pairs.contains_key(&key);
        if is_new && self.pairs.len() >= config.max_peers {
            return None;
        }
        let pair = self.pairs.entry(key).or_insert_with(|| PairEntry::new(rec));
        pair.agg.add(rec, score);
        if pair.uids.len() < config.max_uids
            && self.uid_count < config.max_uids.saturating_mul(PENDING_UID_FACTOR)
        {
            if let Some(uid) = &rec.uid {
                pair.uids.push(uid.clone());
                self.uid_count += 1;
            }
        }
        let dst = self.dsts.entry(rec.resp_h).or_insert_with(|| DstTally {
            agg: Agg::new(rec.ts),
            ports: 0,
        });
        dst.agg.add(rec, score);
        let port_hosts = self.ports.entry(rec.resp_p).or_insert(0);
        if is_new {
            dst.ports += 1;
            *port_hosts += 1;
        }
        let (d, p) = key;
        if is_exfiltration(&pair.agg) {
            return Some(Promotion::Pair(AttackType::Exfiltration, d, p));
        }
        if *port_hosts >= SCAN_MIN_TARGETS && pair.agg.flows <= SCAN_PAIR_MAX_FLOWS {
            return Some(Promotion::HorizontalScan(p));
        }
        if dst.ports >= SCAN_MIN_TARGETS && pair.agg.flows <= SCAN_PAIR_MAX_FLOWS {
            return Some(Promotion::VerticalScan(d));
        }
        if is_brute_force(&pair.agg, p, pair.service.as_deref()) {
            return Some(Promotion::Pair(AttackType::BruteForce, d, p));
        }
        if is_flood(&dst.agg) {
            return Some(Promotion::Flood(d));
        }
        if is_beacon(&pair.agg, is_auth(p, pair.service.as_deref())) {
            return Some(Promotion::Pair(AttackType::Beacon, d, p));
        }
        None
    }

    /// Returns the pairs a promotion takes, oldest first (then by key), so the typed incident
    /// is built the same way whatever the hash order.
    fn selected(&self, promo: Promotion) -> Vec<PairKey> {
        let wanted = |k: &PairKey, e: &PairEntry| match promo {
            Promotion::Pair(_, d, p) => *k == (d, p),
            Promotion::Flood(d) => k.0 == d,
            Promotion::HorizontalScan(p) => k.1 == p && e.agg.flows <= SCAN_PAIR_MAX_FLOWS,
            Promotion::VerticalScan(d) => k.0 == d && e.agg.flows <= SCAN_PAIR_MAX_FLOWS,
        };
        let mut keys: Vec<(Timestamp, PairKey)> = self
            .pairs
            .iter()
            .filter(|(k, e)| wanted(k, e))
            .map(|(k, e)| (e.agg.first, *k))
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, k)| k).collect()
    }

    /// Whether a promotion would take every pending pair.
    pub(crate) fn takes_all(&self, promo: Promotion) -> bool {
        self.selected(promo).len() == self.pairs.len()
    }

    /// Removes and returns the pairs a promotion takes, in [`Pending::selected`]'s order.
    pub(crate) fn take(&mut self, promo: Promotion) -> Vec<(PairKey, PairEntry)> {
        let taken: Vec<(PairKey, PairEntry)> = self
            .selected(promo)
            .into_iter()
            .filter_map(|k| self.pairs.remove(&k).map(|e| (k, e)))
            .collect();
        for (k, e) in &taken {
            self.uid_count = self.uid_count.saturating_sub(e.uids.len());
            if let Some(dst) = self.dsts.get_mut(&k.0) {
                dst.agg.subtract(&e.agg);
                dst.ports = dst.ports.saturating_sub(1);
                if dst.ports == 0 {
                    self.dsts.remove(&k.0);
                }
            }
            if let Some(n) = self.ports.get_mut(&k.1) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.ports.remove(&k.1);
                }
            }
        }
        taken
    }

    /// Returns the earliest start, latest start and latest end of the pending flows.
    pub(crate) fn bounds(&self) -> Option<(Timestamp, Timestamp, Timestamp)> {
        self.pairs.values().fold(None, |acc, e| {
            let a = &e.agg;
            Some(match acc {
                None => (a.first, a.last, a.end),
                Some((f, l, x)) => (f.min(a.first), l.max(a.last), x.max(a.end)),
            })
        })
    }

    /// Returns the distinct destinations and ports still pending, and the single one of each
    /// when there is only one.
    pub(crate) fn spread(&self) -> (usize, usize, Option<IpAddr>, Option<u16>) {
        let one_dst = if self.dsts.len() == 1 {
            self.dsts.keys().next().copied().flatten()
        } else {
            None
        };
        let one_port = if self.ports.len() == 1 {
            self.ports.keys().next().copied().flatten()
        } else {
            None
        };
        (self.dsts.len(), self.ports.len(), one_dst, one_port)
    }

    /// Returns the uids of the pending flows, oldest pair first, at most `max`.
    pub(crate) fn uids(&self, max: usize) -> Vec<String> {
        let mut pairs: Vec<(&PairKey, &PairEntry)> = self.pairs.iter().collect();
        pairs.sort_by(|a, b| a.1.agg.first.cmp(&b.1.agg.first).then(a.0.cmp(b.0)));
        pairs
            .into_iter()
            .flat_map(|(_, e)| e.uids.iter().map(|u| u.to_string()))
            .take(max)
            .collect()
    }
}
