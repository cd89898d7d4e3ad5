//! Zeek-style connection uids.
//!
//! Zeek draws 96 random bits per connection, as a 32-bit and a 64-bit number, writes each in
//! base 62 least significant digit first without the leading zeros, and puts `C` in front. So
//! a uid is `C` plus up to 17 base-62 characters: 17 about three times in four, 16 or fewer
//! otherwise. IoT-23's logs show exactly this: the same spread of lengths, the sixth character
//! always `1` to `4` (the top digit of 32 bits) and the seventeenth `1` to `l` (of 64 bits).

use compact_str::CompactString;

use crate::rng::Rand;

/// Zeek's digit alphabet for base 62.
const DIGITS: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The longest uid: `C`, 6 digits for 32 bits, 11 digits for 64 bits.
pub(crate) const MAX_UID_LEN: usize = 18;

/// Returns a new connection uid (`C` + 15 to 17 base-62 characters), inline (no heap).
pub(crate) fn conn_uid(rng: &mut Rand) -> CompactString {
    let small = u64::from(rng.u32());
    let big = rng.u64();
    let mut buf = [0u8; MAX_UID_LEN];
    buf[0] = b'C';
    let mut n = 1;
    n = push_base62(small, &mut buf, n);
    n = push_base62(big, &mut buf, n);
    // Every byte is ASCII from DIGITS or `C`.
    let text = std::str::from_utf8(&buf[..n]).unwrap_or("C");
    CompactString::new(text)
}

/// Writes `v` in base 62, least significant digit first (as Zeek's `uitoa_n` does), and
/// returns the new length.
fn push_base62(mut v: u64, buf: &mut [u8; MAX_UID_LEN], mut n: usize) -> usize {
    loop {
        buf[n] = DIGITS[(v % 62) as usize];
        n += 1;
        v /= 62;
        if v == 0 {
            return n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_look_like_zeeks() {
        let mut rng = Rand::new(3, 99, 0);
        let mut lengths = [0u32; MAX_UID_LEN + 1];
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20_000 {
            let uid = conn_uid(&mut rng);
            assert!(uid.starts_with('C'));
            assert!(uid[1..].bytes().all(|b| b.is_ascii_alphanumeric()), "{uid}");
            assert!(!uid.is_heap_allocated());
            lengths[uid.len()] += 1;
            assert!(seen.insert(uid));
        }
        // 64 bits need 11 digits with p = 0.95, 32 bits need 6 with p = 0.79.
        let full = f64::from(lengths[18]) / 20_000.0;
        let mut rng = Rand::new(3, 99, 0);
        for _ in 0..1000 {
            let uid = conn_uid(&mut rng);
            if uid.len() == 18 {
                assert!((b'1'..=b'4').contains(&uid.as_bytes()[6]), "{uid}");
                let top = uid.as_bytes()[17];
                assert!(
                    top.is_ascii_digit() && top != b'0' || (b'a'..=b'l').contains(&top),
                    "{uid}"
                );
            }
        }
        assert!((0.70..0.80).contains(&full), "{lengths:?}");
        assert!(lengths[..15].iter().all(|&c| c == 0), "{lengths:?}");
    }

    #[test]
    fn base62_digits() {
        let mut buf = [0u8; MAX_UID_LEN];
        assert_eq!(push_base62(0, &mut buf, 0), 1);
        assert_eq!(buf[0], b'0');
        let n = push_base62(62 * 62 - 1, &mut buf, 0);
        assert_eq!(&buf[..n], b"ZZ");
        let n = push_base62(u64::MAX, &mut buf, 0);
        assert_eq!(n, 11);
    }
}
