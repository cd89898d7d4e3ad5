//! [`Stats`]: counters and latency histograms per pipeline stage, shared (`Arc`) between the
//! pipeline that updates them and the API that reads them: a serde [`StatsSnapshot`] and
//! Prometheus text.
//!
//! Counters are atomics. Latencies go into HDR histograms (nanoseconds, 3 significant digits, up to 1 h);
//! the pipeline records into its own histograms and merges them here once per batch, so the
//! shared lock is taken once per batch, not per flow.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

/// A pipeline stage whose latency is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// One flow through the detector: features, score, incident, explanation (with the scoring
    /// thread, from the flow's arrival to its end: waiting in a chunk included).
    Detect,
    /// One batch of alerts through every sink's `send`.
    Send,
    /// Every sink's `flush`.
    Flush,
    /// One flow from leaving its source to its batch's alerts being sent.
    EndToEnd,
}

impl Stage {
    /// Every stage, in report order.
    pub const ALL: [Stage; 4] = [Stage::Detect, Stage::Send, Stage::Flush, Stage::EndToEnd];

    /// Returns the stage's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Detect => "detect",
            Stage::Send => "send",
            Stage::Flush => "flush",
            Stage::EndToEnd => "end_to_end",
        }
    }
}

/// Returns an empty latency histogram (nanoseconds, 1 ns to 1 h, 3 significant digits).
pub(crate) fn new_histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts (low >= 1, high >= 2 * low, sigfig <= 5).
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid constant bounds")
}

/// Records a latency, clamping it into the histogram's range.
pub(crate) fn record(h: &mut Histogram<u64>, nanos: u64) {
    h.saturating_record(nanos.max(1));
}

struct Inner {
    started: Instant,
    records_in: AtomicU64,
    parsed: AtomicU64,
    rejected: AtomicU64,
    scored: AtomicU64,
    alert_flows: AtomicU64,
    alerts_out: AtomicU64,
    sink_errors: AtomicU64,
    /// The last flush round's failure (`None`: every sink flushed), for `/health`.
    sink_failure: Mutex<Option<String>>,
    archived_flows: AtomicU64,
    archive_failed_flows: AtomicU64,
    archive_errors: AtomicU64,
    archive_uploaded_flows: AtomicU64,
    archive_upload_failures: AtomicU64,
    archive_pending_upload_flows: AtomicU64,
    /// The flow archive's last failure (`None`: none, or a file was finished since), for
    /// `/health`.
    archive_failure: Mutex<Option<String>>,
    feed_sent: AtomicU64,
    open_incidents: AtomicU64,
    hosts: AtomicU64,
    /// Wall clock minus the latest flow's time, in nanoseconds (`i64::MIN`: no flow yet).
    lag_nanos: AtomicI64,
    histograms: Mutex<Vec<Histogram<u64>>>,
    /// The source's own counters (the Kafka consumer's), if it has any.
    source: Mutex<Option<Arc<dyn SourceMetrics>>>,
    /// What the pipeline last saw of its source, for `/health`.
    source_health: Mutex<crate::SourceHealth>,
}

/// Counters a source keeps itself (the Kafka consumer: consumed, committed, dead-lettered, lag
/// per partition), shown with the pipeline's in the snapshot and the Prometheus text.
pub trait SourceMetrics: Send + Sync {
    /// Returns the counters as JSON ([`StatsSnapshot::source`]).
    fn snapshot_json(&self) -> serde_json::Value;
    /// Returns the counters in Prometheus' text format.
    fn prometheus_text(&self) -> String;
}

/// Shared counters and histograms; `Clone` shares them.
#[derive(Clone)]
pub struct Stats {
    inner: Arc<Inner>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats").finish_non_exhaustive()
    }
}

/// One stage's latency distribution, in microseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistogramSnapshot {
    /// The stage.
    pub stage: Stage,
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest.
    pub max_us: f64,
}

/// Every counter and histogram at one instant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatsSnapshot {
    /// Seconds since the pipeline started.
    pub uptime_secs: f64,
    /// Records and rejected lines taken from sources.
    pub records_in: u64,
    /// Records parsed.
    pub parsed: u64,
    /// Lines rejected (counted, reported, kept in the rejects file).
    pub rejected: u64,
    /// Flows scored.
    pub scored: u64,
    /// Flows at or over the threshold.
    pub alert_flows: u64,
    /// Alert documents sent (every revision counts).
    pub alerts_out: u64,
    /// Sink failures.
    pub sink_errors: u64,
    /// Flows written to the flow archive (in finished files).
    pub archived_flows: u64,
    /// Flows the flow archive failed to write (counted, never silently dropped).
    pub archive_failed_flows: u64,
    /// Flow archive write failures.
    pub archive_errors: u64,
    /// Flows uploaded to the archive's bucket (`s3://` archives).
    pub archive_uploaded_flows: u64,
    /// Failed upload attempts to the archive's bucket (each retried, the file kept).
    pub archive_upload_failures: u64,
    /// Flows in finished archive files waiting in the spool for their upload.
    pub archive_pending_upload_flows: u64,
    /// Events published to the live feed.
    pub feed_sent: u64,
    /// Incidents open now.
    pub open_incidents: u64,
    /// Hosts held in the feature tables (originators plus responders).
    pub hosts: u64,
    /// Wall clock minus the latest flow's time, in seconds (large when replaying old captures).
    pub lag_secs: Option<f64>,
    /// Flows scored per second since start.
    pub flows_per_sec: f64,
    /// Latency per stage.
    pub stages: Vec<HistogramSnapshot>,
    /// The source's own counters ([`Stats::attach_source`]), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<serde_json::Value>,
}

impl Stats {
    /// Returns fresh statistics.
    pub fn new() -> Stats {
        Stats {
            inner: Arc::new(Inner {
                started: Instant::now(),
                records_in: AtomicU64::new(0),
                parsed: AtomicU64::new(0),
                rejected: AtomicU64::new(0),
                scored: AtomicU64::new(0),
                alert_flows: AtomicU64::new(0),
                alerts_out: AtomicU64::new(0),
                sink_errors: AtomicU64::new(0),
                sink_failure: Mutex::new(None),
                archived_flows: AtomicU64::new(0),
                archive_failed_flows: AtomicU64::new(0),
                archive_errors: AtomicU64::new(0),
                archive_uploaded_flows: AtomicU64::new(0),
                archive_upload_failures: AtomicU64::new(0),
                archive_pending_upload_flows: AtomicU64::new(0),
                archive_failure: Mutex::new(None),
                feed_sent: AtomicU64::new(0),
                open_incidents: AtomicU64::new(0),
                hosts: AtomicU64::new(0),
                lag_nanos: AtomicI64::new(i64::MIN),
                histograms: Mutex::new(Stage::ALL.iter().map(|_| new_histogram()).collect()),
                source: Mutex::new(None),
                source_health: Mutex::new(crate::SourceHealth::default()),
            }),
        }
    }

    /// Counts a parsed record.
    pub fn add_parsed(&self, n: u64) {
        self.inner.records_in.fetch_add(n, Ordering::Relaxed);
        self.inner.parsed.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a rejected line.
    pub fn add_rejected(&self, n: u64) {
        self.inner.records_in.fetch_add(n, Ordering::Relaxed);
        self.inner.rejected.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts scored flows and those that alerted.
    pub fn add_scored(&self, flows: u64, alerting: u64) {
        self.inner.scored.fetch_add(flows, Ordering::Relaxed);
        self.inner
            .alert_flows
            .fetch_add(alerting, Ordering::Relaxed);
    }

    /// Counts alert documents sent.
    pub fn add_alerts_out(&self, n: u64) {
        self.inner.alerts_out.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a sink failure.
    pub fn add_sink_error(&self) {
        self.inner.sink_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Records how the last flush of every sink went: `None` when all flushed, else what
    /// failed (shown by `/health` until a flush succeeds again).
    pub fn set_sink_failure(&self, failure: Option<String>) {
        *self
            .inner
            .sink_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = failure;
    }

    /// Returns the last flush round's failure, if it failed.
    pub fn sink_failure(&self) -> Option<String> {
        self.inner
            .sink_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records the flow archive's counters (totals) and its latest failure, `None` once a
    /// file was finished after it.
    pub fn set_archive(&self, counts: &iotguard_archive::ArchiveCounts, failure: Option<String>) {
        let i = &self.inner;
        i.archived_flows
            .store(counts.flows_archived, Ordering::Relaxed);
        i.archive_failed_flows
            .store(counts.flows_failed, Ordering::Relaxed);
        i.archive_errors.store(counts.errors, Ordering::Relaxed);
        i.archive_uploaded_flows
            .store(counts.flows_uploaded, Ordering::Relaxed);
        i.archive_upload_failures
            .store(counts.upload_failures, Ordering::Relaxed);
        i.archive_pending_upload_flows
            .store(counts.flows_pending_upload, Ordering::Relaxed);
        *i.archive_failure.lock().unwrap_or_else(|e| e.into_inner()) = failure;
    }

    /// Returns the flow archive's latest failure with how many flows it could not write, if
    /// it is failing.
    pub fn archive_failure(&self) -> Option<String> {
        let failure = self
            .inner
            .archive_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        let failed = self.inner.archive_failed_flows.load(Ordering::Relaxed);
        Some(format!("{failure} ({failed} flows not archived so far)"))
    }

    /// Records the source's state (the pipeline calls this when it changes).
    pub fn set_source_state(&self, state: crate::SourceState) {
        self.inner
            .source_health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .state = state;
    }

    /// Records an input the source could not read (counted; the last one is kept).
    pub fn add_source_error(&self, error: &str) {
        let mut h = self
            .inner
            .source_health
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        h.unreadable += 1;
        h.last_error = Some(error.to_string());
    }

    /// Records the error the source failed with (the pipeline stops on it).
    pub fn set_source_failed(&self, error: &str) {
        let mut h = self
            .inner
            .source_health
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        h.state = crate::SourceState::Failed;
        h.last_error = Some(error.to_string());
    }

    /// Returns what the pipeline last saw of its source.
    pub fn source_health(&self) -> crate::SourceHealth {
        self.inner
            .source_health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Counts events published to the live feed.
    pub fn add_feed_sent(&self, n: u64) {
        self.inner.feed_sent.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets the gauges: open incidents, hosts in the feature tables, event-time lag.
    pub fn set_gauges(&self, open_incidents: usize, hosts: usize, lag_nanos: Option<i64>) {
        self.inner
            .open_incidents
            .store(open_incidents as u64, Ordering::Relaxed);
        self.inner.hosts.store(hosts as u64, Ordering::Relaxed);
        if let Some(lag) = lag_nanos {
            self.inner.lag_nanos.store(lag, Ordering::Relaxed);
        }
    }

    /// Adds a batch's latencies for a stage.
    pub fn merge(&self, stage: Stage, h: &Histogram<u64>) {
        let mut all = self
            .inner
            .histograms
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(mine) = all.get_mut(stage_index(stage)) {
            // Same bounds on both sides; a failure could only drop samples, never panic.
            let _ = mine.add(h);
        }
    }

    /// Records one latency for a stage.
    pub fn record(&self, stage: Stage, nanos: u64) {
        let mut all = self
            .inner
            .histograms
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(mine) = all.get_mut(stage_index(stage)) {
            record(mine, nanos);
        }
    }

    /// Returns every counter and histogram.
    pub fn snapshot(&self) -> StatsSnapshot {
        let i = &self.inner;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let uptime = i.started.elapsed().as_secs_f64();
        let lag = i.lag_nanos.load(Ordering::Relaxed);
        let all = i.histograms.lock().unwrap_or_else(|e| e.into_inner());
        // Quantiles are reported as the lowest value of their bucket (exact for exact values).
        let q = |h: &Histogram<u64>, q: f64| {
            h.lowest_equivalent(h.value_at_quantile(q)) as f64 / 1000.0
        };
        let stages = Stage::ALL
            .iter()
            .zip(all.iter())
            .map(|(&stage, h)| HistogramSnapshot {
                stage,
                count: h.len(),
                mean_us: if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
                p50_us: q(h, 0.5),
                p90_us: q(h, 0.9),
                p99_us: q(h, 0.99),
                p999_us: q(h, 0.999),
                max_us: h.lowest_equivalent(h.max()) as f64 / 1000.0,
            })
            .collect();
        let scored = load(&i.scored);
        StatsSnapshot {
            uptime_secs: uptime,
            records_in: load(&i.records_in),
            parsed: load(&i.parsed),
            rejected: load(&i.rejected),
            scored,
            alert_flows: load(&i.alert_flows),
            alerts_out: load(&i.alerts_out),
            sink_errors: load(&i.sink_errors),
            archived_flows: load(&i.archived_flows),
            archive_failed_flows: load(&i.archive_failed_flows),
            archive_errors: load(&i.archive_errors),
            archive_uploaded_flows: load(&i.archive_uploaded_flows),
            archive_upload_failures: load(&i.archive_upload_failures),
            archive_pending_upload_flows: load(&i.archive_pending_upload_flows),
            feed_sent: load(&i.feed_sent),
            open_incidents: load(&i.open_incidents),
            hosts: load(&i.hosts),
            lag_secs: (lag != i64::MIN).then(|| lag as f64 / 1e9),
            flows_per_sec: if uptime > 0.0 {
                scored as f64 / uptime
            } else {
                0.0
            },
            stages,
            source: self.source_metrics().map(|m| m.snapshot_json()),
        }
    }

    /// Renders the snapshot in Prometheus' text exposition format (version 0.0.4).
    pub fn prometheus_text(&self) -> String {
        let mut text = self.snapshot().prometheus_text();
        if let Some(m) = self.source_metrics() {
            text.push_str(&m.prometheus_text());
        }
        text
    }

    /// Shows a source's own counters with these (the Kafka consumer's).
    pub fn attach_source(&self, metrics: Arc<dyn SourceMetrics>) {
        *self.inner.source.lock().unwrap_or_else(|e| e.into_inner()) = Some(metrics);
    }

    fn source_metrics(&self) -> Option<Arc<dyn SourceMetrics>> {
        self.inner
            .source
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn stage_index(stage: Stage) -> usize {
    Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0)
}

impl StatsSnapshot {
    /// Renders the snapshot in Prometheus' text exposition format (version 0.0.4).
    pub fn prometheus_text(&self) -> String {
        let mut out = String::new();
        let counters = [
            (
                "records_in",
                "Records and rejected lines taken from sources.",
                self.records_in,
            ),
            ("parsed", "Records parsed.", self.parsed),
            ("rejected", "Lines rejected by the readers.", self.rejected),
            ("scored", "Flows scored.", self.scored),
            (
                "alert_flows",
                "Flows at or over the threshold.",
                self.alert_flows,
            ),
            (
                "alerts_out",
                "Alert documents sent to sinks.",
                self.alerts_out,
            ),
            ("sink_errors", "Sink failures.", self.sink_errors),
            (
                "archived_flows",
                "Flows written to the flow archive.",
                self.archived_flows,
            ),
            (
                "archive_failed_flows",
                "Flows the flow archive failed to write.",
                self.archive_failed_flows,
            ),
            (
                "archive_errors",
                "Flow archive write failures.",
                self.archive_errors,
            ),
            (
                "archive_uploaded_flows",
                "Flows uploaded to the flow archive's bucket.",
                self.archive_uploaded_flows,
            ),
            (
                "archive_upload_failures",
                "Failed uploads to the flow archive's bucket (retried, files kept).",
                self.archive_upload_failures,
            ),
            (
                "feed_sent",
                "Events published to the live feed.",
                self.feed_sent,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP iotguard_{name}_total {help}");
            let _ = writeln!(out, "# TYPE iotguard_{name}_total counter");
            let _ = writeln!(out, "iotguard_{name}_total {v}");
        }
        let mut gauges = vec![
            (
                "open_incidents",
                "Incidents open now.",
                self.open_incidents as f64,
            ),
            (
                "hosts",
                "Hosts held in the feature tables.",
                self.hosts as f64,
            ),
            (
                "archive_pending_upload_flows",
                "Flows in archive files waiting in the spool for their upload.",
                self.archive_pending_upload_flows as f64,
            ),
            (
                "uptime_seconds",
                "Seconds since the pipeline started.",
                self.uptime_secs,
            ),
        ];
        if let Some(lag) = self.lag_secs {
            gauges.push((
                "lag_seconds",
                "Wall clock minus the latest flow's time.",
                lag,
            ));
        }
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP iotguard_{name} {help}");
            let _ = writeln!(out, "# TYPE iotguard_{name} gauge");
            let _ = writeln!(out, "iotguard_{name} {v}");
        }
        let _ = writeln!(
            out,
            "# HELP iotguard_stage_latency_seconds Latency per pipeline stage."
        );
        let _ = writeln!(out, "# TYPE iotguard_stage_latency_seconds summary");
        for s in &self.stages {
            let stage = s.stage.as_str();
            for (q, v) in [
                ("0.5", s.p50_us),
                ("0.9", s.p90_us),
                ("0.99", s.p99_us),
                ("0.999", s.p999_us),
            ] {
                let _ = writeln!(
                    out,
                    "iotguard_stage_latency_seconds{{stage=\"{stage}\",quantile=\"{q}\"}} {}",
                    v / 1e6
                );
            }
            let _ = writeln!(
                out,
                "iotguard_stage_latency_seconds_sum{{stage=\"{stage}\"}} {}",
                s.mean_us * s.count as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "iotguard_stage_latency_seconds_count{{stage=\"{stage}\"}} {}",
                s.count
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_renders() {
        let stats = Stats::new();
        stats.add_parsed(10);
        stats.add_rejected(2);
        stats.add_scored(10, 3);
        stats.add_alerts_out(1);
        stats.set_gauges(1, 7, Some(2_500_000_000));
        let mut h = new_histogram();
        for us in [10u64, 20, 30, 40] {
            record(&mut h, us * 1000);
        }
        stats.merge(Stage::Detect, &h);
        stats.record(Stage::Flush, 5_000_000);
        let s = stats.clone().snapshot();
        assert_eq!((s.records_in, s.parsed, s.rejected), (12, 10, 2));
        assert_eq!((s.scored, s.alert_flows, s.alerts_out), (10, 3, 1));
        assert_eq!((s.open_incidents, s.hosts, s.lag_secs), (1, 7, Some(2.5)));
        let detect = &s.stages[0];
        assert_eq!((detect.stage, detect.count), (Stage::Detect, 4));
        assert_eq!(detect.p50_us, 20.0);
        assert_eq!(detect.max_us, 40.0);
        assert_eq!(s.stages[2].count, 1);
        let text = s.prometheus_text();
        assert!(text.contains("\niotguard_records_in_total 12\n"), "{text}");
        assert!(text.contains("\niotguard_lag_seconds 2.5\n"), "{text}");
        assert!(
            text.contains(
                "iotguard_stage_latency_seconds{stage=\"detect\",quantile=\"0.5\"} 0.00002\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("iotguard_stage_latency_seconds_count{stage=\"flush\"} 1\n"),
            "{text}"
        );
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(
                line.rsplit_once(' ').map(|(_, v)| v.parse::<f64>().is_ok()),
                Some(true),
                "{line}"
            );
        }
    }
}
