//! Zeek TSV conn logs out, as Zeek's ASCII writer writes them.
//!
//! The header names the separators, the markers, the columns and their Zeek types; `#close`
//! ends the log. Columns are the 21 standard conn fields, then (by option) separate `label` and
//! `detailed-label` columns (the newer Stratosphere layout, not IoT-23's space-packed one), then
//! (by option) `orig_l2_addr`, `resp_l2_addr`, `community_id` and `_system_name` (the sensor).
//!
//! Strings are escaped as Zeek escapes them, `\xHH`: control bytes, DEL, backslashes and, inside
//! a set, the set separator; a string that would read as the unset (`-`) or empty (`(empty)`)
//! marker gets its first byte escaped. The empty string is written `(empty)`, which the readers
//! take for the empty string only in `service`, `history` and sets, as Zeek's own fields have it.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{push_int, push_ip, Sink};
use crate::record::FlowRecord;
use crate::time::{civil_from_days, push_decimal_nanos, Timestamp};

/// The 21 standard Zeek conn columns and their Zeek types, in Zeek's order.
const STANDARD: [(&str, &str); 21] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
];

/// The label columns.
const LABELS: [(&str, &str); 2] = [("label", "string"), ("detailed-label", "string")];

/// The extra columns: link-layer addresses, Community ID, sensor.
const EXTRAS: [(&str, &str); 4] = [
    ("orig_l2_addr", "string"),
    ("resp_l2_addr", "string"),
    ("community_id", "string"),
    ("_system_name", "string"),
];

const UNSET: &[u8] = b"-";
const EMPTY: &[u8] = b"(empty)";

/// What a [`ZeekTsvWriter`] writes beyond the standard conn columns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TsvWriteOptions {
    /// Writes separate `label` and `detailed-label` columns.
    pub labels: bool,
    /// Writes the `orig_l2_addr`, `resp_l2_addr`, `community_id` and `_system_name` columns.
    pub extras: bool,
    /// The time stamped on the `#open` and `#close` lines; `None` stamps the wall clock.
    /// Golden files and simulations set it, so that their output is deterministic.
    pub time: Option<Timestamp>,
}

impl TsvWriteOptions {
    /// Returns options writing every column (labels and extras), so that every field of a
    /// record is written and the log reads back to identical records.
    pub fn all_columns() -> Self {
        TsvWriteOptions {
            labels: true,
            extras: true,
            time: None,
        }
    }
}

/// Writes flow records as a Zeek TSV conn log.
///
/// ```
/// use iotguard_flow::{FlowReader, FlowRecord, ReadOptions, Timestamp, TsvWriteOptions, ZeekTsvWriter};
///
/// let options = TsvWriteOptions { time: Some(Timestamp(0)), ..TsvWriteOptions::all_columns() };
/// let mut writer = ZeekTsvWriter::new(Vec::new(), options)?;
/// let record = FlowRecord { ts: Timestamp(1_547_150_790_793_723_000), ..FlowRecord::default() };
/// writer.write(&record)?;
/// let log = writer.finish()?;
/// assert!(log.starts_with(b"#separator \\x09\n"));
///
/// let back: Vec<_> = FlowReader::open("log", std::io::Cursor::new(log), &ReadOptions::default())
///     .unwrap()
///     .collect();
/// assert_eq!(back[0].as_ref().unwrap(), &record);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ZeekTsvWriter<W: Write> {
    sink: Sink<W>,
    options: TsvWriteOptions,
}

impl<W: Write> ZeekTsvWriter<W> {
    /// Starts a log: writes the header (separators, markers, `#path conn`, `#open`, `#fields`,
    /// `#types`) into the buffer, which reaches `w` with the first records or on
    /// [`flush`](Self::flush).
    pub fn new(w: W, options: TsvWriteOptions) -> io::Result<Self> {
        let mut sink = Sink::new(w);
        let out = &mut sink.buf;
        out.extend_from_slice(
            b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t",
        );
        push_log_time(out, options.time.unwrap_or_else(now));
        let columns = || {
            let labels = if options.labels { &LABELS[..] } else { &[] };
            let extras = if options.extras { &EXTRAS[..] } else { &[] };
            STANDARD.iter().chain(labels).chain(extras)
        };
        out.extend_from_slice(b"\n#fields");
        for (name, _) in columns() {
            out.push(b'\t');
            out.extend_from_slice(name.as_bytes());
        }
        out.extend_from_slice(b"\n#types");
        for (_, ty) in columns() {
            out.push(b'\t');
            out.extend_from_slice(ty.as_bytes());
        }
        out.push(b'\n');
        sink.record_done()?;
        Ok(ZeekTsvWriter { sink, options })
    }

    /// Writes one record.
    pub fn write(&mut self, rec: &FlowRecord) -> io::Result<()> {
        let out = &mut self.sink.buf;
        push_decimal_nanos(rec.ts.0, out);
        out.push(b'\t');
        opt_str(out, rec.uid.as_deref());
        out.push(b'\t');
        match rec.orig_h {
            Some(ip) => push_ip(out, ip),
            None => out.extend_from_slice(UNSET),
        }
        out.push(b'\t');
        opt_int(out, rec.orig_p);
        out.push(b'\t');
        match rec.resp_h {
            Some(ip) => push_ip(out, ip),
            None => out.extend_from_slice(UNSET),
        }
        out.push(b'\t');
        opt_int(out, rec.resp_p);
        out.push(b'\t');
        push_str(out, rec.proto.as_str());
        out.push(b'\t');
        opt_str(out, rec.service.as_deref());
        out.push(b'\t');
        match rec.duration {
            Some(d) => push_decimal_nanos(d.0, out),
            None => out.extend_from_slice(UNSET),
        }
        out.push(b'\t');
        opt_int(out, rec.orig_bytes);
        out.push(b'\t');
        opt_int(out, rec.resp_bytes);
        out.push(b'\t');
        opt_str(out, rec.conn_state.as_ref().map(|s| s.as_str()));
        out.push(b'\t');
        opt_bool(out, rec.local_orig);
        out.push(b'\t');
        opt_bool(out, rec.local_resp);
        out.push(b'\t');
        opt_int(out, rec.missed_bytes);
        out.push(b'\t');
        opt_str(out, rec.history.as_deref());
        out.push(b'\t');
        opt_int(out, rec.orig_pkts);
        out.push(b'\t');
        opt_int(out, rec.orig_ip_bytes);
        out.push(b'\t');
        opt_int(out, rec.resp_pkts);
        out.push(b'\t');
        opt_int(out, rec.resp_ip_bytes);
        out.push(b'\t');
        match &rec.tunnel_parents {
            None => out.extend_from_slice(UNSET),
            Some(set) if set.is_empty() => out.extend_from_slice(EMPTY),
            Some(set) => {
                for (i, item) in set.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    // An empty element is written as nothing (`a,,b`; a lone one as an empty
                    // field), never as the `(empty)` marker of an empty set.
                    push_escaped(out, item.as_bytes(), true);
                }
            }
        }
        if self.options.labels {
            let label = rec.label.as_ref();
            out.push(b'\t');
            opt_str(out, label.map(|l| &*l.name));
            out.push(b'\t');
            opt_str(out, label.and_then(|l| l.detailed.as_deref()));
        }
        if self.options.extras {
            out.push(b'\t');
            opt_str(out, rec.orig_l2_addr.as_deref());
            out.push(b'\t');
            opt_str(out, rec.resp_l2_addr.as_deref());
            out.push(b'\t');
            opt_str(out, rec.community_id.as_deref());
            out.push(b'\t');
            opt_str(out, rec.sensor.as_deref());
        }
        out.push(b'\n');
        self.sink.record_done()
    }

    /// Writes out what is buffered and flushes the underlying writer (for logs read while
    /// they grow).
    pub fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }

    /// Ends the log: writes `#close` and everything buffered, flushes, and returns the writer.
    ///
    /// A writer dropped without `finish` writes its buffered records but no `#close`, which is
    /// how Zeek marks a log that was not closed cleanly.
    pub fn finish(mut self) -> io::Result<W> {
        self.sink.buf.extend_from_slice(b"#close\t");
        push_log_time(&mut self.sink.buf, self.options.time.unwrap_or_else(now));
        self.sink.buf.push(b'\n');
        self.sink.finish()
    }
}

fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        since.subsec_nanos(),
    )
}

fn opt_int(out: &mut Vec<u8>, n: Option<impl itoa::Integer>) {
    match n {
        Some(n) => push_int(out, n),
        None => out.extend_from_slice(UNSET),
    }
}

fn opt_bool(out: &mut Vec<u8>, b: Option<bool>) {
    out.push(match b {
        Some(true) => b'T',
        Some(false) => b'F',
        None => b'-',
    });
}

fn opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.extend_from_slice(UNSET),
    }
}

/// Appends a string value: `(empty)` for the empty string, a marker's first byte escaped.
fn push_str(out: &mut Vec<u8>, s: &str) {
    if s.is_empty() {
        out.extend_from_slice(EMPTY);
    } else {
        push_escaped(out, s.as_bytes(), false);
    }
}

/// Appends bytes with Zeek's `\xHH` escapes; see the module documentation.
fn push_escaped(out: &mut Vec<u8>, bytes: &[u8], in_set: bool) {
    let mut start = 0;
    if bytes == UNSET || bytes == EMPTY {
        escape_byte(out, bytes[0]);
        start = 1;
    }
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if b < 0x20 || b == 0x7f || b == b'\\' || (in_set && b == b',') {
            out.extend_from_slice(&bytes[start..i]);
            escape_byte(out, b);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

fn escape_byte(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[
        b'\\',
        b'x',
        HEX[usize::from(b >> 4)],
        HEX[usize::from(b & 0xf)],
    ]);
}

/// Appends a time as Zeek's `#open`/`#close` lines have it: `2019-12-05-15-46-36` (UTC here;
/// Zeek uses the sensor's local time).
fn push_log_time(out: &mut Vec<u8>, t: Timestamp) {
    let (secs, _) = t.secs_nanos();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let fields = [year, month, day, rem / 3_600, rem / 60 % 60, rem % 60];
    for (i, n) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b'-');
        }
        let width: usize = if i == 0 { 4 } else { 2 };
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(n);
        out.extend(std::iter::repeat_n(
            b'0',
            width.saturating_sub(digits.len()),
        ));
        out.extend_from_slice(digits.as_bytes());
    }
}

#[cfg(test)]
mod tests;
