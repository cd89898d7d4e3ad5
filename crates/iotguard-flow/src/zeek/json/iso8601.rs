//! Exact ISO-8601 / RFC 3339 timestamps, as Zeek writes them with `JSON::TS_ISO8601`
//! (`2019-01-10T20:06:28.123456Z`) and as Security Onion and Tenzir rewrite them.
//!
//! A small parser of the one shape logs use, with no date library: calendar arithmetic is
//! Howard Hinnant's `days_from_civil`, and the fraction is read as digits, never as a float, so
//! every nanosecond digit survives.

use crate::time::Timestamp;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Parses `YYYY-MM-DD(T|t| )hh:mm:ss[(.|,)fraction][zone]` exactly.
///
/// The zone is `Z`, `z`, `±hh:mm`, `±hhmm` or `±hh`; a time without a zone is taken as UTC
/// (log pipelines that drop the zone have converted to UTC). Fraction digits beyond the ninth
/// round half up to the nanosecond, as decimal seconds do. A leap second (`:60`) counts as the
/// first second of the next minute, as POSIX time has it. Returns `None` for anything else,
/// including impossible dates (`2019-02-29`) and times outside the `i64` nanosecond range
/// (years 1677 to 2262).
pub(crate) fn parse(text: &[u8]) -> Option<Timestamp> {
    let year = number(text, 0, 4)?;
    let month = number(text, 5, 2)?;
    let day = number(text, 8, 2)?;
    let hour = number(text, 11, 2)?;
    let minute = number(text, 14, 2)?;
    let second = number(text, 17, 2)?;
    if text[4] != b'-'
        || text[7] != b'-'
        || !matches!(text[10], b'T' | b't' | b' ')
        || text[13] != b':'
        || text[16] != b':'
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0i64;
    if let Some((b'.' | b',', frac)) = rest.split_first() {
        let len = frac.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        for (i, &d) in frac[..len].iter().enumerate() {
            let d = i64::from(d - b'0');
            match i {
                0..=8 => nanos = nanos * 10 + d,
                9 => nanos += i64::from(d >= 5),
                _ => break,
            }
        }
        for _ in len..9 {
            nanos *= 10;
        }
        rest = &frac[len..];
    }
    let offset = zone(rest)?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset;
    secs.checked_mul(NANOS_PER_SEC)?
        .checked_add(nanos)
        .map(Timestamp)
}

/// Reads `len` ASCII digits at `at` as a number.
fn number(text: &[u8], at: usize, len: usize) -> Option<i64> {
    text.get(at..at + len)?.iter().try_fold(0i64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
    })
}

/// Returns the zone's offset east of UTC in seconds; `None` if the zone is malformed or is
/// followed by anything.
fn zone(text: &[u8]) -> Option<i64> {
    let sign = match text.first() {
        None => return Some(0),
        Some(b'Z' | b'z') => return (text.len() == 1).then_some(0),
        Some(b'+') => 1,
        Some(b'-') => -1,
        Some(_) => return None,
    };
    let hours = number(text, 1, 2)?;
    let minutes = match &text[3..] {
        [] => 0,
        [b':', _, _] => number(text, 4, 2)?,
        [_, _] => number(text, 3, 2)?,
        _ => return None,
    };
    (hours <= 23 && minutes <= 59).then_some(sign * (hours * 3_600 + minutes * 60))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Returns the days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (Howard Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanos(text: &str) -> Option<i64> {
        parse(text.as_bytes()).map(|t| t.0)
    }

    #[test]
    fn zeek_iso8601_is_exact() {
        assert_eq!(
            nanos("2019-01-10T20:06:28.123456Z"),
            Some(1_547_150_788_123_456_000)
        );
        assert_eq!(nanos("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(nanos("1970-01-01T00:00:00.000000001Z"), Some(1));
        assert_eq!(nanos("1969-12-31T23:59:59.5Z"), Some(-500_000_000));
        assert_eq!(
            nanos("2022-09-29T14:40:56.755299Z"),
            Some(1_664_462_456_755_299_000)
        );
    }

    #[test]
    fn offsets_and_variants() {
        let utc = nanos("2019-01-10T20:06:28.5Z");
        for text in [
            "2019-01-10T21:06:28.5+01:00",
            "2019-01-10T21:06:28.5+0100",
            "2019-01-10T21:06:28.5+01",
            "2019-01-10T15:36:28.5-04:30",
            "2019-01-10 20:06:28,5z",
            "2019-01-10t20:06:28.500000000",
            "2019-01-10T20:06:28.4999999995Z",
        ] {
            assert_eq!(nanos(text), utc, "{text}");
        }
        assert_eq!(nanos("2016-12-31T23:59:60Z"), nanos("2017-01-01T00:00:00Z"));
        assert_eq!(
            nanos("2020-02-29T00:00:00Z"),
            Some(1_582_934_400_000_000_000)
        );
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for bad in [
            "",
            "2019-01-10",
            "2019-01-10T20:06",
            "2019-13-10T20:06:28Z",
            "2019-02-29T20:06:28Z",
            "1900-02-29T00:00:00Z",
            "2019-01-10T24:00:00Z",
            "2019-01-10T20:06:28.Z",
            "2019-01-10T20:06:28Zjunk",
            "2019-01-10T20:06:28+1",
            "2019-01-10T20:06:28+01:0",
            "2019-01-10T20:06:28+24:00",
            "2019/01/10T20:06:28Z",
            "+019-01-10T20:06:28Z",
            "9999-12-31T23:59:59Z",
            "1066-10-14T09:00:00Z",
        ] {
            assert_eq!(nanos(bad), None, "{bad}");
        }
    }

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2262, 4, 11), 106_751);
    }
}
