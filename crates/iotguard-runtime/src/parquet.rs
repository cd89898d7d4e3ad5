//! Flow records as Parquet files: a documented, versioned columnar schema that pandas, pyarrow,
//! DuckDB and Spark read with natural types, and a reader that gives back identical records.
//!
//! The schema (version [`SCHEMA_VERSION`], recorded in the file's key-value metadata under
//! [`SCHEMA_VERSION_KEY`]) has one column per [`FlowRecord`] field, in the record's field order;
//! `docs/parquet-schema.md` has the column table. Every optional field is a nullable column and
//! null means unset, so `0` and "not measured" stay different facts, as they are in the record.
//!
//! [`ParquetFlowWriter`] buffers records into Arrow record batches and writes them zstd
//! compressed; [`read_parquet_flows`] reads them back. A value the schema cannot hold back (an
//! address that does not parse, a label class that is not `benign`, `malicious` or `other`)
//! makes that one row an [`Error::BadValue`] and reading goes on; a file with another schema or
//! version is refused when it is opened.
//!
//! What this module does not do: open files (callers pass a `Write` or a [`ChunkReader`]), read
//! only some columns, or filter rows.
//!
//! ```
//! use iotguard_flow::{FlowRecord, Protocol, Timestamp};
//! use iotguard_runtime::parquet::{read_parquet_flows, ParquetFlowWriter, WriteOptions};
//!
//! let record = FlowRecord {
//!     ts: Timestamp(1_547_150_789_067_208_000),
//!     proto: Protocol::Tcp,
//!     orig_h: Some("192.168.1.2".parse().unwrap()),
//!     ..FlowRecord::default()
//! };
//! let file = tempfile::tempfile().unwrap();
//! let mut writer = ParquetFlowWriter::new(file, WriteOptions::default()).unwrap();
//! writer.write(&record).unwrap();
//! let file = writer.finish().unwrap();
//!
//! let back: Vec<FlowRecord> = read_parquet_flows(file)
//!     .unwrap()
//!     .collect::<Result<_, _>>()
//!     .unwrap();
//! assert_eq!(back, vec![record]);
//! ```

use std::fmt;
use std::io::Write;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use ::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::{Compression, ZstdLevel};
use ::parquet::errors::ParquetError;
use ::parquet::file::metadata::KeyValue;
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::reader::ChunkReader;
use arrow_array::builder::{
    BooleanBuilder, DurationNanosecondBuilder, ListBuilder, StringBuilder, StringDictionaryBuilder,
    TimestampNanosecondBuilder, UInt16Builder, UInt64Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, DurationNanosecondType, Int32Type, TimestampNanosecondType, UInt16Type,
    UInt64Type,
};
use arrow_array::{Array, ArrayRef, BooleanArray, Int32Array, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use compact_str::CompactString;
use iotguard_flow::{ConnState, FlowRecord, Interval, Label, LabelClass, Protocol, Timestamp};

/// The version of the flow schema this module writes and reads.
pub const SCHEMA_VERSION: &str = "1";

/// The Parquet file key-value metadata key that holds the schema version.
pub const SCHEMA_VERSION_KEY: &str = "iotguard.schema_version";

/// The time zone of the `ts` column: timestamps are nanoseconds since the Unix epoch, in UTC.
const UTC: &str = "UTC";

/// An error writing or reading a flow Parquet file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Parquet library failed: I/O, a corrupt file, or an encoding problem.
    #[error(transparent)]
    Parquet(#[from] ParquetError),
    /// Arrow failed to build a record batch.
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    /// The file has no schema version: it was not written as an iotguard flow file.
    #[error("not an iotguard flow file: no `{SCHEMA_VERSION_KEY}` in the file metadata")]
    NotFlowFile,
    /// The file's schema version is not the one this build reads.
    #[error(
        "unsupported flow schema version {found:?} (this build reads version {SCHEMA_VERSION})"
    )]
    UnsupportedVersion {
        /// The version the file names.
        found: String,
    },
    /// The file names schema version 1 but its columns do not match it.
    #[error("file does not match flow schema version {SCHEMA_VERSION}: {reason}")]
    SchemaMismatch {
        /// What differs.
        reason: String,
    },
    /// One row holds a value that is not a valid record field; the other rows are unaffected.
    #[error("row {row}, column `{column}`: {reason}")]
    BadValue {
        /// The row's index in the file, counting from 0.
        row: u64,
        /// The column holding the value.
        column: &'static str,
        /// What is wrong, with the value (shortened).
        reason: String,
    },
    /// A write option is out of range.
    #[error("invalid parquet write options: {0}")]
    InvalidOptions(&'static str),
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns the Arrow schema of flow files (version [`SCHEMA_VERSION`]).
///
/// The version is in the schema's metadata under [`SCHEMA_VERSION_KEY`] and, where the reader
/// looks for it, in the Parquet file's key-value metadata. Both places, because pyarrow shows a
/// file's Arrow schema metadata (and keeps it when it rewrites a table) but not the other keys.
pub fn flow_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            use DataType::{Boolean, UInt16, UInt64, Utf8};
            let dict = || DataType::Dictionary(Box::new(DataType::Int32), Box::new(Utf8));
            let f = Field::new;
            let fields = vec![
                f(
                    "ts",
                    DataType::Timestamp(TimeUnit::Nanosecond, Some(UTC.into())),
                    false,
                ),
                f("uid", Utf8, true),
                f("orig_h", Utf8, true),
                f("orig_p", UInt16, true),
                f("resp_h", Utf8, true),
                f("resp_p", UInt16, true),
                f("proto", dict(), false),
                f("service", dict(), true),
                f("duration", DataType::Duration(TimeUnit::Nanosecond), true),
                f("orig_bytes", UInt64, true),
                f("resp_bytes", UInt64, true),
                f("conn_state", dict(), true),
                f("local_orig", Boolean, true),
                f("local_resp", Boolean, true),
                f("missed_bytes", UInt64, true),
                f("history", Utf8, true),
                f("orig_pkts", UInt64, true),
                f("orig_ip_bytes", UInt64, true),
                f("resp_pkts", UInt64, true),
                f("resp_ip_bytes", UInt64, true),
                f("tunnel_parents", DataType::List(tunnel_item()), true),
                f("orig_l2_addr", Utf8, true),
                f("resp_l2_addr", Utf8, true),
                f("community_id", Utf8, true),
                f("sensor", Utf8, true),
                f("label", dict(), true),
                f("label_class", dict(), true),
                f("detailed_label", dict(), true),
            ];
            let version = [(SCHEMA_VERSION_KEY.to_owned(), SCHEMA_VERSION.to_owned())];
            Arc::new(Schema::new_with_metadata(fields, version.into()))
        })
        .clone()
}

/// The element field of `tunnel_parents`: a uid, never null.
fn tunnel_item() -> Arc<Field> {
    Arc::new(Field::new_list_field(DataType::Utf8, false))
}

/// Options for [`ParquetFlowWriter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// Records buffered into one Arrow record batch before it is encoded (at least 1).
    pub batch_rows: usize,
    /// Most rows in one Parquet row group (at least 1). A row group is buffered in memory, as
    /// compressed pages, until it is full.
    pub row_group_rows: usize,
    /// The zstd compression level (1 to 22).
    pub zstd_level: i32,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            batch_rows: 64 * 1024,
            row_group_rows: 1024 * 1024,
            zstd_level: 3,
        }
    }
}

/// Writes flow records to a Parquet file in the flow schema, zstd compressed.
///
/// Records are buffered into record batches of [`WriteOptions::batch_rows`] and written out as
/// row groups fill up. Call [`finish`](Self::finish) at the end: a writer dropped without it
/// leaves an incomplete file with no footer. After an error the file is not usable.
pub struct ParquetFlowWriter<W: Write + Send> {
    writer: ArrowWriter<W>,
    columns: Columns,
    batch_rows: usize,
    rows_written: u64,
}

impl<W: Write + Send> ParquetFlowWriter<W> {
    /// Starts a flow file on `w`.
    pub fn new(w: W, options: WriteOptions) -> Result<Self> {
        if options.batch_rows == 0 {
            return Err(Error::InvalidOptions("batch_rows must be at least 1"));
        }
        if options.row_group_rows == 0 {
            return Err(Error::InvalidOptions("row_group_rows must be at least 1"));
        }
        let level = ZstdLevel::try_new(options.zstd_level)
            .map_err(|_| Error::InvalidOptions("zstd_level must be between 1 and 22"))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_size(options.row_group_rows)
            // Nearly every value of these is distinct, so a dictionary is built only to be dropped.
            .set_column_dictionary_enabled("ts".into(), false)
            .set_column_dictionary_enabled("uid".into(), false)
            .set_column_dictionary_enabled("community_id".into(), false)
            .set_key_value_metadata(Some(vec![KeyValue::new(
                SCHEMA_VERSION_KEY.to_owned(),
                SCHEMA_VERSION.to_owned(),
            )]))
            .build();
        let writer = ArrowWriter::try_new(w, flow_schema(), Some(props))?;
        Ok(ParquetFlowWriter {
            writer,
            columns: Columns::with_capacity(options.batch_rows.min(64 * 1024)),
            batch_rows: options.batch_rows,
            rows_written: 0,
        })
    }

    /// Adds one record, writing a record batch when the buffer is full.
    pub fn write(&mut self, record: &FlowRecord) -> Result<()> {
        self.columns.append(record)?;
        self.rows_written += 1;
        if self.columns.len >= self.batch_rows {
            self.write_batch()?;
        }
        Ok(())
    }

    /// Returns the number of records written so far, buffered ones included.
    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// Writes the buffered records and the file footer, flushes, and returns the inner writer.
    pub fn finish(mut self) -> Result<W> {
        self.write_batch()?;
        let mut w = self.writer.into_inner()?;
        w.flush().map_err(|e| Error::Parquet(e.into()))?;
        Ok(w)
    }

    fn write_batch(&mut self) -> Result<()> {
        if self.columns.len > 0 {
            let batch = self.columns.finish()?;
            self.writer.write(&batch)?;
        }
        Ok(())
    }
}

impl<W: Write + Send> fmt::Debug for ParquetFlowWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetFlowWriter")
            .field("batch_rows", &self.batch_rows)
            .field("rows_written", &self.rows_written)
            .field("buffered_rows", &self.columns.len)
            .finish_non_exhaustive()
    }
}

/// One Arrow builder per column, in schema order.
struct Columns {
    len: usize,
    scratch: String,
    ts: TimestampNanosecondBuilder,
    uid: StringBuilder,
    orig_h: StringBuilder,
    orig_p: UInt16Builder,
    resp_h: StringBuilder,
    resp_p: UInt16Builder,
    proto: StringDictionaryBuilder<Int32Type>,
    service: StringDictionaryBuilder<Int32Type>,
    duration: DurationNanosecondBuilder,
    orig_bytes: UInt64Builder,
    resp_bytes: UInt64Builder,
    conn_state: StringDictionaryBuilder<Int32Type>,
    local_orig: BooleanBuilder,
    local_resp: BooleanBuilder,
    missed_bytes: UInt64Builder,
    history: StringBuilder,
    orig_pkts: UInt64Builder,
    orig_ip_bytes: UInt64Builder,
    resp_pkts: UInt64Builder,
    resp_ip_bytes: UInt64Builder,
    tunnel_parents: ListBuilder<StringBuilder>,
    orig_l2_addr: StringBuilder,
    resp_l2_addr: StringBuilder,
    community_id: StringBuilder,
    sensor: StringBuilder,
    label: StringDictionaryBuilder<Int32Type>,
    label_class: StringDictionaryBuilder<Int32Type>,
    detailed_label: StringDictionaryBuilder<Int32Type>,
}

impl Columns {
    fn with_capacity(rows: usize) -> Columns {
        let string = || StringBuilder::with_capacity(rows, rows * 8);
        let u64s = || UInt64Builder::with_capacity(rows);
        let dict = StringDictionaryBuilder::<Int32Type>::new;
        Columns {
            len: 0,
            scratch: String::new(),
            ts: TimestampNanosecondBuilder::with_capacity(rows).with_timezone(UTC),
            uid: string(),
            orig_h: string(),
            orig_p: UInt16Builder::with_capacity(rows),
            resp_h: string(),
            resp_p: UInt16Builder::with_capacity(rows),
            proto: dict(),
            service: dict(),
            duration: DurationNanosecondBuilder::with_capacity(rows),
            orig_bytes: u64s(),
            resp_bytes: u64s(),
            conn_state: dict(),
            local_orig: BooleanBuilder::with_capacity(rows),
            local_resp: BooleanBuilder::with_capacity(rows),
            missed_bytes: u64s(),
            history: string(),
            orig_pkts: u64s(),
            orig_ip_bytes: u64s(),
            resp_pkts: u64s(),
            resp_ip_bytes: u64s(),
            tunnel_parents: ListBuilder::new(StringBuilder::new()).with_field(tunnel_item()),
            orig_l2_addr: string(),
            resp_l2_addr: string(),
            community_id: string(),
            sensor: string(),
            label: dict(),
            label_class: dict(),
            detailed_label: dict(),
        }
    }

    fn append(&mut self, r: &FlowRecord) -> Result<()> {
        // The dictionary columns go first: they are the only appends that can fail (on key
        // overflow), and failing before any other column changes keeps the columns aligned.
        self.proto.append(r.proto.as_str())?;
        append_dict(&mut self.service, r.service.as_deref())?;
        append_dict(
            &mut self.conn_state,
            r.conn_state.as_ref().map(ConnState::as_str),
        )?;
        let label = r.label.as_ref();
        append_dict(&mut self.label, label.map(|l| &*l.name))?;
        append_dict(&mut self.label_class, label.map(|l| l.class.as_str()))?;
        append_dict(
            &mut self.detailed_label,
            label.and_then(|l| l.detailed.as_deref()),
        )?;

        self.ts.append_value(r.ts.0);
        self.uid.append_option(r.uid.as_deref());
        append_ip(&mut self.orig_h, r.orig_h, &mut self.scratch);
        self.orig_p.append_option(r.orig_p);
        append_ip(&mut self.resp_h, r.resp_h, &mut self.scratch);
        self.resp_p.append_option(r.resp_p);
        self.duration.append_option(r.duration.map(|d| d.0));
        self.orig_bytes.append_option(r.orig_bytes);
        self.resp_bytes.append_option(r.resp_bytes);
        self.local_orig.append_option(r.local_orig);
        self.local_resp.append_option(r.local_resp);
        self.missed_bytes.append_option(r.missed_bytes);
        self.history.append_option(r.history.as_deref());
        self.orig_pkts.append_option(r.orig_pkts);
        self.orig_ip_bytes.append_option(r.orig_ip_bytes);
        self.resp_pkts.append_option(r.resp_pkts);
        self.resp_ip_bytes.append_option(r.resp_ip_bytes);
        match &r.tunnel_parents {
            Some(uids) => {
                for uid in uids {
                    self.tunnel_parents.values().append_value(uid);
                }
                self.tunnel_parents.append(true);
            }
            None => self.tunnel_parents.append_null(),
        }
        self.orig_l2_addr.append_option(r.orig_l2_addr.as_deref());
        self.resp_l2_addr.append_option(r.resp_l2_addr.as_deref());
        self.community_id.append_option(r.community_id.as_deref());
        self.sensor.append_option(r.sensor.as_deref());
        self.len += 1;
        Ok(())
    }

    /// Takes the buffered rows as one record batch and empties the builders (dictionaries too,
    /// so each batch carries only the values it uses).
    fn finish(&mut self) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.ts.finish()),
            Arc::new(self.uid.finish()),
            Arc::new(self.orig_h.finish()),
            Arc::new(self.orig_p.finish()),
            Arc::new(self.resp_h.finish()),
            Arc::new(self.resp_p.finish()),
            Arc::new(self.proto.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.duration.finish()),
            Arc::new(self.orig_bytes.finish()),
            Arc::new(self.resp_bytes.finish()),
            Arc::new(self.conn_state.finish()),
            Arc::new(self.local_orig.finish()),
            Arc::new(self.local_resp.finish()),
            Arc::new(self.missed_bytes.finish()),
            Arc::new(self.history.finish()),
            Arc::new(self.orig_pkts.finish()),
            Arc::new(self.orig_ip_bytes.finish()),
            Arc::new(self.resp_pkts.finish()),
            Arc::new(self.resp_ip_bytes.finish()),
            Arc::new(self.tunnel_parents.finish()),
            Arc::new(self.orig_l2_addr.finish()),
            Arc::new(self.resp_l2_addr.finish()),
            Arc::new(self.community_id.finish()),
            Arc::new(self.sensor.finish()),
            Arc::new(self.label.finish()),
            Arc::new(self.label_class.finish()),
            Arc::new(self.detailed_label.finish()),
        ];
        self.len = 0;
        Ok(RecordBatch::try_new(flow_schema(), columns)?)
    }
}

fn append_dict(b: &mut StringDictionaryBuilder<Int32Type>, value: Option<&str>) -> Result<()> {
    match value {
        Some(v) => {
            b.append(v)?;
        }
        None => b.append_null(),
    }
    Ok(())
}

fn append_ip(b: &mut StringBuilder, ip: Option<IpAddr>, scratch: &mut String) {
    match ip {
        Some(ip) => {
            use std::fmt::Write as _;
            scratch.clear();
            // Writing to a String cannot fail.
            let _ = write!(scratch, "{ip}");
            b.append_value(&scratch);
        }
        None => b.append_null(),
    }
}

/// Options for [`ParquetFlowReader`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Rows decoded at a time (at least 1): the reader holds this many records in memory.
    pub batch_rows: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { batch_rows: 8192 }
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
    last_sensor: Option<Arc<str>>,
    done: bool,
}

impl ParquetFlowReader {
    /// Opens a flow file, checking its schema version and columns before any row is read.
    pub fn new<R: ChunkReader + 'static>(reader: R, options: ReadOptions) -> Result<Self> {
        let meta = ArrowReaderMetadata::load(&reader, ArrowReaderOptions::new())?;
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
        let meta = ArrowReaderMetadata::try_new(
            meta.metadata().clone(),
            ArrowReaderOptions::new().with_schema(flow_schema()),
        )
        .map_err(|e| Error::SchemaMismatch {
            reason: e.to_string(),
        })?;
        let batches = ParquetRecordBatchReaderBuilder::new_with_metadata(reader, meta)
            .with_batch_size(options.batch_rows.max(1))
            .build()?;
        Ok(ParquetFlowReader {
            batches,
            num_rows,
            batch_start: 0,
            current: Vec::new().into_iter(),
            bad_rows: Vec::new().into_iter().peekable(),
            next_in_batch: 0,
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
        let Some(batch) = self.batches.next().transpose()? else {
            return Ok(false);
        };
        self.batch_start += self.next_in_batch as u64;
        let decoded = decode_batch(&batch, self.batch_start, &mut self.last_sensor)?;
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
) -> Result<&'a arrow_array::PrimitiveArray<T>> {
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

fn value<T: ArrowPrimitiveType>(a: &arrow_array::PrimitiveArray<T>, i: usize) -> Option<T::Native> {
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
