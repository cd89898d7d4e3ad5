//! Value rules the delimited dialects share beyond Zeek's: MAC addresses, totals split into
//! sides, IoT-23's packed columns, and the text check every line gets.

/// Whether a value is a MAC address: six groups of one or two hex digits, `:` or `-` separated.
pub(super) fn is_mac(value: &[u8]) -> bool {
    let mut groups = 0;
    for group in value.split(|&b| b == b':' || b == b'-') {
        groups += 1;
        if group.is_empty() || group.len() > 2 || !group.iter().all(u8::is_ascii_hexdigit) {
            return false;
        }
    }
    groups == 6
}

/// Fills in one side's count from a total where only the other side's count is known.
pub(super) fn split_total(
    total: u64,
    orig: &mut Option<u64>,
    resp: &mut Option<u64>,
) -> Result<(), &'static str> {
    match (*orig, *resp) {
        (Some(o), None) => {
            *resp = Some(
                total
                    .checked_sub(o)
                    .ok_or("total (below the source's count)")?,
            )
        }
        (None, Some(r)) => {
            *orig = Some(
                total
                    .checked_sub(r)
                    .ok_or("total (below the destination's count)")?,
            )
        }
        _ => {}
    }
    Ok(())
}

/// Splits an IoT-23 packed value on runs of two or more spaces.
pub(super) fn split_packed(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = value;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest.windows(2).position(|w| w == b"  ");
        let (item, next) = match end {
            Some(e) => (&rest[..e], rest[e..].trim_ascii_start()),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        Some(item)
    })
}

/// Returns the offset of the first byte that has no place in a text record: a control character
/// other than tab, DEL, or the start of invalid UTF-8. One vectorisable pass for ASCII lines.
pub(super) fn check_text(buf: &[u8]) -> Option<usize> {
    let bad = |b: u8| u8::from(b < 0x20) & u8::from(b != b'\t') | u8::from(b == 0x7f);
    // Byte accumulators and no branches: the loop vectorises.
    let (mut ctrl, mut high) = (0u8, 0u8);
    for &b in buf {
        ctrl |= bad(b);
        high |= b;
    }
    if ctrl != 0 {
        return buf.iter().position(|&b| bad(b) != 0);
    }
    if high >= 0x80 {
        if let Err(e) = std::str::from_utf8(buf) {
            return Some(e.valid_up_to());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert!(is_mac(b"00:0c:29:9f:33:ab"));
        assert!(is_mac(b"0:1b:21:a:b:c"));
        assert!(is_mac(b"00-0C-29-9F-33-AB"));
        for not in [
            &b"0"[..],
            b"::1",
            b"00:0c:29:9f:33",
            b"00:0c:29:9f:33:ab:01",
            b"00:0c:29:9f:33:ag",
            b"000:c:29:9f:33:ab",
        ] {
            assert!(!is_mac(not), "{}", String::from_utf8_lossy(not));
        }
    }

    #[test]
    fn totals_fill_the_missing_side_only() {
        let side = |o, r, total| {
            let (mut o, mut r) = (o, r);
            split_total(total, &mut o, &mut r).map(|()| (o, r))
        };
        assert_eq!(side(Some(3), None, 5), Ok((Some(3), Some(2))));
        assert_eq!(side(None, Some(5), 5), Ok((Some(0), Some(5))));
        assert_eq!(side(Some(1), Some(1), 5), Ok((Some(1), Some(1))));
        assert_eq!(side(None, None, 5), Ok((None, None)));
        assert!(side(Some(6), None, 5).is_err());
        assert!(side(None, Some(6), 5).is_err());
    }

    #[test]
    fn packed_values() {
        let parts = |v: &str| -> Vec<String> {
            split_packed(v.as_bytes())
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect()
        };
        assert_eq!(parts("-   Malicious   C&C"), ["-", "Malicious", "C&C"]);
        assert_eq!(parts("(empty)  Benign  -"), ["(empty)", "Benign", "-"]);
        assert_eq!(parts("a b  c"), ["a b", "c"]);
        assert_eq!(parts("a  "), ["a"]);
        assert!(parts("").is_empty());
    }

    #[test]
    fn text_check_finds_the_first_bad_byte() {
        assert_eq!(check_text(b"1,tcp,\tx"), None);
        assert_eq!(check_text("caf\u{e9},\u{2192}".as_bytes()), None);
        assert_eq!(check_text(b"ab\x00c"), Some(2));
        assert_eq!(check_text(b"abc\x7f"), Some(3));
        assert_eq!(check_text(b"ab\rc"), Some(2));
        assert_eq!(check_text(b"abc\xff\x01"), Some(4));
        assert_eq!(check_text(b"ab\xc3"), Some(2));
        assert_eq!(check_text(b"a\xffb"), Some(1));
    }
}
