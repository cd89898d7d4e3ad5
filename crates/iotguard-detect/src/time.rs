//! Timestamps as RFC 3339 text (UTC, microseconds), the form ECS dates take, without a date
//! library: the civil-from-days conversion is a few lines (Howard Hinnant's algorithm).

use iotguard_flow::Timestamp;

/// Formats a timestamp as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds, truncated toward the past).
pub fn rfc3339(ts: Timestamp) -> String {
    let nanos = ts.as_nanos();
    let secs = nanos.div_euclid(1_000_000_000);
    let micros = nanos.rem_euclid(1_000_000_000) / 1000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses RFC 3339 UTC text (`2019-01-10T20:06:29Z`, with an optional fraction of up to nine
/// digits and `Z` or `+00:00`), or decimal epoch seconds (`1547150789.067208`).
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let t = text.trim();
    if !t.contains('-') || t.starts_with('-') && !t[1..].contains('-') {
        return Timestamp::parse_decimal(t.as_bytes());
    }
    let t = t.strip_suffix('Z').or_else(|| t.strip_suffix("+00:00"))?;
    let (date, clock) = t.split_once(['T', ' '])?;
    let mut d = date.splitn(3, '-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    let (hms, frac) = match clock.split_once('.') {
        Some((a, b)) => (a, b),
        None => (clock, ""),
    };
    let mut c = hms.splitn(3, ':');
    let h: i64 = c.next()?.parse().ok()?;
    let min: i64 = c.next()?.parse().ok()?;
    let sec: i64 = c.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || min > 59 || sec > 60 {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    let secs = days_from_civil(y, m, day) * 86_400 + h * 3600 + min * 60 + sec;
    Some(Timestamp::from_secs_nanos(secs, nanos))
}

/// (year, month, day) to days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Returns the wall clock as a timestamp.
pub(crate) fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs() as i64, d.subsec_nanos())
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(Timestamp(0)), "1970-01-01T00:00:00.000000Z");
        let ts = Timestamp::parse_decimal(b"1547150789.067208").unwrap();
        assert_eq!(rfc3339(ts), "2019-01-10T20:06:29.067208Z");
        // 2000-02-29 (a leap day in a century leap year) and before the epoch.
        assert_eq!(
            rfc3339(Timestamp::from_secs_nanos(951_782_400, 0)),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            rfc3339(Timestamp::from_secs_nanos(-1, 500_000_000)),
            "1969-12-31T23:59:59.500000Z"
        );
    }

    #[test]
    fn parses_what_it_prints_and_epoch_seconds() {
        for text in [
            "1547150789.067208",
            "0",
            "951782400",
            "-0.5",
            "1700000000.123456",
        ] {
            let ts = Timestamp::parse_decimal(text.as_bytes()).unwrap();
            assert_eq!(parse_time(&rfc3339(ts)), Some(ts), "{text}");
            assert_eq!(parse_time(text), Some(ts), "{text}");
        }
        assert_eq!(
            parse_time("2019-01-10T20:06:29Z"),
            Timestamp::parse_decimal(b"1547150789")
        );
        assert_eq!(
            parse_time("2019-01-10 20:06:29.5+00:00"),
            Timestamp::parse_decimal(b"1547150789.5")
        );
        assert_eq!(parse_time("2019-13-10T20:06:29Z"), None);
        assert_eq!(parse_time("2019-01-10T20:06:29+02:00"), None);
        assert_eq!(parse_time("yesterday"), None);
    }
}
