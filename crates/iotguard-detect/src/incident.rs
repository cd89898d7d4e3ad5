//! Incidents: alerting flows folded per attacker (the originating address) and burst.
//!
//! An incident opens with its source's first alerting flow and takes every later one until the
//! source has been quiet for `incident_idle_secs` of event time (or the table is full and it is
//! the longest idle). It keeps counts, bounded sets of destinations and ports, inter-arrival
//! statistics (for beacons), the first uids, and the explanation of its top-scoring flow, and
//! from those infers its [`AttackType`] and grade. Everything kept is bounded by the
//! configuration.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;

use compact_str::CompactString;
use iotguard_flow::{ConnState, FlowRecord, Protocol, Timestamp};

use crate::alert::{
    Alert, AlertCounts, AlertEvent, AlertIotguard, AlertNetwork, AlertObserver, AlertRule,
    EcsVersion, Endpoint, FeatureContribution,
};
use crate::config::{Criticality, DetectConfig};
use crate::model::{fnv1a, ModelInfo};
use crate::risk::{risk_score, AttackType, RiskInputs, Severity};
use crate::time::rfc3339;

/// A set that stops growing at a cap (its count then saturates).
#[derive(Debug)]
struct BoundedSet<T> {
    items: HashSet<T>,
}

impl<T> Default for BoundedSet<T> {
    fn default() -> Self {
        BoundedSet {
            items: HashSet::new(),
        }
    }
}

impl<T: Hash + Eq> BoundedSet<T> {
    fn insert(&mut self, item: T, cap: usize) -> bool {
        if self.items.len() < cap {
            self.items.insert(item)
        } else {
            false
        }
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// One incident's state.
#[derive(Debug)]
pub(crate) struct Incident {
    pub(crate) id: String,
    source: Option<IpAddr>,
    sensor: Option<Arc<str>>,
    first: Timestamp,
    pub(crate) last: Timestamp,
    flows: u64,
    max_score: f32,
    sum_score: f64,
    threshold: f32,
    dsts: BoundedSet<IpAddr>,
    dst_ports: BoundedSet<u16>,
    src_ports: BoundedSet<u16>,
    first_dst: Option<IpAddr>,
    first_dst_port: Option<u16>,
    first_src_port: Option<u16>,
    proto: Protocol,
    service: Option<CompactString>,
    failed: u64,
    orig_bytes: u64,
    resp_bytes: u64,
    orig_pkts: u64,
    resp_pkts: u64,
    /// Welford's running mean and sum of squares of inter-arrival gaps, in seconds.
    gap_n: u64,
    gap_mean: f64,
    gap_m2: f64,
    uids: Vec<CompactString>,
    features: Vec<FeatureContribution>,
    explained_score: f32,
    criticality: Criticality,
    pub(crate) severity: Severity,
    risk: f64,
    attack: AttackType,
    revision: u32,
    emitted_at: Option<Timestamp>,
    emitted_severity: Option<Severity>,
    queued: bool,
    seen_in_drain: u64,
    closed: bool,
}

/// Ports of services people log in to (brute force targets).
const AUTH_PORTS: &[u16] = &[
    21, 22, 23, 2323, 3389, 5900, 110, 143, 445, 1433, 3306, 8291,
];
/// Service names of the same.
const AUTH_SERVICES: &[&str] = &["ssh", "ftp", "telnet", "rdp", "vnc", "smb", "mysql"];

impl Incident {
    fn new(rec: &FlowRecord, config: &DetectConfig, threshold: f32) -> Incident {
        let mut key = Vec::with_capacity(64);
        key.extend_from_slice(rec.sensor.as_deref().unwrap_or("").as_bytes());
        key.push(0);
        key.extend_from_slice(
            rec.orig_h
                .map(|ip| ip.to_string())
                .unwrap_or_default()
                .as_bytes(),
        );
        key.push(0);
        key.extend_from_slice(&rec.ts.as_nanos().to_le_bytes());
        Incident {
            id: format!("inc-{:016x}", fnv1a(&key)),
            source: rec.orig_h,
            sensor: rec.sensor.clone(),
            first: rec.ts,
            last: rec.ts,
            flows: 0,
            max_score: f32::NEG_INFINITY,
            sum_score: 0.0,
            threshold,
            dsts: BoundedSet::default(),
            dst_ports: BoundedSet::default(),
            src_ports: BoundedSet::default(),
            first_dst: rec.resp_h,
            first_dst_port: rec.resp_p,
            first_src_port: rec.orig_p,
            proto: rec.proto.clone(),
            service: rec.service.clone(),
            failed: 0,
            orig_bytes: 0,
            resp_bytes: 0,
            orig_pkts: 0,
            resp_pkts: 0,
            gap_n: 0,
            gap_mean: 0.0,
            gap_m2: 0.0,
            uids: Vec::new(),
            features: Vec::new(),
            explained_score: f32::NEG_INFINITY,
            criticality: config.criticality(rec.orig_h),
            severity: Severity::Info,
            risk: 0.0,
            attack: AttackType::Anomaly,
            revision: 0,
            emitted_at: None,
            emitted_severity: None,
            queued: false,
            seen_in_drain: 0,
            closed: false,
        }
    }

    /// Folds one alerting flow in and regrades.
    fn add(&mut self, rec: &FlowRecord, score: f32, threshold: f32, config: &DetectConfig) {
        if self.flows > 0 && rec.ts >= self.last {
            let gap = (rec.ts.as_nanos() - self.last.as_nanos()) as f64 / 1e9;
            self.gap_n += 1;
            let delta = gap - self.gap_mean;
            self.gap_mean += delta / self.gap_n as f64;
            self.gap_m2 += delta * (gap - self.gap_mean);
        }
        self.first = self.first.min(rec.ts);
        self.last = self.last.max(rec.ts);
        self.flows += 1;
        self.max_score = self.max_score.max(score);
        self.sum_score += f64::from(score);
        self.threshold = threshold;
        if let Some(ip) = rec.resp_h {
            if self.dsts.insert(ip, config.max_peers) {
                self.criticality = self.criticality.max(config.criticality(Some(ip)));
            }
        }
        if let Some(p) = rec.resp_p {
            self.dst_ports.insert(p, config.max_peers);
        }
        if let Some(p) = rec.orig_p {
            self.src_ports.insert(p, 2);
        }
        if matches!(
            rec.conn_state,
            Some(
                ConnState::S0
                    | ConnState::REJ
                    | ConnState::RSTOS0
                    | ConnState::RSTRH
                    | ConnState::SH
                    | ConnState::SHR
            )
        ) {
            self.failed += 1;
        }
        self.orig_bytes = self.orig_bytes.saturating_add(rec.orig_bytes.unwrap_or(0));
        self.resp_bytes = self.resp_bytes.saturating_add(rec.resp_bytes.unwrap_or(0));
        self.orig_pkts = self.orig_pkts.saturating_add(rec.orig_pkts.unwrap_or(0));
        self.resp_pkts = self.resp_pkts.saturating_add(rec.resp_pkts.unwrap_or(0));
        if self.uids.len() < config.max_uids {
            if let Some(uid) = &rec.uid {
                self.uids.push(uid.clone());
            }
        }
        self.regrade();
    }

    fn duration_secs(&self) -> f64 {
        (self.last.as_nanos() - self.first.as_nanos()) as f64 / 1e9
    }

    /// Infers the attack type from the incident's pattern (see [`AttackType`]).
    fn infer_attack(&self) -> AttackType {
        let n = self.flows;
        let hosts = self.dsts.len();
        let ports = self.dst_ports.len();
        if self.orig_bytes >= 10_000_000 && self.orig_bytes >= 4 * self.resp_bytes.max(1) {
            return AttackType::Exfiltration;
        }
        if hosts >= 16 && ports <= 4 {
            return AttackType::HorizontalScan;
        }
        if ports >= 16 && hosts <= 4 {
            return AttackType::VerticalScan;
        }
        let auth = self.first_dst_port.is_some_and(|p| AUTH_PORTS.contains(&p))
            || self
                .service
                .as_deref()
                .is_some_and(|s| s.split(',').any(|s| AUTH_SERVICES.contains(&s)));
        if n >= 10 && hosts <= 2 && ports <= 2 && auth {
            return AttackType::BruteForce;
        }
        let rate = n as f64 / self.duration_secs().max(1.0);
        let pkts_per_flow = (self.orig_pkts as f64) / n.max(1) as f64;
        if hosts <= 4 && ((n >= 50 && rate >= 20.0) || (n >= 1 && pkts_per_flow >= 1000.0)) {
            return AttackType::Flood;
        }
        if self.gap_n >= 5 && hosts <= 4 && self.gap_mean >= 1.0 {
            let sd = (self.gap_m2 / self.gap_n as f64).max(0.0).sqrt();
            if sd / self.gap_mean <= 0.3 {
                return AttackType::Beacon;
            }
        }
        // Coming back to one server and port for ten minutes or more, irregularly (bots
        // reconnecting to a C&C server that drops them): command and control too.
        if hosts == 1 && ports == 1 && n >= 20 && self.duration_secs() >= 600.0 {
            return AttackType::Beacon;
        }
        AttackType::Anomaly
    }

    fn regrade(&mut self) {
        self.attack = self.infer_attack();
        self.risk = risk_score(&RiskInputs {
            max_score: self.max_score,
            threshold: self.threshold,
            flows: self.flows,
            duration_secs: self.duration_secs(),
            attack: self.attack,
            criticality: self.criticality,
        });
        self.severity = Severity::from_risk(self.risk);
    }

    /// Whether a flow with this score should be explained (the first, or a new top score).
    pub(crate) fn wants_explanation(&self, score: f32) -> bool {
        score > self.explained_score
    }

    /// Keeps the explanation of the incident's top-scoring flow.
    pub(crate) fn set_explanation(&mut self, score: f32, features: Vec<FeatureContribution>) {
        self.explained_score = score;
        self.features = features;
    }

    /// Whether the incident's document is due: new, closed, severity up, or the update interval
    /// passed in event time.
    fn due(&self, update_every_secs: f64) -> bool {
        match (self.emitted_at, self.emitted_severity) {
            (Some(at), Some(sev)) => {
                self.closed
                    || self.severity > sev
                    || (self.last.as_nanos() - at.as_nanos()) as f64 / 1e9 >= update_every_secs
            }
            _ => true,
        }
    }

    /// Builds the incident's alert document and counts the revision.
    fn emit(&mut self, model: &ModelInfo, config: &DetectConfig, created: Timestamp) -> Alert {
        self.revision += 1;
        self.emitted_at = Some(self.last);
        self.emitted_severity = Some(self.severity);
        let one_dst = if self.dsts.len() == 1 {
            self.first_dst
        } else {
            None
        };
        let one = |ports: &BoundedSet<u16>, first: Option<u16>| {
            if ports.len() == 1 {
                first
            } else {
                None
            }
        };
        let dst_port = one(&self.dst_ports, self.first_dst_port);
        let src_port = one(&self.src_ports, self.first_src_port);
        let source = self
            .source
            .map_or("an unknown host".to_string(), |ip| ip.to_string());
        let target = match (one_dst, dst_port) {
            (Some(ip), Some(p)) => format!("{ip}:{p}"),
            (Some(ip), None) => format!("{ip} ({} ports)", self.dst_ports.len()),
            (None, Some(p)) => format!("{} hosts on port {p}", self.dsts.len()),
            (None, None) => format!("{} hosts, {} ports", self.dsts.len(), self.dst_ports.len()),
        };
        let sensor = self
            .sensor
            .as_deref()
            .map_or_else(|| config.sensor.clone(), str::to_string);
        Alert {
            timestamp: rfc3339(self.last),
            ecs: EcsVersion::default(),
            event: AlertEvent {
                id: self.id.clone(),
                kind: "alert".to_string(),
                category: vec!["network".to_string(), "intrusion_detection".to_string()],
                type_: vec![if self.closed { "end" } else { "info" }.to_string()],
                action: self.attack.as_str().to_string(),
                dataset: "iotguard.alert".to_string(),
                severity: self.severity.ecs_number(),
                risk_score: self.risk,
                start: rfc3339(self.first),
                end: rfc3339(self.last),
                duration: self.last.as_nanos() - self.first.as_nanos(),
                created: rfc3339(created),
            },
            source: Endpoint {
                ip: self.source,
                port: src_port,
            },
            destination: Endpoint {
                ip: one_dst,
                port: dst_port,
            },
            network: AlertNetwork {
                transport: self.proto.as_str().to_string(),
                protocol: self.service.as_ref().map(|s| s.to_string()),
            },
            observer: AlertObserver {
                name: sensor,
                type_: "sensor".to_string(),
            },
            rule: AlertRule {
                name: model.name.clone(),
                id: model.id.clone(),
                version: model.version.clone(),
                category: self.attack.as_str().to_string(),
            },
            message: format!(
                "{} {}: {source} -> {target}, {} flows, risk {}",
                self.severity,
                self.attack.describe(),
                self.flows,
                self.risk
            ),
            iotguard: AlertIotguard {
                incident_id: self.id.clone(),
                state: if self.closed { "closed" } else { "open" }.to_string(),
                severity: self.severity,
                attack_type: self.attack,
                score: self.max_score,
                mean_score: (self.sum_score / self.flows.max(1) as f64) as f32,
                threshold: self.threshold,
                model_kind: model.kind.clone(),
                asset_criticality: self.criticality.as_str().to_string(),
                revision: self.revision,
                counts: AlertCounts {
                    flows: self.flows,
                    destinations: self.dsts.len() as u64,
                    destination_ports: self.dst_ports.len() as u64,
                    failed: self.failed,
                    source_bytes: self.orig_bytes,
                    destination_bytes: self.resp_bytes,
                    source_packets: self.orig_pkts,
                    destination_packets: self.resp_pkts,
                },
                features: self.features.clone(),
                uids: self.uids.iter().map(|u| u.to_string()).collect(),
            },
        }
    }
}

/// The open incidents, keyed by source address, and those closed but not yet sent.
#[derive(Debug, Default)]
pub(crate) struct Incidents {
    open: HashMap<Option<IpAddr>, Incident>,
    /// Keys whose documents are waiting to be sent, in the order they changed.
    queue: Vec<Option<IpAddr>>,
    closed: Vec<Incident>,
    drains: u64,
}

impl Incidents {
    /// Returns the number of open incidents.
    pub(crate) fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Folds an alerting flow into its source's incident (opening one if needed) and returns it.
    pub(crate) fn add(
        &mut self,
        rec: &FlowRecord,
        score: f32,
        threshold: f32,
        config: &DetectConfig,
    ) -> &mut Incident {
        let key = rec.orig_h;
        let idle_nanos = (config.incident_idle_secs * 1e9) as i64;
        if let Some(inc) = self.open.get(&key) {
            if rec.ts.as_nanos() - inc.last.as_nanos() > idle_nanos {
                self.close(key);
            }
        }
        if !self.open.contains_key(&key) && self.open.len() >= config.max_incidents {
            self.evict(config.max_incidents);
        }
        let inc = self
            .open
            .entry(key)
            .or_insert_with(|| Incident::new(rec, config, threshold));
        inc.add(rec, score, threshold, config);
        if !inc.queued {
            inc.queued = true;
            self.queue.push(key);
        }
        inc
    }

    fn close(&mut self, key: Option<IpAddr>) {
        if let Some(mut inc) = self.open.remove(&key) {
            inc.closed = true;
            self.closed.push(inc);
        }
    }

    /// Closes the longest idle sixteenth of a full table.
    fn evict(&mut self, cap: usize) {
        let mut ages: Vec<(Timestamp, Option<IpAddr>)> =
            self.open.iter().map(|(k, v)| (v.last, *k)).collect();
        let n = (cap / 16).max(1).min(ages.len());
        if n < ages.len() {
            ages.select_nth_unstable(n - 1);
        }
        for (_, key) in ages.into_iter().take(n) {
            self.close(key);
        }
    }

    /// Closes incidents idle for longer than the configured time at event time `now`.
    pub(crate) fn expire(&mut self, now: Timestamp, config: &DetectConfig) {
        let idle_nanos = (config.incident_idle_secs * 1e9) as i64;
        let mut stale: Vec<(Timestamp, Option<IpAddr>)> = self
            .open
            .iter()
            .filter(|(_, v)| now.as_nanos() - v.last.as_nanos() > idle_nanos)
            .map(|(k, v)| (v.last, *k))
            .collect();
        // Close in a stable order (by last flow, then address) so output is deterministic.
        stale.sort();
        for (_, key) in stale {
            self.close(key);
        }
    }

    /// Closes every open incident (end of input).
    pub(crate) fn close_all(&mut self) {
        let mut keys: Vec<(Timestamp, Option<IpAddr>)> =
            self.open.iter().map(|(k, v)| (v.last, *k)).collect();
        keys.sort();
        for (_, key) in keys {
            self.close(key);
        }
    }

    /// Appends the documents due (changed and not rate-limited, or closed) to `out`.
    pub(crate) fn drain(
        &mut self,
        out: &mut Vec<Alert>,
        model: &ModelInfo,
        config: &DetectConfig,
        created: Timestamp,
    ) {
        self.drains += 1;
        let drain = self.drains;
        // Closed incidents first: they end before the open ones' latest flows.
        for mut inc in self.closed.drain(..) {
            out.push(inc.emit(model, config, created));
        }
        let keys = std::mem::take(&mut self.queue);
        for key in keys {
            let Some(inc) = self.open.get_mut(&key) else {
                continue;
            };
            if !inc.queued || inc.seen_in_drain == drain {
                continue;
            }
            inc.seen_in_drain = drain;
            if inc.due(config.update_every_secs) {
                out.push(inc.emit(model, config, created));
                inc.queued = false;
            } else {
                self.queue.push(key);
            }
        }
    }
}
