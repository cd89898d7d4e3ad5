//! Hive-style partitions by the flow's time: `date=YYYY-MM-DD/hour=HH` (UTC).

use std::path::PathBuf;

use iotguard_flow::Timestamp;

const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

/// One hour partition, as hours since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partition(pub i64);

impl Partition {
    /// The day, as days since the Unix epoch.
    pub fn day(self) -> i64 {
        self.0.div_euclid(24)
    }

    /// `date=YYYY-MM-DD` of a day (days since the epoch).
    pub fn date_dir(day: i64) -> String {
        let start = Timestamp(day.saturating_mul(24).saturating_mul(NANOS_PER_HOUR));
        format!("date={}", &start.to_rfc3339()[..10])
    }

    /// The partition's folder relative to the archive root: `date=YYYY-MM-DD/hour=HH`.
    pub fn rel_dir(self) -> PathBuf {
        let mut p = PathBuf::from(Partition::date_dir(self.day()));
        p.push(format!("hour={:02}", self.0.rem_euclid(24)));
        p
    }
}

/// The partition a flow time falls in.
pub fn partition_of(ts: Timestamp) -> Partition {
    Partition(ts.as_nanos().div_euclid(NANOS_PER_HOUR))
}

/// Parses a `date=YYYY-MM-DD` folder name to days since the epoch.
pub(crate) fn parse_date_dir(name: &str) -> Option<i64> {
    let d = name.strip_prefix("date=")?;
    let b = d.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = d[..4].parse().ok()?;
    let m: i64 = d[5..7].parse().ok()?;
    let day: i64 = d[8..].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(y, m, day))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_by_utc_hour() {
        // 2019-01-10T20:06:29Z
        let p = partition_of(Timestamp(1_547_150_789_067_208_000));
        assert_eq!(p.rel_dir(), PathBuf::from("date=2019-01-10/hour=20"));
        assert_eq!(parse_date_dir("date=2019-01-10"), Some(p.day()));
        assert_eq!(
            partition_of(Timestamp(-1)).rel_dir(),
            PathBuf::from("date=1969-12-31/hour=23")
        );
        assert_eq!(parse_date_dir("date=2019-13-10"), None);
    }
}
