//! A shadow model: scored beside the active model on every live flow, never alerting, with
//! counts of where the two would disagree. Whoever installs one ([`ModelHandle::set_shadow`])
//! decides from those counts whether to swap it in ([`ModelHandle::swap`]) or drop it
//! ([`ModelHandle::clear_shadow`]); `detect --auto-retrain` does so before swapping a retrained
//! model in.
//!
//! Invariant: a shadow changes nothing the active model decides (alerts, incidents,
//! explanations); it only adds its score to the scored flow (and so to the archive) and to
//! these counts. The detector picks a shadow up, or lets it go, between two flows, as it does
//! a swap.
//!
//! [`ModelHandle::set_shadow`]: crate::ModelHandle::set_shadow
//! [`ModelHandle::swap`]: crate::ModelHandle::swap
//! [`ModelHandle::clear_shadow`]: crate::ModelHandle::clear_shadow

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::model::{ActiveModel, ModelInfo};

/// A model scored beside the active one, with its counts.
pub struct Shadow {
    /// The shadow model.
    pub model: ActiveModel,
    /// The active model it runs beside (its names when the shadow was installed).
    pub beside: ModelInfo,
    /// When it was installed (wall clock, RFC 3339).
    pub since: String,
    counts: Counts,
}

#[derive(Default)]
struct Counts {
    flows: AtomicU64,
    active_alerts: AtomicU64,
    shadow_alerts: AtomicU64,
    shadow_only: AtomicU64,
    active_only: AtomicU64,
}

impl Counts {
    fn add(&self, active_alert: bool, shadow_alert: bool) {
        self.flows.fetch_add(1, Ordering::Relaxed);
        if active_alert {
            self.active_alerts.fetch_add(1, Ordering::Relaxed);
        }
        if shadow_alert {
            self.shadow_alerts.fetch_add(1, Ordering::Relaxed);
        }
        match (active_alert, shadow_alert) {
            (false, true) => self.shadow_only.fetch_add(1, Ordering::Relaxed),
            (true, false) => self.active_only.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    fn read(&self) -> ShadowCounts {
        ShadowCounts {
            flows: self.flows.load(Ordering::Relaxed),
            active_alerts: self.active_alerts.load(Ordering::Relaxed),
            shadow_alerts: self.shadow_alerts.load(Ordering::Relaxed),
            shadow_only: self.shadow_only.load(Ordering::Relaxed),
            active_only: self.active_only.load(Ordering::Relaxed),
        }
    }
}

/// What a shadow would have done on the live flows it saw, beside the active model.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ShadowCounts {
    /// Flows scored by both.
    pub flows: u64,
    /// Of which the active model alerted on.
    pub active_alerts: u64,
    /// Of which the shadow would have alerted on.
    pub shadow_alerts: u64,
    /// Alerts the shadow would add: flows it flags and the active model does not. Nobody has
    /// judged them.
    pub shadow_only: u64,
    /// Alerts the shadow would drop: flows the active model flags and it does not.
    pub active_only: u64,
}

impl ShadowCounts {
    /// The share of flows the shadow would add as alerts (0 before any flow).
    pub fn added_share(&self) -> f64 {
        if self.flows == 0 {
            0.0
        } else {
            self.shadow_only as f64 / self.flows as f64
        }
    }
}

/// A shadow's state, as `GET /api/v1/models` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ShadowStatus {
    /// The shadow's names.
    pub model: ModelInfo,
    /// The active model it runs beside.
    pub beside: ModelInfo,
    /// Since when (wall clock, RFC 3339).
    pub since: String,
    /// What it would have done so far.
    pub counts: ShadowCounts,
}

impl Shadow {
    /// Wraps `model` as a shadow of `beside`, installed at `since`.
    pub fn new(model: ActiveModel, beside: ModelInfo, since: String) -> Shadow {
        Shadow {
            model,
            beside,
            since,
            counts: Counts::default(),
        }
    }

    /// Counts one flow: whether the active model alerted and whether the shadow would have.
    pub(crate) fn count(&self, active_alert: bool, shadow_alert: bool) {
        self.counts.add(active_alert, shadow_alert);
    }

    /// The counts so far.
    pub fn counts(&self) -> ShadowCounts {
        self.counts.read()
    }

    /// The shadow's state.
    pub fn status(&self) -> ShadowStatus {
        ShadowStatus {
            model: self.model.info.clone(),
            beside: self.beside.clone(),
            since: self.since.clone(),
            counts: self.counts(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_say_where_the_two_disagree() {
        let c = Counts::default();
        for (active, shadow) in [
            (true, true),
            (true, false),
            (false, true),
            (false, true),
            (false, false),
        ] {
            c.add(active, shadow);
        }
        let got = c.read();
        assert_eq!(
            got,
            ShadowCounts {
                flows: 5,
                active_alerts: 2,
                shadow_alerts: 3,
                shadow_only: 2,
                active_only: 1,
            }
        );
        assert_eq!(got.added_share(), 0.4);
        assert_eq!(ShadowCounts::default().added_share(), 0.0);
    }
}
