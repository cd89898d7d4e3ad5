//! [`Detector`]: the single-threaded core, one flow at a time: features, score, threshold,
//! incident, grade, explanation.

use std::sync::Arc;

use iotguard_features::FeatureExtractor;
use iotguard_flow::{FlowRecord, Timestamp};
use iotguard_models::Scorer;
use iotguard_monitor::{DriftBoard, MonitorConfig};

use crate::alert::{Alert, FeatureContribution};
use crate::config::DetectConfig;
use crate::drift::{Drift, EventDocument};
use crate::error::{Error, Result};
use crate::model::{ActiveModel, ModelHandle};
use crate::reasons::may_be_reason;
use crate::scored::ScoredFlow;
use crate::table::Incidents;

/// Turns flows into scored flows and incidents into alert documents.
///
/// Deterministic: the same flows in the same order give the same scores, incidents and alerts
/// (apart from `event.created`, which comes from [`DetectConfig::clock`]).
pub struct Detector {
    model: ModelHandle,
    active: Arc<ActiveModel>,
    generation: u64,
    extractor: FeatureExtractor,
    row: Vec<f32>,
    incidents: Incidents,
    config: DetectConfig,
    flows: u64,
    alert_flows: u64,
    explanations: u64,
    latest: Option<Timestamp>,
    drift: Option<Drift>,
}

impl Detector {
    /// Builds a detector for the handle's model (its feature configuration sizes the extractor).
    pub fn new(model: ModelHandle, config: DetectConfig) -> Result<Detector> {
        config.validate()?;
        let generation = model.generation();
        let active = model.current();
        let extractor = FeatureExtractor::try_new(active.loaded.features.clone())
            .map_err(|e| Error::Model(format!("feature config: {e}")))?;
        let names = &active.loaded.file.features.names;
        if names.len() != extractor.dim() {
            return Err(Error::Model(format!(
                "the model names {} features, the extractor computes {}",
                names.len(),
                extractor.dim()
            )));
        }
        Ok(Detector {
            row: vec![0.0; extractor.dim()],
            model,
            active,
            generation,
            extractor,
            incidents: Incidents::default(),
            config,
            flows: 0,
            alert_flows: 0,
            explanations: 0,
            latest: None,
            drift: None,
        })
    }

    /// Turns the drift monitors on: every scored flow is counted against the model's reference
    /// profile in windows of `config.window` flows, each window's status is published to
    /// `board`, and drift events come out of [`Detector::drain_events`]. A model file without
    /// a profile gets no monitors ([`Detector::monitoring`] says so, and so does the board).
    pub fn with_monitor(mut self, config: MonitorConfig, board: DriftBoard) -> Result<Detector> {
        config.validate().map_err(Error::Config)?;
        self.drift = Some(Drift::new(config, board, &self.active));
        Ok(self)
    }

    /// Returns whether drift monitors run: `None` when they were not asked for, `Some(false)`
    /// when the model has no reference profile ([`NO_PROFILE`](crate::NO_PROFILE) says why).
    pub fn monitoring(&self) -> Option<bool> {
        self.drift.as_ref().map(Drift::enabled)
    }

    /// Appends the drift events raised since the last drain to `out`, as ECS documents.
    pub fn drain_events(&mut self, out: &mut Vec<EventDocument>) {
        if let Some(d) = self.drift.as_mut() {
            d.drain(out, self.config.clock.now());
        }
    }

    /// Scores one flow, folds it into its incident if it alerts, and returns its scored view.
    pub fn process(&mut self, rec: &FlowRecord) -> ScoredFlow {
        let generation = self.model.generation();
        if generation != self.generation {
            // `ModelHandle::swap` refuses other feature configurations, so the extractor and
            // its host state stay valid.
            self.active = self.model.current();
            self.generation = generation;
            if let Some(d) = self.drift.as_mut() {
                d.start(&self.active);
            }
        }
        self.flows += 1;
        self.latest = Some(self.latest.map_or(rec.ts, |t| t.max(rec.ts)));
        self.extractor.extract(rec, &mut self.row);
        let model = &self.active.loaded;
        let score = model.model.score(&self.row);
        let threshold = model.threshold.value;
        let mut scored = ScoredFlow::new(rec, score, threshold);
        if let Some(d) = self.drift.as_mut() {
            let now = self.latest.unwrap_or(rec.ts);
            d.observe(&self.row, score, scored.is_alert, now, &self.active);
        }
        if scored.is_alert {
            self.alert_flows += 1;
            let Some(inc) = self.incidents.add(rec, score, threshold, &self.config) else {
                return scored;
            };
            if self.config.explain && inc.wants_explanation(score) {
                self.explanations += 1;
                let explanation = model.model.explain(&self.row);
                let names = &model.file.features.names;
                inc.set_explanation(
                    score,
                    rec.resp_h,
                    top_features(&explanation.contributions, names, self.config.top_features),
                );
            }
            scored.severity = Some(inc.severity);
            scored.incident_id = Some(inc.id.clone());
        }
        scored
    }

    /// Appends the alert documents created or updated since the last drain to `out`.
    pub fn drain_alerts(&mut self, out: &mut Vec<Alert>) {
        let created = self.config.clock.now();
        self.incidents
            .drain(out, &self.active.info, &self.config, created);
    }

    /// Closes incidents idle for longer than `incident_idle_secs` at event time `now`; their
    /// final documents come with the next drain.
    pub fn expire(&mut self, now: Timestamp) {
        self.incidents.expire(now, &self.config);
    }

    /// Closes every open incident (the input ended); their final documents come with the next
    /// drain.
    pub fn close_all(&mut self) {
        self.incidents.close_all();
    }

    /// Returns the latest flow time seen (event time), if any flow was seen.
    pub fn latest(&self) -> Option<Timestamp> {
        self.latest
    }

    /// Returns flows processed and alerting flows.
    pub fn counts(&self) -> (u64, u64) {
        (self.flows, self.alert_flows)
    }

    /// Returns how many flows were explained (the first of each incident and new top scores).
    pub fn explanations(&self) -> u64 {
        self.explanations
    }

    /// Returns the number of open incidents.
    pub fn open_incidents(&self) -> usize {
        self.incidents.open_count()
    }

    /// Returns the hosts held by the feature extractor (originators, responders).
    pub fn host_counts(&self) -> (usize, usize) {
        self.extractor.host_counts()
    }

    /// Returns the model in use.
    pub fn model(&self) -> &Arc<ActiveModel> {
        &self.active
    }

    /// Returns the configuration.
    pub fn config(&self) -> &DetectConfig {
        &self.config
    }
}

/// Returns the `k` features that pushed the score up most (positive contributions, largest
/// first; ties by feature index), named from the schema. A missing value is left out unless
/// missing-ness is itself a reason (a host never seen before); an unset field or a statistic
/// over too few flows explains nothing to a person.
fn top_features(
    contributions: &[iotguard_models::Contribution],
    names: &[String],
    k: usize,
) -> Vec<FeatureContribution> {
    let mut up: Vec<&iotguard_models::Contribution> = contributions
        .iter()
        // Reported to 1e-6: a contribution that rounds to 0 pushed nothing up.
        .filter(|c| (c.contribution * 1e6).round() > 0.0 && c.contribution.is_finite())
        .filter(|c| {
            c.value.is_finite()
                || names
                    .get(c.feature)
                    .is_some_and(|n| may_be_reason(n, c.value))
        })
        .collect();
    up.sort_by(|a, b| {
        b.contribution
            .total_cmp(&a.contribution)
            .then(a.feature.cmp(&b.feature))
    });
    up.into_iter()
        .take(k)
        .map(|c| FeatureContribution {
            name: names
                .get(c.feature)
                .cloned()
                .unwrap_or_else(|| format!("feature_{}", c.feature)),
            value: c.value,
            // Rounded so documents (and golden files) do not carry float noise.
            contribution: (c.contribution * 1e6).round() / 1e6,
        })
        .collect()
}
