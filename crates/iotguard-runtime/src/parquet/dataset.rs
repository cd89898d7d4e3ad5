//! A model dataset as a Parquet table, so other tools (the Python peers in
//! `bench/model_bench.py`, notebooks) train on exactly the features iotguard computes.
//!
//! Columns: `group` (the capture's name), `target` (true = malicious), `class` (detailed label),
//! `time` (event time, seconds), then one `Float32` column per feature, named as the feature
//! schema names it (NaN = missing).

use std::io::Write;
use std::sync::Arc;

use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::{Compression, ZstdLevel};
use ::parquet::file::properties::WriterProperties;
use arrow_array::{ArrayRef, BooleanArray, Float32Array, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use iotguard_models::Dataset;

use super::Result;

/// Writes a dataset as one Parquet table (row groups of up to 64 k rows).
pub fn write_dataset<W: Write + Send>(w: W, d: &Dataset) -> Result<W> {
    let mut fields = vec![
        Field::new("group", DataType::Utf8, false),
        Field::new("target", DataType::Boolean, false),
        Field::new("class", DataType::Utf8, true),
        Field::new("time", DataType::Float64, true),
    ];
    fields.extend(
        d.feature_names
            .iter()
            .map(|n| Field::new(n, DataType::Float32, true)),
    );
    let schema = Arc::new(Schema::new(fields));
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_max_row_group_row_count(Some(1 << 16))
        .build();
    let mut writer = ArrowWriter::try_new(w, schema.clone(), Some(props))?;
    let n = d.n_features();
    let rows = d.n_rows();
    const BATCH: usize = 1 << 16;
    let mut start = 0;
    while start < rows {
        let end = (start + BATCH).min(rows);
        let idx = start..end;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(idx.clone().map(|i| {
                d.group
                    .get(i)
                    .and_then(|g| d.group_names.get(*g as usize))
                    .map_or("", String::as_str)
            }))),
            Arc::new(BooleanArray::from(d.target[idx.clone()].to_vec())),
            Arc::new(StringArray::from(
                idx.clone()
                    .map(|i| {
                        d.class
                            .get(i)
                            .and_then(|c| d.class_names.get(*c as usize))
                            .map(String::as_str)
                    })
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                idx.clone()
                    .map(|i| d.time.get(i).copied())
                    .collect::<Vec<_>>(),
            )),
        ];
        for c in 0..n {
            columns.push(Arc::new(Float32Array::from_iter_values(
                idx.clone().map(|i| d.features[i * n + c]),
            )));
        }
        writer.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
        start = end;
    }
    Ok(writer.into_inner()?)
}
