//! Counters of the consume loop, shared with whoever reports them (the CLI at exit, the
//! detector's `Stats` for the API): messages consumed, records decoded, records rejected and
//! dead-lettered, offsets committed, and the lag of each assigned partition.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Counters of one consume loop; share it in an `Arc`.
#[derive(Debug, Default)]
pub struct KafkaStats {
    consumed: AtomicU64,
    records: AtomicU64,
    rejected: AtomicU64,
    dead_lettered: AtomicU64,
    dead_letters_truncated: AtomicU64,
    committed: AtomicU64,
    commits: AtomicU64,
    commit_failures: AtomicU64,
    /// Wall clock (µs since the epoch) of the first and the latest message consumed; 0: none.
    first_us: AtomicI64,
    last_us: AtomicI64,
    /// Messages behind the end of each assigned partition (`topic/partition`), from the
    /// client's statistics (every second).
    lag: Mutex<BTreeMap<String, i64>>,
    /// Flow to alert latency (wall clock when the flow's alerts, if any, were sent, minus the
    /// flow message's Kafka timestamp), in microseconds.
    flow_to_alert: Mutex<Option<Histogram<u64>>>,
}

/// A copy of the counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KafkaStatsSnapshot {
    /// Messages received from the broker.
    pub consumed: u64,
    /// Flow records decoded from them.
    pub records: u64,
    /// Messages that could not be decoded.
    pub rejected: u64,
    /// Rejected messages confirmed on the dead-letter topic.
    pub dead_lettered: u64,
    /// Dead letters sent with their payload cut to the producer's message size limit
    /// (headers `iotguard.truncated`, `iotguard.original.size`).
    pub dead_letters_truncated: u64,
    /// Messages whose offsets were committed (after every output confirmed them).
    pub committed: u64,
    /// Offset commits that succeeded.
    pub commits: u64,
    /// Offset commits the broker refused (a rebalance took the partition; it is redelivered).
    pub commit_failures: u64,
    /// Seconds from the first message consumed to the latest (the consume rate's time base).
    pub consume_secs: f64,
    /// Messages behind the end, per assigned `topic/partition`.
    pub lag: BTreeMap<String, i64>,
    /// Flow to alert latency (wall clock when the flow's alerts, if any, were sent, minus the
    /// flow message's Kafka timestamp), when the stage measures it.
    pub flow_to_alert: Option<LatencySnapshot>,
}

/// Percentiles of a latency, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LatencySnapshot {
    /// Flows measured.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl KafkaStats {
    pub(crate) fn add_consumed(&self) {
        self.consumed.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        let _ = self
            .first_us
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        self.last_us.store(now, Ordering::Relaxed);
    }

    pub(crate) fn add_records(&self, n: u64) {
        self.records.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_dead_lettered(&self, n: u64) {
        self.dead_lettered.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_dead_letter_truncated(&self) {
        self.dead_letters_truncated.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_commit(&self, messages: u64) {
        self.committed.fetch_add(messages, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_commit_failure(&self) {
        self.commit_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_lag(&self, lag: BTreeMap<String, i64>) {
        *self.lag.lock().unwrap_or_else(|p| p.into_inner()) = lag;
    }

    /// Records one flow's latency in microseconds (clamped to 1 µs .. 1 h).
    pub(crate) fn record_flow_to_alert(&self, micros: i64) {
        let mut h = self.flow_to_alert.lock().unwrap_or_else(|p| p.into_inner());
        #[allow(clippy::expect_used)]
        let h = h.get_or_insert_with(|| {
            // Constant bounds that hdrhistogram accepts (low >= 1, high >= 2 * low, sigfig <= 5).
            Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid constant bounds")
        });
        h.saturating_record(u64::try_from(micros).unwrap_or(0).max(1));
    }

    /// Forgets the latencies measured so far (a benchmark measures each phase apart).
    pub fn reset_flow_to_alert(&self) {
        *self.flow_to_alert.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Returns a copy of the counters.
    pub fn snapshot(&self) -> KafkaStatsSnapshot {
        KafkaStatsSnapshot {
            consumed: self.consumed.load(Ordering::Relaxed),
            records: self.records.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            dead_letters_truncated: self.dead_letters_truncated.load(Ordering::Relaxed),
            committed: self.committed.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            commit_failures: self.commit_failures.load(Ordering::Relaxed),
            consume_secs: (self.last_us.load(Ordering::Relaxed)
                - self.first_us.load(Ordering::Relaxed)) as f64
                / 1e6,
            lag: self.lag.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            flow_to_alert: self
                .flow_to_alert
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(|h| LatencySnapshot {
                    count: h.len(),
                    p50_ms: h.value_at_quantile(0.50) as f64 / 1000.0,
                    p95_ms: h.value_at_quantile(0.95) as f64 / 1000.0,
                    p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
                    max_ms: h.max() as f64 / 1000.0,
                }),
        }
    }

    /// Renders the counters as Prometheus text (`iotguard_kafka_*`).
    pub fn prometheus_text(&self) -> String {
        let s = self.snapshot();
        let mut out = String::new();
        for (name, help, value) in [
            ("consumed", "Messages received from the broker.", s.consumed),
            ("records", "Flow records decoded from messages.", s.records),
            (
                "rejected",
                "Messages that could not be decoded.",
                s.rejected,
            ),
            (
                "dead_lettered",
                "Rejected messages confirmed on the dead-letter topic.",
                s.dead_lettered,
            ),
            (
                "dead_letters_truncated",
                "Dead letters sent with their payload cut to the message size limit.",
                s.dead_letters_truncated,
            ),
            (
                "committed",
                "Messages whose offsets were committed.",
                s.committed,
            ),
            (
                "commit_failures",
                "Offset commits the broker refused.",
                s.commit_failures,
            ),
        ] {
            out.push_str(&format!(
                "# HELP iotguard_kafka_{name}_total {help}\n# TYPE iotguard_kafka_{name}_total counter\niotguard_kafka_{name}_total {value}\n"
            ));
        }
        out.push_str("# HELP iotguard_kafka_lag Messages behind the end of an assigned partition.\n# TYPE iotguard_kafka_lag gauge\n");
        for (partition, lag) in &s.lag {
            let (topic, number) = partition.rsplit_once('/').unwrap_or((partition, ""));
            out.push_str(&format!(
                "iotguard_kafka_lag{{topic=\"{topic}\",partition=\"{number}\"}} {lag}\n"
            ));
        }
        out
    }
}

impl iotguard_detect::SourceMetrics for KafkaStats {
    fn snapshot_json(&self) -> serde_json::Value {
        serde_json::json!({ "kafka": self.snapshot() })
    }

    fn prometheus_text(&self) -> String {
        KafkaStats::prometheus_text(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_every_counter_and_lag_per_partition() {
        let stats = KafkaStats::default();
        stats.add_consumed();
        stats.add_consumed();
        stats.add_records(2);
        stats.add_commit(2);
        stats.set_lag(BTreeMap::from([("zeek/1".to_string(), 5)]));
        let text = stats.prometheus_text();
        assert!(text.contains("iotguard_kafka_consumed_total 2\n"), "{text}");
        assert!(
            text.contains("iotguard_kafka_committed_total 2\n"),
            "{text}"
        );
        assert!(
            text.contains("iotguard_kafka_dead_lettered_total 0\n"),
            "{text}"
        );
        assert!(
            text.contains("iotguard_kafka_lag{topic=\"zeek\",partition=\"1\"} 5\n"),
            "{text}"
        );
        assert_eq!(stats.snapshot().commits, 1);
    }
}
