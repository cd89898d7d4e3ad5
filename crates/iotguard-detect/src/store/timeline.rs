//! Incidents over time: how many alerts (incidents) of each severity had their last flow in
//! each fixed-width time bucket, under the alert list's filters (`GET /api/v1/alerts/timeline`,
//! the dashboard's incidents-over-time chart). Counted by SQLite, never by reading every alert.

use std::collections::BTreeMap;

use iotguard_flow::Timestamp;
use serde::Serialize;

use super::{filter_clauses, AlertQuery, AlertStore, LATEST_JOIN};
use crate::error::{Error, Result};
use crate::risk::Severity;

/// The most buckets one answer holds.
pub const MAX_BUCKETS: u64 = 2_000;

/// Bucket widths chosen when none is asked for (seconds): the narrowest giving at most
/// [`AUTO_BUCKETS`] buckets over the alerts' time span.
const AUTO_WIDTHS: [u64; 10] = [
    60, 300, 900, 3_600, 10_800, 21_600, 43_200, 86_400, 604_800, 2_592_000,
];

/// Buckets an automatic width aims at, at most.
const AUTO_BUCKETS: u64 = 96;

/// Incidents per time bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// The width of every bucket, in seconds.
    pub bucket_secs: u64,
    /// Every bucket from the first alert's to the last one's, empty ones included, oldest
    /// first.
    pub buckets: Vec<TimelineBucket>,
}

/// One time bucket's incidents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimelineBucket {
    /// Where the bucket starts (RFC 3339, UTC).
    pub start: String,
    /// Alerts whose last flow is in the bucket.
    pub total: u64,
    /// The same, per severity (every severity present).
    pub by_severity: BTreeMap<&'static str, u64>,
}

impl AlertStore {
    /// Counts the alerts `q` selects (its cursor and limit ignored) per `bucket_secs`-wide
    /// bucket of their last flow's time; `None` chooses a width giving at most 96 buckets.
    /// A width giving more than [`MAX_BUCKETS`] buckets is refused.
    pub fn timeline(&self, q: &AlertQuery, bucket_secs: Option<u64>) -> Result<Timeline> {
        let c = self.lock();
        let mut args = Vec::new();
        let mut range =
            format!("SELECT MIN(a.end_ns), MAX(a.end_ns) FROM alerts a {LATEST_JOIN} WHERE 1 = 1");
        filter_clauses(q, &mut range, &mut args);
        let (lo, hi): (Option<i64>, Option<i64>) = c
            .conn
            .prepare_cached(&range)?
            .query_row(rusqlite::params_from_iter(args), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Ok(Timeline {
                bucket_secs: bucket_secs.unwrap_or(AUTO_WIDTHS[3]),
                buckets: Vec::new(),
            });
        };
        let span_secs = u64::try_from((hi - lo) / 1_000_000_000).unwrap_or(0) + 1;
        let width = match bucket_secs {
            Some(0) => return Err(Error::Config("a bucket of 0 seconds".into())),
            Some(w) => w,
            None => AUTO_WIDTHS
                .into_iter()
                .find(|w| span_secs.div_ceil(*w) <= AUTO_BUCKETS)
                .unwrap_or(AUTO_WIDTHS[AUTO_WIDTHS.len() - 1]),
        };
        let width_ns = i64::try_from(width)
            .ok()
            .and_then(|w| w.checked_mul(1_000_000_000))
            .ok_or_else(|| Error::Config(format!("a bucket of {width} seconds is too wide")))?;
        let first = lo.div_euclid(width_ns);
        let last = hi.div_euclid(width_ns);
        let n = u64::try_from(last - first + 1).unwrap_or(u64::MAX);
        if n > MAX_BUCKETS {
            return Err(Error::Config(format!(
                "{n} buckets of {width} s between the first and the last alert; at most {MAX_BUCKETS}: ask for wider buckets or a shorter time range"
            )));
        }
        let mut args: Vec<rusqlite::types::Value> = vec![width_ns.into()];
        // Floor division (SQLite's `/` truncates toward zero).
        let mut sql = format!(
            "SELECT (a.end_ns - ((a.end_ns % ?1) + ?1) % ?1) / ?1 AS b, a.severity, COUNT(*) \
             FROM alerts a {LATEST_JOIN} WHERE 1 = 1"
        );
        filter_clauses(q, &mut sql, &mut args);
        sql.push_str(" GROUP BY b, a.severity");
        let mut buckets: Vec<TimelineBucket> = (first..=last)
            .map(|b| TimelineBucket {
                start: crate::time::rfc3339(Timestamp(b * width_ns)),
                total: 0,
                by_severity: Severity::ALL.iter().map(|s| (s.as_str(), 0)).collect(),
            })
            .collect();
        let mut stmt = c.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (b, severity, count) = row?;
            let Some(bucket) = usize::try_from(b - first)
                .ok()
                .and_then(|i| buckets.get_mut(i))
            else {
                continue;
            };
            let severity = Severity::from_rank(severity.clamp(0, 4) as u8);
            let count = u64::try_from(count).unwrap_or(0);
            bucket.total += count;
            *bucket.by_severity.entry(severity.as_str()).or_default() += count;
        }
        Ok(Timeline {
            bucket_secs: width,
            buckets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Alert;
    use crate::sink::AlertSink;

    /// Alerts whose last flow is at the given seconds after 2024-01-01T00:00:00Z, with the
    /// given severities.
    fn alerts(at: &[(i64, Severity)]) -> Vec<Alert> {
        let golden: Alert = serde_json::Deserializer::from_str(include_str!(
            "../../../../testdata/golden/alerts/sim_seed2_first2000.json"
        ))
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
        at.iter()
            .enumerate()
            .map(|(i, &(secs, severity))| {
                let mut a = golden.clone();
                a.event.id = format!("inc-{i:03}");
                a.event.end =
                    crate::time::rfc3339(Timestamp((1_704_067_200 + secs) * 1_000_000_000));
                a.iotguard.severity = severity;
                a
            })
            .collect()
    }

    fn counts(t: &Timeline) -> Vec<(String, u64, u64, u64)> {
        t.buckets
            .iter()
            .map(|b| {
                (
                    b.start.clone(),
                    b.total,
                    b.by_severity["critical"],
                    b.by_severity["low"],
                )
            })
            .collect()
    }

    #[test]
    fn alerts_are_counted_per_bucket_and_severity_with_the_list_filters() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = AlertStore::open(&dir.path().join("alerts.db")).unwrap();
        use Severity::{Critical, Low};
        store
            .send(&alerts(&[
                (10, Critical),
                (3_599, Low),
                (3_600, Low),
                (3 * 3_600 + 5, Critical),
                (3 * 3_600 + 6, Critical),
            ]))
            .unwrap();
        store.flush().unwrap();
        let t = store.timeline(&AlertQuery::default(), Some(3_600)).unwrap();
        assert_eq!(t.bucket_secs, 3_600);
        assert_eq!(
            counts(&t),
            [
                ("2024-01-01T00:00:00.000000Z".to_string(), 2, 1, 1),
                ("2024-01-01T01:00:00.000000Z".to_string(), 1, 0, 1),
                ("2024-01-01T02:00:00.000000Z".to_string(), 0, 0, 0),
                ("2024-01-01T03:00:00.000000Z".to_string(), 2, 2, 0),
            ]
        );
        assert_eq!(t.buckets[0].by_severity.len(), 5);
        // The list's filters apply: critical only, from 00:30.
        let q = AlertQuery {
            severity: Some(Critical),
            since: Some(Timestamp((1_704_067_200 + 1_800) * 1_000_000_000)),
            ..AlertQuery::default()
        };
        let t = store.timeline(&q, Some(3_600)).unwrap();
        assert_eq!(
            counts(&t),
            [("2024-01-01T03:00:00.000000Z".to_string(), 2, 2, 0)]
        );
        // No width asked: 3 h 0 min of alerts fit 96 buckets of 300 s (the narrowest that do
        // is 300 s: 60 s would need 181).
        let t = store.timeline(&AlertQuery::default(), None).unwrap();
        assert_eq!((t.bucket_secs, t.buckets.len()), (300, 37));
        assert_eq!(t.buckets.iter().map(|b| b.total).sum::<u64>(), 5);
        // Too many buckets, or none wide, are refused with what to do.
        let e = store.timeline(&AlertQuery::default(), Some(1)).unwrap_err();
        assert!(e.to_string().contains("10797 buckets of 1 s"), "{e}");
        assert!(store.timeline(&AlertQuery::default(), Some(0)).is_err());
        // No alert selected: no bucket.
        let q = AlertQuery {
            attack_type: Some("beacon".into()),
            host: Some("203.0.113.99".parse().unwrap()),
            ..AlertQuery::default()
        };
        assert_eq!(store.timeline(&q, None).unwrap().buckets, Vec::new());
    }
}
