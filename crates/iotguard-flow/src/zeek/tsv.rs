//! Zeek TSV conn logs, read by their own `#` header lines.
//!
//! The header names the separator, the set separator, the empty and unset markers and the
//! columns; nothing here assumes a column position. Concatenated logs (several header blocks) and
//! any field order or extra field are fine. IoT-23's labeled logs pack their last three columns
//! into one tab field separated by runs of spaces (`tunnel_parents   label   detailed-label`), in
//! the `#fields` line as well: such a column is split on runs of two or more spaces.

use std::borrow::Cow;

use compact_str::CompactString;

use crate::error::{ErrorKind, LineError};
use crate::fields::{self, Field, PendingLabel};
use crate::label::LabelCache;
use crate::reader::{LineParser, Parsed};
use crate::record::FlowRecord;

mod fast;

/// A column of the `#fields` line: one field, or several packed with space runs (IoT-23).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Column {
    One(Field),
    Packed(Vec<Field>),
}

/// Parses Zeek TSV conn logs.
#[derive(Clone, Debug)]
pub(crate) struct ZeekTsvParser {
    separator: u8,
    set_separator: u8,
    empty: Vec<u8>,
    unset: Vec<u8>,
    columns: Option<Vec<Column>>,
    /// The common layout the columns follow, when they do (see `fast.rs`).
    layout: Option<fast::Layout>,
    /// The `#path` of a log that is not a conn log (`dns`, `http`), whose lines are refused.
    other_log: Option<String>,
    labels: LabelCacheCell,
}

/// The label cache is per parser; a fork starts an empty one (it is only a cache).
#[derive(Debug, Default)]
struct LabelCacheCell(LabelCache);

impl Clone for LabelCacheCell {
    fn clone(&self) -> Self {
        LabelCacheCell::default()
    }
}

impl Default for ZeekTsvParser {
    fn default() -> Self {
        ZeekTsvParser {
            separator: b'\t',
            set_separator: b',',
            empty: b"(empty)".to_vec(),
            unset: b"-".to_vec(),
            columns: None,
            layout: None,
            other_log: None,
            labels: LabelCacheCell::default(),
        }
    }
}

/// Decodes a header value written with `\xHH` escapes (`#separator \x09`).
fn unescape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'\\' && i + 3 < value.len() && value.get(i + 1) == Some(&b'x') {
            if let Some(b) = std::str::from_utf8(&value[i + 2..i + 4])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(value[i]);
        i += 1;
    }
    out
}

/// Splits a line on a one-byte separator. Flow lines are short fields (a few bytes each), where a
/// `memchr` call per field costs more than the field; this finds separators eight bytes at a
/// time with plain integer operations (SWAR) instead.
struct Fields<'a> {
    line: &'a [u8],
    start: usize,
    /// The byte offset the next 8-byte word starts at.
    word_at: usize,
    /// Separator bits of the current word not yet consumed (0x80 in each matching byte).
    mask: u64,
    pattern: u64,
    done: bool,
}

const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

impl<'a> Fields<'a> {
    fn new(line: &'a [u8], sep: u8) -> Self {
        Fields {
            line,
            start: 0,
            word_at: 0,
            mask: 0,
            pattern: u64::from_ne_bytes([sep; 8]),
            done: false,
        }
    }

    /// Returns the offset of the next separator at or after the current word, if any.
    #[inline]
    fn next_sep(&mut self) -> Option<usize> {
        loop {
            if self.mask != 0 {
                let byte = (self.mask.trailing_zeros() / 8) as usize;
                self.mask &= self.mask - 1;
                return Some(self.word_at - 8 + byte);
            }
            let rest = self.line.get(self.word_at..)?;
            if rest.is_empty() {
                return None;
            }
            let n = rest.len().min(8);
            let word = match rest.first_chunk::<8>() {
                Some(w) => u64::from_le_bytes(*w),
                None => {
                    let mut w = [0u8; 8];
                    for (d, s) in w.iter_mut().zip(rest) {
                        *d = *s;
                    }
                    u64::from_le_bytes(w)
                }
            };
            // Bytes past the end are masked off below.
            let x = word ^ self.pattern;
            let valid = if n == 8 {
                u64::MAX
            } else {
                (1u64 << (n * 8)) - 1
            };
            // Exact zero-byte detection: 0x80 in each byte of x that is zero.
            let zero = !(((x & LO7).wrapping_add(LO7)) | x | LO7);
            self.mask = zero & valid;
            self.word_at += 8;
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.done {
            return None;
        }
        match self.next_sep() {
            Some(i) => {
                let field = &self.line[self.start..i];
                self.start = i + 1;
                Some(field)
            }
            None => {
                self.done = true;
                Some(&self.line[self.start..])
            }
        }
    }
}

/// Decodes a data value's `\xHH` escapes: Zeek writes separators, non-printable bytes and values
/// that would read as the unset or empty marker that way. Borrows when there is nothing to decode.
fn unescape_value(value: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\\', value).is_some() {
        Cow::Owned(unescape(value))
    } else {
        Cow::Borrowed(value)
    }
}

/// Decodes a label's escapes, once its line is done (labels borrow the line until then).
fn unescape_label(field: Field, text: Option<&str>) -> Result<Option<Cow<'_, str>>, LineError> {
    let Some(text) = text else { return Ok(None) };
    match unescape_value(text.as_bytes()) {
        Cow::Borrowed(_) => Ok(Some(Cow::Borrowed(text))),
        Cow::Owned(bytes) => Ok(Some(Cow::Owned(fields::text(field, &bytes)?.to_owned()))),
    }
}

/// Splits an IoT-23 packed value on runs of two or more spaces.
fn split_packed(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = value;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut from = 0;
        while let Some(off) = memchr::memchr(b' ', &rest[from..]) {
            let i = from + off;
            if rest.get(i + 1) == Some(&b' ') {
                let item = &rest[..i];
                let mut j = i;
                while j < rest.len() && rest[j] == b' ' {
                    j += 1;
                }
                rest = &rest[j..];
                return Some(item);
            }
            from = i + 1;
        }
        let item = rest;
        rest = &[];
        Some(item)
    })
}

impl ZeekTsvParser {
    fn header(&mut self, line: &[u8]) -> Parsed {
        // `#separator` uses a space before its value; the others use the separator itself.
        if let Some(value) = line.strip_prefix(b"#separator") {
            // A new header block starts (concatenated logs): back to the defaults.
            *self = ZeekTsvParser {
                labels: std::mem::take(&mut self.labels),
                ..ZeekTsvParser::default()
            };
            let value = value
                .strip_prefix(b" ")
                .or_else(|| value.strip_prefix(b"\t"))
                .unwrap_or(value);
            let sep = unescape(value);
            if sep.len() != 1 {
                return Parsed::Error(LineError::new(
                    ErrorKind::Malformed,
                    format!(
                        "#separator must be one byte, got `{}`",
                        crate::error::shorten(value)
                    ),
                ));
            }
            self.separator = sep[0];
            return Parsed::Skip;
        }
        let rest = &line[1..];
        let (key, value) = match memchr::memchr(self.separator, rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        match key {
            b"set_separator" => {
                let v = unescape(value);
                if v.len() == 1 {
                    self.set_separator = v[0];
                }
            }
            b"empty_field" => self.empty = unescape(value),
            b"unset_field" => self.unset = unescape(value),
            b"path" => {
                // `conn`, and variants such as `conn_local`; anything else is another log.
                let path = String::from_utf8_lossy(value).into_owned();
                self.other_log = (!path.starts_with("conn")).then_some(path);
            }
            b"fields" => {
                let columns = value
                    .split(|&b| b == self.separator)
                    .map(|name| {
                        let parts: Vec<&[u8]> = split_packed(name).collect();
                        if parts.len() > 1 {
                            Column::Packed(
                                parts
                                    .iter()
                                    .map(|p| Field::from_name(&String::from_utf8_lossy(p)))
                                    .collect(),
                            )
                        } else {
                            Column::One(Field::from_name(&String::from_utf8_lossy(name)))
                        }
                    })
                    .collect::<Vec<_>>();
                self.layout = fast::layout(&columns);
                self.columns = Some(columns);
            }
            // #path, #open, #close, #types and anything else carry nothing a record needs.
            _ => {}
        }
        Parsed::Skip
    }

    fn record(&mut self, line: &[u8]) -> Result<FlowRecord, LineError> {
        if let Some(path) = &self.other_log {
            return Err(LineError::new(
                ErrorKind::Malformed,
                format!("this is a Zeek `{path}` log (#path), not a conn log"),
            ));
        }
        let Some(columns) = &self.columns else {
            return Err(LineError::new(
                ErrorKind::Malformed,
                "data line before any #fields header",
            ));
        };
        let mut rec = FlowRecord::default();
        let mut label = PendingLabel::default();
        let mut has_ts = false;
        // One scan of the line for escapes, rather than one per value: most lines have none.
        let escapes = memchr::memchr(b'\\', line).is_some();
        let mut values = Fields::new(line, self.separator);
        for column in columns {
            let Some(value) = values.next() else {
                return Err(field_count(columns.len(), line, self.separator));
            };
            match column {
                Column::One(field) => {
                    has_ts |= *field == Field::Ts && !self.is_unset(value);
                    self.set(&mut rec, &mut label, *field, value, escapes)?;
                }
                Column::Packed(packed) => {
                    let mut parts = split_packed(value);
                    for field in packed {
                        let Some(part) = parts.next() else {
                            return Err(LineError {
                                kind: ErrorKind::FieldCount,
                                field: Some(field.name().into()),
                                reason: format!(
                                    "packed column has fewer than {} values",
                                    packed.len()
                                ),
                            });
                        };
                        has_ts |= *field == Field::Ts && !self.is_unset(part);
                        self.set(&mut rec, &mut label, *field, part, escapes)?;
                    }
                    if parts.next().is_some() {
                        return Err(LineError::new(
                            ErrorKind::FieldCount,
                            format!("packed column has more than {} values", packed.len()),
                        ));
                    }
                }
            }
        }
        if values.next().is_some() {
            return Err(field_count(columns.len(), line, self.separator));
        }
        if !has_ts {
            return Err(fields::missing_ts());
        }
        let (name, detailed) = if escapes {
            (
                unescape_label(Field::Label, label.name)?,
                unescape_label(Field::DetailedLabel, label.detailed)?,
            )
        } else {
            (
                label.name.map(Cow::Borrowed),
                label.detailed.map(Cow::Borrowed),
            )
        };
        PendingLabel {
            name: name.as_deref(),
            detailed: detailed.as_deref(),
        }
        .finish(&mut rec, &mut self.labels.0);
        Ok(rec)
    }

    /// True if `value` is the unset marker (`-`), without a `memcmp` call for the usual
    /// one-byte marker.
    #[inline]
    fn is_unset(&self, value: &[u8]) -> bool {
        match self.unset.as_slice() {
            [b] => value.len() == 1 && value[0] == *b,
            other => value == other,
        }
    }

    fn set<'a>(
        &self,
        rec: &mut FlowRecord,
        label: &mut PendingLabel<'a>,
        field: Field,
        value: &'a [u8],
        line_has_escapes: bool,
    ) -> Result<(), LineError> {
        if field == Field::Ignored || self.is_unset(value) {
            return Ok(());
        }
        if line_has_escapes && memchr::memchr(b'\\', value).is_some() {
            return self.set_escaped(rec, label, field, value);
        }
        fields::set_field(rec, label, field, value, self.set_separator, &self.empty)
    }

    /// Sets a field whose value has `\xHH` escapes.
    fn set_escaped<'a>(
        &self,
        rec: &mut FlowRecord,
        label: &mut PendingLabel<'a>,
        field: Field,
        value: &'a [u8],
    ) -> Result<(), LineError> {
        match field {
            // Labels are decoded when the line is done.
            Field::Label | Field::DetailedLabel => {
                fields::set_field(rec, label, field, value, self.set_separator, &self.empty)
            }
            // Set elements are split first: an escaped separator is part of an element.
            Field::TunnelParents => {
                let mut set = Vec::new();
                for item in value.split(|&b| b == self.set_separator) {
                    let item = unescape_value(item);
                    set.push(CompactString::from(fields::text(field, &item)?));
                }
                rec.tunnel_parents = Some(set);
                Ok(())
            }
            // A decoded value is never a marker: an escaped `(empty)` is the text `(empty)`.
            _ => {
                let value = unescape_value(value);
                let mut unused = PendingLabel::default();
                fields::set_field(rec, &mut unused, field, &value, self.set_separator, b"")
            }
        }
    }
}

impl ZeekTsvParser {
    /// A line with the wrong number of fields is reported as that, whichever of its values
    /// failed first: "expected 23 fields, found 7" says more than "invalid port".
    fn explain(&self, e: LineError, line: &[u8]) -> LineError {
        match &self.columns {
            Some(columns)
                if e.kind == ErrorKind::BadValue
                    && Fields::new(line, self.separator).count() != columns.len() =>
            {
                field_count(columns.len(), line, self.separator)
            }
            _ => e,
        }
    }
}

fn field_count(expected: usize, line: &[u8], sep: u8) -> LineError {
    let got = line.split(|&b| b == sep).count();
    LineError::new(
        ErrorKind::FieldCount,
        format!("expected {expected} fields, found {got}"),
    )
}

impl LineParser for ZeekTsvParser {
    fn parse(&mut self, line: &[u8]) -> Parsed {
        if line.first() == Some(&b'#') {
            return self.header(line);
        }
        // Data lines start with a digit; only a line starting with white space can be blank.
        if line.first().is_none_or(u8::is_ascii_whitespace)
            && line.iter().all(u8::is_ascii_whitespace)
        {
            return Parsed::Skip;
        }
        if let (Some(layout), None) = (self.layout, &self.other_log) {
            if let Some(rec) = self.parse_fast(line, layout) {
                return Parsed::Record(rec);
            }
        }
        match self.record(line) {
            Ok(rec) => Parsed::Record(Box::new(rec)),
            Err(e) => Parsed::Error(self.explain(e, line)),
        }
    }

    fn fork(&self) -> Box<dyn LineParser> {
        Box::new(self.clone())
    }

    fn is_header(&self, line: &[u8]) -> bool {
        line.first() == Some(&b'#')
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::LabelClass;

    fn parse_all(text: &str) -> Vec<Result<FlowRecord, LineError>> {
        let mut p = ZeekTsvParser::default();
        text.lines()
            .filter_map(|l| match p.parse(l.as_bytes()) {
                Parsed::Record(r) => Some(Ok(*r)),
                Parsed::Skip => None,
                Parsed::Error(e) => Some(Err(e)),
            })
            .collect()
    }

    const IOT23: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents   label   detailed-label\n1547150790.793723\tCGEJbl3RNkmXzmkEd4\t192.168.1.199\t59224\t46.101.251.172\t80\ttcp\t-\t3.081233\t0\t0\tS0\t-\t-\t0\tS\t3\t180\t0\t0\t-   Malicious   C&C\n#close\t2019-12-05-15-46-36   benign   -\n";

    #[test]
    fn reads_iot23_packed_labels() {
        let recs = parse_all(IOT23);
        assert_eq!(recs.len(), 1);
        let r = recs[0].as_ref().unwrap();
        assert_eq!(r.uid.as_deref(), Some("CGEJbl3RNkmXzmkEd4"));
        assert_eq!(r.resp_p, Some(80));
        assert_eq!(r.service, None);
        assert_eq!(r.orig_bytes, Some(0));
        assert_eq!(r.local_orig, None);
        assert_eq!(r.tunnel_parents, None);
        let label = r.label.as_ref().unwrap();
        assert_eq!(
            (label.class, label.detailed.as_deref()),
            (LabelClass::Malicious, Some("C&C"))
        );
    }

    #[test]
    fn any_order_and_extra_fields() {
        let text = "#fields\tproto\tts\textra\tid.resp_p\ttunnel_parents\n\
                    udp\t5.000001\twhatever\t53\t(empty)\n\
                    tcp\t6\tx\t80\ta,b\n";
        let recs = parse_all(text);
        let a = recs[0].as_ref().unwrap();
        assert_eq!(
            (a.ts.0, a.resp_p, a.tunnel_parents.clone()),
            (5_000_001_000, Some(53), Some(vec![]))
        );
        let b = recs[1].as_ref().unwrap();
        assert_eq!(b.tunnel_parents, Some(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn bad_lines_are_errors_and_parsing_goes_on() {
        let text = "#fields\tts\tid.resp_p\torig_bytes\n1\t80\t5\n2\t80\n3\t99999\t1\n4\t1\tx1\n5\t1\t2\t3\n-\t1\t2\n6\t1\t2\n";
        let kinds: Vec<_> = parse_all(text)
            .into_iter()
            .map(|r| {
                r.map(|x| x.ts.0 / 1_000_000_000)
                    .map_err(|e| (e.kind, e.field))
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                Ok(1),
                Err((ErrorKind::FieldCount, None)),
                Err((ErrorKind::BadValue, Some("id.resp_p".into()))),
                Err((ErrorKind::BadValue, Some("orig_bytes".into()))),
                Err((ErrorKind::FieldCount, None)),
                Err((ErrorKind::BadValue, Some("ts".into()))),
                Ok(6),
            ]
        );
    }

    #[test]
    fn other_zeek_logs_are_refused_line_by_line() {
        let recs = parse_all("#path\tdns\n#fields\tts\tquery\n1.0\texample.com\n");
        let e = recs[0].as_ref().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert!(e.reason.contains("`dns` log"), "{}", e.reason);
        assert!(parse_all("#path\tconn\n#fields\tts\n1.0\n")[0].is_ok());
    }

    #[test]
    fn data_before_header_is_an_error() {
        let recs = parse_all("1\t2\n");
        assert_eq!(recs[0].as_ref().unwrap_err().kind, ErrorKind::Malformed);
    }

    #[test]
    fn a_second_header_block_resets_the_columns() {
        let text = "#fields\tts\tid.resp_p\n1\t80\n#separator ,\n#fields,id.resp_p,ts\n22,2\n";
        let recs: Vec<_> = parse_all(text).into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(recs[1].resp_p, Some(22));
        assert_eq!(recs[1].ts.0, 2_000_000_000);
    }

    #[test]
    fn swar_fields_match_split() {
        for line in [
            &b""[..],
            b"a",
            b"\t",
            b"a\tb",
            b"abcdefgh\tij",
            b"\t\t\t\t\t\t\t\t\t",
            b"12345678\t",
            b"x\x89\tz\t\xff\xff",
        ] {
            let want: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
            let got: Vec<&[u8]> = Fields::new(line, b'\t').collect();
            assert_eq!(got, want, "{line:?}");
        }
        let got: Vec<&[u8]> = Fields::new(b"a,b,,c", b',').collect();
        assert_eq!(got, [&b"a"[..], b"b", b"", b"c"]);
    }

    #[test]
    fn unescapes_data_values() {
        let text = "#fields\tts\tuid\tservice\thistory\ttunnel_parents\tlabel\tdetailed-label\n\
                    1\tC\\x091\t\\x28empty)\t\\x2d\ta\\x2cb,\\x2d\tMal\\x5cx\tC\\x26C\n";
        let r = parse_all(text).pop().unwrap().unwrap();
        assert_eq!(r.uid.as_deref(), Some("C\t1"));
        assert_eq!(r.service.as_deref(), Some("(empty)"));
        assert_eq!(r.history.as_deref(), Some("-"));
        assert_eq!(r.tunnel_parents, Some(vec!["a,b".into(), "-".into()]));
        let label = r.label.unwrap();
        assert_eq!(
            (&*label.name, label.detailed.as_deref()),
            ("Mal\\x", Some("C&C"))
        );
    }

    #[test]
    fn unescapes_header_values() {
        assert_eq!(unescape(b"\\x09"), b"\t");
        assert_eq!(unescape(b"\\x2c"), b",");
        assert_eq!(unescape(b"\\x"), b"\\x");
        assert_eq!(unescape(b"(empty)"), b"(empty)");
    }
}
