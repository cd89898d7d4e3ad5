//! The written file has exactly the schema `docs/parquet-schema.md` documents.

use std::sync::Arc;

use arrow_schema::{DataType, Field, TimeUnit};
use iotguard_runtime::parquet::{flow_schema, WriteOptions, SCHEMA_VERSION, SCHEMA_VERSION_KEY};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{IntType, LogicalType, TimeUnit as ParquetTimeUnit, TimestampType};

use super::write_file;

/// The column table of `docs/parquet-schema.md`, version 1: name, Arrow type, nullable.
fn documented_columns() -> Vec<(&'static str, DataType, bool)> {
    use DataType::{Boolean, UInt16, UInt64, Utf8};
    let dict = || DataType::Dictionary(Box::new(DataType::Int32), Box::new(Utf8));
    let list = DataType::List(Arc::new(Field::new("item", Utf8, false)));
    vec![
        (
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        ("uid", Utf8, true),
        ("orig_h", Utf8, true),
        ("orig_p", UInt16, true),
        ("resp_h", Utf8, true),
        ("resp_p", UInt16, true),
        ("proto", dict(), false),
        ("service", dict(), true),
        ("duration", DataType::Duration(TimeUnit::Nanosecond), true),
        ("orig_bytes", UInt64, true),
        ("resp_bytes", UInt64, true),
        ("conn_state", dict(), true),
        ("local_orig", Boolean, true),
        ("local_resp", Boolean, true),
        ("missed_bytes", UInt64, true),
        ("history", Utf8, true),
        ("orig_pkts", UInt64, true),
        ("orig_ip_bytes", UInt64, true),
        ("resp_pkts", UInt64, true),
        ("resp_ip_bytes", UInt64, true),
        ("tunnel_parents", list, true),
        ("orig_l2_addr", Utf8, true),
        ("resp_l2_addr", Utf8, true),
        ("community_id", Utf8, true),
        ("sensor", Utf8, true),
        ("label", dict(), true),
        ("label_class", dict(), true),
        ("detailed_label", dict(), true),
    ]
}

fn columns_of(fields: &arrow_schema::Fields) -> Vec<(&str, DataType, bool)> {
    fields
        .iter()
        .map(|f| (f.name().as_str(), f.data_type().clone(), f.is_nullable()))
        .collect()
}

#[test]
fn flow_schema_is_the_documented_one() {
    let schema = flow_schema();
    assert_eq!(columns_of(schema.fields()), documented_columns());
    assert_eq!(
        schema
            .metadata()
            .get(SCHEMA_VERSION_KEY)
            .map(String::as_str),
        Some("1")
    );
}

#[test]
fn written_file_has_the_documented_schema() {
    let file = write_file(&[], WriteOptions::default());
    // The schema as any Arrow reader sees it, from the file alone.
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    assert_eq!(columns_of(builder.schema().fields()), documented_columns());

    let meta = builder.metadata().file_metadata();
    let kv = meta.key_value_metadata().unwrap();
    let version = kv.iter().find(|kv| kv.key == SCHEMA_VERSION_KEY).unwrap();
    assert_eq!(SCHEMA_VERSION, "1");
    assert_eq!(version.value.as_deref(), Some("1"));
    assert_eq!(
        builder
            .schema()
            .metadata()
            .get(SCHEMA_VERSION_KEY)
            .map(String::as_str),
        Some("1")
    );

    // The Parquet types that readers without the embedded Arrow schema (Spark, older tools) see.
    let parquet = meta.schema_descr();
    let logical = |name: &str| {
        parquet
            .columns()
            .iter()
            .find(|c| c.path().parts()[0] == name)
            .unwrap()
            .logical_type_ref()
            .cloned()
    };
    assert_eq!(
        logical("ts"),
        Some(LogicalType::Timestamp(TimestampType {
            is_adjusted_to_u_t_c: true,
            unit: ParquetTimeUnit::NANOS,
        }))
    );
    assert_eq!(
        logical("orig_p"),
        Some(LogicalType::Integer(IntType {
            bit_width: 16,
            is_signed: false,
        }))
    );
    assert_eq!(
        logical("orig_bytes"),
        Some(LogicalType::Integer(IntType {
            bit_width: 64,
            is_signed: false,
        }))
    );
    assert_eq!(logical("orig_h"), Some(LogicalType::String));
    assert_eq!(logical("label"), Some(LogicalType::String));
}
