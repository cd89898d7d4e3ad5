//! A model dataset as a Parquet table, so other tools (the Python peers in
//! `bench/model_bench.py`, notebooks) train on exactly the features iotguard computes.
//!
//! Two layouts of the same table, one writer:
//!
//! - [`write_dataset`] (`compare --export-dataset`): `group` (the capture's name), `target`
//!   (true = malicious), `class` (detailed label), `time` (event time, seconds).
//! - [`write_features`] (`iotguard features`, for training elsewhere): `capture`, `label`
//!   (`Int8`, 1 = malicious), `detailed_label`, `time`, and the feature schema as JSON in the
//!   file's key-value metadata under [`FEATURE_SCHEMA_KEY`].
//!
//! Then one `Float32` column per feature, named as the feature schema names it (NaN = missing).

use std::io::Write;
use std::sync::Arc;

use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::{Compression, ZstdLevel};
use ::parquet::file::metadata::KeyValue;
use ::parquet::file::properties::WriterProperties;
use arrow_array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, Int8Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use iotguard_models::Dataset;

use super::Result;

/// The key-value metadata key under which [`write_features`] stores the feature schema (JSON).
pub const FEATURE_SCHEMA_KEY: &str = "iotguard.feature_schema";

/// The leading columns' names and the label's type.
struct Layout<'a> {
    group: &'a str,
    target: &'a str,
    class: &'a str,
    /// The label as `Int8` 0/1 rather than `Boolean`.
    int_label: bool,
    /// The feature schema (JSON) for the key-value metadata.
    schema: Option<&'a str>,
}

/// Writes a dataset as one Parquet table (row groups of up to 64 k rows): `group`, `target`,
/// `class`, `time`, then the features.
pub fn write_dataset<W: Write + Send>(w: W, d: &Dataset) -> Result<W> {
    let layout = Layout {
        group: "group",
        target: "target",
        class: "class",
        int_label: false,
        schema: None,
    };
    write_table(w, d, &layout)
}

/// Writes a dataset as `iotguard features` does: `capture`, `label` (0/1), `detailed_label`,
/// `time`, then the features, with `schema_json` (the feature schema) in the key-value
/// metadata under [`FEATURE_SCHEMA_KEY`].
pub fn write_features<W: Write + Send>(w: W, d: &Dataset, schema_json: &str) -> Result<W> {
    let layout = Layout {
        group: "capture",
        target: "label",
        class: "detailed_label",
        int_label: true,
        schema: Some(schema_json),
    };
    write_table(w, d, &layout)
}

fn write_table<W: Write + Send>(w: W, d: &Dataset, layout: &Layout) -> Result<W> {
    let label_type = if layout.int_label {
        DataType::Int8
    } else {
        DataType::Boolean
    };
    let mut fields = vec![
        Field::new(layout.group, DataType::Utf8, false),
        Field::new(layout.target, label_type, false),
        Field::new(layout.class, DataType::Utf8, true),
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
        .set_key_value_metadata(
            layout
                .schema
                .map(|s| vec![KeyValue::new(FEATURE_SCHEMA_KEY.to_owned(), s.to_owned())]),
        )
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
            if layout.int_label {
                Arc::new(Int8Array::from_iter_values(
                    d.target[idx.clone()].iter().map(|&t| i8::from(t)),
                ))
            } else {
                Arc::new(BooleanArray::from(d.target[idx.clone()].to_vec()))
            },
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
