//! [`Detector`]: the single-threaded core, one flow at a time: features, score, threshold,
//! incident, grade, explanation. Optionally with a baseline beside the model (loaded, or
//! learned on the first part of the stream: [`crate::baseline`]): a flow the model does not
//! flag but the baseline does joins the baseline's own incidents, whose alerts say so.

use std::sync::Arc;

use iotguard_features::FeatureExtractor;
use iotguard_flow::{FlowRecord, Timestamp};
use iotguard_models::Scorer;
use iotguard_monitor::{DriftBoard, MonitorConfig};

use crate::alert::{Alert, FeatureContribution};
use crate::baseline::{LearnConfig, LearnStatus, Learner};
use crate::config::DetectConfig;
use crate::drift::{Drift, EventDocument};
use crate::error::{Error, Result};
use crate::incident::{BASELINE, MODEL};
use crate::model::{ActiveModel, ModelHandle};
use crate::reasons::may_be_reason;
use crate::scored::ScoredFlow;
use crate::shadow::Shadow;
use crate::table::Incidents;

/// Turns flows into scored flows and incidents into alert documents.
///
/// Deterministic: the same flows in the same order give the same scores, incidents and alerts
/// (apart from `event.created`, which comes from [`DetectConfig::clock`]).
pub struct Detector {
    model: ModelHandle,
    active: Arc<ActiveModel>,
    /// A model scored beside the active one, never alerting ([`crate::shadow`]).
    shadow: Option<Arc<Shadow>>,
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
    baseline: Option<Baseline>,
    learner: Option<Learner>,
    learn_into: LearnInto,
    /// What the model's alerts say fired them, when a detector runs two or learns.
    primary_tag: Option<&'static str>,
    learned: Option<(LearnStatus, Option<iotguard_models::persist::ModelFile>)>,
}

/// A baseline beside the model, with incidents of its own.
struct Baseline {
    active: Arc<ActiveModel>,
    incidents: Incidents,
    alert_flows: u64,
}

/// Where a learned baseline goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LearnInto {
    /// Beside the supervised model.
    Beside,
    /// Into the model handle itself (no supervised model; the handle holds a stand-in).
    Handle,
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
            shadow: model.shadow(),
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
            baseline: None,
            learner: None,
            learn_into: LearnInto::Beside,
            primary_tag: None,
            learned: None,
        })
    }

    /// Adds a baseline beside the model: flows the model does not flag but the baseline does
    /// become the baseline's incidents (`iotguard.detector: "baseline"`). Refused when its
    /// feature configuration differs from the model's (one extractor serves both).
    pub fn with_baseline(mut self, mut baseline: ActiveModel) -> Result<Detector> {
        let features = &self.active.loaded.features;
        baseline.loaded.features.max_hosts = features.max_hosts;
        baseline.loaded.features.idle_timeout_secs = features.idle_timeout_secs;
        if &baseline.loaded.features != features {
            return Err(Error::Model(format!(
                "the baseline {} computes other features than the model ({} against {}); \
                 learn both with the same --features",
                baseline.info.path.as_deref().unwrap_or("in memory"),
                serde_json::to_string(&baseline.loaded.features).unwrap_or_default(),
                serde_json::to_string(features).unwrap_or_default(),
            )));
        }
        self.incidents = Incidents::tagged(MODEL);
        self.primary_tag = Some(MODEL);
        self.baseline = Some(Baseline {
            active: Arc::new(baseline),
            incidents: Incidents::tagged(BASELINE),
            alert_flows: 0,
        });
        Ok(self)
    }

    /// Learns a baseline on the first flows (as `config` says), then detects with it: beside the
    /// model when `beside_model`, else it replaces the model in the handle (which holds
    /// [`iotguard_runtime::lab::learning_placeholder`] until then, and whose flows are not
    /// scored meanwhile). Every learned flow is counted in [`Detector::learn_status`].
    pub fn learning(mut self, config: LearnConfig, beside_model: bool) -> Detector {
        let into = if beside_model {
            LearnInto::Beside
        } else {
            LearnInto::Handle
        };
        // Without a model the learned baseline is the model, and its alerts say so.
        let tag = match into {
            LearnInto::Beside => MODEL,
            LearnInto::Handle => BASELINE,
        };
        self.incidents = Incidents::tagged(tag);
        self.primary_tag = Some(tag);
        self.learner = Some(Learner::new(config, self.extractor.dim(), beside_model));
        self.learn_into = into;
        self
    }

    /// Returns what learning did (while it runs too), if the detector learns a baseline.
    pub fn learn_status(&self) -> Option<LearnStatus> {
        match (&self.learner, &self.learned) {
            (Some(l), _) => Some(l.status.clone()),
            (None, Some((s, _))) => Some(s.clone()),
            (None, None) => None,
        }
    }

    /// Returns the learned baseline's model file, once fitted.
    pub fn learned_model(&self) -> Option<&iotguard_models::persist::ModelFile> {
        self.learned.as_ref().and_then(|(_, f)| f.as_ref())
    }

    /// Ends learning now (the input ended before its condition): fits on the flows learned, so
    /// the baseline can be saved; says so in the status.
    pub fn finish_learning(&mut self) -> Result<()> {
        if let Some(l) = &mut self.learner {
            l.status.input_ended_first = true;
        }
        self.end_learning()
    }

    /// Fits the learned baseline and puts it in place.
    fn end_learning(&mut self) -> Result<()> {
        let Some(mut learner) = self.learner.take() else {
            return Ok(());
        };
        let schema = self.extractor.schema().clone();
        let features = self.active.loaded.features.clone();
        let fitted = learner.fit(&schema, &features);
        match fitted {
            Ok((file, active)) => {
                match self.learn_into {
                    LearnInto::Beside => {
                        self.baseline = Some(Baseline {
                            active: Arc::new(active),
                            incidents: Incidents::tagged(BASELINE),
                            alert_flows: 0,
                        });
                    }
                    LearnInto::Handle => {
                        self.model.swap(active)?;
                    }
                }
                self.learned = Some((learner.status.clone(), Some(file)));
                Ok(())
            }
            Err(e) => {
                self.learned = Some((learner.status.clone(), None));
                Err(e)
            }
        }
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

    /// Scores one flow, folds it into its incident if it alerts, and returns its scored view
    /// (with the shadow's score when a shadow runs beside the model).
    pub fn process(&mut self, rec: &FlowRecord) -> ScoredFlow {
        self.pick_up_swap();
        self.flows += 1;
        self.latest = Some(self.latest.map_or(rec.ts, |t| t.max(rec.ts)));
        self.extractor.extract(rec, &mut self.row);
        let mut learning = false;
        if let Some(l) = &mut self.learner {
            if l.wants(rec.ts) {
                l.push(&self.row, rec.ts);
                learning = true;
            } else {
                // A failed fit is in the status (the run reports it); detection goes on with
                // the model alone.
                let _ = self.end_learning();
                self.refresh_model();
            }
        }
        if learning && self.learn_into == LearnInto::Handle {
            let mut scored = ScoredFlow::new(rec, f32::NAN, f32::INFINITY);
            scored.detector = Some("learning");
            return scored;
        }
        let score = self.active.loaded.model.score(&self.row);
        let row = std::mem::take(&mut self.row);
        let scored = self.finish(rec, &row, score);
        self.row = row;
        scored
    }

    /// Whether the flows' features and scores may be computed ahead of their incidents, on
    /// another thread ([`crate::stage`]): not while a baseline is learned (learning decides, flow
    /// by flow, which model scores and whether a baseline runs beside it).
    pub(crate) fn can_stage(&self) -> bool {
        self.learner.is_none()
    }

    /// Whether a model or shadow was swapped into the handle since this detector last looked:
    /// the staged flows must be finished before the next flow picks the change up.
    pub(crate) fn swap_pending(&self) -> bool {
        self.model.generation() != self.generation
    }

    /// The first half of [`Detector::process`] for a staged flow: picks up a swap (the caller
    /// finished every staged flow first) and extracts the flow's features into `row`. Returns
    /// the model that scores it. Only while [`Detector::can_stage`].
    pub(crate) fn stage(&mut self, rec: &FlowRecord, row: &mut [f32]) -> &Arc<ActiveModel> {
        self.pick_up_swap();
        self.extractor.extract(rec, row);
        &self.active
    }

    /// The second half of [`Detector::process`] for a staged flow, in flow order: `row` and
    /// `score` are what [`Detector::stage`] extracted and the staged model scored.
    pub(crate) fn finish_staged(
        &mut self,
        rec: &FlowRecord,
        row: &[f32],
        score: f32,
    ) -> ScoredFlow {
        self.flows += 1;
        self.latest = Some(self.latest.map_or(rec.ts, |t| t.max(rec.ts)));
        self.finish(rec, row, score)
    }

    /// Picks up a model or shadow swapped into the handle.
    fn pick_up_swap(&mut self) {
        let generation = self.model.generation();
        if generation != self.generation {
            // `ModelHandle::swap` and `set_shadow` refuse other feature configurations, so the
            // extractor and its host state stay valid. The generation counts shadow changes
            // too: the drift monitors start again only when the active model changed.
            let active = self.model.current();
            self.shadow = self.model.shadow();
            self.generation = generation;
            if !Arc::ptr_eq(&active, &self.active) {
                self.active = active;
                if let Some(d) = self.drift.as_mut() {
                    d.start(&self.active);
                }
            }
        }
    }

    /// Everything after the active model's score: drift, threshold, incident, explanation, the
    /// baseline beside the model, the shadow.
    fn finish(&mut self, rec: &FlowRecord, row: &[f32], score: f32) -> ScoredFlow {
        let mut scored = self.finish_active(rec, row, score);
        if let Some(shadow) = &self.shadow {
            let model = &shadow.model.loaded;
            let score = model.model.score(row);
            // The model's alert, not a baseline's beside it.
            let active_alert =
                scored.is_alert && !(self.baseline.is_some() && scored.detector == Some(BASELINE));
            shadow.count(active_alert, score >= model.threshold.value);
            scored.shadow_score = Some(score);
        }
        scored
    }

    fn finish_active(&mut self, rec: &FlowRecord, row: &[f32], score: f32) -> ScoredFlow {
        let model = &self.active.loaded;
        let threshold = model.threshold.value;
        let mut scored = ScoredFlow::new(rec, score, threshold);
        if let Some(d) = self.drift.as_mut() {
            let now = self.latest.unwrap_or(rec.ts);
            d.observe(row, score, scored.is_alert, now, &self.active);
        }
        if scored.is_alert {
            self.alert_flows += 1;
            scored.detector = self.primary_tag;
            let Some(inc) = self.incidents.add(rec, score, threshold, &self.config) else {
                return scored;
            };
            if self.config.explain && inc.wants_explanation(score) {
                self.explanations += 1;
                let explanation = model.model.explain_live(row);
                let names = &model.file.features.names;
                inc.set_explanation(
                    score,
                    rec.resp_h,
                    top_features(&explanation.contributions, names, self.config.top_features),
                );
            }
            scored.severity = Some(inc.severity);
            scored.incident_id = Some(inc.id.clone());
            return scored;
        }
        let Some(b) = &mut self.baseline else {
            return scored;
        };
        let base = &b.active.loaded;
        let b_score = base.model.score(row);
        let b_threshold = base.threshold.value;
        if b_score < b_threshold || b_score.is_nan() {
            return scored;
        }
        self.alert_flows += 1;
        b.alert_flows += 1;
        let mut scored = ScoredFlow::new(rec, b_score, b_threshold);
        scored.detector = Some(BASELINE);
        let Some(inc) = b.incidents.add(rec, b_score, b_threshold, &self.config) else {
            return scored;
        };
        if self.config.explain && inc.wants_explanation(b_score) {
            self.explanations += 1;
            let explanation = base.model.explain_live(row);
            let names = &base.file.features.names;
            inc.set_explanation(
                b_score,
                rec.resp_h,
                top_features(&explanation.contributions, names, self.config.top_features),
            );
        }
        scored.severity = Some(inc.severity);
        scored.incident_id = Some(inc.id.clone());
        scored
    }

    /// Picks up a model swapped into the handle.
    fn refresh_model(&mut self) {
        let generation = self.model.generation();
        if generation != self.generation {
            self.active = self.model.current();
            self.shadow = self.model.shadow();
            self.generation = generation;
        }
    }

    /// Appends the alert documents created or updated since the last drain to `out`.
    pub fn drain_alerts(&mut self, out: &mut Vec<Alert>) {
        let created = self.config.clock.now();
        self.incidents
            .drain(out, &self.active.info, &self.config, created);
        if let Some(b) = &mut self.baseline {
            b.incidents
                .drain(out, &b.active.info, &self.config, created);
        }
    }

    /// Closes incidents idle for longer than `incident_idle_secs` at event time `now`; their
    /// final documents come with the next drain.
    pub fn expire(&mut self, now: Timestamp) {
        self.incidents.expire(now, &self.config);
        if let Some(b) = &mut self.baseline {
            b.incidents.expire(now, &self.config);
        }
    }

    /// Closes every open incident (the input ended); their final documents come with the next
    /// drain.
    pub fn close_all(&mut self) {
        self.incidents.close_all();
        if let Some(b) = &mut self.baseline {
            b.incidents.close_all();
        }
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
            + self
                .baseline
                .as_ref()
                .map_or(0, |b| b.incidents.open_count())
    }

    /// Returns the baseline beside the model, if any (loaded, or learned and fitted).
    pub fn baseline(&self) -> Option<&Arc<ActiveModel>> {
        self.baseline.as_ref().map(|b| &b.active)
    }

    /// Returns the alerting flows the baseline flagged (and the model did not).
    pub fn baseline_alert_flows(&self) -> u64 {
        self.baseline.as_ref().map_or(0, |b| b.alert_flows)
    }

    /// Returns the hosts held by the feature extractor (originators, responders).
    pub fn host_counts(&self) -> (usize, usize) {
        self.extractor.host_counts()
    }

    /// Returns the number of features per flow.
    pub(crate) fn dim(&self) -> usize {
        self.extractor.dim()
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
