//! [`Monitor`]: scored flows counted into windows and compared with the reference profile.
//!
//! The per-flow path ([`Monitor::observe`]) only counts: each feature's value goes to its bin
//! (a binary search over at most nine precomputed cut points) or its missing cell, the score
//! likewise, the alert and the score are summed. Every [`MonitorConfig::window`] flows the
//! caller closes the window ([`Monitor::close_window`]): PSI per feature and for the score,
//! missing shares, the alert rate and mean score fed to two Page-Hinkley tests, statuses
//! updated, and a [`DriftEvent`] returned when something newly drifted.

use std::sync::Arc;

use iotguard_models::reference::{bin, ReferenceProfile};
use serde::{Deserialize, Serialize};

use crate::page_hinkley::{Change, PageHinkley};
use crate::psi::{psi, Status};
use crate::status::{DetectorState, DriftStatus, FeatureState, ScoreState};

/// How the monitors window and judge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// Scored flows per window. Default 10,000.
    pub window: u64,
    /// PSI at or above which a feature (or the score) is `warn`. Default 0.1.
    pub warn_psi: f64,
    /// PSI at or above which it is `drift`. Default 0.25.
    pub drift_psi: f64,
    /// Page-Hinkley tolerance, in reference standard deviations of one flow's value. Default
    /// 0.05.
    pub ph_delta: f64,
    /// Page-Hinkley threshold, in the same units. Default 1.0.
    pub ph_lambda: f64,
    /// Windows a Page-Hinkley test sees before it may detect. Default 3.
    pub ph_min_windows: u64,
    /// Consecutive windows a PSI must stay at the drift level before the feature is called
    /// `drift` (a burst of a window or two is `warn`). Default 3.
    pub persist: u64,
    /// Count the features of one flow under the threshold in this many (the score, alert rate
    /// and mean score count every flow). Default 4: a window of 10,000 flows still gives
    /// about 2,500 rows per feature histogram, and the monitors cost about 4 % of detection
    /// instead of 11 % (BENCHMARKS.md, "Drift monitors").
    pub feature_every: u64,
    /// Whether a Page-Hinkley change alone raises a drift event. Default false: attacks
    /// change the alert rate (the alerts say so); the tests' state is on `/api/v1/drift` and
    /// in every event.
    pub rate_events: bool,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            window: 10_000,
            warn_psi: 0.1,
            drift_psi: 0.25,
            ph_delta: 0.05,
            ph_lambda: 1.0,
            ph_min_windows: 3,
            persist: 3,
            feature_every: 4,
            rate_events: false,
        }
    }
}

impl MonitorConfig {
    /// Checks the values, naming every problem.
    pub fn validate(&self) -> Result<(), String> {
        let mut why = Vec::new();
        if self.window < 100 {
            why.push(format!("window {} is under 100 flows", self.window));
        }
        if !(self.warn_psi > 0.0 && self.warn_psi <= self.drift_psi) {
            why.push(format!(
                "PSI levels must satisfy 0 < warn ({}) <= drift ({})",
                self.warn_psi, self.drift_psi
            ));
        }
        if !(self.ph_delta >= 0.0 && self.ph_lambda > 0.0) {
            why.push("Page-Hinkley delta must be >= 0 and lambda > 0".to_string());
        }
        if why.is_empty() {
            Ok(())
        } else {
            Err(why.join("; "))
        }
    }
}

/// One feature (or the score) that moved, in a drift event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MovedFeature {
    /// The feature's name (`score` for the model's score).
    pub name: String,
    /// Its PSI in the window.
    pub psi: f64,
    /// Its status.
    pub status: Status,
    /// Share of missing values in the window.
    pub missing: f64,
    /// Share of missing values in the reference.
    pub reference_missing: f64,
    /// Whether it entered this status in this window.
    pub new: bool,
}

/// What a window found that was worth an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftEvent {
    /// The window's number (from 0).
    pub window: u64,
    /// Flows scored before the window began.
    pub first_flow: u64,
    /// Flows scored when it closed.
    pub last_flow: u64,
    /// Event time at which it closed, in nanoseconds since the epoch.
    pub end_time_ns: i64,
    /// Features at `drift` (and at `warn`), largest PSI first.
    pub features: Vec<MovedFeature>,
    /// The score, when it is at `drift` or `warn`.
    pub score: Option<MovedFeature>,
    /// Alert rate in the window, and expected at training.
    pub alert_rate: f64,
    /// The expected alert rate (the reference's).
    pub expected_alert_rate: f64,
    /// Mean score in the window.
    pub mean_score: f64,
    /// A change the alert-rate Page-Hinkley test detected in this window.
    pub alert_rate_change: Option<Change>,
    /// A change the mean-score Page-Hinkley test detected in this window.
    pub score_change: Option<Change>,
}

/// Cut points looked up without a branch: up to this many, padded with +inf.
const FAST_CUTS: usize = 9;

/// A feature's cells: its cut points and where its counts are.
#[derive(Clone, Debug)]
struct Layout {
    /// The cut points padded with +inf (a finite value is never above +inf), so the bin is
    /// the number of entries under the value: nine compares the compiler turns into vector
    /// instructions, rather than a binary search's unpredictable branches.
    fast: [f32; FAST_CUTS],
    /// More cut points than fit (a profile not written by this build): a binary search here.
    cuts: std::ops::Range<usize>,
    wide: bool,
    counts: usize,
    missing: usize,
}

/// Counts scored flows into windows and compares each window with the reference.
pub struct Monitor {
    reference: Arc<ReferenceProfile>,
    config: MonitorConfig,
    layout: Vec<Layout>,
    cuts: Vec<f32>,
    /// Per feature: its bins then its missing cell.
    counts: Vec<u32>,
    score_counts: Vec<u32>,
    n: u64,
    /// Flows under the threshold in the window (the score histogram counts them).
    benign: u64,
    /// Among them, flows whose features were counted (one in `feature_every`).
    sampled: u64,
    /// Flows under the threshold to pass over before the next one whose features count.
    skip: u64,
    alerts: u64,
    score_sum: f64,
    flows: u64,
    status: DriftStatus,
    ph_alert: PageHinkley,
    ph_score: PageHinkley,
    alert_sd: f64,
    score_sd: f64,
}

impl Monitor {
    /// Returns a monitor for a model's reference profile.
    pub fn new(reference: Arc<ReferenceProfile>, config: MonitorConfig) -> Monitor {
        let mut cuts = Vec::new();
        let mut layout = Vec::with_capacity(reference.features.len());
        let mut n_counts = 0;
        for f in &reference.features {
            let start = cuts.len();
            cuts.extend_from_slice(&f.histogram.cuts);
            let mut fast = [f32::INFINITY; FAST_CUTS];
            let n = f.histogram.cuts.len();
            for (slot, &c) in fast.iter_mut().zip(&f.histogram.cuts) {
                *slot = c;
            }
            layout.push(Layout {
                fast,
                cuts: start..cuts.len(),
                wide: n > FAST_CUTS,
                counts: n_counts,
                missing: n_counts + n + 1,
            });
            n_counts += f.histogram.cuts.len() + 2;
        }
        let p = reference.expected_alert_rate;
        let ph = || PageHinkley::new(config.ph_delta, config.ph_lambda, config.ph_min_windows);
        let status = DriftStatus {
            window_flows: config.window,
            windows: 0,
            flows: 0,
            drift_detected: false,
            features: reference
                .features
                .iter()
                .map(|f| FeatureState::new(&f.name, f.histogram.missing))
                .collect(),
            score: ScoreState::new(reference.score_mean, reference.score.missing),
            alert_rate: DetectorState::new(p),
            mean_score: DetectorState::new(reference.score_mean),
            events: 0,
        };
        Monitor {
            counts: vec![0; n_counts],
            score_counts: vec![0; reference.score.cuts.len() + 2],
            layout,
            cuts,
            n: 0,
            benign: 0,
            sampled: 0,
            skip: 0,
            alerts: 0,
            score_sum: 0.0,
            flows: 0,
            status,
            ph_alert: ph(),
            ph_score: ph(),
            // The standard deviation of one flow's alert (a Bernoulli) and score, floored so
            // a model that never alerted in training still gives a finite scale.
            alert_sd: (p * (1.0 - p)).sqrt().max(0.01),
            score_sd: reference.score_std.max(1e-6),
            reference,
            config,
        }
    }

    /// Returns the configuration.
    pub fn config(&self) -> &MonitorConfig {
        &self.config
    }

    /// Counts one scored flow (`row` in the reference's feature order); returns whether the
    /// window is full (the caller then calls [`Monitor::close_window`]).
    #[inline]
    pub fn observe(&mut self, row: &[f32], score: f32, alert: bool) -> bool {
        self.n += 1;
        if score.is_finite() {
            self.score_sum += f64::from(score);
        }
        if alert {
            // Alerts are the detector's business; the histograms describe the rest.
            self.alerts += 1;
            return self.n >= self.config.window;
        }
        self.benign += 1;
        let cuts = &self.reference.score.cuts;
        let cell = if score.is_finite() {
            bin(cuts, score)
        } else {
            cuts.len() + 1
        };
        self.score_counts[cell] += 1;
        if self.skip > 0 {
            self.skip -= 1;
            return self.n >= self.config.window;
        }
        self.skip = self.config.feature_every.max(1) - 1;
        self.sampled += 1;
        for (l, &v) in self.layout.iter().zip(row) {
            let cell = if !v.is_finite() {
                l.missing
            } else if l.wide {
                l.counts + bin(&self.cuts[l.cuts.clone()], v)
            } else {
                l.counts + l.fast.iter().map(|&c| usize::from(c < v)).sum::<usize>()
            };
            self.counts[cell] += 1;
        }
        self.n >= self.config.window
    }

    /// Closes the window (event time `end_time_ns`): compares it with the reference, updates
    /// the status and starts the next window. Returns an event when a feature or the score
    /// newly reached `drift` (its PSI at the drift level for [`MonitorConfig::persist`]
    /// windows in a row), or, with [`MonitorConfig::rate_events`], when a Page-Hinkley test
    /// detected a change. Does nothing on an empty window; a window without a flow under the
    /// threshold leaves the PSIs as they were.
    pub fn close_window(&mut self, end_time_ns: i64) -> Option<DriftEvent> {
        if self.n == 0 {
            return None;
        }
        let first_flow = self.flows;
        self.flows += self.n;
        let window = self.status.windows;
        let judge = Judge {
            warn: self.config.warn_psi,
            drift: self.config.drift_psi,
            persist: self.config.persist.max(1),
            first_flow,
            end_time_ns,
        };
        let mut moved = Vec::new();
        let mut score = None;
        let mut expected = Vec::new();
        let mut actual = Vec::new();
        if self.sampled > 0 {
            let n = self.sampled as f64;
            for (i, (l, f)) in self.layout.iter().zip(&self.reference.features).enumerate() {
                let cells = &self.counts[l.counts..l.counts + l.cuts.len() + 2];
                let h = &f.histogram;
                shares(&h.shares, h.missing, &mut expected);
                actual.clear();
                actual.extend(cells.iter().map(|&c| f64::from(c) / n));
                let state = &mut self.status.features[i];
                if let Some(m) = judge.window(state, &expected, &actual) {
                    moved.push(m);
                }
            }
            moved.sort_by(|a, b| b.status.cmp(&a.status).then(b.psi.total_cmp(&a.psi)));
        }
        if self.benign > 0 {
            let n = self.benign as f64;
            let h = &self.reference.score;
            shares(&h.shares, h.missing, &mut expected);
            actual.clear();
            actual.extend(self.score_counts.iter().map(|&c| f64::from(c) / n));
            score = judge.window(&mut self.status.score.state, &expected, &actual);
        }
        let n = self.n as f64;
        let mean_score = self.score_sum / n;
        let alert_rate = self.alerts as f64 / n;
        self.status.score.mean = mean_score;
        let alert_change = self.ph_alert.update(alert_rate / self.alert_sd);
        let score_change = self.ph_score.update(mean_score / self.score_sd);
        self.status
            .alert_rate
            .update(alert_rate, alert_change, &self.ph_alert, window);
        self.status
            .mean_score
            .update(mean_score, score_change, &self.ph_score, window);
        self.status.windows += 1;
        self.status.flows = self.flows;
        let drifting = |m: &MovedFeature| m.status == Status::Drift;
        let newly_drifted = moved.iter().chain(&score).any(|m| m.new && drifting(m));
        self.status.drift_detected = self
            .status
            .features
            .iter()
            .chain(std::iter::once(&self.status.score.state))
            .any(|f| f.status == Status::Drift);
        let rate_event =
            self.config.rate_events && (alert_change.is_some() || score_change.is_some());
        self.counts.fill(0);
        self.score_counts.fill(0);
        self.n = 0;
        self.benign = 0;
        self.sampled = 0;
        self.alerts = 0;
        self.score_sum = 0.0;
        if !(newly_drifted || rate_event) {
            return None;
        }
        self.status.events += 1;
        Some(DriftEvent {
            window,
            first_flow,
            last_flow: self.flows,
            end_time_ns,
            features: moved,
            score,
            alert_rate,
            expected_alert_rate: self.reference.expected_alert_rate,
            mean_score,
            alert_rate_change: alert_change,
            score_change,
        })
    }

    /// Returns the status as of the last closed window.
    pub fn status(&self) -> &DriftStatus {
        &self.status
    }

    /// Returns the flows counted in the open window.
    pub fn pending(&self) -> u64 {
        self.n
    }
}

/// The levels a window is judged by.
struct Judge {
    warn: f64,
    drift: f64,
    persist: u64,
    first_flow: u64,
    end_time_ns: i64,
}

impl Judge {
    /// Updates one feature's state with a window's shares; returns it when it moved (status
    /// `warn` or `drift`).
    fn window(
        &self,
        state: &mut FeatureState,
        expected: &[f64],
        actual: &[f64],
    ) -> Option<MovedFeature> {
        let value = psi(expected, actual);
        let missing = actual[actual.len() - 1];
        let raw = Status::of(value, self.warn, self.drift);
        let new = state.update(value, raw, missing, self.persist, self);
        (state.status != Status::Ok).then(|| MovedFeature {
            name: state.name.clone(),
            psi: value,
            status: state.status,
            missing,
            reference_missing: state.reference_missing,
            new,
        })
    }
}

impl FeatureState {
    /// Records a window's PSI: `drift` once the PSI was at the drift level for `persist`
    /// windows in a row (`warn` until then), since the first of them, and until it falls under
    /// the warn level. Returns whether the status changed.
    fn update(&mut self, psi: f64, raw: Status, missing: f64, persist: u64, j: &Judge) -> bool {
        self.psi = Some(psi);
        self.missing = missing;
        if raw == Status::Drift {
            if self.drift_windows == 0 {
                self.streak_start = (j.first_flow, j.end_time_ns);
            }
            self.drift_windows += 1;
        } else {
            self.drift_windows = 0;
        }
        let status = if self.status == Status::Drift && raw != Status::Ok {
            // Hysteresis: a drifted feature stays `drift` until its PSI falls under the warn
            // level, so one quieter window does not end it (and raise it anew three later).
            Status::Drift
        } else if raw == Status::Drift && self.drift_windows < persist {
            Status::Warn
        } else {
            raw
        };
        if status == self.status {
            return false;
        }
        let (flow, time) = if status == Status::Drift {
            self.streak_start
        } else {
            (j.first_flow, j.end_time_ns)
        };
        self.status = status;
        self.since_flow = flow;
        self.since_time_ns = Some(time);
        true
    }
}

/// Writes a histogram's cells (bins, then missing) into `out`.
fn shares(bins: &[f64], missing: f64, out: &mut Vec<f64>) {
    out.clear();
    out.extend_from_slice(bins);
    out.push(missing);
}
