//! [`LiveFeed`]: scored flows (sampled) and alerts fanned out to the dashboard.
//!
//! A `tokio::sync::broadcast` channel: `publish` never blocks and never fails the pipeline; a
//! receiver that falls behind loses the oldest events (it sees `Lagged`) and the detector never
//! waits. Flows are sampled to at most `max_flows_per_sec` per second of wall clock (alerting
//! flows first: a flow that alerts is taken while the second's budget lasts, a quiet one only
//! while less than half of it is used); alert documents are always published.

use std::time::Instant;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::alert::Alert;
use crate::scored::ScoredFlow;

/// How the feed samples and buffers.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedConfig {
    /// Most flows published per second.
    pub max_flows_per_sec: u32,
    /// Events buffered per receiver before the oldest are dropped.
    pub capacity: usize,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            max_flows_per_sec: 50,
            capacity: 4096,
        }
    }
}

/// One event on the feed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum FeedEvent {
    /// A scored flow (sampled).
    Flow(Box<ScoredFlow>),
    /// A new or updated alert.
    Alert(Box<Alert>),
}

/// The feed's sending side; see the module docs. `Clone` shares the channel.
#[derive(Clone, Debug)]
pub struct LiveFeed {
    sender: broadcast::Sender<FeedEvent>,
    config: FeedConfig,
    window_start: Option<Instant>,
    taken: u32,
}

impl LiveFeed {
    /// Makes a feed with no receivers yet.
    pub fn new(config: FeedConfig) -> LiveFeed {
        let (sender, _) = broadcast::channel(config.capacity.max(1));
        LiveFeed {
            sender,
            config,
            window_start: None,
            taken: 0,
        }
    }

    /// Returns a new receiver (it sees events published from now on).
    pub fn subscribe(&self) -> broadcast::Receiver<FeedEvent> {
        self.sender.subscribe()
    }

    /// Returns the number of receivers.
    pub fn receivers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Whether a flow would be taken now (checks and counts the per-second budget).
    pub fn want_flow(&mut self, is_alert: bool) -> bool {
        if self.sender.receiver_count() == 0 {
            return false;
        }
        let now = Instant::now();
        match self.window_start {
            Some(start) if now.duration_since(start).as_secs() < 1 => {}
            _ => {
                self.window_start = Some(now);
                self.taken = 0;
            }
        }
        let budget = if is_alert {
            self.config.max_flows_per_sec
        } else {
            self.config.max_flows_per_sec / 2
        };
        if self.taken < budget {
            self.taken += 1;
            true
        } else {
            false
        }
    }

    /// Publishes a flow if [`want_flow`](LiveFeed::want_flow) took it; returns whether it did.
    pub fn offer_flow(&mut self, flow: &ScoredFlow) -> bool {
        if self.want_flow(flow.is_alert) {
            self.sender
                .send(FeedEvent::Flow(Box::new(flow.clone())))
                .is_ok()
        } else {
            false
        }
    }

    /// Publishes an alert document (to every receiver; none is fine).
    pub fn publish_alert(&self, alert: &Alert) -> bool {
        self.sender.receiver_count() > 0
            && self
                .sender
                .send(FeedEvent::Alert(Box::new(alert.clone())))
                .is_ok()
    }
}
