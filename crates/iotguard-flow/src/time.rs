//! Exact timestamps and intervals.
//!
//! Zeek writes times as decimal seconds with microsecond digits (`1547150789.067208`). Going
//! through `f64` would lose digits on round trips, so both types hold integer nanoseconds and
//! parse and print decimal text exactly.

use std::fmt;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// A point in time: nanoseconds since the Unix epoch (UTC).
///
/// Captures with relative times (Stratosphere's `ts` from 15 s) are kept as they are: a
/// timestamp near zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// A length of time in nanoseconds (Zeek's `interval`), such as a flow's duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Interval(pub i64);

impl Timestamp {
    /// Builds a timestamp from whole seconds and nanoseconds since the epoch.
    pub fn from_secs_nanos(secs: i64, nanos: u32) -> Self {
        Timestamp(
            secs.saturating_mul(NANOS_PER_SEC)
                .saturating_add(i64::from(nanos)),
        )
    }

    /// Returns the nanoseconds since the epoch.
    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// Returns the seconds since the epoch as a float (for features, never for storage).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// Parses decimal seconds (`1547150789.067208`, `-3.5`, `12`) exactly, to the nanosecond.
    pub fn parse_decimal(text: &[u8]) -> Option<Self> {
        parse_decimal_nanos(text).map(Timestamp)
    }

    /// Builds a timestamp from milliseconds since the epoch (Zeek's `TS_MILLIS`).
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms.saturating_mul(1_000_000))
    }

    /// Returns the whole seconds and the sub-second nanoseconds (always `0..1e9`).
    pub fn secs_nanos(self) -> (i64, u32) {
        (
            self.0.div_euclid(NANOS_PER_SEC),
            self.0.rem_euclid(NANOS_PER_SEC) as u32,
        )
    }

    /// Formats the time as RFC 3339 in UTC with microseconds, `YYYY-MM-DDTHH:MM:SS.ffffffZ`
    /// (truncated toward the past), the form ECS dates and reports use.
    pub fn to_rfc3339(self) -> String {
        let (secs, nanos) = self.secs_nanos();
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60,
            nanos / 1000
        )
    }
}

/// Returns the date of a day counted from 1970-01-01 in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Interval {
    /// Parses decimal seconds exactly, to the nanosecond.
    pub fn parse_decimal(text: &[u8]) -> Option<Self> {
        parse_decimal_nanos(text).map(Interval)
    }

    /// Builds an interval from float seconds, rounded to the nanosecond.
    pub fn from_secs_f64(secs: f64) -> Option<Self> {
        let n = (secs * NANOS_PER_SEC as f64).round();
        (n.is_finite() && n.abs() < i64::MAX as f64).then_some(Interval(n as i64))
    }

    /// Returns the length in seconds as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
}

/// The longest decimal text of an `i64` of nanoseconds: `-9223372036.854775808`.
const DECIMAL_MAX_LEN: usize = 21;

/// Formats nanoseconds as decimal seconds with at least six fraction digits (as Zeek does) and
/// more only where the value needs them, so that parsing the text gives the same value back.
///
/// Writes into a stack buffer and returns the text: printing a time allocates nothing, which
/// matters to writers that print tens of millions of them.
fn decimal_nanos(nanos: i64, buf: &mut [u8; DECIMAL_MAX_LEN]) -> &[u8] {
    let abs = nanos.unsigned_abs();
    let secs = abs / NANOS_PER_SEC as u64;
    let mut frac = (abs % NANOS_PER_SEC as u64) as u32;
    let mut len = 0;
    if nanos < 0 {
        buf[0] = b'-';
        len = 1;
    }
    let mut itoa = itoa::Buffer::new();
    let int = itoa.format(secs).as_bytes();
    buf[len..len + int.len()].copy_from_slice(int);
    len += int.len();
    buf[len] = b'.';
    len += 1;
    // Nine fraction digits, then drop trailing zeros down to six.
    let mut digits = 9;
    while digits > 6 && frac % 10 == 0 {
        frac /= 10;
        digits -= 1;
    }
    for i in (0..digits).rev() {
        buf[len + i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    &buf[..len + digits]
}

/// Appends nanoseconds as decimal seconds (the text of [`Timestamp`]'s and [`Interval`]'s
/// `Display`) to a buffer, without allocating beyond the buffer's growth.
pub(crate) fn push_decimal_nanos(nanos: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; DECIMAL_MAX_LEN];
    out.extend_from_slice(decimal_nanos(nanos, &mut buf));
}

fn fmt_decimal_nanos(nanos: i64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut buf = [0u8; DECIMAL_MAX_LEN];
    let text = decimal_nanos(nanos, &mut buf);
    // The text is ASCII digits, a sign and a point.
    f.write_str(std::str::from_utf8(text).map_err(|_| fmt::Error)?)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_decimal_nanos(self.0, f)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_decimal_nanos(self.0, f)
    }
}

/// Parses `[-]digits[.digits][e[+-]digits]` into nanoseconds, exactly where the text has at
/// most nine fraction digits and rounding half away from zero beyond that.
pub(crate) fn parse_decimal_nanos(text: &[u8]) -> Option<i64> {
    // Fast path: `digits[.digits]` with at most 9 fraction digits, as Zeek writes times.
    if let Some(n) = parse_plain_decimal(text) {
        return Some(n);
    }
    parse_general_decimal(text)
}

/// Parses `digits[.digits]` (at most 9 fraction digits, at most 10 integer digits) with plain
/// integer arithmetic; `None` for anything else, which the general parser then handles.
fn parse_plain_decimal(text: &[u8]) -> Option<i64> {
    let mut int: i64 = 0;
    let mut i = 0;
    while i < text.len() && i < 11 {
        let d = text[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        int = int * 10 + i64::from(d);
        i += 1;
    }
    if i == 0 || i >= 11 {
        return None;
    }
    let nanos = int.checked_mul(NANOS_PER_SEC)?;
    if i == text.len() {
        return Some(nanos);
    }
    if text[i] != b'.' {
        return None;
    }
    let frac = &text[i + 1..];
    if frac.is_empty() || frac.len() > 9 {
        return None;
    }
    let mut f: i64 = 0;
    for &b in frac {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        f = f * 10 + i64::from(d);
    }
    const POW10: [i64; 10] = [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
        1_000_000_000,
    ];
    nanos.checked_add(f * POW10[9 - frac.len()])
}

/// The general decimal parser: signs, exponents, long fractions (rounded to the nanosecond).
fn parse_general_decimal(text: &[u8]) -> Option<i64> {
    let (neg, rest) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if rest.is_empty() {
        return None;
    }
    // Split off an exponent, which JSON writers may use for small or large floats.
    let (mantissa, exp) = match memchr::memchr2(b'e', b'E', rest) {
        Some(i) => {
            let e = std::str::from_utf8(&rest[i + 1..])
                .ok()?
                .parse::<i32>()
                .ok()?;
            (&rest[..i], e)
        }
        None => (rest, 0),
    };
    let (int_part, frac_part) = match memchr::memchr(b'.', mantissa) {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, &mantissa[..0]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    // All digits as one big integer with a decimal exponent: value = digits * 10^(exp - frac_len).
    let mut digits: i128 = 0;
    let mut significant = 0usize;
    let mut scale: i32 = exp;
    for &b in int_part {
        if !b.is_ascii_digit() {
            return None;
        }
        if significant < 30 {
            digits = digits * 10 + i128::from(b - b'0');
            if digits != 0 {
                significant += 1;
            }
        } else {
            scale += 1;
        }
    }
    for &b in frac_part {
        if !b.is_ascii_digit() {
            return None;
        }
        if significant < 30 {
            digits = digits * 10 + i128::from(b - b'0');
            if digits != 0 {
                significant += 1;
            }
            scale -= 1;
        }
    }
    // Convert to nanoseconds: multiply by 10^(scale + 9).
    let shift = scale + 9;
    let nanos: i128 = if shift >= 0 {
        let mut v = digits;
        for _ in 0..shift {
            v = v.checked_mul(10)?;
            // One past `i64::MAX`: the magnitude of `i64::MIN`.
            if v > i64::MAX as i128 + 1 {
                return None;
            }
        }
        v
    } else {
        let down = (-shift) as u32;
        if down > 38 {
            0
        } else {
            let p = 10i128.pow(down);
            let q = digits / p;
            let r = digits % p;
            if r * 2 >= p {
                q + 1
            } else {
                q
            }
        }
    };
    i64::try_from(if neg { -nanos } else { nanos }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zeek_times_exactly() {
        let t = Timestamp::parse_decimal(b"1547150789.067208").unwrap();
        assert_eq!(t.0, 1_547_150_789_067_208_000);
        assert_eq!(t.to_string(), "1547150789.067208");
        assert_eq!(
            Timestamp::parse_decimal(b"19.981745").unwrap().0,
            19_981_745_000
        );
        assert_eq!(
            Timestamp::parse_decimal(b"12").unwrap().to_string(),
            "12.000000"
        );
    }

    #[test]
    fn parses_long_json_floats_to_the_nanosecond() {
        let d = Interval::parse_decimal(b"0.27964200000000083").unwrap();
        assert_eq!(d.0, 279_642_000);
        let d = Interval::parse_decimal(b"7.7209140000000005").unwrap();
        assert_eq!(d.0, 7_720_914_000);
        assert_eq!(Interval::parse_decimal(b"1.5e-3").unwrap().0, 1_500_000);
        assert_eq!(Interval::parse_decimal(b"2E2").unwrap().0, 200_000_000_000);
    }

    #[test]
    fn fast_and_general_paths_agree() {
        for text in [
            "0",
            "1",
            "1.5",
            "1547150789.067208",
            "12.000000001",
            "9223372036.854775807",
        ] {
            let fast = parse_plain_decimal(text.as_bytes());
            assert!(fast.is_some(), "{text} should take the fast path");
            assert_eq!(fast, parse_general_decimal(text.as_bytes()), "{text}");
        }
        // Out of range: both refuse. Unusual forms fall back to the general parser.
        assert_eq!(parse_plain_decimal(b"9999999999.999999999"), None);
        assert_eq!(parse_decimal_nanos(b"9999999999.999999999"), None);
        assert_eq!(parse_plain_decimal(b"3."), None);
        assert_eq!(parse_decimal_nanos(b"3."), Some(3_000_000_000));
        assert_eq!(parse_plain_decimal(b"1.0000000001"), None);
        assert_eq!(parse_general_decimal(b"1.0000000001"), Some(1_000_000_000));
    }

    #[test]
    fn rejects_junk() {
        for bad in [
            &b""[..],
            b"-",
            b".",
            b"1.2.3",
            b"abc",
            b"1e",
            b"99999999999999999999",
        ] {
            assert_eq!(
                parse_decimal_nanos(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn prints_six_digits_at_least_and_more_only_where_needed() {
        for (n, text) in [
            (0i64, "0.000000"),
            (1, "0.000000001"),
            (10, "0.00000001"),
            (1_000, "0.000001"),
            (-1, "-0.000000001"),
            (-1_500_000_000, "-1.500000"),
            (1_664_462_456_755_299_000, "1664462456.755299"),
            (i64::MAX, "9223372036.854775807"),
            (i64::MIN, "-9223372036.854775808"),
        ] {
            assert_eq!(Timestamp(n).to_string(), text);
            let mut out = b"x".to_vec();
            push_decimal_nanos(n, &mut out);
            assert_eq!(&out[1..], text.as_bytes());
        }
    }

    #[test]
    fn prints_and_reparses_exactly() {
        for n in [
            0i64,
            1,
            999_999_999,
            1_000_000_001,
            -1,
            -1_500_000_000,
            123_456_789_012,
            i64::MAX,
            i64::MIN,
        ] {
            let text = Interval(n).to_string();
            assert_eq!(
                Interval::parse_decimal(text.as_bytes()),
                Some(Interval(n)),
                "{text}"
            );
        }
    }
}
