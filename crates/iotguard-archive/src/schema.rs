//! The archive file schema: the flow schema's columns, then what detection said of the flow.

use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use iotguard_runtime::parquet::flow_schema;

/// The archive's own columns, after the flow columns.
pub(crate) const ARCHIVE_COLUMNS: [&str; 7] = [
    "score",
    "threshold",
    "is_alert",
    "alert_id",
    "model_id",
    "model_version",
    "shadow_score",
];

/// Returns the Arrow schema of archive files: every flow-schema column, then `score` (float32),
/// `threshold` (float32), `is_alert` (bool), `alert_id` (string, null when the flow did not
/// alert), `model_id` and `model_version` (dictionary strings), `shadow_score` (float32, null
/// unless a shadow model ran beside the model: `detect --auto-retrain`).
pub fn archive_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let flow = flow_schema();
            let dict = || DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
            let mut fields: Vec<Field> = flow.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.extend([
                Field::new(ARCHIVE_COLUMNS[0], DataType::Float32, false),
                Field::new(ARCHIVE_COLUMNS[1], DataType::Float32, false),
                Field::new(ARCHIVE_COLUMNS[2], DataType::Boolean, false),
                Field::new(ARCHIVE_COLUMNS[3], DataType::Utf8, true),
                Field::new(ARCHIVE_COLUMNS[4], dict(), false),
                Field::new(ARCHIVE_COLUMNS[5], dict(), false),
                Field::new(ARCHIVE_COLUMNS[6], DataType::Float32, true),
            ]);
            Arc::new(Schema::new_with_metadata(fields, flow.metadata().clone()))
        })
        .clone()
}
