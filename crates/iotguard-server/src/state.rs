//! [`AppState`]: what the handlers read. Every part is optional, so one server serves a
//! running detection (model, alert store, stats, live feed), or only scoring (`serve --model`),
//! or only stored alerts (`serve --alerts-db`); an endpoint whose part is missing answers 503
//! saying what to start it with.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use iotguard_detect::monitor::DriftBoard;
use iotguard_detect::{AlertStore, DetectConfig, LiveFeed, ModelHandle, Stats};
use tokio::sync::watch;

use crate::error::ApiError;

/// The shared state of the server; a cheap `Clone`.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    token: Option<String>,
    model: Option<ModelHandle>,
    detect: DetectConfig,
    store: Option<AlertStore>,
    stats: Option<Stats>,
    feed: Option<LiveFeed>,
    drift: Option<DriftBoard>,
    report_dir: Option<PathBuf>,
    explore_dir: Option<PathBuf>,
    models_dir: Option<PathBuf>,
    /// The model files of `models_dir`, summarised once per file version.
    registry: crate::registry::Registry,
    started: Instant,
    shutdown: watch::Sender<bool>,
    /// Live streams open now, and the most allowed.
    live_streams: AtomicUsize,
    max_live_streams: usize,
    /// What every live stream's `stats` tick shares, computed once a second by one task
    /// (started by the first stream).
    ticks: OnceLock<watch::Receiver<Arc<crate::api::live::Shared>>>,
    /// Scoring requests allowed at once (CPU work on the blocking pool).
    scorers: Arc<tokio::sync::Semaphore>,
    max_scorers: usize,
}

/// The most scoring requests served at once by default; more are answered 429.
pub const DEFAULT_MAX_SCORERS: usize = 4;

/// The most live streams served at once by default; more are refused with 503.
pub const DEFAULT_MAX_LIVE_STREAMS: usize = 64;

/// Builds an [`AppState`] from the parts a command has.
#[derive(Default)]
pub struct AppStateBuilder {
    token: Option<String>,
    model: Option<ModelHandle>,
    detect: Option<DetectConfig>,
    store: Option<AlertStore>,
    stats: Option<Stats>,
    feed: Option<LiveFeed>,
    drift: Option<DriftBoard>,
    report_dir: Option<PathBuf>,
    explore_dir: Option<PathBuf>,
    models_dir: Option<PathBuf>,
    max_live_streams: Option<usize>,
    max_scorers: Option<usize>,
}

impl AppStateBuilder {
    /// Sets how many scoring requests run at once ([`DEFAULT_MAX_SCORERS`] unless set); one
    /// more is answered 429.
    pub fn max_scorers(mut self, n: usize) -> Self {
        self.max_scorers = Some(n.max(1));
        self
    }

    /// Sets how many live streams may be open at once ([`DEFAULT_MAX_LIVE_STREAMS`] unless
    /// set); one more is answered 503.
    pub fn max_live_streams(mut self, n: usize) -> Self {
        self.max_live_streams = Some(n);
        self
    }

    /// Sets the bearer token write endpoints require.
    pub fn token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// Sets the active model (scoring, `/api/v1/models`, hot swap).
    pub fn model(mut self, model: ModelHandle) -> Self {
        self.model = Some(model);
        self
    }

    /// Sets the detection configuration `/api/v1/score` grades flows with (the default
    /// otherwise).
    pub fn detect_config(mut self, config: DetectConfig) -> Self {
        self.detect = Some(config);
        self
    }

    /// Sets the alert store the alert endpoints read (a connection of its own: the detector
    /// writes through another).
    pub fn store(mut self, store: AlertStore) -> Self {
        self.store = Some(store);
        self
    }

    /// Sets the pipeline's counters (`/api/v1/stats`, `/metrics`).
    pub fn stats(mut self, stats: Stats) -> Self {
        self.stats = Some(stats);
        self
    }

    /// Sets the drift monitors' board (`/api/v1/drift`, the drift gauges on `/metrics`).
    pub fn drift(mut self, board: DriftBoard) -> Self {
        self.drift = Some(board);
        self
    }

    /// Sets the live feed the dashboard's event stream forwards.
    pub fn feed(mut self, feed: LiveFeed) -> Self {
        self.feed = Some(feed);
        self
    }

    /// Sets the folder of the last `iotguard compare` report (`report.json`, `report.html`).
    pub fn report_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.report_dir = dir;
        self
    }

    /// Sets the folder of the exploration of the model's training data (`explore.json`,
    /// `explore.html`, from `iotguard explore`).
    pub fn explore_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.explore_dir = dir;
        self
    }

    /// Sets the folder model activation may load from [default: the folder of the model
    /// given to [`AppStateBuilder::model`]].
    pub fn models_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.models_dir = dir;
        self
    }

    /// Returns the state.
    pub fn build(self) -> AppState {
        let (shutdown, _) = watch::channel(false);
        let models_dir = self.models_dir.or_else(|| {
            let path = PathBuf::from(self.model.as_ref()?.info().path.clone()?);
            let parent = path.parent()?;
            Some(if parent.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                parent.to_path_buf()
            })
        });
        AppState {
            inner: Arc::new(Inner {
                token: self.token,
                model: self.model,
                detect: self.detect.unwrap_or_default(),
                store: self.store,
                stats: self.stats,
                feed: self.feed,
                drift: self.drift,
                report_dir: self.report_dir,
                explore_dir: self.explore_dir,
                models_dir,
                registry: crate::registry::Registry::default(),
                started: Instant::now(),
                shutdown,
                live_streams: AtomicUsize::new(0),
                max_live_streams: self.max_live_streams.unwrap_or(DEFAULT_MAX_LIVE_STREAMS),
                ticks: OnceLock::new(),
                scorers: Arc::new(tokio::sync::Semaphore::new(
                    self.max_scorers.unwrap_or(DEFAULT_MAX_SCORERS),
                )),
                max_scorers: self.max_scorers.unwrap_or(DEFAULT_MAX_SCORERS),
            }),
        }
    }
}

impl AppState {
    /// Starts building a state.
    pub fn builder() -> AppStateBuilder {
        AppStateBuilder::default()
    }

    pub(crate) fn token(&self) -> Option<&str> {
        self.inner.token.as_deref()
    }

    pub(crate) fn model(&self) -> Option<&ModelHandle> {
        self.inner.model.as_ref()
    }

    /// Returns the model, or a 503 saying how to get one.
    pub(crate) fn require_model(&self) -> Result<&ModelHandle, ApiError> {
        self.model().ok_or_else(|| {
            ApiError::unavailable("no model loaded: start the server with --model FILE")
        })
    }

    pub(crate) fn detect_config(&self) -> &DetectConfig {
        &self.inner.detect
    }

    pub(crate) fn store(&self) -> Option<&AlertStore> {
        self.inner.store.as_ref()
    }

    /// Returns the alert store, or a 503 saying how to get one.
    pub(crate) fn require_store(&self) -> Result<&AlertStore, ApiError> {
        self.store().ok_or_else(|| {
            ApiError::unavailable("no alert store: start the server with --alerts-db FILE")
        })
    }

    pub(crate) fn stats(&self) -> Option<&Stats> {
        self.inner.stats.as_ref()
    }

    pub(crate) fn feed(&self) -> Option<&LiveFeed> {
        self.inner.feed.as_ref()
    }

    pub(crate) fn drift(&self) -> Option<&DriftBoard> {
        self.inner.drift.as_ref()
    }

    pub(crate) fn report_dir(&self) -> Option<&std::path::Path> {
        self.inner.report_dir.as_deref()
    }

    pub(crate) fn explore_dir(&self) -> Option<&std::path::Path> {
        self.inner.explore_dir.as_deref()
    }

    /// The folder model activation may load from (`None`: activation is refused).
    pub(crate) fn models_dir(&self) -> Option<&std::path::Path> {
        self.inner.models_dir.as_deref()
    }

    /// The model versions of the models directory.
    pub(crate) fn registry(&self) -> &crate::registry::Registry {
        &self.inner.registry
    }

    pub(crate) fn uptime_secs(&self) -> f64 {
        self.inner.started.elapsed().as_secs_f64()
    }

    /// Returns a receiver that turns `true` when the server stops (long-lived streams end then).
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Takes a live stream slot, or says (503) that all are taken; the slot is given back when
    /// the returned guard is dropped.
    pub(crate) fn open_live_stream(&self) -> Result<LiveSlot, ApiError> {
        let max = self.inner.max_live_streams;
        let taken = self.inner.live_streams.fetch_add(1, Ordering::SeqCst);
        if taken >= max {
            self.inner.live_streams.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::unavailable(format!(
                "{max} live streams are open, the most this server serves at once; retry later"
            )));
        }
        Ok(LiveSlot(self.clone()))
    }

    /// Takes a scoring slot, or says (429) that all are taken; held until the permit drops.
    pub(crate) fn score_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        self.inner.scorers.clone().try_acquire_owned().map_err(|_| {
            ApiError::too_many_requests(format!(
                "{} scoring requests are running, the most this server runs at once; retry later",
                self.inner.max_scorers
            ))
        })
    }

    /// Returns the shared ticks, starting their producer task on first use (call from within
    /// the server's runtime).
    pub(crate) fn ticks(&self) -> watch::Receiver<Arc<crate::api::live::Shared>> {
        self.inner
            .ticks
            .get_or_init(|| crate::api::live::start_ticks(self.clone()))
            .clone()
    }

    /// Tells every long-lived stream to end.
    pub(crate) fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }
}

/// A live stream's slot (see [`AppState::open_live_stream`]).
pub(crate) struct LiveSlot(AppState);

impl Drop for LiveSlot {
    fn drop(&mut self) {
        self.0.inner.live_streams.fetch_sub(1, Ordering::SeqCst);
    }
}
