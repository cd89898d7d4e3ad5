//! Timestamps as RFC 3339 text (UTC, microseconds), the form ECS dates take, without a date
//! library: formatting is [`Timestamp::to_rfc3339`]; parsing (the inverse, days-from-civil) is
//! here.

use iotguard_flow::Timestamp;

/// Formats a timestamp as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds, truncated toward the past).
pub fn rfc3339(ts: Timestamp) -> String {
    ts.to_rfc3339()
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
    let h = i64::from(c.next()?.parse::<u8>().ok()?);
    let min = i64::from(c.next()?.parse::<u8>().ok()?);
    let sec = i64::from(c.next()?.parse::<u8>().ok()?);
    if !(0..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || h > 23
        || min > 59
        || sec > 60
    {
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
        assert_eq!(parse_time("99999999999999-01-01T00:00:00Z"), None);
        assert_eq!(parse_time("2019-01-01T00:00:00.1234567890Z"), None);
        assert_eq!(parse_time("99999999999999999999999"), None);
    }
}
