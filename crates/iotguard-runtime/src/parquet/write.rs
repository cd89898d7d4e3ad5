//! Writing flow files: records are appended to one Arrow builder per column and written as a
//! record batch when `batch_rows` are buffered.

use std::fmt;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;

use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::{Compression, ZstdLevel};
use ::parquet::file::metadata::KeyValue;
use ::parquet::file::properties::WriterProperties;
use arrow_array::builder::{
    BooleanBuilder, DurationNanosecondBuilder, ListBuilder, StringBuilder, StringDictionaryBuilder,
    TimestampNanosecondBuilder, UInt16Builder, UInt64Builder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use iotguard_flow::{ConnState, FlowRecord};

use super::{flow_schema, tunnel_item, Error, Result, SCHEMA_VERSION, SCHEMA_VERSION_KEY, UTC};

/// Options for [`ParquetFlowWriter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// Records buffered into one Arrow record batch before it is encoded (1 to `i32::MAX`).
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
    columns: FlowColumns,
    batch_rows: usize,
    rows_written: u64,
}

impl<W: Write + Send> ParquetFlowWriter<W> {
    /// Starts a flow file on `w`.
    pub fn new(w: W, options: WriteOptions) -> Result<Self> {
        // A batch of at most i32::MAX rows has fewer distinct values than the Int32 dictionary
        // keys can number, so appending to a dictionary column cannot overflow.
        if options.batch_rows == 0 || options.batch_rows > i32::MAX as usize {
            return Err(Error::InvalidOptions(
                "batch_rows must be between 1 and 2147483647",
            ));
        }
        if options.row_group_rows == 0 {
            return Err(Error::InvalidOptions("row_group_rows must be at least 1"));
        }
        let props = writer_properties(&options)?;
        let writer = ArrowWriter::try_new(w, flow_schema(), Some(props))?;
        Ok(ParquetFlowWriter {
            writer,
            columns: FlowColumns::with_capacity(options.batch_rows.min(64 * 1024)),
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

/// The writer properties of flow files for `options` (zstd, row group size, the schema
/// version in the key-value metadata): for writers of files whose first columns are the flow
/// schema's (the flow archive adds score columns after them).
pub fn writer_properties(options: &WriteOptions) -> Result<WriterProperties> {
    if options.row_group_rows == 0 {
        return Err(Error::InvalidOptions("row_group_rows must be at least 1"));
    }
    let level = ZstdLevel::try_new(options.zstd_level)
        .map_err(|_| Error::InvalidOptions("zstd_level must be between 1 and 22"))?;
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(options.row_group_rows))
        // Nearly every value of these is distinct, so a dictionary is built only to be dropped.
        .set_column_dictionary_enabled("ts".into(), false)
        .set_column_dictionary_enabled("uid".into(), false)
        .set_column_dictionary_enabled("community_id".into(), false)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            SCHEMA_VERSION_KEY.to_owned(),
            SCHEMA_VERSION.to_owned(),
        )]))
        .build())
}

/// One Arrow builder per column of the flow schema, in schema order: records in, arrays out.
pub struct FlowColumns {
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

impl FlowColumns {
    /// Empty builders with room for `rows` records.
    pub fn with_capacity(rows: usize) -> FlowColumns {
        let string = || StringBuilder::with_capacity(rows, rows * 8);
        let u64s = || UInt64Builder::with_capacity(rows);
        let dict = StringDictionaryBuilder::<Int32Type>::new;
        FlowColumns {
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

    /// Returns the number of buffered records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns whether no record is buffered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one record to every column.
    pub fn append(&mut self, r: &FlowRecord) -> Result<()> {
        // Only the dictionary appends return errors (on key overflow, which the batch size
        // rules out); they go first so that even then no other column has changed.
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
        Ok(RecordBatch::try_new(flow_schema(), self.finish_arrays())?)
    }

    /// Takes the buffered rows as one array per flow-schema column, in schema order, and
    /// empties the builders.
    pub fn finish_arrays(&mut self) -> Vec<ArrayRef> {
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
        columns
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
