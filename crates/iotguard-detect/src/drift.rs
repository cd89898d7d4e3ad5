//! Drift monitoring inside the detector: the [`Monitor`] of the active model's reference
//! profile, fed every scored flow, and its events as ECS documents ([`EventDocument`]) for
//! the same sinks as alerts.
//!
//! A drift event is an ECS `event.kind: "event"` (not an alert: nothing attacked anything),
//! `event.category: ["configuration"]`, `event.type: ["change"]`, `event.action:
//! "model-drift"`, `event.dataset: "iotguard.drift"`, with `iotguard.drift` naming the features
//! that moved and by how much (PSI, missing shares), the score's PSI, the alert rate against
//! the expected one and the Page-Hinkley tests' verdicts. Its `event.id` is
//! `drift-<model id>-<window>`, stable if the same window is sent again.

use std::sync::Arc;

use iotguard_flow::Timestamp;
use iotguard_monitor::{DriftBoard, DriftEvent, Monitor, MonitorConfig};
use serde::{Deserialize, Serialize};

use crate::alert::{AlertRule, EcsVersion};
use crate::model::ActiveModel;

/// What a model file without a reference profile means for monitoring (said once).
pub const NO_PROFILE: &str =
    "the model file has no reference profile (trained before drift monitoring existed): no drift monitors; retrain it to get them";

/// A drift event as an ECS document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventDocument {
    /// The event time at which the window closed (RFC 3339), ECS `@timestamp`.
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    /// `ecs.version`.
    pub ecs: EcsVersion,
    /// ECS `event`.
    pub event: EventFields,
    /// The model whose inputs drifted.
    pub rule: AlertRule,
    /// A one-line summary for people.
    pub message: String,
    /// Our own fields: `iotguard.drift`.
    pub iotguard: EventIotguard,
}

impl EventDocument {
    /// Returns the event's id (`event.id`).
    pub fn id(&self) -> &str {
        &self.event.id
    }
}

/// ECS `event` object of a drift event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventFields {
    /// `drift-<model id>-<window>`.
    pub id: String,
    /// Always `event`.
    pub kind: String,
    /// Always `["configuration"]`.
    pub category: Vec<String>,
    /// Always `["change"]`.
    #[serde(rename = "type")]
    pub type_: Vec<String>,
    /// Always `model-drift`.
    pub action: String,
    /// Always `iotguard.drift`.
    pub dataset: String,
    /// When the document was made (wall clock, RFC 3339; injectable for tests).
    pub created: String,
}

/// `iotguard` object of a drift event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventIotguard {
    /// What moved.
    pub drift: DriftEvent,
}

/// The detector's monitoring: the monitor (none for a model without a profile), the board it
/// publishes to, the events not yet drained.
pub(crate) struct Drift {
    config: MonitorConfig,
    monitor: Option<Monitor>,
    board: DriftBoard,
    events: Vec<(DriftEvent, Arc<ActiveModel>)>,
}

impl Drift {
    pub(crate) fn new(config: MonitorConfig, board: DriftBoard, model: &ActiveModel) -> Drift {
        let mut d = Drift {
            config,
            monitor: None,
            board,
            events: Vec::new(),
        };
        d.start(model);
        d
    }

    /// Starts monitoring `model` afresh (at start and after a hot swap).
    pub(crate) fn start(&mut self, model: &ActiveModel) {
        self.board.reset();
        self.monitor = match &model.loaded.file.reference {
            Some(r) => Some(Monitor::new(Arc::new(r.clone()), self.config.clone())),
            None => {
                self.board.disable(NO_PROFILE);
                None
            }
        };
    }

    pub(crate) fn enabled(&self) -> bool {
        self.monitor.is_some()
    }

    /// Counts one scored flow; closes the window when it is full.
    #[inline]
    pub(crate) fn observe(
        &mut self,
        row: &[f32],
        score: f32,
        alert: bool,
        now: Timestamp,
        model: &Arc<ActiveModel>,
    ) {
        let Some(m) = self.monitor.as_mut() else {
            return;
        };
        if m.observe(row, score, alert) {
            let event = m.close_window(now.as_nanos());
            self.board.publish(m.status());
            if let Some(e) = event {
                self.events.push((e, model.clone()));
            }
        }
    }

    /// Appends the events raised since the last drain to `out`, as ECS documents.
    pub(crate) fn drain(&mut self, out: &mut Vec<EventDocument>, created: Timestamp) {
        for (e, model) in self.events.drain(..) {
            out.push(document(e, &model, created));
        }
    }
}

/// Builds the ECS document of a drift event.
pub(crate) fn document(e: DriftEvent, model: &ActiveModel, created: Timestamp) -> EventDocument {
    let info = &model.info;
    let mut moved: Vec<String> = e
        .features
        .iter()
        .filter(|f| f.status == iotguard_monitor::Status::Drift)
        .take(5)
        .map(|f| format!("{} (PSI {:.2})", f.name, f.psi))
        .collect();
    if let Some(s) = e
        .score
        .as_ref()
        .filter(|s| s.status == iotguard_monitor::Status::Drift)
    {
        moved.push(format!("score (PSI {:.2})", s.psi));
    }
    let drifted = e
        .features
        .iter()
        .filter(|f| f.status == iotguard_monitor::Status::Drift)
        .count();
    let mut message = if moved.is_empty() {
        "Model input drift: no feature past the drift level".to_string()
    } else {
        format!(
            "Model input drift: {drifted} feature{} moved: {}",
            if drifted == 1 { "" } else { "s" },
            moved.join(", ")
        )
    };
    if let Some(c) = e.alert_rate_change {
        message.push_str(&format!(
            "; alert rate {} to {:.1} % (expected {:.1} %)",
            change_word(c),
            e.alert_rate * 100.0,
            e.expected_alert_rate * 100.0
        ));
    }
    if let Some(c) = e.score_change {
        message.push_str(&format!(
            "; mean score {} to {:.3}",
            change_word(c),
            e.mean_score
        ));
    }
    EventDocument {
        timestamp: Timestamp(e.end_time_ns).to_rfc3339(),
        ecs: EcsVersion::default(),
        event: EventFields {
            id: format!("drift-{}-{}", info.id, e.window),
            kind: "event".to_string(),
            category: vec!["configuration".to_string()],
            type_: vec!["change".to_string()],
            action: "model-drift".to_string(),
            dataset: "iotguard.drift".to_string(),
            created: created.to_rfc3339(),
        },
        rule: AlertRule {
            name: info.name.clone(),
            id: info.id.clone(),
            version: info.version.clone(),
            category: "drift".to_string(),
        },
        message,
        iotguard: EventIotguard { drift: e },
    }
}

fn change_word(c: iotguard_monitor::Change) -> &'static str {
    match c {
        iotguard_monitor::Change::Increase => "rose",
        iotguard_monitor::Change::Decrease => "fell",
    }
}
