//! One incident: alerting flows of one source that form one pattern against one target set
//! (see [`Key`](crate::table::Key)), or a source's flows that form no pattern yet.
//!
//! An incident keeps counts ([`Agg`]), bounded sets of destinations and ports, the first uids,
//! and the explanation of its top-scoring flow, and grades itself. Its attack type is fixed by
//! its key when it opens, so a beacon stays a beacon as it grows; its risk (and so its
//! severity) never falls. Everything kept is bounded by the configuration.

use std::collections::HashSet;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;

use compact_str::CompactString;
use iotguard_flow::{FlowRecord, Protocol, Timestamp};

use crate::alert::{
    Alert, AlertCounts, AlertEvent, AlertIotguard, AlertNetwork, AlertObserver, AlertRule,
    EcsVersion, Endpoint, FeatureContribution,
};
use crate::config::{Criticality, DetectConfig};
use crate::model::{fnv1a, ModelInfo};
use crate::pending::{PairEntry, PairKey, Pending, Promotion};
use crate::reasons::{feature_reasons, summary, Summary};
use crate::risk::{risk_score, AttackType, RiskInputs, Severity};
use crate::time::rfc3339;
use crate::typing::{Agg, BEACON_IDLE_PERIODS};

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

    fn contains(&self, item: &T) -> bool {
        self.items.contains(item)
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
    pub(crate) agg: Agg,
    threshold: f32,
    dsts: BoundedSet<IpAddr>,
    dst_ports: BoundedSet<u16>,
    src_ports: BoundedSet<u16>,
    first_dst: Option<IpAddr>,
    first_dst_port: Option<u16>,
    first_src_port: Option<u16>,
    proto: Option<Protocol>,
    service: Option<CompactString>,
    uids: Vec<CompactString>,
    /// The per-pair tallies of a source's untyped flows (`None` for typed incidents).
    pending: Option<Box<Pending>>,
    features: Vec<FeatureContribution>,
    /// The responder of the explained flow (its features speak of it).
    explained_dst: Option<IpAddr>,
    explained_score: f32,
    explanations: u32,
    criticality: Criticality,
    pub(crate) severity: Severity,
    risk: f64,
    pub(crate) attack: AttackType,
    pub(crate) revision: u32,
    /// A source's untyped flows that have lasted `pending_secs`: due in event time, so an
    /// incident whether or not a drain has sent its document yet.
    published: bool,
    emitted_at: Option<Timestamp>,
    emitted_severity: Option<Severity>,
    pub(crate) queued: bool,
    pub(crate) seen_in_drain: u64,
    closed: bool,
    /// Which detector raised it, when a detector runs two (`model`, `baseline`).
    detector: Option<&'static str>,
}

/// The tag of the supervised model's incidents when a baseline runs beside it.
pub(crate) const MODEL: &str = "model";
/// The tag of the baseline's incidents.
pub(crate) const BASELINE: &str = "baseline";

/// Most explanations computed per incident.
const MAX_EXPLANATIONS: u32 = 16;

impl Incident {
    /// Opens an empty incident of `attack` for `source` (`Anomaly`: the source's untyped
    /// flows). `salt` tells apart incidents of one source opening at the same time.
    pub(crate) fn open(
        attack: AttackType,
        source: Option<IpAddr>,
        sensor: Option<Arc<str>>,
        ts: Timestamp,
        salt: &[u8],
        config: &DetectConfig,
        threshold: f32,
    ) -> Incident {
        let mut key = Vec::with_capacity(64);
        key.extend_from_slice(sensor.as_deref().unwrap_or("").as_bytes());
        key.push(0);
        key.extend_from_slice(
            source
                .map(|ip| ip.to_string())
                .unwrap_or_default()
                .as_bytes(),
        );
        key.push(0);
        key.extend_from_slice(&ts.as_nanos().to_le_bytes());
        if attack != AttackType::Anomaly {
            key.extend_from_slice(attack.as_str().as_bytes());
            key.extend_from_slice(salt);
        }
        Incident {
            id: format!("inc-{:016x}", fnv1a(&key)),
            source,
            sensor,
            agg: Agg::new(ts),
            threshold,
            dsts: BoundedSet::default(),
            dst_ports: BoundedSet::default(),
            src_ports: BoundedSet::default(),
            first_dst: None,
            first_dst_port: None,
            first_src_port: None,
            proto: None,
            service: None,
            uids: Vec::new(),
            pending: (attack == AttackType::Anomaly).then(Box::default),
            features: Vec::new(),
            explained_dst: None,
            explained_score: f32::NEG_INFINITY,
            explanations: 0,
            criticality: config.criticality(source),
            severity: Severity::Info,
            risk: 0.0,
            attack,
            revision: 0,
            published: false,
            emitted_at: None,
            emitted_severity: None,
            queued: false,
            seen_in_drain: 0,
            closed: false,
            detector: None,
        }
    }

    /// Marks the incident as raised by `detector`; a `baseline` incident gets an id of its own,
    /// so it never overwrites the supervised model's incident of the same source and time.
    pub(crate) fn tag(&mut self, detector: &'static str) {
        if detector == BASELINE {
            self.id = format!(
                "inc-{:016x}",
                fnv1a(format!("{}/{detector}", self.id).as_bytes())
            );
        }
        self.detector = Some(detector);
    }

    /// Notes a destination, ports and the first flow's protocol and service.
    fn note_target(
        &mut self,
        dst: Option<IpAddr>,
        port: Option<u16>,
        src_port: Option<u16>,
        proto: &Protocol,
        service: Option<&CompactString>,
        config: &DetectConfig,
    ) {
        if self.proto.is_none() {
            self.proto = Some(proto.clone());
            self.service = service.cloned();
            self.first_dst = dst;
            self.first_dst_port = port;
            self.first_src_port = src_port;
        }
        if let Some(ip) = dst {
            if self.dsts.insert(ip, config.max_peers) {
                self.criticality = self.criticality.max(config.criticality(Some(ip)));
            }
        }
        if let Some(p) = port {
            self.dst_ports.insert(p, config.max_peers);
        }
        if let Some(p) = src_port {
            self.src_ports.insert(p, 2);
        }
    }

    /// Folds one alerting flow in and regrades; for a source's untyped flows, returns the
    /// pattern they now form.
    pub(crate) fn add(
        &mut self,
        rec: &FlowRecord,
        score: f32,
        threshold: f32,
        config: &DetectConfig,
    ) -> Option<Promotion> {
        self.agg.add(rec, score);
        self.threshold = threshold;
        self.note_target(
            rec.resp_h,
            rec.resp_p,
            rec.orig_p,
            &rec.proto,
            rec.service.as_ref(),
            config,
        );
        let promo = match &mut self.pending {
            Some(p) => p.add(rec, score, config),
            None => {
                if self.uids.len() < config.max_uids {
                    if let Some(uid) = &rec.uid {
                        self.uids.push(uid.clone());
                    }
                }
                None
            }
        };
        self.regrade();
        promo
    }

    /// Whether a source's untyped flows are an incident in their own right, whatever the
    /// drains did: they have lasted long enough for their document to be due (so a drain may
    /// have sent it).
    pub(crate) fn published(&self) -> bool {
        self.published
    }

    /// Turns a source's untyped flows, every one of which forms `promo`'s pattern, into that
    /// typed incident, keeping the id the analyst may already have seen: its next document
    /// carries the type.
    pub(crate) fn become_typed(&mut self, promo: Promotion, config: &DetectConfig) {
        let Some(mut pending) = self.pending.take() else {
            return;
        };
        self.attack = promo.attack();
        // The targets are those of the flows it holds now (flows that moved out earlier were
        // noted too when they came in).
        self.dsts = BoundedSet::default();
        self.dst_ports = BoundedSet::default();
        self.src_ports = BoundedSet::default();
        (self.proto, self.service) = (None, None);
        (self.first_dst, self.first_dst_port, self.first_src_port) = (None, None, None);
        self.criticality = config.criticality(self.source);
        self.uids.clear();
        for (key, entry) in pending.take(promo) {
            self.note_pair(key, entry, config);
        }
    }

    /// Marks a source's untyped flows published once they have lasted `pending_secs` (the
    /// event-time half of [`Incident::due`]). Called after every flow folded into the table,
    /// the points at which a drain could have sent the document.
    pub(crate) fn note_published(&mut self, config: &DetectConfig) {
        if !self.published && self.pending.is_some() && self.lasted_pending(config) {
            self.published = true;
        }
    }

    fn lasted_pending(&self, config: &DetectConfig) -> bool {
        self.agg
            .end
            .as_nanos()
            .saturating_sub(self.agg.first.as_nanos()) as f64
            / 1e9
            >= config.pending_secs
    }

    /// Whether a promotion would take every one of a source's untyped flows.
    pub(crate) fn takes_all(&self, promo: Promotion) -> bool {
        self.pending.as_ref().is_some_and(|p| p.takes_all(promo))
    }

    /// Takes the pending pairs a promotion moves out of a source's untyped flows.
    pub(crate) fn take(&mut self, promo: Promotion) -> Vec<(PairKey, PairEntry)> {
        let taken = match &mut self.pending {
            Some(p) => p.take(promo),
            None => Vec::new(),
        };
        for (_, e) in &taken {
            self.agg.subtract(&e.agg);
        }
        // The time span is that of the flows left.
        if let Some((first, last, end)) = self.pending.as_ref().and_then(|p| p.bounds()) {
            (self.agg.first, self.agg.last, self.agg.end) = (first, last, end);
        }
        taken
    }

    /// Folds a pair's flows (moved from the source's untyped flows) in.
    pub(crate) fn absorb(&mut self, key: PairKey, entry: PairEntry, config: &DetectConfig) {
        self.agg.merge(&entry.agg);
        self.note_pair(key, entry, config);
    }

    /// Notes a pair's target and uids (its flows already counted).
    fn note_pair(&mut self, key: PairKey, entry: PairEntry, config: &DetectConfig) {
        self.note_target(
            key.0,
            key.1,
            entry.src_port,
            &entry.proto,
            entry.service.as_ref(),
            config,
        );
        let room = config.max_uids.saturating_sub(self.uids.len());
        self.uids.extend(entry.uids.into_iter().take(room));
    }

    /// Whether a vertical scan's host set holds `dst`.
    pub(crate) fn has_dst(&self, dst: Option<IpAddr>) -> bool {
        dst.is_some_and(|d| self.dsts.contains(&d))
    }

    /// Whether a horizontal scan's port set holds `port`.
    pub(crate) fn has_port(&self, port: Option<u16>) -> bool {
        port.is_some_and(|p| self.dst_ports.contains(&p))
    }

    /// Nanoseconds of silence after which the incident closes: the configured idle time; for
    /// a beacon at least `beacon_idle_secs` and [`BEACON_IDLE_PERIODS`] of its own period.
    pub(crate) fn idle_limit_nanos(&self, config: &DetectConfig) -> i64 {
        let mut secs = config.incident_idle_secs;
        if self.attack == AttackType::Beacon {
            secs = secs
                .max(config.beacon_idle_secs)
                .max(BEACON_IDLE_PERIODS * self.agg.gap_mean);
        }
        (secs * 1e9).min(i64::MAX as f64) as i64
    }

    /// Whether the incident has been silent past its idle limit at event time `now` (silence
    /// counts from the end of its latest flow).
    pub(crate) fn idle_at(&self, now: Timestamp, config: &DetectConfig) -> bool {
        now.as_nanos().saturating_sub(self.agg.end.as_nanos()) > self.idle_limit_nanos(config)
    }

    pub(crate) fn regrade(&mut self) {
        let risk = risk_score(&RiskInputs {
            max_score: self.agg.max_score,
            threshold: self.threshold,
            flows: self.agg.flows,
            duration_secs: self.agg.duration_secs(),
            attack: self.attack,
            criticality: self.criticality,
        });
        // Never falls: flows moving to a typed incident take nothing back from what was seen.
        self.risk = self.risk.max(risk);
        self.severity = Severity::from_risk(self.risk);
    }

    /// Whether a flow with this score should be explained: the incident's first, or one
    /// scoring at least 1 % (of the threshold, at least 0.01) above the explained one, at most
    /// [`MAX_EXPLANATIONS`] times per incident. Explanations (TreeSHAP over every tree) cost
    /// far more than scoring, and scores creeping up by 0.0001 do not change the story.
    pub(crate) fn wants_explanation(&self, score: f32) -> bool {
        if self.explanations == 0 {
            return true;
        }
        let step = (0.01 * self.threshold.abs()).max(0.01);
        self.explanations < MAX_EXPLANATIONS && score >= self.explained_score + step
    }

    /// Keeps the explanation of the incident's top-scoring flow.
    pub(crate) fn set_explanation(
        &mut self,
        score: f32,
        dst: Option<IpAddr>,
        features: Vec<FeatureContribution>,
    ) {
        self.explained_score = score;
        self.explained_dst = dst;
        self.features = features;
        self.explanations += 1;
    }

    /// Marks the incident closed.
    pub(crate) fn close(&mut self) {
        self.closed = true;
    }

    /// Whether the incident's document is due: closed, severity up, or the update interval
    /// passed in event time; a new typed incident at once, a source's untyped flows once they
    /// have lasted `pending_secs` (until then they may still turn out to form a pattern).
    pub(crate) fn due(&self, config: &DetectConfig) -> bool {
        match (self.emitted_at, self.emitted_severity) {
            (Some(at), Some(sev)) => {
                self.closed
                    || self.severity > sev
                    || self.agg.last.as_nanos().saturating_sub(at.as_nanos()) as f64 / 1e9
                        >= config.update_every_secs
            }
            _ => self.closed || self.pending.is_none() || self.lasted_pending(config),
        }
    }

    /// Builds the incident's alert document and counts the revision.
    pub(crate) fn emit(
        &mut self,
        model: &ModelInfo,
        config: &DetectConfig,
        created: Timestamp,
    ) -> Alert {
        self.revision += 1;
        self.emitted_at = Some(self.agg.last);
        self.emitted_severity = Some(self.severity);
        let (n_dsts, n_ports, one_dst, dst_port, uids) = match &self.pending {
            Some(p) => {
                let (d, n, one_d, one_p) = p.spread();
                (d, n, one_d, one_p, p.uids(config.max_uids))
            }
            None => {
                let one_dst = (self.dsts.len() == 1).then_some(self.first_dst).flatten();
                let one_port = (self.dst_ports.len() == 1)
                    .then_some(self.first_dst_port)
                    .flatten();
                let uids = self.uids.iter().map(|u| u.to_string()).collect();
                (
                    self.dsts.len(),
                    self.dst_ports.len(),
                    one_dst,
                    one_port,
                    uids,
                )
            }
        };
        let src_port = (self.src_ports.len() == 1)
            .then_some(self.first_src_port)
            .flatten();
        let source = self
            .source
            .map_or("an unknown host".to_string(), |ip| ip.to_string());
        let target = match (one_dst, dst_port) {
            (Some(ip), Some(p)) => format!("{ip}:{p}"),
            (Some(ip), None) => format!("{ip} ({n_ports} ports)"),
            (None, Some(p)) => format!("{n_dsts} hosts on port {p}"),
            (None, None) => format!("{n_dsts} hosts, {n_ports} ports"),
        };
        let sensor = self
            .sensor
            .as_deref()
            .map_or_else(|| config.sensor.clone(), str::to_string);
        let a = &self.agg;
        let mut reasons = vec![summary(&Summary {
            attack: self.attack,
            source: self.source,
            dst: one_dst,
            port: dst_port,
            dsts: n_dsts,
            ports: n_ports,
            agg: a,
        })];
        reasons.extend(feature_reasons(
            &self.features,
            self.source,
            self.explained_dst,
        ));
        Alert {
            timestamp: rfc3339(a.last),
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
                start: rfc3339(a.first),
                end: rfc3339(a.last),
                duration: a.last.as_nanos().saturating_sub(a.first.as_nanos()),
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
                transport: self
                    .proto
                    .as_ref()
                    .map_or("unknown", Protocol::as_str)
                    .to_string(),
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
                a.flows,
                self.risk
            ),
            iotguard: AlertIotguard {
                incident_id: self.id.clone(),
                state: if self.closed { "closed" } else { "open" }.to_string(),
                severity: self.severity,
                attack_type: self.attack,
                score: a.max_score,
                mean_score: (a.sum_score / a.flows.max(1) as f64) as f32,
                threshold: self.threshold,
                model_kind: model.kind.clone(),
                detector: self.detector.map(str::to_string),
                asset_criticality: self.criticality.as_str().to_string(),
                revision: self.revision,
                counts: AlertCounts {
                    flows: a.flows,
                    destinations: n_dsts as u64,
                    destination_ports: n_ports as u64,
                    failed: a.failed,
                    source_bytes: a.orig_bytes,
                    destination_bytes: a.resp_bytes,
                    source_packets: a.orig_pkts,
                    destination_packets: a.resp_pkts,
                },
                features: self.features.clone(),
                reasons,
                uids,
                feedback: None,
            },
        }
    }
}
