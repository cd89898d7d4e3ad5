//! Reading the archive back: every archived flow with what detection said of it (score, alert
//! id, model id and version), for retraining on analyst verdicts.
//!
//! Files are read in path order (date, hour, then the writer's run and sequence), each in file
//! order, and the whole result is then ordered by flow time (stable, so flows of the same time
//! keep their archive order). Hidden temporary files (a writer's open file) are passed over.
//! Everything is held in memory: the caller bounds what it reads by the archive's retention.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int32Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use iotguard_flow::FlowRecord;
use iotguard_runtime::parquet::{flow_schema, read_parquet_flows};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use crate::schema::ARCHIVE_COLUMNS;
use crate::{Error, Result};

/// One archived flow and what detection said of it.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchivedFlow {
    /// The flow (with the label its source carried, if any).
    pub record: FlowRecord,
    /// The model's score.
    pub score: f32,
    /// The incident the flow alerted in (`None`: it did not alert).
    pub alert_id: Option<String>,
    /// The model's id.
    pub model_id: String,
    /// The model's version.
    pub model_version: String,
    /// The shadow model's score, when one ran beside the model (files written before the
    /// column existed read as `None`).
    pub shadow_score: Option<f32>,
}

/// What [`read_archive`] found besides the flows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadCounts {
    /// Archive files read.
    pub files: u64,
    /// Rows that could not be read as flows (left out).
    pub bad_rows: u64,
}

/// Reads every flow of the archive under `root`, ordered by flow time.
pub fn read_archive(root: &Path) -> Result<(Vec<ArchivedFlow>, ReadCounts)> {
    let mut files = Vec::new();
    walk(root, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    let mut counts = ReadCounts::default();
    for path in &files {
        counts.bad_rows += read_file(path, &mut out)?;
        counts.files += 1;
    }
    out.sort_by_key(|f| f.record.ts);
    Ok((out, counts))
}

/// Collects the archive's finished files (not hidden, `.parquet`) under `dir`.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.as_deref().is_none_or(|n| n.starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else if name.is_some_and(|n| n.ends_with(".parquet")) {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads one file's flows and archive columns, row by row together; returns the bad rows.
fn read_file(path: &Path, out: &mut Vec<ArchivedFlow>) -> Result<u64> {
    let open = || File::open(path).map_err(|e| Error::io(path, e));
    let records = read_parquet_flows(open()?).map_err(|e| Error::parquet(path, e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(open()?).map_err(|e| Error::parquet(path, e))?;
    let n_flow = flow_schema().fields().len();
    let mask = ProjectionMask::roots(
        builder.parquet_schema(),
        n_flow..n_flow + ARCHIVE_COLUMNS.len(),
    );
    let batches = builder
        .with_projection(mask)
        .build()
        .map_err(|e| Error::parquet(path, e))?;
    let mut records = records;
    let mut bad = 0;
    for batch in batches {
        let batch = batch.map_err(|e| Error::parquet(path, e))?;
        let columns = Columns::of(&batch, path)?;
        for i in 0..batch.num_rows() {
            let record = match records.next() {
                Some(Ok(r)) => r,
                Some(Err(iotguard_runtime::parquet::Error::BadValue { .. })) => {
                    bad += 1;
                    continue;
                }
                Some(Err(e)) => return Err(Error::parquet(path, e)),
                None => return Err(short(path)),
            };
            out.push(ArchivedFlow {
                record,
                score: columns.score.value(i),
                alert_id: string_at(&columns.alert_id, i),
                model_id: string_at(&columns.model_id, i).unwrap_or_default(),
                model_version: string_at(&columns.model_version, i).unwrap_or_default(),
                shadow_score: columns
                    .shadow_score
                    .as_ref()
                    .and_then(|c| c.is_valid(i).then(|| c.value(i))),
            });
        }
    }
    if records.next().is_some() {
        return Err(short(path));
    }
    Ok(bad)
}

fn short(path: &Path) -> Error {
    Error::io(
        path,
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the flow and archive columns have different row counts",
        ),
    )
}

/// A batch's archive columns.
struct Columns {
    score: arrow_array::Float32Array,
    alert_id: ArrayRef,
    model_id: ArrayRef,
    model_version: ArrayRef,
    shadow_score: Option<arrow_array::Float32Array>,
}

impl Columns {
    fn of(batch: &RecordBatch, path: &Path) -> Result<Columns> {
        let column = |name: &str| {
            batch.column_by_name(name).cloned().ok_or_else(|| {
                Error::io(
                    path,
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("not an archive file: no `{name}` column"),
                    ),
                )
            })
        };
        let score = column("score")?;
        let score = score
            .as_primitive_opt::<Float32Type>()
            .cloned()
            .ok_or_else(|| {
                Error::io(
                    path,
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "`score` is not float32"),
                )
            })?;
        let shadow_score = batch
            .column_by_name("shadow_score")
            .and_then(|c| c.as_primitive_opt::<Float32Type>().cloned());
        Ok(Columns {
            shadow_score,
            score,
            alert_id: column("alert_id")?,
            model_id: column("model_id")?,
            model_version: column("model_version")?,
        })
    }
}

/// A string cell of a plain or dictionary-encoded string column (`None` when null).
fn string_at(col: &ArrayRef, i: usize) -> Option<String> {
    if col.is_null(i) {
        return None;
    }
    if let Some(s) = col.as_string_opt::<i32>() {
        return Some(s.value(i).to_string());
    }
    let dict = col.as_dictionary_opt::<Int32Type>()?;
    let key = usize::try_from(dict.keys().value(i)).ok()?;
    let values = dict.values().as_string_opt::<i32>()?;
    Some(values.value(key).to_string())
}
