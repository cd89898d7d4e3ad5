//! Reading flow files: each record batch is decoded column by column into records, with the
//! rows whose values a record cannot hold set aside as errors.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use ::parquet::file::reader::ChunkReader;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, DurationNanosecondType, Int32Type, TimestampNanosecondType, UInt16Type,
    UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Int32Array, PrimitiveArray, RecordBatch, StringArray,
};
use compact_str::CompactString;
use iotguard_flow::{ConnState, FlowRecord, Interval, Label, LabelClass, Protocol, Timestamp};

use super::{flow_schema, Error, Result, SCHEMA_VERSION, SCHEMA_VERSION_KEY};

/// Options for [`ParquetFlowReader`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Rows decoded at a time (at least 1): the reader holds this many records in memory.
    pub batch_rows: usize,
    /// Only the rows of this capture (the file's `capture` column, written by `convert`; see
    /// [`super::provenance`]); every row when `None`. A file without that column is refused.
    pub capture: Option<String>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            batch_rows: 8192,
            capture: None,
        }
    }
}

/// Opens a flow file with the default [`ReadOptions`] and returns its records in file order.
pub fn read_parquet_flows<R: ChunkReader + 'static>(reader: R) -> Result<ParquetFlowReader> {
    ParquetFlowReader::new(reader, ReadOptions::default())
}

/// Reads flow records back from a flow file, one `Result` per row, in file order.
///
/// A row holding a value that is not a valid record field yields [`Error::BadValue`] and the
/// reader goes on with the next row. A failure of the file itself (I/O, corrupt pages) yields
/// its error once and ends the iteration.
pub struct ParquetFlowReader {
    batches: ParquetRecordBatchReader,
    num_rows: u64,
    /// The index in the file of the first row of the current batch.
    batch_start: u64,
    current: std::vec::IntoIter<FlowRecord>,
    /// Bad rows of the current batch, by index in the batch, ascending.
    bad_rows: std::iter::Peekable<std::vec::IntoIter<(usize, Error)>>,
    next_in_batch: usize,
    /// Rows in the current batch before any capture filter.
    batch_rows_read: u64,
    /// The capture whose rows are kept, if only one's.
    capture: Option<String>,
    last_sensor: Option<Arc<str>>,
    done: bool,
}

impl ParquetFlowReader {
    /// Opens a flow file, checking its schema version and columns before any row is read.
    /// A corrupt file the Parquet library panics on is refused as [`Error::Corrupt`].
    pub fn new<R: ChunkReader + 'static>(reader: R, options: ReadOptions) -> Result<Self> {
        super::guard(|| Self::open(reader, options))
    }

    fn open<R: ChunkReader + 'static>(reader: R, options: ReadOptions) -> Result<Self> {
        if options.batch_rows == 0 {
            return Err(Error::InvalidOptions("batch_rows must be at least 1"));
        }
        super::footer::check_footer(&reader)?;
        let reader = Arc::new(reader);
        // The embedded Arrow schema is not needed: the flow schema is given below.
        let meta = ArrowReaderMetadata::load(
            reader.as_ref(),
            ArrowReaderOptions::new().with_skip_arrow_metadata(true),
        )?;
        let version = meta
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|kv| kv.key == SCHEMA_VERSION_KEY))
            .ok_or(Error::NotFlowFile)?;
        match version.value.as_deref() {
            Some(SCHEMA_VERSION) => {}
            other => {
                return Err(Error::UnsupportedVersion {
                    found: other.unwrap_or_default().to_owned(),
                })
            }
        }
        let num_rows = u64::try_from(meta.metadata().file_metadata().num_rows()).unwrap_or(0);
        // Reading with the schema as a hint gives exactly its types, even from a file rewritten
        // by a tool that kept the columns but dropped the embedded Arrow schema.
        // A file may carry more columns after the flow schema's (the flow archive's scores):
        // they keep the types the file gives them and are not read.
        let flow = flow_schema();
        let n_flow = flow.fields().len();
        let file_fields = meta.schema().fields().clone();
        // A list column keeps the file's name for its items: pyarrow and Spark write
        // `element` (the Parquet spec's name) where Arrow writers write `item`.
        let fields: Vec<_> = flow
            .fields()
            .iter()
            .zip(file_fields.iter().map(Some).chain(std::iter::repeat(None)))
            .map(|(want, file)| match file {
                Some(file) if same_but_list_item_name(want, file) => file.clone(),
                _ => want.clone(),
            })
            .chain(file_fields.iter().skip(n_flow).cloned())
            .collect();
        let hint = Arc::new(arrow_schema::Schema::new_with_metadata(
            fields,
            flow.metadata().clone(),
        ));
        let meta = ArrowReaderMetadata::try_new(
            meta.metadata().clone(),
            ArrowReaderOptions::new().with_schema(hint),
        )
        .map_err(|e| Error::SchemaMismatch {
            reason: e.to_string(),
        })?;
        super::pages::check_dictionary_pages(&reader, meta.metadata(), n_flow)?;
        let capture_index = match &options.capture {
            None => None,
            Some(_) => Some(
                file_fields
                    .iter()
                    .position(|f| f.name() == super::provenance::CAPTURE_COLUMN)
                    .filter(|i| *i >= n_flow)
                    .ok_or_else(|| Error::SchemaMismatch {
                        reason: "no `capture` column to select a capture by".into(),
                    })?,
            ),
        };
        // What `convert` writes beyond the flow columns and the reader puts back on records.
        let extras = file_fields
            .iter()
            .enumerate()
            .skip(n_flow)
            .filter(|(_, f)| {
                [
                    super::provenance::UNTIMED_COLUMN,
                    super::provenance::NATIVE_FAMILY_COLUMN,
                    super::provenance::NATIVE_VALUES_COLUMN,
                ]
                .contains(&f.name().as_str())
            })
            .map(|(i, _)| i);
        let mut roots: Vec<usize> = (0..n_flow).chain(capture_index).chain(extras).collect();
        roots.sort_unstable();
        roots.dedup();
        let mask = ::parquet::arrow::ProjectionMask::roots(meta.parquet_schema(), roots);
        let batches =
            ParquetRecordBatchReaderBuilder::new_with_metadata(super::pages::Shared(reader), meta)
                .with_projection(mask)
                .with_batch_size(options.batch_rows)
                .build()?;
        Ok(ParquetFlowReader {
            batches,
            num_rows,
            batch_start: 0,
            current: Vec::new().into_iter(),
            bad_rows: Vec::new().into_iter().peekable(),
            next_in_batch: 0,
            batch_rows_read: 0,
            capture: options.capture,
            last_sensor: None,
            done: false,
        })
    }

    /// Returns the number of rows in the file, from its footer.
    pub fn num_rows(&self) -> u64 {
        self.num_rows
    }

    /// Decodes the next record batch; returns `false` at the end of the file.
    fn next_batch(&mut self) -> Result<bool> {
        let batches = &mut self.batches;
        let Some(batch) = super::guard(|| Ok(batches.next().transpose()?))? else {
            return Ok(false);
        };
        self.batch_start += self.batch_rows_read;
        self.batch_rows_read = batch.num_rows() as u64;
        let (start, last_sensor) = (self.batch_start, &mut self.last_sensor);
        let mut decoded = super::guard(|| decode_batch(&batch, start, last_sensor))?;
        let mut extra_bad = Vec::new();
        super::provenance::restore_extras(&batch, &mut decoded.records, &mut extra_bad)?;
        if !extra_bad.is_empty() {
            decoded
                .bad_rows
                .extend(extra_bad.into_iter().map(|(i, reason, column)| {
                    (
                        i,
                        Error::BadValue {
                            row: start + i as u64,
                            column,
                            reason,
                        },
                    )
                }));
            decoded.bad_rows.sort_by_key(|(i, _)| *i);
            decoded.bad_rows.dedup_by_key(|(i, _)| *i);
        }
        if let Some(capture) = &self.capture {
            let column = column(&batch, super::provenance::CAPTURE_COLUMN)?;
            let values = super::provenance::text_values(column).ok_or(Error::SchemaMismatch {
                reason: "column `capture` is not text".into(),
            })?;
            let keep: Vec<bool> = values
                .iter()
                .map(|v| v.as_deref() == Some(capture.as_str()))
                .collect();
            decoded = decoded.keep(&keep);
        }
        self.current = decoded.records.into_iter();
        self.bad_rows = decoded.bad_rows.into_iter().peekable();
        self.next_in_batch = 0;
        Ok(true)
    }
}

impl Iterator for ParquetFlowReader {
    type Item = Result<FlowRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if let Some(record) = self.current.next() {
                let i = self.next_in_batch;
                self.next_in_batch += 1;
                if let Some((_, err)) = self.bad_rows.next_if(|(row, _)| *row == i) {
                    return Some(Err(err));
                }
                return Some(Ok(record));
            }
            match self.next_batch() {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl fmt::Debug for ParquetFlowReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetFlowReader")
            .field("num_rows", &self.num_rows)
            .field("batch_start", &self.batch_start)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// The records of one batch, and the bad rows among them (at most one error per row).
struct Decoded {
    records: Vec<FlowRecord>,
    bad_rows: Vec<(usize, Error)>,
}

impl Decoded {
    /// Only the rows where `keep` is true (bad rows renumbered within the batch).
    fn keep(self, keep: &[bool]) -> Decoded {
        let mut new_index = vec![usize::MAX; keep.len()];
        let mut records = Vec::with_capacity(keep.iter().filter(|k| **k).count());
        for (i, r) in self.records.into_iter().enumerate() {
            if keep[i] {
                new_index[i] = records.len();
                records.push(r);
            }
        }
        let bad_rows = self
            .bad_rows
            .into_iter()
            .filter(|(i, _)| keep[*i])
            .map(|(i, e)| (new_index[i], e))
            .collect();
        Decoded { records, bad_rows }
    }
}

/// Collects row errors while a batch is decoded column by column.
struct BadRows {
    first_row: u64,
    list: Vec<(usize, Error)>,
}

impl BadRows {
    fn push(&mut self, i: usize, column: &'static str, reason: impl Into<String>) {
        self.list.push((
            i,
            Error::BadValue {
                row: self.first_row + i as u64,
                column,
                reason: reason.into(),
            },
        ));
    }

    /// Returns the errors by row, keeping the first error of each row.
    fn into_sorted(mut self) -> Vec<(usize, Error)> {
        self.list.sort_by_key(|(i, _)| *i);
        self.list.dedup_by_key(|(i, _)| *i);
        self.list
    }
}

fn decode_batch(
    batch: &RecordBatch,
    first_row: u64,
    last_sensor: &mut Option<Arc<str>>,
) -> Result<Decoded> {
    let mut recs = vec![FlowRecord::default(); batch.num_rows()];
    let mut bad = BadRows {
        first_row,
        list: Vec::new(),
    };

    let ts = primitive::<TimestampNanosecondType>(batch, "ts")?;
    for (i, r) in recs.iter_mut().enumerate() {
        match value(ts, i) {
            Some(v) => r.ts = Timestamp(v),
            None => bad.push(i, "ts", "missing required value"),
        }
    }
    fill_strings(batch, "uid", &mut recs, |r| &mut r.uid)?;
    fill_ips(batch, "orig_h", &mut recs, &mut bad, |r| &mut r.orig_h)?;
    fill_primitive::<UInt16Type>(batch, "orig_p", &mut recs, |r| &mut r.orig_p)?;
    fill_ips(batch, "resp_h", &mut recs, &mut bad, |r| &mut r.resp_h)?;
    fill_primitive::<UInt16Type>(batch, "resp_p", &mut recs, |r| &mut r.resp_p)?;

    let proto = dictionary(batch, "proto")?;
    let protos = proto.map_values(decode_protocol);
    for (i, r) in recs.iter_mut().enumerate() {
        match proto.lookup(&protos, i) {
            Ok(Some(p)) => r.proto = p.clone(),
            Ok(None) => bad.push(i, "proto", "missing required value"),
            Err(e) => bad.push(i, "proto", e),
        }
    }
    let service = dictionary(batch, "service")?;
    let services = service.map_values(|s| CompactString::from(s));
    for (i, r) in recs.iter_mut().enumerate() {
        match service.lookup(&services, i) {
            Ok(s) => r.service = s.cloned(),
            Err(e) => bad.push(i, "service", e),
        }
    }
    let duration = primitive::<DurationNanosecondType>(batch, "duration")?;
    for (i, r) in recs.iter_mut().enumerate() {
        r.duration = value(duration, i).map(Interval);
    }
    fill_primitive::<UInt64Type>(batch, "orig_bytes", &mut recs, |r| &mut r.orig_bytes)?;
    fill_primitive::<UInt64Type>(batch, "resp_bytes", &mut recs, |r| &mut r.resp_bytes)?;
    let state = dictionary(batch, "conn_state")?;
    let states = state.map_values(decode_conn_state);
    for (i, r) in recs.iter_mut().enumerate() {
        match state.lookup(&states, i) {
            Ok(s) => r.conn_state = s.cloned(),
            Err(e) => bad.push(i, "conn_state", e),
        }
    }
    fill_bools(batch, "local_orig", &mut recs, |r| &mut r.local_orig)?;
    fill_bools(batch, "local_resp", &mut recs, |r| &mut r.local_resp)?;
    fill_primitive::<UInt64Type>(batch, "missed_bytes", &mut recs, |r| &mut r.missed_bytes)?;
    fill_strings(batch, "history", &mut recs, |r| &mut r.history)?;
    fill_primitive::<UInt64Type>(batch, "orig_pkts", &mut recs, |r| &mut r.orig_pkts)?;
    fill_primitive::<UInt64Type>(batch, "orig_ip_bytes", &mut recs, |r| &mut r.orig_ip_bytes)?;
    fill_primitive::<UInt64Type>(batch, "resp_pkts", &mut recs, |r| &mut r.resp_pkts)?;
    fill_primitive::<UInt64Type>(batch, "resp_ip_bytes", &mut recs, |r| &mut r.resp_ip_bytes)?;
    fill_tunnel_parents(batch, &mut recs, &mut bad)?;
    fill_strings(batch, "orig_l2_addr", &mut recs, |r| &mut r.orig_l2_addr)?;
    fill_strings(batch, "resp_l2_addr", &mut recs, |r| &mut r.resp_l2_addr)?;
    fill_strings(batch, "community_id", &mut recs, |r| &mut r.community_id)?;

    // Most files hold one sensor (or none), so the last one is shared rather than reallocated.
    let sensor = string(batch, "sensor")?;
    for (i, r) in recs.iter_mut().enumerate() {
        if let Some(s) = string_value(sensor, i) {
            match last_sensor {
                Some(last) if **last == *s => r.sensor = Some(last.clone()),
                _ => {
                    let s: Arc<str> = Arc::from(s);
                    *last_sensor = Some(s.clone());
                    r.sensor = Some(s);
                }
            }
        }
    }
    fill_labels(batch, &mut recs, &mut bad)?;

    Ok(Decoded {
        records: recs,
        bad_rows: bad.into_sorted(),
    })
}

fn fill_labels(batch: &RecordBatch, recs: &mut [FlowRecord], bad: &mut BadRows) -> Result<()> {
    let name = dictionary(batch, "label")?;
    let class = dictionary(batch, "label_class")?;
    let detailed = dictionary(batch, "detailed_label")?;
    let names = name.map_values(|s| Arc::<str>::from(s));
    let classes = class.map_values(|s| decode_label_class(s).ok_or_else(|| shorten(s)));
    let details = detailed.map_values(|s| Arc::<str>::from(s));
    for (i, r) in recs.iter_mut().enumerate() {
        let (n, c, d) = match (
            name.lookup(&names, i),
            class.lookup(&classes, i),
            detailed.lookup(&details, i),
        ) {
            (Ok(n), Ok(c), Ok(d)) => (n, c, d),
            (Err(e), _, _) => {
                bad.push(i, "label", e);
                continue;
            }
            (_, Err(e), _) => {
                bad.push(i, "label_class", e);
                continue;
            }
            (_, _, Err(e)) => {
                bad.push(i, "detailed_label", e);
                continue;
            }
        };
        match (n, c) {
            (Some(name), Some(Ok(class))) => {
                r.label = Some(Label {
                    class: *class,
                    name: name.clone(),
                    detailed: d.cloned(),
                });
            }
            (_, Some(Err(text))) => bad.push(
                i,
                "label_class",
                format!("{text} is not \"benign\", \"malicious\" or \"other\""),
            ),
            (Some(_), None) => bad.push(i, "label_class", "missing where `label` is set"),
            (None, Some(_)) => bad.push(i, "label", "missing where `label_class` is set"),
            (None, None) if d.is_some() => {
                bad.push(i, "label", "missing where `detailed_label` is set")
            }
            (None, None) => {}
        }
    }
    Ok(())
}

fn fill_tunnel_parents(
    batch: &RecordBatch,
    recs: &mut [FlowRecord],
    bad: &mut BadRows,
) -> Result<()> {
    const NAME: &str = "tunnel_parents";
    let list = column(batch, NAME)?
        .as_list_opt::<i32>()
        .ok_or_else(|| wrong_type(batch, NAME))?;
    let uids = list
        .values()
        .as_string_opt::<i32>()
        .ok_or_else(|| wrong_type(batch, NAME))?;
    let offsets = list.value_offsets();
    for (i, r) in recs.iter_mut().enumerate() {
        if list.is_null(i) {
            continue;
        }
        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
        if (start..end).any(|j| uids.is_null(j)) {
            bad.push(i, NAME, "null element");
            continue;
        }
        r.tunnel_parents = Some((start..end).map(|j| uids.value(j).into()).collect());
    }
    Ok(())
}

fn fill_ips(
    batch: &RecordBatch,
    name: &'static str,
    recs: &mut [FlowRecord],
    bad: &mut BadRows,
    field: impl Fn(&mut FlowRecord) -> &mut Option<IpAddr>,
) -> Result<()> {
    let texts = string(batch, name)?;
    for (i, r) in recs.iter_mut().enumerate() {
        if let Some(text) = string_value(texts, i) {
            match text.parse() {
                Ok(ip) => *field(r) = Some(ip),
                Err(_) => bad.push(i, name, format!("invalid IP address {}", shorten(text))),
            }
        }
    }
    Ok(())
}

fn fill_primitive<T: ArrowPrimitiveType>(
    batch: &RecordBatch,
    name: &'static str,
    recs: &mut [FlowRecord],
    field: impl Fn(&mut FlowRecord) -> &mut Option<T::Native>,
) -> Result<()> {
    let values = primitive::<T>(batch, name)?;
    for (i, r) in recs.iter_mut().enumerate() {
        *field(r) = value(values, i);
    }
    Ok(())
}

fn fill_bools(
    batch: &RecordBatch,
    name: &'static str,
    recs: &mut [FlowRecord],
    field: impl Fn(&mut FlowRecord) -> &mut Option<bool>,
) -> Result<()> {
    let values: &BooleanArray = column(batch, name)?
        .as_boolean_opt()
        .ok_or_else(|| wrong_type(batch, name))?;
    for (i, r) in recs.iter_mut().enumerate() {
        *field(r) = values.is_valid(i).then(|| values.value(i));
    }
    Ok(())
}

fn fill_strings(
    batch: &RecordBatch,
    name: &'static str,
    recs: &mut [FlowRecord],
    field: impl Fn(&mut FlowRecord) -> &mut Option<CompactString>,
) -> Result<()> {
    let values = string(batch, name)?;
    for (i, r) in recs.iter_mut().enumerate() {
        *field(r) = string_value(values, i).map(CompactString::from);
    }
    Ok(())
}

/// A dictionary column: keys into a small array of distinct values.
struct Dict<'a> {
    keys: &'a Int32Array,
    values: &'a StringArray,
}

impl Dict<'_> {
    /// Converts each distinct value once; a null value stays `None`.
    fn map_values<T>(&self, f: impl Fn(&str) -> T) -> Vec<Option<T>> {
        self.values.iter().map(|v| v.map(&f)).collect()
    }

    /// Returns row `i`'s converted value, `None` for null.
    fn lookup<'m, T>(&self, mapped: &'m [Option<T>], i: usize) -> Result<Option<&'m T>, String> {
        let Some(key) = value(self.keys, i) else {
            return Ok(None);
        };
        usize::try_from(key)
            .ok()
            .and_then(|k| mapped.get(k))
            .map(Option::as_ref)
            .ok_or_else(|| format!("dictionary key {key} out of range"))
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &'static str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| Error::SchemaMismatch {
            reason: format!("no column `{name}`"),
        })
}

fn wrong_type(batch: &RecordBatch, name: &'static str) -> Error {
    let found = batch
        .column_by_name(name)
        .map(|c| c.data_type().to_string())
        .unwrap_or_default();
    Error::SchemaMismatch {
        reason: format!("column `{name}` has type {found}"),
    }
}

fn primitive<'a, T: ArrowPrimitiveType>(
    batch: &'a RecordBatch,
    name: &'static str,
) -> Result<&'a PrimitiveArray<T>> {
    column(batch, name)?
        .as_primitive_opt::<T>()
        .ok_or_else(|| wrong_type(batch, name))
}

fn string<'a>(batch: &'a RecordBatch, name: &'static str) -> Result<&'a StringArray> {
    column(batch, name)?
        .as_string_opt::<i32>()
        .ok_or_else(|| wrong_type(batch, name))
}

fn dictionary<'a>(batch: &'a RecordBatch, name: &'static str) -> Result<Dict<'a>> {
    let dict = column(batch, name)?
        .as_dictionary_opt::<Int32Type>()
        .ok_or_else(|| wrong_type(batch, name))?;
    let values = dict
        .values()
        .as_string_opt::<i32>()
        .ok_or_else(|| wrong_type(batch, name))?;
    Ok(Dict {
        keys: dict.keys(),
        values,
    })
}

fn value<T: ArrowPrimitiveType>(a: &PrimitiveArray<T>, i: usize) -> Option<T::Native> {
    a.is_valid(i).then(|| a.value(i))
}

fn string_value(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

/// Reads a protocol name back exactly: Zeek's names are the enum's variants and any other name
/// is `Other` as written (no case folding, unlike [`Protocol::parse`]).
fn decode_protocol(name: &str) -> Protocol {
    match name {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "icmp" => Protocol::Icmp,
        "unknown_transport" => Protocol::Unknown,
        other => Protocol::Other(other.into()),
    }
}

/// Reads a connection state back exactly: Zeek's names are the enum's variants and any other
/// name is `Other` as written.
fn decode_conn_state(name: &str) -> ConnState {
    ConnState::ZEEK
        .into_iter()
        .find(|s| s.as_str() == name)
        .unwrap_or_else(|| ConnState::Other(name.into()))
}

fn decode_label_class(name: &str) -> Option<LabelClass> {
    [LabelClass::Benign, LabelClass::Malicious, LabelClass::Other]
        .into_iter()
        .find(|c| c.as_str() == name)
}

/// Quotes a value for an error message, cut to 64 characters.
fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}...", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// Whether two fields differ only in the name of their list items (`item` against `element`).
fn same_but_list_item_name(a: &arrow_schema::Field, b: &arrow_schema::Field) -> bool {
    use arrow_schema::DataType::List;
    match (a.data_type(), b.data_type()) {
        (List(x), List(y)) => {
            a.name() == b.name()
                && a.is_nullable() == b.is_nullable()
                && x.data_type() == y.data_type()
                && x.is_nullable() == y.is_nullable()
        }
        _ => false,
    }
}
