//! The fast path for the column layouts nearly every conn log has.
//!
//! Zeek's standard 21 conn columns in Zeek's order, alone, with separate `label` and
//! `detailed-label` columns (Stratosphere, our own writer), or with IoT-23's packed
//! `tunnel_parents   label   detailed-label` column. For these, the parser runs through the
//! fields in order with each value's parser inlined, instead of dispatching on a column table
//! per field (the generic path's main cost, measured with `perf`). The line is split in one pass
//! and checked as UTF-8 once, and the record is filled in its box.
//!
//! It only ever accepts: on anything unusual (an escape, a value that does not parse, a field
//! too many or too few) it returns `None` and the line goes through the generic path, which
//! produces the record or the error exactly as it always did. The two paths are compared on
//! every line of the real captures and on systematically corrupted lines (tests below).

use compact_str::CompactString;

use super::{split_packed, Column, ZeekTsvParser};
use crate::fields::{parse_bool, parse_ip, parse_port, parse_u64, Field};
use crate::record::{ConnState, FlowRecord, Protocol};
use crate::time::{Interval, Timestamp};

/// Which of the common layouts a log has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    /// The 21 standard conn columns.
    Standard,
    /// The 21 standard columns, then `label` and `detailed-label`.
    WithLabels,
    /// 20 standard columns, then IoT-23's packed `tunnel_parents   label   detailed-label`.
    Iot23Packed,
}

/// Zeek's standard conn columns, in Zeek's order.
const STANDARD: [Field; 21] = [
    Field::Ts,
    Field::Uid,
    Field::OrigH,
    Field::OrigP,
    Field::RespH,
    Field::RespP,
    Field::Proto,
    Field::Service,
    Field::Duration,
    Field::OrigBytes,
    Field::RespBytes,
    Field::ConnState,
    Field::LocalOrig,
    Field::LocalResp,
    Field::MissedBytes,
    Field::History,
    Field::OrigPkts,
    Field::OrigIpBytes,
    Field::RespPkts,
    Field::RespIpBytes,
    Field::TunnelParents,
];

/// Returns the common layout the columns follow, if any.
pub(super) fn layout(columns: &[Column]) -> Option<Layout> {
    let first = columns.get(..20)?;
    if !first
        .iter()
        .zip(&STANDARD)
        .all(|(c, f)| *c == Column::One(*f))
    {
        return None;
    }
    const TUNNEL: Column = Column::One(Field::TunnelParents);
    match &columns[20..] {
        [TUNNEL] => Some(Layout::Standard),
        [TUNNEL, Column::One(Field::Label), Column::One(Field::DetailedLabel)] => {
            Some(Layout::WithLabels)
        }
        [Column::Packed(p)]
            if p[..] == [Field::TunnelParents, Field::Label, Field::DetailedLabel] =>
        {
            Some(Layout::Iot23Packed)
        }
        _ => None,
    }
}

fn utf8(v: &[u8]) -> Option<&str> {
    std::str::from_utf8(v).ok()
}

/// The most fields a common layout has (21 standard + 2 label columns).
const MAX_FIELDS: usize = 23;

/// A line cut into its fields in one pass: separators are found eight bytes at a time (SWAR,
/// as in `Fields`) into an offset table, so each field after that is two array reads. The whole
/// line is checked as UTF-8 once, so string fields are slices of it with no check of their own.
struct Split<'a> {
    line: &'a [u8],
    text: &'a str,
    /// Offsets of the separators; field `i` ends at `seps[i]` (or the line's end).
    seps: [u32; MAX_FIELDS],
    fields: usize,
}

impl<'a> Split<'a> {
    /// Returns `None` for a line that is not UTF-8 or has other than `expect` fields.
    #[inline]
    fn new(line: &'a [u8], sep: u8, expect: usize) -> Option<Split<'a>> {
        const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        let text = std::str::from_utf8(line).ok()?;
        let mut seps = [0u32; MAX_FIELDS];
        let mut n = 0usize;
        let pattern = u64::from_ne_bytes([sep; 8]);
        let mut at = 0;
        while let Some(word) = line.get(at..).and_then(|r| r.first_chunk::<8>()) {
            let x = u64::from_le_bytes(*word) ^ pattern;
            let mut mask = !(((x & LO7).wrapping_add(LO7)) | x | LO7);
            while mask != 0 {
                *seps.get_mut(n)? = (at + (mask.trailing_zeros() / 8) as usize) as u32;
                n += 1;
                mask &= mask - 1;
            }
            at += 8;
        }
        for (i, &b) in line[at..].iter().enumerate() {
            if b == sep {
                *seps.get_mut(n)? = (at + i) as u32;
                n += 1;
            }
        }
        (n + 1 == expect).then_some(Split {
            line,
            text,
            seps,
            fields: n + 1,
        })
    }

    #[inline]
    fn range(&self, i: usize) -> (usize, usize) {
        let start = if i == 0 {
            0
        } else {
            self.seps[i - 1] as usize + 1
        };
        let end = if i + 1 < self.fields {
            self.seps[i] as usize
        } else {
            self.line.len()
        };
        (start, end)
    }

    #[inline]
    fn bytes(&self, i: usize) -> &'a [u8] {
        let (a, b) = self.range(i);
        &self.line[a..b]
    }

    /// A field as text: separators are ASCII, so field bounds are character bounds.
    #[inline]
    fn text(&self, i: usize) -> &'a str {
        let (a, b) = self.range(i);
        self.text.get(a..b).unwrap_or_default()
    }
}

impl ZeekTsvParser {
    /// `Some(None)` for the unset marker, `Some(Some(x))` for a value that parses, `None` else.
    #[inline]
    fn opt<T>(&self, v: &[u8], parse: impl FnOnce(&[u8]) -> Option<T>) -> Option<Option<T>> {
        if self.is_unset(v) {
            Some(None)
        } else {
            parse(v).map(Some)
        }
    }

    /// A string field; the empty marker means the empty string where `empty_means_empty`.
    #[inline]
    fn opt_text(&self, s: &Split<'_>, i: usize, empty_means_empty: bool) -> Option<CompactString> {
        let v = s.bytes(i);
        if self.is_unset(v) {
            None
        } else if empty_means_empty && v == self.empty.as_slice() {
            Some(CompactString::default())
        } else {
            Some(CompactString::from(s.text(i)))
        }
    }

    /// Parses a line of a common layout into a new boxed record, or returns `None` to leave the
    /// line to the generic path.
    pub(super) fn parse_fast(&mut self, line: &[u8], layout: Layout) -> Option<Box<FlowRecord>> {
        if memchr::memchr(b'\\', line).is_some() {
            return None;
        }
        let expect = if layout == Layout::WithLabels { 23 } else { 21 };
        let s = Split::new(line, self.separator, expect)?;
        // Filled in place: the record is large, and building it on the stack and then boxing
        // it was a measurable copy.
        let mut rec = Box::<FlowRecord>::default();
        rec.ts = Timestamp::parse_decimal(s.bytes(0))?;
        rec.uid = self.opt_text(&s, 1, false);
        rec.orig_h = self.opt(s.bytes(2), parse_ip)?;
        rec.orig_p = self.opt(s.bytes(3), parse_port)?;
        rec.resp_h = self.opt(s.bytes(4), parse_ip)?;
        rec.resp_p = self.opt(s.bytes(5), parse_port)?;
        let proto = s.bytes(6);
        if !self.is_unset(proto) {
            rec.proto = match proto {
                b"tcp" => Protocol::Tcp,
                b"udp" => Protocol::Udp,
                b"icmp" => Protocol::Icmp,
                _ => Protocol::parse(s.text(6)),
            };
        }
        rec.service = self.opt_text(&s, 7, true);
        rec.duration = self.opt(s.bytes(8), Interval::parse_decimal)?;
        rec.orig_bytes = self.opt(s.bytes(9), parse_u64)?;
        rec.resp_bytes = self.opt(s.bytes(10), parse_u64)?;
        rec.conn_state = self.opt(s.bytes(11), |v| {
            Some(match v {
                b"S0" => ConnState::S0,
                b"SF" => ConnState::SF,
                b"OTH" => ConnState::OTH,
                b"REJ" => ConnState::REJ,
                other => ConnState::parse(utf8(other)?),
            })
        })?;
        rec.local_orig = self.opt(s.bytes(12), parse_bool)?;
        rec.local_resp = self.opt(s.bytes(13), parse_bool)?;
        rec.missed_bytes = self.opt(s.bytes(14), parse_u64)?;
        rec.history = self.opt_text(&s, 15, true);
        rec.orig_pkts = self.opt(s.bytes(16), parse_u64)?;
        rec.orig_ip_bytes = self.opt(s.bytes(17), parse_u64)?;
        rec.resp_pkts = self.opt(s.bytes(18), parse_u64)?;
        rec.resp_ip_bytes = self.opt(s.bytes(19), parse_u64)?;
        let last = s.text(20);
        let (tunnel, label, detailed) = match layout {
            Layout::Standard => (last, None, None),
            Layout::WithLabels => (last, Some(s.text(21)), Some(s.text(22))),
            Layout::Iot23Packed => {
                let mut parts = split_packed(last.as_bytes()).map(|p| utf8(p).unwrap_or_default());
                let packed = (parts.next()?, Some(parts.next()?), Some(parts.next()?));
                if parts.next().is_some() {
                    return None;
                }
                packed
            }
        };
        rec.tunnel_parents = if self.is_unset(tunnel.as_bytes()) {
            None
        } else if tunnel.as_bytes() == self.empty.as_slice() {
            Some(Vec::new())
        } else {
            Some(
                tunnel
                    .split(char::from(self.set_separator))
                    .map(CompactString::from)
                    .collect(),
            )
        };
        let label = label.filter(|v| !self.is_unset(v.as_bytes()));
        let detailed = detailed.filter(|v| !self.is_unset(v.as_bytes()));
        if let Some(name) = label.filter(|n| !n.is_empty() && *n != "-") {
            rec.label = Some(self.labels.0.get(name, detailed));
        }
        Some(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::{LineParser, Parsed};

    /// Every data line of `text`, through both paths: where the fast path accepts a line, the
    /// generic path must give the same record. Returns how many lines the fast path took.
    fn compare(text: &str, mutate: bool) -> usize {
        let mut p = ZeekTsvParser::default();
        let mut fast_hits = 0;
        let junk: [&[u8]; 12] = [
            b"",
            b"-",
            b"(empty)",
            b"x",
            b"1.5",
            b"-1",
            b"99999999999999999999",
            b"::1",
            b"T",
            b"0",
            b"a,b",
            b"S0",
        ];
        for line in text.lines() {
            let line = line.as_bytes();
            if line.first() == Some(&b'#') {
                let _ = p.parse(line);
                continue;
            }
            let mut variants = vec![line.to_vec()];
            if mutate {
                let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
                for i in 0..fields.len() {
                    for j in junk {
                        let mut f = fields.clone();
                        f[i] = j;
                        variants.push(f.join(&b'\t'));
                    }
                }
            }
            for v in variants {
                let Some(layout) = p.layout else { continue };
                if let Some(fast) = p.parse_fast(&v, layout) {
                    fast_hits += 1;
                    let generic = p.record(&v);
                    assert_eq!(
                        generic.as_ref(),
                        Ok(&*fast),
                        "{}",
                        String::from_utf8_lossy(&v)
                    );
                }
            }
            // And the parser as a whole still reads the original line.
            assert!(matches!(p.parse(line), Parsed::Record(_)));
        }
        fast_hits
    }

    #[test]
    fn fast_path_agrees_with_the_generic_path_on_real_captures() {
        let Some(dir) = iotguard_testkit::shared_data("tsv fast path") else {
            return;
        };
        for file in [
            "iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled",
            "iot23/CTU-Honeypot-Capture-5-1.conn.log.labeled",
            "iot23/iot23-pool-dev.conn.log.labeled",
            "stratosphere/CTU-Normal-40-day1.conn.log.labeled",
            "stratosphere/CTU-Malware-Capture-Botnet-230-1-first1000.conn.log.labeled",
        ] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            let data_lines = text.lines().filter(|l| !l.starts_with('#')).count();
            assert_eq!(
                compare(&text, false),
                data_lines,
                "{file}: every real line takes the fast path"
            );
        }
        // Corrupt every field of the first lines of an IoT-23 and a Stratosphere capture.
        for file in [
            "iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled",
            "stratosphere/CTU-Normal-40-day1.conn.log.labeled",
        ] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            let head: String = text.lines().take(60).map(|l| format!("{l}\n")).collect();
            assert!(compare(&head, true) > 1000, "{file}");
        }
    }

    #[test]
    fn fast_path_agrees_on_the_fixture_with_corruptions() {
        let text =
            std::fs::read_to_string(iotguard_testkit::testdata("zeek/conn_small.log")).unwrap();
        assert!(compare(&text, true) > 100);
    }

    #[test]
    fn layouts() {
        let one = |f: &[Field]| f.iter().map(|f| Column::One(*f)).collect::<Vec<_>>();
        assert_eq!(layout(&one(&STANDARD)), Some(Layout::Standard));
        let mut with = one(&STANDARD);
        with.extend(one(&[Field::Label, Field::DetailedLabel]));
        assert_eq!(layout(&with), Some(Layout::WithLabels));
        let mut packed = one(&STANDARD[..20]);
        packed.push(Column::Packed(vec![
            Field::TunnelParents,
            Field::Label,
            Field::DetailedLabel,
        ]));
        assert_eq!(layout(&packed), Some(Layout::Iot23Packed));
        let mut swapped = one(&STANDARD);
        swapped.swap(0, 1);
        assert_eq!(layout(&swapped), None);
        assert_eq!(layout(&one(&STANDARD[..5])), None);
    }
}
