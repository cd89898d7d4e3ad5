//! `GET /api/v1/live`: the dashboard's feed as Server-Sent Events.
//!
//! Events: `flow` (a sampled scored flow), `alert` (an alert created or updated), `stats` (a
//! [`Tick`] once a second: totals the page turns into rates, alert counts by severity) and
//! `model` (the active model changed). The detector's feed is already sampled; each
//! connection sends at most [`FLOWS_PER_SEC`] flows a second on top, and alert updates are
//! coalesced: once a second, the latest version of each incident updated since (at most
//! [`MAX_ALERTS_PER_TICK`]). A client too slow to keep up skips what it missed (counted in the
//! next tick), so the detector never waits for a browser. Streams end when the server stops.
//!
//! The totals of a tick (alerts in the store by severity, the pipeline's counters) are the
//! same for every client: one task computes them once a second on the blocking pool (the store
//! query never runs on the server's async threads) and shares them through a `watch` channel;
//! it skips the work while no stream is open. At most `max_live_streams` streams are served at
//! once (64 by default); one more is answered 503.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use iotguard_detect::{Alert, FeedEvent};
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::api::stats::severity_counts;
use crate::error::ApiError;
use crate::state::{AppState, LiveSlot};

/// The most flows one connection receives per second.
pub(crate) const FLOWS_PER_SEC: u32 = 40;

/// The most distinct incidents one tick sends; more are counted as skipped.
pub(crate) const MAX_ALERTS_PER_TICK: usize = 200;

/// What a `stats` event holds.
#[derive(Serialize, Debug, Default, Clone)]
pub(crate) struct Tick {
    /// Wall-clock time of the tick, Unix seconds.
    t: f64,
    /// Flows scored so far.
    flows_total: u64,
    /// Alert documents created or updated so far (incidents update while they last).
    alert_updates_total: u64,
    /// Alerts (incidents) in the store.
    alerts_total: u64,
    /// Alerts in the store by severity.
    severity: std::collections::BTreeMap<String, u64>,
    /// Feed events this connection skipped because it was behind or over its flow budget.
    skipped: u64,
    /// Swaps of the active model so far.
    model_generation: u64,
}

/// The part of a tick shared by every stream.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Whether it was computed (the first computation may still run).
    ready: bool,
    flows_total: u64,
    alert_updates_total: u64,
    severity: Option<std::collections::BTreeMap<String, u64>>,
    /// The pipeline's totals once a second over the last [`HISTORY_POINTS`] seconds, oldest
    /// first: a new page draws its rate chart from them (the `history` event).
    history: Vec<HistoryPoint>,
}

/// Seconds of totals kept for the rate chart of a page that opens.
pub(crate) const HISTORY_POINTS: usize = 120;

/// The pipeline's totals at one second.
#[derive(Serialize, Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct HistoryPoint {
    /// Wall-clock time, Unix seconds.
    t: f64,
    /// Flows scored so far.
    flows_total: u64,
    /// Alert documents created or updated so far.
    alert_updates_total: u64,
}

/// Starts the task computing [`Shared`] once a second; returns its receiver.
pub(crate) fn start_ticks(state: AppState) -> watch::Receiver<std::sync::Arc<Shared>> {
    let (tx, rx) = watch::channel(std::sync::Arc::new(Shared::default()));
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut shutdown = state.shutdown_signal();
        let mut history: VecDeque<HistoryPoint> = VecDeque::with_capacity(HISTORY_POINTS);
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return,
                _ = interval.tick() => {}
            }
            // The history is kept whether or not a page is open (counters only: cheap).
            if let Some(stats) = state.stats() {
                let s = stats.snapshot();
                if history.len() == HISTORY_POINTS {
                    history.pop_front();
                }
                history.push_back(HistoryPoint {
                    t: unix_now(),
                    flows_total: s.scored,
                    alert_updates_total: s.alerts_out,
                });
            }
            let points: Vec<HistoryPoint> = history.iter().copied().collect();
            // One receiver is the state's own: no stream open, only the history is updated.
            if tx.receiver_count() <= 1 && tx.borrow().ready {
                let prev = tx.borrow().clone();
                tx.send_replace(std::sync::Arc::new(Shared {
                    ready: true,
                    flows_total: prev.flows_total,
                    alert_updates_total: prev.alert_updates_total,
                    severity: prev.severity.clone(),
                    history: points,
                }));
                continue;
            }
            let st = state.clone();
            let shared = tokio::task::spawn_blocking(move || {
                let (flows_total, alert_updates_total) = st
                    .stats()
                    .map(|s| {
                        let s = s.snapshot();
                        (s.scored, s.alerts_out)
                    })
                    .unwrap_or_default();
                Shared {
                    ready: true,
                    flows_total,
                    alert_updates_total,
                    severity: severity_counts(&st),
                    history: points,
                }
            })
            .await;
            if let Ok(shared) = shared {
                tx.send_replace(std::sync::Arc::new(shared));
            }
        }
    });
    rx
}

struct Live {
    state: AppState,
    _slot: LiveSlot,
    shared: watch::Receiver<std::sync::Arc<Shared>>,
    feed: Option<broadcast::Receiver<FeedEvent>>,
    shutdown: watch::Receiver<bool>,
    ticker: tokio::time::Interval,
    second_started: Instant,
    flows_this_second: u32,
    skipped: u64,
    generation: Option<u64>,
    /// Alerts updated since the last tick, the latest version of each, in first-update order.
    pending: Vec<Alert>,
    pending_index: HashMap<String, usize>,
    /// Events ready to send.
    outbox: VecDeque<Event>,
}

impl Live {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.outbox.pop_front() {
                return Some(event);
            }
            let feed = &mut self.feed;
            let recv = async {
                match feed.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let shutdown = self.shutdown.wait_for(|stop| *stop);
            let msg = tokio::select! {
                _ = shutdown => return None,
                _ = self.ticker.tick() => None,
                msg = recv => Some(msg),
            };
            let Some(msg) = msg else {
                // The first tick of a new stream may come before the first shared totals.
                let mut shutdown = self.shutdown.clone();
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => return None,
                    _ = self.shared.wait_for(|s| s.ready) => {}
                }
                self.on_tick();
                continue;
            };
            match msg {
                Ok(FeedEvent::Flow(flow)) => {
                    if self.second_started.elapsed() >= Duration::from_secs(1) {
                        self.second_started = Instant::now();
                        self.flows_this_second = 0;
                    }
                    if self.flows_this_second >= FLOWS_PER_SEC {
                        self.skipped += 1;
                        continue;
                    }
                    self.flows_this_second += 1;
                    return Some(json_event("flow", &*flow));
                }
                Ok(FeedEvent::Alert(alert)) => self.hold(alert),
                Err(broadcast::error::RecvError::Lagged(n)) => self.skipped += n,
                Err(broadcast::error::RecvError::Closed) => self.feed = None,
            }
        }
    }

    /// Keeps the latest version of an incident's alert until the next tick.
    fn hold(&mut self, alert: Box<Alert>) {
        match self.pending_index.get(alert.id()) {
            Some(&i) => self.pending[i] = *alert,
            None if self.pending.len() < MAX_ALERTS_PER_TICK => {
                self.pending_index
                    .insert(alert.id().to_string(), self.pending.len());
                self.pending.push(*alert);
            }
            None => self.skipped += 1,
        }
    }

    /// Queues what a tick sends: a model change, the stats, the alerts held since the last.
    fn on_tick(&mut self) {
        if let Some(event) = self.model_event() {
            self.outbox.push_back(event);
        }
        let tick = self.tick_event();
        self.outbox.push_back(tick);
        self.pending_index.clear();
        for alert in std::mem::take(&mut self.pending) {
            self.outbox.push_back(json_event("alert", &alert));
        }
    }

    /// Returns a `model` event when the active model changed since the last tick.
    fn model_event(&mut self) -> Option<Event> {
        let now = self.state.model().map(|m| m.generation());
        let changed = self.generation.is_some() && now != self.generation;
        self.generation = now;
        changed.then(|| Event::default().event("model").data("{}"))
    }

    fn tick_event(&mut self) -> Event {
        let mut tick = Tick {
            t: unix_now(),
            skipped: self.skipped,
            model_generation: self.generation.unwrap_or(0),
            ..Tick::default()
        };
        let shared = self.shared.borrow().clone();
        tick.flows_total = shared.flows_total;
        tick.alert_updates_total = shared.alert_updates_total;
        if let Some(counts) = &shared.severity {
            tick.alerts_total = counts.values().sum();
            tick.severity = counts.clone();
        }
        json_event("stats", &tick)
    }
}

/// The wall-clock time, Unix seconds.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn json_event(name: &'static str, value: &impl Serialize) -> Event {
    match Event::default().event(name).json_data(value) {
        Ok(e) => e,
        // Serializing our own types does not fail; if it ever did, say so in the stream.
        Err(e) => Event::default().event("error").data(e.to_string()),
    }
}

/// Streams the live feed (503 when `max_live_streams` are open).
pub(crate) async fn live(
    State(state): State<AppState>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let slot = state.open_live_stream()?;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let live = Live {
        _slot: slot,
        shared: state.ticks(),
        feed: state.feed().map(|f| f.subscribe()),
        shutdown: state.shutdown_signal(),
        generation: state.model().map(|m| m.generation()),
        state,
        ticker,
        second_started: Instant::now(),
        flows_this_second: 0,
        skipped: 0,
        pending: Vec::new(),
        pending_index: HashMap::new(),
        outbox: VecDeque::new(),
    };
    // A page opening gets the last two minutes of totals first, for its rate chart.
    let mut live = live;
    let history = json_event("history", &live.shared.borrow().history);
    live.outbox.push_back(history);
    let stream = futures_util::stream::unfold(live, |mut live| async move {
        live.next().await.map(|event| (Ok(event), live))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
