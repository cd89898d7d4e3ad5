//! The one header-driven parser every delimited dialect shares.
//!
//! A dialect is a table: header name → [`Col`] (what the column holds), plus a label rule and
//! whether a record needs a time. The header is mapped once; each data line is then split (see
//! [`super::split`]) and every column's value applied to the record by its `Col`. A small finish
//! step derives what the format leaves implicit (responder counts from totals) and builds the
//! label. Zeek-named columns go through [`fields::set_field`], so a value means the same thing
//! here as in the Zeek TSV and JSON readers.
//!
//! Values `""` and `-` are unset in every dialect. Beyond what the dialect parses, a line is
//! checked once for control characters and invalid UTF-8; a bad byte in a column the dialect uses
//! is reported (naming that column) rather than passed on, while a column nobody reads (BoT-IoT's
//! `record`, which holds control bytes in every published row) never rejects a line.

use std::ops::Range;
use std::sync::Arc;

use compact_str::CompactString;

use super::argus;
use super::labels::{flag_label, Caches};
use super::split::{self, QuoteError};
use super::values::{check_text, is_mac, split_packed, split_total};
use crate::detect::Format;
use crate::error::{ErrorKind, LineError};
use crate::fields::{self, Field, PendingLabel};
use crate::label::Label;
use crate::native::NativeFamily;
use crate::reader::{LineParser, Parsed};
use crate::record::{ConnState, FlowRecord, Protocol};

/// Which end of the flow a column describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    /// The originator (Argus and BoT-IoT "source").
    Orig,
    /// The responder ("destination").
    Resp,
}

/// What a column holds, decided once from its header name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Col {
    /// A Zeek conn field, set with the value rules the Zeek readers share.
    Zeek(Field),
    /// Zeek fields packed into one column with runs of two or more spaces (IoT-23's last column,
    /// `tunnel_parents   label   detailed-label`, when a plain header line keeps it).
    Packed(Box<[Field]>),
    /// A start time: epoch seconds, or an Argus date and time (`2018/05/10 10:52:47.283479`, UTC).
    Time,
    /// An IP address, or a MAC address for non-IP flows (Argus `arp`, `llc`).
    Addr(Side),
    /// A link-layer (MAC) address.
    Mac(Side),
    /// A connection state in the format's own vocabulary (Argus `CON`, `INT`; UNSW-NB15 `FIN`).
    State,
    /// Packets in both directions; one side's count is derived from it where no column gives it.
    TotPkts,
    /// IP-level bytes in both directions, used as [`Col::TotPkts`] is.
    TotBytes,
    /// The sensor (observer) that saw the flow: Argus `SrcId`, Zeek `_system_name`.
    Sensor,
    /// The label cell: Argus `flow=...`, a 0/1 attack flag, or a class name (`Benign`).
    Label,
    /// The attack category that details a flag label (`attack_cat`, `category`, `type`).
    Category,
    /// A column this program does not use.
    Ignored,
}

/// How a dialect's label cells become a [`Label`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LabelRule {
    /// Zeek `label` / `detailed-label` columns, as the Zeek TSV reader reads them.
    Zeek,
    /// One CTU-13 `Label` cell: `flow=From-Botnet-...` ([`Label::from_argus`]).
    Argus,
    /// A 0/1 attack flag (or a class name such as `Benign`) and a [`Col::Category`].
    Flag,
}

/// The documented columns of a header-less file layout.
#[derive(Debug)]
pub(super) struct Headerless {
    /// The column names, in file order.
    pub(super) names: &'static [&'static str],
    /// Whether a line (split into fields) fits the layout's shape: a data line, not a bad header.
    pub(super) fits: fn(&[&[u8]]) -> bool,
}

/// One delimited dialect.
#[derive(Debug)]
pub(super) struct Dialect {
    /// The format this dialect reads.
    pub(super) format: Format,
    /// Maps a header name (trimmed, unquoted, ASCII lower case) to its column.
    pub(super) column: fn(&str) -> Col,
    /// How label cells become labels.
    pub(super) labels: LabelRule,
    /// Whether a record needs a time even when the header names no time column. Where it does
    /// not, a layout without a time column gives records marked [`FlowRecord::untimed`].
    pub(super) time_required: bool,
    /// Whether values are trimmed of surrounding spaces (`ra` pads `Dir`). Zeek CSV values are
    /// kept exact, as the TSV reader keeps them.
    pub(super) trim: bool,
    /// The layout of header-less files (raw UNSW-NB15, BoT-IoT's full files).
    pub(super) headerless: Option<Headerless>,
    /// The dataset's own columns, kept on records (boxed) when a header has every one of them.
    pub(super) native: Option<NativeFamily>,
}

/// The UTF-8 byte order mark some Windows tools write first.
pub(super) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A header mapped to columns.
#[derive(Debug)]
struct Layout {
    sep: u8,
    quotes: bool,
    cols: Box<[Col]>,
    /// Column names as the header wrote them, for error messages.
    names: Box<[Box<str>]>,
    /// The header line itself, to skip it where files were concatenated; `None` if header-less.
    header: Option<Box<[u8]>>,
    /// The index of the time column, if any.
    time: Option<usize>,
    /// Whether any column is [`Col::Ignored`] (a bad byte there is then looked at again).
    any_ignored: bool,
    /// The native family and, per its column, the input column holding it: set when the
    /// header has every column of the dialect's family.
    native: Option<(NativeFamily, Box<[usize]>)>,
}

/// Normalises a header name for matching: trimmed, one pair of surrounding quotes removed
/// (UNSW-NB15's `'ct_src_ ltm'`), ASCII lower case.
pub(crate) fn normalise(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    let name = name.trim();
    let name = [('"', '"'), ('\'', '\'')]
        .iter()
        .find_map(|&(a, b)| name.strip_prefix(a).and_then(|n| n.strip_suffix(b)))
        .unwrap_or(name);
    name.trim().to_ascii_lowercase()
}

/// Parses one delimited dialect, driven by its header line.
#[derive(Debug)]
pub(super) struct DelimitedParser {
    dialect: &'static Dialect,
    layout: Option<Arc<Layout>>,
    /// Column names given apart from the data (`--header-from`), used from the first line on.
    preset: Option<Arc<[Box<str>]>>,
    spans: Vec<Range<usize>>,
    scratch: Vec<u8>,
    caches: Caches,
}

impl DelimitedParser {
    pub(super) fn new(dialect: &'static Dialect) -> Self {
        DelimitedParser {
            dialect,
            layout: None,
            preset: None,
            spans: Vec::new(),
            scratch: Vec::new(),
            caches: Caches::default(),
        }
    }

    /// Takes the column names from a header line given apart from the data (BoT-IoT's
    /// feature-names file, `;`-separated where the data is comma-separated). Returns false when
    /// the line names none of the dialect's columns.
    pub(super) fn preset_header(&mut self, header: &[u8]) -> bool {
        let header = header.strip_prefix(BOM).unwrap_or(header);
        let header = header
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .find(|l| !l.iter().all(u8::is_ascii_whitespace))
            .unwrap_or_default();
        let sep = split::separator(header).unwrap_or(b',');
        let Ok(buf) = split::split(header, sep, true, &mut self.spans, &mut self.scratch) else {
            return false;
        };
        let names: Vec<Box<str>> = self
            .spans
            .iter()
            .map(|r| String::from_utf8_lossy(&buf[r.clone()]).trim().into())
            .collect();
        if names
            .iter()
            .all(|n| (self.dialect.column)(&normalise(n.as_bytes())) == Col::Ignored)
        {
            return false;
        }
        self.preset = Some(names.into());
        true
    }

    /// Reads the first non-blank line with preset column names: the data's own separator, and
    /// the line itself is a record unless it repeats the names (a file that has its header).
    fn start_preset(&mut self, names: Arc<[Box<str>]>, line: &[u8]) -> Parsed {
        let sep = split::separator(line).unwrap_or(b',');
        let quotes = sep != b'\t';
        let is_header = match split::split(line, sep, quotes, &mut self.spans, &mut self.scratch) {
            Ok(buf) => {
                self.spans.len() == names.len()
                    && self
                        .spans
                        .iter()
                        .zip(names.iter())
                        .all(|(r, n)| normalise(&buf[r.clone()]) == normalise(n.as_bytes()))
            }
            Err(_) => false,
        };
        let cols = names
            .iter()
            .map(|n| (self.dialect.column)(&normalise(n.as_bytes())))
            .collect();
        let header = is_header.then(|| line.into());
        self.layout = Some(Arc::new(Layout::new(
            sep,
            quotes,
            cols,
            names.to_vec(),
            header,
            self.dialect.native,
        )));
        if is_header {
            Parsed::Skip
        } else {
            self.data(line)
        }
    }

    /// Reads the first non-blank line: the header, or (raw UNSW-NB15) the first record.
    fn start(&mut self, line: &[u8]) -> Parsed {
        if let Some(names) = self.preset.take() {
            return self.start_preset(names, line);
        }
        let sep = split::separator(line).unwrap_or(b',');
        let quotes = sep != b'\t';
        let buf = match split::split(line, sep, quotes, &mut self.spans, &mut self.scratch) {
            Ok(buf) => buf,
            Err(e) => return Parsed::Error(quote_error(e, None)),
        };
        let raw: Vec<&[u8]> = self.spans.iter().map(|r| &buf[r.clone()]).collect();
        let cols: Vec<Col> = raw
            .iter()
            .map(|n| (self.dialect.column)(&normalise(n)))
            .collect();
        if cols.iter().any(|c| *c != Col::Ignored) {
            let names = raw
                .iter()
                .map(|n| String::from_utf8_lossy(n).trim().into())
                .collect();
            self.layout = Some(Arc::new(Layout::new(
                sep,
                quotes,
                cols,
                names,
                Some(line.into()),
                self.dialect.native,
            )));
            return Parsed::Skip;
        }
        if let Some(h) = &self.dialect.headerless {
            if raw.len() == h.names.len() && (h.fits)(&raw) {
                let cols = h
                    .names
                    .iter()
                    .map(|n| (self.dialect.column)(&normalise(n.as_bytes())));
                let names = h.names.iter().map(|&n| n.into()).collect();
                self.layout = Some(Arc::new(Layout::new(
                    sep,
                    quotes,
                    cols.collect(),
                    names,
                    None,
                    self.dialect.native,
                )));
                return self.data(line);
            }
        }
        Parsed::Error(LineError::new(
            ErrorKind::Malformed,
            format!(
                "the header line names none of the {} columns",
                self.dialect.format
            ),
        ))
    }

    fn data(&mut self, line: &[u8]) -> Parsed {
        let Some(layout) = &self.layout else {
            return self.start(line);
        };
        if layout.header.as_deref() == Some(line) {
            return Parsed::Skip;
        }
        let mut ctx = Ctx {
            layout,
            dialect: self.dialect,
            caches: &mut self.caches,
        };
        match ctx.record(line, &mut self.spans, &mut self.scratch) {
            Ok(rec) => Parsed::Record(rec),
            Err(e) => Parsed::Error(e),
        }
    }
}

impl Layout {
    fn new(
        sep: u8,
        quotes: bool,
        cols: Vec<Col>,
        names: Vec<Box<str>>,
        header: Option<Box<[u8]>>,
        family: Option<NativeFamily>,
    ) -> Self {
        let native = family.and_then(|f| {
            let normalised: Vec<String> = names.iter().map(|n| normalise(n.as_bytes())).collect();
            f.positions(&normalised).map(|at| (f, at))
        });
        let time = cols
            .iter()
            .position(|c| matches!(c, Col::Time | Col::Zeek(Field::Ts)));
        let any_ignored = cols.contains(&Col::Ignored);
        Layout {
            sep,
            quotes,
            cols: cols.into(),
            names: names.into(),
            header,
            time,
            any_ignored,
            native,
        }
    }
}

impl LineParser for DelimitedParser {
    fn parse(&mut self, line: &[u8]) -> Parsed {
        // A byte order mark starts a file, and every file concatenated after it.
        let line = line.strip_prefix(BOM).unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Parsed::Skip;
        }
        self.data(line)
    }

    fn preset_header(&mut self, header: &[u8]) -> bool {
        DelimitedParser::preset_header(self, header)
    }

    fn fork(&self) -> Box<dyn LineParser> {
        Box::new(DelimitedParser {
            layout: self.layout.clone(),
            preset: self.preset.clone(),
            ..DelimitedParser::new(self.dialect)
        })
    }

    /// True for the first non-blank line only: it sets the layout (and for raw UNSW-NB15 is
    /// also the first record). A repeated header further down changes nothing.
    fn is_header(&self, line: &[u8]) -> bool {
        self.layout.is_none() && !line.iter().all(u8::is_ascii_whitespace)
    }
}

/// What one record needs from the parser while its line is read.
struct Ctx<'p> {
    layout: &'p Layout,
    dialect: &'static Dialect,
    caches: &'p mut Caches,
}

/// Values kept while a line is read, resolved when all columns are seen.
#[derive(Default)]
struct Pending<'a> {
    zeek_label: PendingLabel<'a>,
    label: Option<(usize, &'a [u8])>,
    category: Option<&'a [u8]>,
    sensor: Option<&'a [u8]>,
    tot_pkts: Option<(usize, u64)>,
    tot_bytes: Option<(usize, u64)>,
    /// An address that is neither IP nor MAC: fine in an Argus management record, else an error.
    odd_addr: Option<(usize, &'a [u8])>,
    has_time: bool,
}

impl Ctx<'_> {
    fn record(
        &mut self,
        line: &[u8],
        spans: &mut Vec<Range<usize>>,
        scratch: &mut Vec<u8>,
    ) -> Result<Box<FlowRecord>, LineError> {
        let layout = self.layout;
        let buf = split::split(line, layout.sep, layout.quotes, spans, scratch)
            .map_err(|e| quote_error(e, Some(&layout.names)))?;
        if spans.len() != layout.cols.len() {
            return Err(LineError::new(
                ErrorKind::FieldCount,
                format!(
                    "expected {} fields, found {}",
                    layout.cols.len(),
                    spans.len()
                ),
            ));
        }
        if let Some(bad) = check_text(buf) {
            if let Some((i, what)) = bad_text(layout, buf, spans, bad) {
                return Err(LineError::bad_value(
                    &layout.names[i],
                    what,
                    &buf[spans[i].clone()],
                ));
            }
        }
        // Built in its box: the record is large, and is boxed on its way out anyway.
        let mut rec = Box::<FlowRecord>::default();
        let mut p = Pending::default();
        for (i, (col, span)) in layout.cols.iter().zip(spans.iter()).enumerate() {
            let mut value = &buf[span.clone()];
            if self.dialect.trim {
                value = value.trim_ascii();
            }
            if value.is_empty() || value == b"-" || *col == Col::Ignored {
                continue;
            }
            apply(&mut rec, &mut p, col, i, value).map_err(|e| name_column(e, &layout.names[i]))?;
        }
        if let Some((family, at)) = &layout.native {
            let mut native = family.empty();
            for (column, &i) in at.iter().enumerate() {
                let value = buf[spans[i].clone()].trim_ascii();
                if !value.is_empty() && value != b"-" {
                    native.set(column, value);
                }
            }
            rec.native = Some(Box::new(native));
        }
        self.finish(&mut rec, p)?;
        Ok(rec)
    }

    fn finish(&mut self, rec: &mut FlowRecord, p: Pending<'_>) -> Result<(), LineError> {
        let names = &self.layout.names;
        if let Some((i, value)) = p.odd_addr {
            // Argus management records (`man`) carry `0` where a flow has addresses.
            if !matches!(&rec.proto, Protocol::Other(p) if p == "man") {
                return Err(LineError::bad_value(&names[i], "address", value));
            }
        }
        if !p.has_time {
            match self.layout.time {
                Some(i) => {
                    return Err(LineError {
                        field: Some(names[i].to_string()),
                        ..fields::missing_ts()
                    })
                }
                None if self.dialect.time_required => return Err(fields::missing_ts()),
                // No time column (UNSW-NB15's partitions, TON_IoT's train_test file, BoT-IoT's
                // 10-best files): ts stays 0, and the record says it has no time.
                None => rec.untimed = true,
            }
        }
        if let Some((i, total)) = p.tot_pkts {
            split_total(total, &mut rec.orig_pkts, &mut rec.resp_pkts).map_err(|what| {
                LineError::bad_value(&names[i], what, total.to_string().as_bytes())
            })?;
        }
        if let Some((i, total)) = p.tot_bytes {
            split_total(total, &mut rec.orig_ip_bytes, &mut rec.resp_ip_bytes).map_err(|what| {
                LineError::bad_value(&names[i], what, total.to_string().as_bytes())
            })?;
        }
        if let Some(name) = p.sensor {
            rec.sensor = Some(self.caches.sensor(fields::text(Field::Sensor, name)?));
        }
        match self.dialect.labels {
            LabelRule::Zeek => p.zeek_label.finish(rec, &mut self.caches.zeek),
            LabelRule::Argus => {
                if let Some((i, cell)) = p.label {
                    rec.label = self
                        .caches
                        .memo
                        .get(cell, None, || {
                            Ok(Label::from_argus(fields::text(Field::Label, cell)?))
                        })
                        .map_err(|e| name_column(e, &names[i]))?;
                }
            }
            LabelRule::Flag => {
                if let Some((i, cell)) = p.label {
                    rec.label = self
                        .caches
                        .memo
                        .get(cell, p.category, || flag_label(cell, p.category).map(Some))
                        .map_err(|e| name_column(e, &names[i]))?;
                }
            }
        }
        Ok(())
    }
}

/// Finds the column a bad byte (at `first`) makes unreadable, and what it is: the column of that
/// byte if the dialect uses it, else the first used column holding a bad byte. A column nobody
/// reads (BoT-IoT's `record`, which holds control bytes in every published row) never rejects a
/// line; `None` when only such columns hold bad bytes. The whole line was checked in one pass
/// first, so this slower look happens only on lines with a bad byte.
fn bad_text(
    layout: &Layout,
    buf: &[u8],
    spans: &[Range<usize>],
    first: usize,
) -> Option<(usize, &'static str)> {
    let what = |b: u8| {
        if b < 0x80 {
            "text (control character)"
        } else {
            "text (not UTF-8)"
        }
    };
    let i = spans.iter().position(|r| r.contains(&first)).unwrap_or(0);
    if !layout.any_ignored || layout.cols.get(i) != Some(&Col::Ignored) {
        return Some((i, what(buf[first])));
    }
    layout
        .cols
        .iter()
        .zip(spans)
        .enumerate()
        .filter(|(_, (col, _))| **col != Col::Ignored)
        .find_map(|(i, (_, span))| {
            let cell = &buf[span.clone()];
            check_text(cell).map(|at| (i, what(cell[at])))
        })
}

/// Sets what one column's (set, non-empty) value says.
fn apply<'a>(
    rec: &mut FlowRecord,
    p: &mut Pending<'a>,
    col: &Col,
    i: usize,
    value: &'a [u8],
) -> Result<(), LineError> {
    match col {
        Col::Zeek(field) => {
            p.has_time |= *field == Field::Ts;
            fields::set_field(rec, &mut p.zeek_label, *field, value, b',', b"(empty)")?;
        }
        Col::Packed(packed) => {
            let mut parts = split_packed(value);
            for field in packed.iter() {
                let part = parts.next().ok_or_else(|| {
                    LineError::new(
                        ErrorKind::FieldCount,
                        format!("packed column has fewer than {} values", packed.len()),
                    )
                })?;
                if part != b"-" {
                    p.has_time |= *field == Field::Ts;
                    fields::set_field(rec, &mut p.zeek_label, *field, part, b',', b"(empty)")?;
                }
            }
            if parts.next().is_some() {
                return Err(LineError::new(
                    ErrorKind::FieldCount,
                    format!("packed column has more than {} values", packed.len()),
                ));
            }
        }
        Col::Time => {
            rec.ts =
                argus::parse_time(value).ok_or_else(|| LineError::bad_value("", "time", value))?;
            p.has_time = true;
        }
        Col::Addr(side) => {
            if let Some(ip) = fields::parse_ip(value) {
                *match side {
                    Side::Orig => &mut rec.orig_h,
                    Side::Resp => &mut rec.resp_h,
                } = Some(ip);
            } else if is_mac(value) {
                set_mac(rec, *side, value)?;
            } else {
                p.odd_addr.get_or_insert((i, value));
            }
        }
        Col::Mac(side) => set_mac(rec, *side, value)?,
        Col::State => {
            let text = fields::text(Field::ConnState, value)?;
            let mut state = CompactString::from(text);
            state.make_ascii_uppercase();
            rec.conn_state = Some(ConnState::Other(state));
        }
        Col::TotPkts => p.tot_pkts = Some((i, count(value)?)),
        Col::TotBytes => p.tot_bytes = Some((i, count(value)?)),
        Col::Sensor => p.sensor = Some(value),
        Col::Label => p.label = Some((i, value)),
        Col::Category => p.category = Some(value),
        Col::Ignored => {}
    }
    Ok(())
}

fn count(value: &[u8]) -> Result<u64, LineError> {
    fields::parse_u64(value).ok_or_else(|| LineError::bad_value("", "count", value))
}

fn set_mac(rec: &mut FlowRecord, side: Side, value: &[u8]) -> Result<(), LineError> {
    let mac = Some(CompactString::from(fields::text(Field::OrigL2Addr, value)?));
    match side {
        Side::Orig => rec.orig_l2_addr = mac,
        Side::Resp => rec.resp_l2_addr = mac,
    }
    Ok(())
}

/// Names the column an error is about (errors from shared helpers name Zeek's field or none).
fn name_column(mut e: LineError, name: &str) -> LineError {
    if e.kind == ErrorKind::BadValue {
        e.field = Some(name.to_string());
    }
    e
}

fn quote_error(e: QuoteError, names: Option<&[Box<str>]>) -> LineError {
    LineError {
        kind: ErrorKind::Malformed,
        field: names.and_then(|n| n.get(e.field)).map(|n| n.to_string()),
        reason: e.reason.to_string(),
    }
}
