//! What the monitors know now ([`DriftStatus`], one per closed window) and the shared
//! [`DriftBoard`] the detector publishes it to and the server reads.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::page_hinkley::{Change, PageHinkley};
use crate::psi::Status;

/// One feature's state (or the score's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureState {
    /// The feature's name.
    pub name: String,
    /// PSI of the last window (`None` before the first).
    pub psi: Option<f64>,
    /// Its status.
    pub status: Status,
    /// Share of missing values in the last window.
    pub missing: f64,
    /// Share of missing values in the reference.
    pub reference_missing: f64,
    /// Flows scored before the window in which it entered its status (0: since the start).
    pub since_flow: u64,
    /// Event time (ns since the epoch) of the end of that window; `None`: since the start.
    pub since_time_ns: Option<i64>,
    /// Consecutive windows (up to the last) with the PSI at the drift level.
    pub drift_windows: u64,
    /// Where the current run of such windows began (flows before it, its end time).
    #[serde(skip)]
    pub(crate) streak_start: (u64, i64),
}

impl FeatureState {
    pub(crate) fn new(name: &str, reference_missing: f64) -> FeatureState {
        FeatureState {
            name: name.to_string(),
            psi: None,
            status: Status::Ok,
            missing: 0.0,
            reference_missing,
            since_flow: 0,
            since_time_ns: None,
            drift_windows: 0,
            streak_start: (0, 0),
        }
    }
}

/// The score's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreState {
    /// PSI and status of the score's distribution.
    #[serde(flatten)]
    pub state: FeatureState,
    /// Mean score in the last window.
    pub mean: f64,
    /// Mean training score.
    pub reference_mean: f64,
}

impl ScoreState {
    pub(crate) fn new(reference_mean: f64, reference_missing: f64) -> ScoreState {
        ScoreState {
            state: FeatureState::new("score", reference_missing),
            mean: 0.0,
            reference_mean,
        }
    }
}

/// A Page-Hinkley test's state over the windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectorState {
    /// The value at training (expected alert rate, mean training score).
    pub expected: f64,
    /// The last window's value.
    pub observed: Option<f64>,
    /// `stable`, or the direction of the last change while it is the latest window's.
    pub state: String,
    /// The last change detected, if any.
    pub last_change: Option<Change>,
    /// The window it was detected in.
    pub last_change_window: Option<u64>,
    /// Changes detected so far.
    pub changes: u64,
    /// The test's statistic (a change is detected above `ph_lambda`).
    pub statistic: f64,
    /// Windows the test has seen since its last change.
    pub samples: u64,
}

impl DetectorState {
    pub(crate) fn new(expected: f64) -> DetectorState {
        DetectorState {
            expected,
            observed: None,
            state: "stable".to_string(),
            last_change: None,
            last_change_window: None,
            changes: 0,
            statistic: 0.0,
            samples: 0,
        }
    }

    pub(crate) fn update(
        &mut self,
        observed: f64,
        change: Option<Change>,
        ph: &PageHinkley,
        window: u64,
    ) {
        self.observed = Some(observed);
        self.statistic = ph.statistic();
        self.samples = ph.samples();
        self.state = match change {
            Some(Change::Increase) => "increase",
            Some(Change::Decrease) => "decrease",
            None => "stable",
        }
        .to_string();
        if change.is_some() {
            self.last_change = change;
            self.last_change_window = Some(window);
            self.changes += 1;
        }
    }
}

/// The monitors' state as of the last closed window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftStatus {
    /// Flows per window.
    pub window_flows: u64,
    /// Windows closed.
    pub windows: u64,
    /// Flows in closed windows.
    pub flows: u64,
    /// Whether a feature or the score is at `drift` as of the last window.
    pub drift_detected: bool,
    /// Per feature, in the schema's order.
    pub features: Vec<FeatureState>,
    /// The score's distribution.
    pub score: ScoreState,
    /// The alert rate's Page-Hinkley test.
    pub alert_rate: DetectorState,
    /// The mean score's Page-Hinkley test.
    pub mean_score: DetectorState,
    /// Drift events raised.
    pub events: u64,
}

/// What the board holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Board {
    /// The latest status; `None` before the first window or without monitors.
    pub status: Option<DriftStatus>,
    /// Why there are no monitors (a model file without a reference profile), if so.
    pub disabled: Option<String>,
}

/// The latest [`DriftStatus`], shared between the detector (writer, once per window) and the
/// server (readers); a cheap `Clone`.
#[derive(Clone, Debug, Default)]
pub struct DriftBoard {
    inner: Arc<Mutex<Board>>,
}

impl DriftBoard {
    /// Returns an empty board.
    pub fn new() -> DriftBoard {
        DriftBoard::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Board> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes a window's status (monitors are on).
    pub fn publish(&self, status: &DriftStatus) {
        let mut b = self.lock();
        b.status = Some(status.clone());
        b.disabled = None;
    }

    /// Says monitoring is off and why (the status is cleared).
    pub fn disable(&self, why: &str) {
        let mut b = self.lock();
        b.status = None;
        b.disabled = Some(why.to_string());
    }

    /// Clears the status (a new model: its monitors start again).
    pub fn reset(&self) {
        *self.lock() = Board::default();
    }

    /// Returns a copy of what the board holds.
    pub fn snapshot(&self) -> Board {
        self.lock().clone()
    }
}
