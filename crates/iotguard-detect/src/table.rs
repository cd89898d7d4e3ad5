//! The open incidents, keyed by source and pattern (and, for floods and scans, by the target
//! set), with the routing of each alerting flow and the promotion of a source's untyped flows
//! into typed incidents.
//!
//! A flow joins, in this order: its pair's beacon, brute-force or exfiltration incident; its
//! destination's flood; its source's vertical scan if that scan's host set holds the
//! destination; its source's horizontal scan if that scan's port set holds the port; else its
//! source's untyped flows ([`Key::Pending`]). When untyped flows start to form a pattern
//! ([`Promotion`]), the pairs forming it move to the typed incident, which from then on takes
//! their later flows directly. Different attacks of one host therefore never merge, and the
//! type of an incident never changes.

use std::collections::HashMap;
use std::net::IpAddr;

use iotguard_flow::{FlowRecord, Timestamp};

use crate::alert::Alert;
use crate::config::DetectConfig;
use crate::error::Result;
use crate::incident::Incident;
use crate::model::ModelInfo;
use crate::pending::Promotion;
use crate::risk::AttackType;

/// What an incident is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Key {
    /// A source's flows that form no pattern yet (typed `anomaly`).
    Pending(Option<IpAddr>),
    /// A beacon, brute force or exfiltration (one of them per pair): source, destination, port.
    Pair(Option<IpAddr>, Option<IpAddr>, Option<u16>),
    /// A flood: source and target host.
    Flood(Option<IpAddr>, Option<IpAddr>),
    /// A source's horizontal scan (its port set decides which flows join).
    HorizontalScan(Option<IpAddr>),
    /// A source's vertical scan (its host set decides which flows join).
    VerticalScan(Option<IpAddr>),
}

impl Key {
    /// Bytes telling apart incidents of one source and type opening at the same time.
    fn salt(self) -> Vec<u8> {
        let (d, p) = match self {
            Key::Pair(_, d, p) => (d, p),
            Key::Flood(_, d) => (d, None),
            _ => (None, None),
        };
        let mut out = d.map(|i| i.to_string()).unwrap_or_default().into_bytes();
        out.push(0);
        out.extend_from_slice(&p.unwrap_or(0).to_le_bytes());
        out
    }

    fn promoted(source: Option<IpAddr>, promo: Promotion) -> Key {
        match promo {
            Promotion::Pair(_, d, p) => Key::Pair(source, d, p),
            Promotion::Flood(d) => Key::Flood(source, d),
            Promotion::HorizontalScan(_) => Key::HorizontalScan(source),
            Promotion::VerticalScan(_) => Key::VerticalScan(source),
        }
    }
}

/// The open incidents, and those closed but not yet sent.
#[derive(Debug, Default)]
pub(crate) struct Incidents {
    open: HashMap<Key, Incident>,
    /// Keys whose documents are waiting to be sent, in the order they changed.
    queue: Vec<Key>,
    closed: Vec<Incident>,
    drains: u64,
    /// The detector whose incidents these are, when a detector runs two.
    tag: Option<&'static str>,
}

impl Incidents {
    /// Returns an empty table whose incidents say `tag` fired them (`model`, `baseline`).
    pub(crate) fn tagged(tag: &'static str) -> Incidents {
        Incidents {
            tag: Some(tag),
            ..Incidents::default()
        }
    }

    /// Opens an incident, tagged with the table's detector.
    #[allow(clippy::too_many_arguments)]
    fn open_incident(
        tag: Option<&'static str>,
        attack: AttackType,
        source: Option<IpAddr>,
        sensor: Option<std::sync::Arc<str>>,
        ts: Timestamp,
        salt: &[u8],
        config: &DetectConfig,
        threshold: f32,
    ) -> Incident {
        let mut inc = Incident::open(attack, source, sensor, ts, salt, config, threshold);
        if let Some(t) = tag {
            inc.tag(t);
        }
        inc
    }

    /// Returns the number of open incidents.
    pub(crate) fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Returns the incident a flow joins.
    fn route(&self, rec: &FlowRecord) -> Key {
        let (s, d, p) = (rec.orig_h, rec.resp_h, rec.resp_p);
        let k = Key::Pair(s, d, p);
        if self.open.contains_key(&k) {
            return k;
        }
        let k = Key::Flood(s, d);
        if self.open.contains_key(&k) {
            return k;
        }
        let k = Key::VerticalScan(s);
        if self.open.get(&k).is_some_and(|i| i.has_dst(d)) {
            return k;
        }
        let k = Key::HorizontalScan(s);
        if self.open.get(&k).is_some_and(|i| i.has_port(p)) {
            return k;
        }
        Key::Pending(s)
    }

    /// Closes the incident of `key` if it has been idle past its limit at `now`, and makes room
    /// when a new incident would overfill the table.
    fn prepare(&mut self, key: Key, now: Timestamp, config: &DetectConfig) {
        if self.open.get(&key).is_some_and(|i| i.idle_at(now, config)) {
            self.close(key);
        }
        if self.open.len() >= config.max_incidents && !self.open.contains_key(&key) {
            self.evict(config.max_incidents);
        }
    }

    fn enqueue(&mut self, key: Key) {
        if let Some(inc) = self.open.get_mut(&key) {
            if !inc.queued {
                inc.queued = true;
                self.queue.push(key);
            }
        }
    }

    /// Folds an alerting flow into its incident (opening one if needed) and returns the
    /// incident that holds it afterwards.
    pub(crate) fn add(
        &mut self,
        rec: &FlowRecord,
        score: f32,
        threshold: f32,
        config: &DetectConfig,
    ) -> Option<&mut Incident> {
        let mut key = self.route(rec);
        self.prepare(key, rec.ts, config);
        if key != Key::Pending(rec.orig_h) && !self.open.contains_key(&key) {
            // Its typed incident just closed: the flow has to earn a type again.
            key = self.route(rec);
        }
        // Only a source's untyped flows open here: typed incidents open by promotion, and a
        // flow whose typed incident closed was routed again.
        let tag = self.tag;
        let inc = self.open.entry(key).or_insert_with(|| {
            Self::open_incident(
                tag,
                AttackType::Anomaly,
                rec.orig_h,
                rec.sensor.clone(),
                rec.ts,
                &key.salt(),
                config,
                threshold,
            )
        });
        let promo = inc.add(rec, score, threshold, config);
        if !inc.queued {
            inc.queued = true;
            self.queue.push(key);
        }
        let key = match promo {
            Some(p) => self.promote(rec, p, threshold, config),
            None => key,
        };
        if let Some(pending) = self.open.get_mut(&Key::Pending(rec.orig_h)) {
            pending.note_published(config);
        }
        self.open.get_mut(&key)
    }

    /// Moves the pairs of a source's untyped flows that form a pattern to the typed incident
    /// of that pattern (opening it if needed) and returns its key.
    fn promote(
        &mut self,
        rec: &FlowRecord,
        promo: Promotion,
        threshold: f32,
        config: &DetectConfig,
    ) -> Key {
        let source = rec.orig_h;
        let pending_key = Key::Pending(source);
        let key = Key::promoted(source, promo);
        let Some(pending) = self.open.get(&pending_key) else {
            return pending_key;
        };
        // Published untyped flows (due in event time, so perhaps already sent) that all form
        // the pattern are refined rather than replaced: they become the typed incident, keeping
        // their id, and a typed incident of that key still open ends there (the source's next
        // scan of another port, say). So the incident the analyst may have seen is never left
        // empty, and every alerting flow stays in exactly one incident. Unpublished untyped
        // flows move into the typed incident. None of this depends on when drains ran, so a
        // stream's incidents are the same however often it is drained.
        if pending.published() && pending.takes_all(promo) {
            self.close(key);
            if let Some(mut inc) = self.open.remove(&pending_key) {
                inc.become_typed(promo, config);
                inc.regrade();
                inc.queued = false;
                self.open.insert(key, inc);
                self.enqueue(key);
            }
            return key;
        }
        let Some(pending) = self.open.get_mut(&pending_key) else {
            return pending_key;
        };
        let taken = pending.take(promo);
        let emptied = pending.agg.flows == 0;
        let first = taken.first().map_or(rec.ts, |(_, e)| e.agg.first);
        self.prepare(key, rec.ts, config);
        let tag = self.tag;
        let inc = self.open.entry(key).or_insert_with(|| {
            Self::open_incident(
                tag,
                promo.attack(),
                source,
                rec.sensor.clone(),
                first,
                &key.salt(),
                config,
                threshold,
            )
        });
        for (k, e) in taken {
            inc.absorb(k, e, config);
        }
        inc.regrade();
        self.enqueue(key);
        if emptied {
            self.open.remove(&pending_key);
        }
        key
    }

    fn close(&mut self, key: Key) {
        if let Some(mut inc) = self.open.remove(&key) {
            if inc.agg.flows == 0 && inc.revision == 0 {
                return;
            }
            inc.close();
            self.closed.push(inc);
        }
    }

    /// Closes the longest idle sixteenth of a full table.
    fn evict(&mut self, cap: usize) {
        let mut ages: Vec<(Timestamp, Key)> =
            self.open.iter().map(|(k, v)| (v.agg.end, *k)).collect();
        let n = (cap / 16).max(1).min(ages.len());
        if n < ages.len() {
            ages.select_nth_unstable(n - 1);
        }
        for (_, key) in ages.into_iter().take(n) {
            self.close(key);
        }
    }

    /// Closes incidents idle past their limit at event time `now`.
    pub(crate) fn expire(&mut self, now: Timestamp, config: &DetectConfig) {
        let mut stale: Vec<(Timestamp, Key)> = self
            .open
            .iter()
            .filter(|(_, v)| v.idle_at(now, config))
            .map(|(k, v)| (v.agg.end, *k))
            .collect();
        // Close in a stable order (by last activity, then key) so output is deterministic.
        stale.sort();
        for (_, key) in stale {
            self.close(key);
        }
    }

    /// Closes every open incident (end of input).
    pub(crate) fn close_all(&mut self) {
        let mut keys: Vec<(Timestamp, Key)> =
            self.open.iter().map(|(k, v)| (v.agg.end, *k)).collect();
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
            if inc.due(config) {
                out.push(inc.emit(model, config, created));
                inc.queued = false;
            } else {
                self.queue.push(key);
            }
        }
    }
}

/// Incidents without a model: alerting flows given with their scores are grouped, typed and
/// graded exactly as the [`Detector`](crate::Detector) does. For typing studies (the golden
/// typing tests, the confusion table of typed against labeled attacks) and for tools that
/// score flows themselves.
#[derive(Debug)]
pub struct IncidentTracker {
    table: Incidents,
    config: DetectConfig,
    model: ModelInfo,
}

impl IncidentTracker {
    /// Builds a tracker; `model` names the scorer in the documents.
    pub fn new(config: DetectConfig, model: ModelInfo) -> Result<IncidentTracker> {
        config.validate()?;
        Ok(IncidentTracker {
            table: Incidents::default(),
            config,
            model,
        })
    }

    /// Folds an alerting flow in and returns the id of the incident holding it now (a
    /// source's untyped flows may later move to a typed incident).
    pub fn add(&mut self, rec: &FlowRecord, score: f32, threshold: f32) -> Option<String> {
        self.table
            .add(rec, score, threshold, &self.config)
            .map(|i| i.id.clone())
    }

    /// Closes incidents idle at event time `now`.
    pub fn expire(&mut self, now: Timestamp) {
        self.table.expire(now, &self.config);
    }

    /// Closes every open incident.
    pub fn close_all(&mut self) {
        self.table.close_all();
    }

    /// Returns the number of open incidents.
    pub fn open_incidents(&self) -> usize {
        self.table.open_count()
    }

    /// Appends the documents due to `out`.
    pub fn drain(&mut self, out: &mut Vec<Alert>) {
        let created = self.config.clock.now();
        self.table.drain(out, &self.model, &self.config, created);
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
