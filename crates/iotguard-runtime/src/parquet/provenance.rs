//! Where each flow of a Parquet file came from: the `input` and `capture` columns that
//! `convert --to parquet` writes after the flow schema's, so a file made from a folder of
//! captures can still be split by capture (leave-one-capture-out) by pandas, DuckDB or iotguard.
//! After them come what a record knows beyond the Zeek fields: `untimed` (the input had no time
//! column; `ts` is then 0) and the dataset's own columns as `native_family` (`ton-iot`, ...,
//! null for none) and `native_values` (the family's numbers in its feature order, `NaN` =
//! missing), which the reader puts back on the records.
//!
//! `input` is the input's name as given (its path); `capture` is the capture's name, the input's
//! file name without its folder and its format and compression suffixes
//! ([`capture_name`]). Both are non-null dictionary columns. They are optional trailing columns
//! of schema version 1: a reader that does not know them skips them, as it skips the flow
//! archive's score columns. [`captures_in`] lists a file's captures, and
//! [`super::ReadOptions::capture`] reads one capture's rows, which is how an input file holding
//! several captures becomes one input per capture again ([`crate::input::expand`]).

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::sync::Arc;

use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use ::parquet::arrow::{ArrowWriter, ProjectionMask};
use arrow_array::builder::{BooleanBuilder, Float32Builder, ListBuilder, StringDictionaryBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int32Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use iotguard_flow::{FlowRecord, Native, NativeFamily};

use super::{flow_schema, writer_properties, Error, FlowColumns, Result, WriteOptions};

/// The name of the column holding the input's name.
pub const INPUT_COLUMN: &str = "input";

/// The name of the column holding the capture's name.
pub const CAPTURE_COLUMN: &str = "capture";

/// The name of the column marking records whose input had no time.
pub const UNTIMED_COLUMN: &str = "untimed";

/// The name of the column naming a record's native family (null for none).
pub const NATIVE_FAMILY_COLUMN: &str = "native_family";

/// The name of the column holding a record's native values (null for none).
pub const NATIVE_VALUES_COLUMN: &str = "native_values";

/// The item field of [`NATIVE_VALUES_COLUMN`].
fn native_item() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Float32, false))
}

/// Suffixes taken off a file name, repeatedly, to name its capture.
const SUFFIXES: &[&str] = &[
    ".gz",
    ".zst",
    ".zstd",
    ".labeled",
    ".log",
    ".conn",
    ".csv",
    ".json",
    ".jsonl",
    ".tsv",
    ".parquet",
    ".binetflow",
    ".argus",
];

/// The capture's name of an input: its file name without folder and without format and
/// compression suffixes (`data/CTU-IoT-Malware-Capture-34-1.conn.log.labeled` gives
/// `CTU-IoT-Malware-Capture-34-1`; standard input, `-`, stays `-`).
pub fn capture_name(input: &str) -> String {
    let base = input.rsplit(['/', '\\']).next().unwrap_or(input);
    let mut name = base;
    while let Some(shorter) = SUFFIXES
        .iter()
        .find_map(|s| name.strip_suffix(s).filter(|rest| !rest.is_empty()))
    {
        name = shorter;
    }
    name.to_string()
}

/// The schema `convert` writes: the flow schema, then `input`, `capture`, `untimed`,
/// `native_family` and `native_values`.
pub fn provenance_schema() -> SchemaRef {
    let flow = flow_schema();
    let dict = || DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let fields: Vec<_> = flow
        .fields()
        .iter()
        .cloned()
        .chain([
            Arc::new(Field::new(INPUT_COLUMN, dict(), false)),
            Arc::new(Field::new(CAPTURE_COLUMN, dict(), false)),
            Arc::new(Field::new(UNTIMED_COLUMN, DataType::Boolean, false)),
            Arc::new(Field::new(NATIVE_FAMILY_COLUMN, dict(), true)),
            Arc::new(Field::new(
                NATIVE_VALUES_COLUMN,
                DataType::List(native_item()),
                true,
            )),
        ])
        .collect();
    Arc::new(Schema::new_with_metadata(fields, flow.metadata().clone()))
}

/// Writes flow records with the input and capture each came from.
pub struct ProvenanceWriter<W: Write + Send> {
    writer: ArrowWriter<W>,
    schema: SchemaRef,
    flow: FlowColumns,
    input: StringDictionaryBuilder<Int32Type>,
    capture: StringDictionaryBuilder<Int32Type>,
    untimed: BooleanBuilder,
    native_family: StringDictionaryBuilder<Int32Type>,
    native_values: ListBuilder<Float32Builder>,
    batch_rows: usize,
    rows_written: u64,
}

impl<W: Write + Send> ProvenanceWriter<W> {
    /// Starts a file on `w`.
    pub fn new(w: W, options: WriteOptions) -> Result<Self> {
        if options.batch_rows == 0 || options.batch_rows > i32::MAX as usize {
            return Err(Error::InvalidOptions(
                "batch_rows must be between 1 and 2147483647",
            ));
        }
        let schema = provenance_schema();
        let writer = ArrowWriter::try_new(w, schema.clone(), Some(writer_properties(&options)?))?;
        Ok(ProvenanceWriter {
            writer,
            schema,
            flow: FlowColumns::with_capacity(options.batch_rows.min(64 * 1024)),
            input: StringDictionaryBuilder::new(),
            capture: StringDictionaryBuilder::new(),
            untimed: BooleanBuilder::new(),
            native_family: StringDictionaryBuilder::new(),
            native_values: ListBuilder::new(Float32Builder::new()).with_field(native_item()),
            batch_rows: options.batch_rows,
            rows_written: 0,
        })
    }

    /// Adds one record read from `input` (named as [`crate::input::Input::name`] names it), whose
    /// capture is `capture`.
    pub fn write(&mut self, record: &FlowRecord, input: &str, capture: &str) -> Result<()> {
        self.flow.append(record)?;
        self.input.append(input)?;
        self.capture.append(capture)?;
        self.untimed.append_value(record.untimed);
        match &record.native {
            Some(native) => {
                self.native_family.append(native.family.name())?;
                self.native_values.values().append_slice(&native.values);
                self.native_values.append(true);
            }
            None => {
                self.native_family.append_null();
                self.native_values.append_null();
            }
        }
        self.rows_written += 1;
        if self.flow.len() >= self.batch_rows {
            self.write_batch()?;
        }
        Ok(())
    }

    /// Returns the number of records written so far, buffered ones included.
    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// Writes the buffered records and the footer, flushes, and returns the inner writer.
    pub fn finish(mut self) -> Result<W> {
        self.write_batch()?;
        let mut w = self.writer.into_inner()?;
        w.flush().map_err(|e| Error::Parquet(e.into()))?;
        Ok(w)
    }

    fn write_batch(&mut self) -> Result<()> {
        if self.flow.is_empty() {
            return Ok(());
        }
        let mut columns = self.flow.finish_arrays();
        columns.push(Arc::new(self.input.finish()) as ArrayRef);
        columns.push(Arc::new(self.capture.finish()) as ArrayRef);
        columns.push(Arc::new(self.untimed.finish()) as ArrayRef);
        columns.push(Arc::new(self.native_family.finish()) as ArrayRef);
        columns.push(Arc::new(self.native_values.finish()) as ArrayRef);
        self.writer
            .write(&RecordBatch::try_new(self.schema.clone(), columns)?)?;
        Ok(())
    }
}

impl<W: Write + Send> fmt::Debug for ProvenanceWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProvenanceWriter")
            .field("rows_written", &self.rows_written)
            .finish_non_exhaustive()
    }
}

/// The values of a text column (plain or dictionary) at each row; `None` for a null.
pub(crate) fn text_values(column: &ArrayRef) -> Option<Vec<Option<String>>> {
    if let Some(s) = column.as_string_opt::<i32>() {
        return Some(
            (0..s.len())
                .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
                .collect(),
        );
    }
    let dict = column.as_dictionary_opt::<Int32Type>()?;
    let values = dict.values().as_string_opt::<i32>()?;
    let keys = dict.keys();
    Some(
        (0..keys.len())
            .map(|i| {
                keys.is_valid(i)
                    .then(|| values.value(keys.value(i) as usize).to_string())
            })
            .collect(),
    )
}

/// Puts a batch's `untimed`, `native_family` and `native_values` (where the file has them) back
/// on its records; a native value list that does not fit its family is that row's error.
pub(crate) fn restore_extras(
    batch: &RecordBatch,
    records: &mut [FlowRecord],
    bad: &mut Vec<(usize, String, &'static str)>,
) -> Result<()> {
    if let Some(column) = batch.column_by_name(UNTIMED_COLUMN) {
        let untimed = column
            .as_boolean_opt()
            .ok_or_else(|| Error::SchemaMismatch {
                reason: format!("column `{UNTIMED_COLUMN}` is not boolean"),
            })?;
        for (i, r) in records.iter_mut().enumerate() {
            r.untimed = untimed.is_valid(i) && untimed.value(i);
        }
    }
    let (Some(family), Some(values)) = (
        batch.column_by_name(NATIVE_FAMILY_COLUMN),
        batch.column_by_name(NATIVE_VALUES_COLUMN),
    ) else {
        return Ok(());
    };
    let families = text_values(family).ok_or_else(|| Error::SchemaMismatch {
        reason: format!("column `{NATIVE_FAMILY_COLUMN}` is not text"),
    })?;
    let lists = values
        .as_list_opt::<i32>()
        .ok_or_else(|| Error::SchemaMismatch {
            reason: format!("column `{NATIVE_VALUES_COLUMN}` is not a list"),
        })?;
    for (i, r) in records.iter_mut().enumerate() {
        let Some(name) = &families[i] else { continue };
        let family: NativeFamily = match name.parse() {
            Ok(f) => f,
            Err(e) => {
                bad.push((i, e, NATIVE_FAMILY_COLUMN));
                continue;
            }
        };
        let list = lists.is_valid(i).then(|| lists.value(i));
        let floats = list
            .as_ref()
            .and_then(|l| l.as_primitive_opt::<Float32Type>());
        match floats {
            Some(v) if v.len() == family.width() && v.null_count() == 0 => {
                r.native = Some(Box::new(Native {
                    family,
                    values: v.values().to_vec().into(),
                }));
            }
            _ => bad.push((
                i,
                format!("not the {} values of the {family} family", family.width()),
                NATIVE_VALUES_COLUMN,
            )),
        }
    }
    Ok(())
}

/// The captures of a flow file with a `capture` column, in the order of their first row;
/// `None` when the file has no such column. Only that column is read.
pub fn captures_in(file: File) -> Result<Option<Vec<String>>> {
    super::guard(|| {
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
        let Some(index) = builder
            .schema()
            .fields()
            .iter()
            .position(|f| f.name() == CAPTURE_COLUMN)
        else {
            return Ok(None);
        };
        let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
        let mut seen: Vec<String> = Vec::new();
        for batch in builder.with_projection(mask).build()? {
            let batch = batch?;
            let values = text_values(batch.column(0)).ok_or_else(|| Error::SchemaMismatch {
                reason: format!("column `{CAPTURE_COLUMN}` is not text"),
            })?;
            for v in values.into_iter().flatten() {
                if !seen.contains(&v) {
                    seen.push(v);
                }
            }
        }
        Ok(Some(seen))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_names_drop_folders_and_format_suffixes() {
        assert_eq!(
            capture_name("../shared/data/iot23/CTU-IoT-Malware-Capture-34-1.conn.log.labeled"),
            "CTU-IoT-Malware-Capture-34-1"
        );
        assert_eq!(capture_name("logs/conn.log.gz"), "conn");
        assert_eq!(capture_name("ton_iot_network.csv"), "ton_iot_network");
        assert_eq!(capture_name("day1.parquet"), "day1");
        assert_eq!(capture_name(".log"), ".log");
        assert_eq!(capture_name("-"), "-");
    }

    #[test]
    fn one_capture_reads_back_alone_in_file_order() {
        use iotguard_flow::{Protocol, Timestamp};
        let record = |i: i64| FlowRecord {
            ts: Timestamp(i * 1_000_000_000),
            proto: Protocol::Udp,
            uid: Some(format!("C{i}").into()),
            ..FlowRecord::default()
        };
        let file = tempfile::tempfile().unwrap();
        let options = WriteOptions {
            batch_rows: 3,
            ..WriteOptions::default()
        };
        let mut w = ProvenanceWriter::new(file, options).unwrap();
        for i in 0..7 {
            let capture = if i % 2 == 0 { "even" } else { "odd" };
            w.write(&record(i), &format!("{capture}.log"), capture)
                .unwrap();
        }
        assert_eq!(w.rows_written(), 7);
        let file = w.finish().unwrap();
        let captures = captures_in(file.try_clone().unwrap()).unwrap();
        assert_eq!(captures, Some(vec!["even".to_string(), "odd".to_string()]));
        for (capture, want) in [("even", vec![0, 2, 4, 6]), ("odd", vec![1, 3, 5])] {
            let options = super::super::ReadOptions {
                batch_rows: 2,
                capture: Some(capture.into()),
            };
            let back: Vec<FlowRecord> =
                super::super::ParquetFlowReader::new(file.try_clone().unwrap(), options)
                    .unwrap()
                    .collect::<Result<_>>()
                    .unwrap();
            let want: Vec<FlowRecord> = want.into_iter().map(record).collect();
            assert_eq!(back, want, "{capture}");
        }
        // Without a filter every row, in order; a plain flow file has no captures.
        let all: Vec<FlowRecord> = super::super::read_parquet_flows(file)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(all, (0..7).map(record).collect::<Vec<_>>());
        let plain = tempfile::tempfile().unwrap();
        let mut w = super::super::ParquetFlowWriter::new(plain, WriteOptions::default()).unwrap();
        w.write(&record(0)).unwrap();
        let plain = w.finish().unwrap();
        assert_eq!(captures_in(plain.try_clone().unwrap()).unwrap(), None);
        let options = super::super::ReadOptions {
            capture: Some("even".into()),
            ..Default::default()
        };
        let err = super::super::ParquetFlowReader::new(plain, options).unwrap_err();
        assert_eq!(
            err.to_string(),
            "file does not match flow schema version 1: no `capture` column to select a capture by"
        );
    }
}
