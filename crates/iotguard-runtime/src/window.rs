//! [`TimeWindow`]: `--since/--until` over inputs. Files under Hive-style partition folders
//! (`date=YYYY-MM-DD/hour=HH/`, as the flow archive writes them) outside the window are not
//! opened; records outside it are left out of every input and counted, never silently.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use iotguard_flow::{FlowRecord, ParseError, RecordIter, Timestamp};

const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

/// A half-open window of flow time, `[since, until)`; either end may be open. The default holds
/// every record.
#[derive(Clone, Debug, Default)]
pub struct TimeWindow {
    /// The first time kept.
    pub since: Option<Timestamp>,
    /// The first time no longer kept.
    pub until: Option<Timestamp>,
    /// Records left out for being outside the window (untimed records included), over every
    /// input read with this window.
    pub outside: Arc<AtomicU64>,
}

impl TimeWindow {
    /// Whether the window holds every record.
    pub fn is_all(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    /// Whether `record` is inside the window (an untimed record is not, unless the window holds
    /// everything).
    pub fn contains(&self, record: &FlowRecord) -> bool {
        if self.is_all() {
            return true;
        }
        !record.untimed
            && self.since.is_none_or(|s| record.ts >= s)
            && self.until.is_none_or(|u| record.ts < u)
    }

    /// Returns the number of records left out so far.
    pub fn outside_count(&self) -> u64 {
        self.outside.load(Ordering::Relaxed)
    }

    /// Whether a file at `path` may hold records inside the window, judged by its Hive
    /// partition folders (`date=YYYY-MM-DD`, and `hour=HH` under it); a path without them may.
    pub fn may_hold(&self, path: &Path) -> bool {
        if self.is_all() {
            return true;
        }
        let mut day = None;
        let mut hour = None;
        for part in path.components() {
            let part = part.as_os_str().to_string_lossy();
            if let Some(d) = parse_date(&part) {
                day = Some(d);
                hour = None;
            } else if let Some(h) = part
                .strip_prefix("hour=")
                .and_then(|h| h.parse::<i64>().ok())
            {
                hour = Some(h);
            }
        }
        let Some(day) = day else {
            return true;
        };
        let (start, hours) = match hour {
            Some(h) if (0..24).contains(&h) => (day * 24 + h, 1),
            _ => (day * 24, 24),
        };
        let start = start.saturating_mul(NANOS_PER_HOUR);
        let end = start.saturating_add(hours * NANOS_PER_HOUR);
        self.since.is_none_or(|s| end > s.as_nanos())
            && self.until.is_none_or(|u| start < u.as_nanos())
    }

    /// Wraps a reader so that records outside the window are left out and counted.
    pub fn wrap(&self, inner: Box<dyn RecordIter>) -> Box<dyn RecordIter> {
        if self.is_all() {
            return inner;
        }
        Box::new(Windowed {
            inner,
            window: self.clone(),
        })
    }
}

struct Windowed {
    inner: Box<dyn RecordIter>,
    window: TimeWindow,
}

impl Iterator for Windowed {
    type Item = Result<FlowRecord, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.inner.next()? {
                Ok(r) if !self.window.contains(&r) => {
                    self.window.outside.fetch_add(1, Ordering::Relaxed);
                }
                other => return Some(other),
            }
        }
    }
}

impl RecordIter for Windowed {
    fn format_name(&self) -> &'static str {
        self.inner.format_name()
    }
}

/// `date=YYYY-MM-DD` to days since the Unix epoch.
fn parse_date(name: &str) -> Option<i64> {
    let d = name.strip_prefix("date=")?;
    let b = d.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, day): (i64, i64, i64) = (
        d[..4].parse().ok()?,
        d[5..7].parse().ok()?,
        d[8..].parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    Some(era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Option<Timestamp> {
        Some(Timestamp::from_secs_nanos(secs, 0))
    }

    #[test]
    fn partitions_outside_the_window_are_not_read() {
        // 2024-01-01T02:00:00Z to 2024-01-01T04:00:00Z.
        let w = TimeWindow {
            since: at(1_704_074_400),
            until: at(1_704_081_600),
            ..TimeWindow::default()
        };
        let may = |p: &str| w.may_hold(Path::new(p));
        assert!(!may("a/date=2024-01-01/hour=01/part.parquet"));
        assert!(may("a/date=2024-01-01/hour=02/part.parquet"));
        assert!(may("a/date=2024-01-01/hour=03/part.parquet"));
        assert!(!may("a/date=2024-01-01/hour=04/part.parquet"));
        assert!(may("a/date=2024-01-01/part.parquet"));
        assert!(!may("a/date=2023-12-31/hour=23/part.parquet"));
        assert!(may("a/conn.log"));
        let rec = |secs| FlowRecord {
            ts: Timestamp::from_secs_nanos(secs, 0),
            ..FlowRecord::default()
        };
        assert!(!w.contains(&rec(1_704_074_399)));
        assert!(w.contains(&rec(1_704_074_400)));
        assert!(!w.contains(&rec(1_704_081_600)));
    }
}
