//! [`WebhookSink`]: alerts POSTed as a JSON array to an HTTP endpoint from a thread of its own,
//! with retries, exponential backoff, a bounded queue and a dead-letter file.
//!
//! `send` cuts the documents into requests of `batch` documents and hands them to the sender
//! thread through a queue of `queue` requests. A failed attempt (connection error, timeout, 5xx
//! or 429) is retried after `backoff`, doubling each time up to `max_backoff`, at most
//! `retries` times; a 4xx other than 429 is a permanent failure of that request (the receiver
//! refuses the documents: sending them again cannot help). A request that fails for good is
//! written to the dead-letter file ([`DeadLetterFile`], JSON lines) and counted; so is one the
//! queue cannot take within `backpressure` (after one such wait, while the queue stays full,
//! requests go to the dead-letter file at once, so a hanging receiver never slows the
//! pipeline by more than one wait). `flush` waits at most `flush_wait` for the requests handed
//! over to be delivered or dead-lettered, and returns `Ok`, or [`SinkError::DeadLettered`]
//! naming how many documents went to the file since the last flush and how many requests are
//! still being sent, or an error saying only the latter; the source commits only when none
//! are. Dropping the sink gives the
//! sender `shutdown` to finish; what is still queued or in flight then is dead-lettered.
//! Every alert is thus delivered, in the dead-letter file, or reported lost
//! ([`SinkError::Lost`]: only when the dead-letter file cannot be written).
//!
//! Plain `http://` only: TLS would add a TLS stack to the build; put a TLS-terminating proxy in
//! front for `https` receivers.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError};

use super::{AlertSink, DeadLetterFile, SinkError};
use crate::alert::Alert;
use crate::drift::EventDocument;

/// Where and how the webhook posts.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookConfig {
    /// The URL (`http://host:port/path`).
    pub url: String,
    /// Where undeliverable documents are kept (JSON lines, appended).
    pub dead_letter: PathBuf,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Wait before the first retry; doubles each retry.
    pub backoff: Duration,
    /// The longest wait between retries.
    pub max_backoff: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Most documents per request.
    pub batch: usize,
    /// Requests waiting for the sender thread.
    pub queue: usize,
    /// Longest wait of `send` for room in the queue.
    pub backpressure: Duration,
    /// Longest wait of `flush` for the requests handed over.
    pub flush_wait: Duration,
    /// Longest wait, when the sink is dropped, for the sender to finish.
    pub shutdown: Duration,
}

impl WebhookConfig {
    /// Five retries from 200 ms up to 10 s, 10 s timeout, 500 documents per request, 16
    /// requests queued, 1 s of backpressure, flushes waiting 200 ms, 5 s to shut down.
    pub fn new(url: impl Into<String>, dead_letter: impl Into<PathBuf>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            dead_letter: dead_letter.into(),
            retries: 5,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            batch: 500,
            queue: 16,
            backpressure: Duration::from_secs(1),
            flush_wait: Duration::from_millis(200),
            shutdown: Duration::from_secs(5),
        }
    }
}

/// What the sender thread and the sink share.
struct Shared {
    config: WebhookConfig,
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
}

#[derive(Default)]
struct State {
    /// Requests resolved (delivered or dead-lettered) by the sender thread.
    resolved: u64,
    /// The request the sender is posting.
    in_flight: Option<Request>,
    /// Documents dead-lettered and not yet reported by a flush, with the last reason.
    dead: u64,
    reason: String,
    /// A dead letter that could not be written (alerts lost): reported by the next flush.
    lost: Option<String>,
    dead_letter: Option<DeadLetterFile>,
    delivered: u64,
    failed_attempts: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One POST: a JSON array of alert documents, or of event documents (drift events), which go
/// through the same queue, retries and dead-letter file as alerts.
#[derive(Serialize)]
#[serde(untagged)]
enum Request {
    Alerts(Vec<Alert>),
    Events(Vec<EventDocument>),
}

impl Request {
    fn len(&self) -> usize {
        match self {
            Request::Alerts(a) => a.len(),
            Request::Events(e) => e.len(),
        }
    }
}

impl State {
    /// Writes the request's documents to the dead-letter file and counts them (or records the
    /// loss).
    fn dead_letter(&mut self, request: &Request, reason: String) {
        if request.len() == 0 {
            return;
        }
        let file = self.dead_letter.as_mut().expect("dead-letter file");
        let written = match request {
            Request::Alerts(a) => file.write(a),
            Request::Events(e) => file.write(e),
        };
        match written {
            Ok(()) => {
                self.dead += request.len() as u64;
                self.reason = reason;
            }
            Err(e) => self.lost = Some(format!("{reason}; {e}")),
        }
    }
}

/// POSTs alerts to a webhook; see the module docs.
pub struct WebhookSink {
    name: String,
    shared: Arc<Shared>,
    tx: Option<Sender<Request>>,
    /// A second receiver: at shutdown, what the sender did not take is dead-lettered here.
    rx: Receiver<Request>,
    pending: Vec<Alert>,
    handed: u64,
    /// The queue stayed full for a whole `backpressure` wait and has not had room since.
    congested: bool,
    done: Receiver<()>,
}

impl WebhookSink {
    /// Builds the sink and starts its sender thread (no connection is made before a send).
    pub fn new(config: WebhookConfig) -> WebhookSink {
        let (tx, rx) = crossbeam_channel::bounded(config.queue.max(1));
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                dead_letter: Some(DeadLetterFile::new(&config.dead_letter)),
                ..State::default()
            }),
            config,
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        {
            let shared = shared.clone();
            let rx = rx.clone();
            std::thread::Builder::new()
                .name("webhook".to_string())
                .spawn(move || {
                    sender(&shared, &rx);
                    let _ = done_tx.send(());
                })
                .expect("spawning the webhook thread");
        }
        WebhookSink {
            name: format!("webhook:{}", shared.config.url),
            shared,
            tx: Some(tx),
            rx,
            pending: Vec::new(),
            handed: 0,
            congested: false,
            done,
        }
    }

    /// Returns (requests delivered, attempts failed, documents dead-lettered in all).
    pub fn counts(&self) -> (u64, u64, u64) {
        let st = self.shared.lock();
        let dead = st.dead_letter.as_ref().map_or(0, DeadLetterFile::written);
        (st.delivered, st.failed_attempts, dead)
    }

    /// Hands the pending documents to the sender, `batch` at a time (`all`: the last partial
    /// request too).
    fn hand_over(&mut self, all: bool) {
        let batch = self.shared.config.batch.max(1);
        while self.pending.len() >= batch || (all && !self.pending.is_empty()) {
            let n = self.pending.len().min(batch);
            let request = Request::Alerts(self.pending.drain(..n).collect());
            self.hand_over_request(request);
        }
    }

    /// Queues one request (waiting at most `backpressure` for room), or dead-letters it.
    fn hand_over_request(&mut self, request: Request) {
        let Some(tx) = &self.tx else {
            let reason = "sent after the sink was closed".to_string();
            self.shared.lock().dead_letter(&request, reason);
            return;
        };
        let outcome = if self.congested {
            tx.try_send(request).map_err(|e| match e {
                TrySendError::Full(r) | TrySendError::Disconnected(r) => r,
            })
        } else {
            tx.send_timeout(request, self.shared.config.backpressure)
                .map_err(|e| match e {
                    SendTimeoutError::Timeout(r) | SendTimeoutError::Disconnected(r) => r,
                })
        };
        match outcome {
            Ok(()) => {
                self.handed += 1;
                self.congested = false;
            }
            Err(request) => {
                self.congested = true;
                let reason = format!(
                    "queue of {} requests full for {:?}",
                    self.shared.config.queue, self.shared.config.backpressure
                );
                self.shared.lock().dead_letter(&request, reason);
            }
        }
    }

    /// Reports what was dead-lettered or lost since the last report.
    fn report(&self, st: &mut State, unresolved: u64) -> Result<(), SinkError> {
        if let Some(why) = st.lost.take() {
            return Err(SinkError::Lost(why));
        }
        if st.dead > 0 {
            let alerts = std::mem::take(&mut st.dead);
            let path = st
                .dead_letter
                .as_ref()
                .map(|f| f.path().display().to_string())
                .unwrap_or_default();
            return Err(SinkError::DeadLettered {
                alerts,
                path,
                reason: std::mem::take(&mut st.reason),
                unresolved,
            });
        }
        Ok(())
    }
}

/// The sender thread: posts each request, dead-letters the ones that fail for good.
fn sender(shared: &Shared, rx: &Receiver<Request>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(shared.config.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut body = Vec::new();
    while let Ok(request) = rx.recv() {
        body.clear();
        let encoded = serde_json::to_writer(&mut body, &request);
        {
            let mut st = shared.lock();
            if shared.stop.load(Ordering::Relaxed) {
                // Shut down past its wait: nothing more is sent.
                st.dead_letter(&request, "shut down".to_string());
                continue;
            }
            st.in_flight = Some(request);
        }
        let outcome = encoded
            .map_err(|e| (0, format!("encoding: {e}")))
            .and_then(|()| post(shared, &agent, &body));
        let mut st = shared.lock();
        // `None`: the sink shut down meanwhile and dead-lettered the request itself.
        if let Some(request) = st.in_flight.take() {
            match outcome {
                Ok(()) => st.delivered += 1,
                Err((attempts, reason)) => {
                    st.dead_letter(&request, format!("{reason} (after {attempts} attempts)"))
                }
            }
        }
        st.resolved += 1;
        drop(st);
        shared.changed.notify_all();
    }
}

/// POSTs `body`, retrying; returns the attempts made and the last reason on failure.
fn post(shared: &Shared, agent: &ureq::Agent, body: &[u8]) -> Result<(), (u32, String)> {
    let config = &shared.config;
    let mut wait = config.backoff;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = agent
            .post(&config.url)
            .header("content-type", "application/json")
            .send(body);
        let (retry, reason) = match outcome {
            Ok(resp) => {
                let status = resp.status().as_u16();
                if (200..300).contains(&status) {
                    return Ok(());
                }
                (
                    status >= 500 || status == 429,
                    format!("HTTP status {status}"),
                )
            }
            Err(e) => (true, e.to_string()),
        };
        shared.lock().failed_attempts += 1;
        if !retry || attempt > config.retries || shared.stop.load(Ordering::Relaxed) {
            return Err((attempt, reason));
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(config.max_backoff);
    }
}

impl AlertSink for WebhookSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&mut self, alerts: &[Alert]) -> Result<(), SinkError> {
        self.pending.extend_from_slice(alerts);
        self.hand_over(false);
        Ok(())
    }

    fn send_events(&mut self, events: &[EventDocument]) -> Result<(), SinkError> {
        if events.is_empty() {
            return Ok(());
        }
        // Rare (a few per run): a request of their own, through the queue like alerts (never
        // posted from the pipeline's thread, so a hanging receiver cannot stall detection).
        self.hand_over(true);
        self.hand_over_request(Request::Events(events.to_vec()));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.hand_over(true);
        let deadline = Instant::now() + self.shared.config.flush_wait;
        let mut st = self.shared.lock();
        while st.resolved < self.handed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let waiting = self.handed - st.resolved;
                self.report(&mut st, waiting)?;
                return Err(SinkError::Http {
                    url: self.shared.config.url.clone(),
                    reason: format!(
                        "{waiting} requests not answered within {:?} (still being sent)",
                        self.shared.config.flush_wait
                    ),
                    attempts: 0,
                });
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        self.report(&mut st, 0)
    }

    /// Waits up to `shutdown` for every request to be delivered or dead-lettered, then
    /// reports all that was dead-lettered (at shutdown too) or lost.
    fn close(&mut self) -> Result<(), SinkError> {
        self.shut_down();
        let mut st = self.shared.lock();
        self.report(&mut st, 0)
    }
}

impl WebhookSink {
    /// Hands everything over, closes the queue and gives the sender `shutdown` to finish;
    /// what it has not delivered by then is dead-lettered. Idempotent.
    fn shut_down(&mut self) {
        // Once closed, this dead-letters what was sent since.
        self.hand_over(true);
        if self.tx.is_none() {
            return;
        }
        // Closing the queue ends the sender once it has taken everything.
        self.tx = None;
        if self.done.recv_timeout(self.shared.config.shutdown).is_err() {
            self.shared.stop.store(true, Ordering::Relaxed);
            let mut st = self.shared.lock();
            if let Some(in_flight) = st.in_flight.take() {
                st.dead_letter(&in_flight, "shut down while sending".to_string());
            }
            while let Ok(request) = self.rx.try_recv() {
                st.dead_letter(&request, "shut down".to_string());
            }
            drop(st);
            // A request the sender took just before the stop is dead-lettered by it at once.
            let _ = self.done.recv_timeout(Duration::from_millis(100));
        }
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.shut_down();
    }
}
