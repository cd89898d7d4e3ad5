//! Bad input: a bad value fails only its row; a file that is not a flow file of this version is
//! refused when opened; write options out of range are refused.

use std::fs::File;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    new_null_array, ArrayRef, DictionaryArray, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use arrow_schema::{Field, Schema};
use iotguard_flow::{FlowRecord, Protocol, Timestamp};
use iotguard_runtime::parquet::{
    flow_schema, read_parquet_flows, Error, ParquetFlowReader, ParquetFlowWriter, ReadOptions,
    WriteOptions, SCHEMA_VERSION_KEY,
};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

/// Writes one batch with `ArrowWriter` directly, with the given schema version (if any) in the
/// file metadata and none in the Arrow schema.
fn write_raw(batch: &RecordBatch, version: Option<&str>) -> File {
    let schema = Arc::new(Schema::new(batch.schema().fields().clone()));
    let batch = RecordBatch::try_new(schema, batch.columns().to_vec()).unwrap();
    let props = WriterProperties::builder()
        .set_key_value_metadata(
            version.map(|v| vec![KeyValue::new(SCHEMA_VERSION_KEY.into(), v.to_owned())]),
        )
        .build();
    let file = tempfile::tempfile().unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.into_inner().unwrap()
}

/// A batch in the flow schema with `n` rows: the given columns, every other column null (`ts`
/// zero, `proto` tcp).
fn flow_batch(n: usize, columns: &[(&str, ArrayRef)]) -> RecordBatch {
    let schema = flow_schema();
    let arrays = schema
        .fields()
        .iter()
        .map(
            |f| match columns.iter().find(|(name, _)| name == f.name()) {
                Some((_, a)) => a.clone(),
                None if f.name() == "ts" => {
                    Arc::new(TimestampNanosecondArray::from(vec![0; n]).with_timezone("UTC"))
                }
                None if f.name() == "proto" => {
                    Arc::new(DictionaryArray::<Int32Type>::from_iter(vec!["tcp"; n]))
                }
                None => new_null_array(f.data_type(), n),
            },
        )
        .collect();
    RecordBatch::try_new(schema, arrays).unwrap()
}

fn dict(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(
        values
            .iter()
            .copied()
            .collect::<DictionaryArray<Int32Type>>(),
    )
}

#[test]
fn bad_values_fail_only_their_rows() {
    let orig_h: ArrayRef = Arc::new(StringArray::from(vec![
        Some("10.0.0.1"),
        None,
        None,
        Some("not-an-ip"),
        Some("fe80::1"),
        None,
    ]));
    let label = dict(&[None, Some("Malicious"), Some("Benign"), None, None, None]);
    let class = dict(&[None, Some("evil"), None, None, None, Some("benign")]);
    let batch = flow_batch(
        6,
        &[("orig_h", orig_h), ("label", label), ("label_class", class)],
    );
    let file = write_raw(&batch, Some("1"));

    // Batches of 2 rows, so row numbers must count across batches.
    let rows: Vec<_> = ParquetFlowReader::new(
        file,
        ReadOptions {
            batch_rows: 2,
            ..Default::default()
        },
    )
    .unwrap()
    .collect();
    assert_eq!(rows.len(), 6);
    let summary: Vec<String> = rows
        .iter()
        .map(|r| match r {
            Ok(rec) => format!("ok {:?}", rec.orig_h.map(|ip| ip.to_string())),
            Err(e) => e.to_string(),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "ok Some(\"10.0.0.1\")",
            "row 1, column `label_class`: \"evil\" is not \"benign\", \"malicious\" or \"other\"",
            "row 2, column `label_class`: missing where `label` is set",
            "row 3, column `orig_h`: invalid IP address \"not-an-ip\"",
            "ok Some(\"fe80::1\")",
            "row 5, column `label`: missing where `label_class` is set",
        ]
    );
    assert!(matches!(
        rows[3],
        Err(Error::BadValue {
            row: 3,
            column: "orig_h",
            ..
        })
    ));
}

#[test]
fn file_without_version_is_refused() {
    let file = write_raw(&flow_batch(1, &[]), None);
    let err = read_parquet_flows(file).unwrap_err();
    assert!(matches!(err, Error::NotFlowFile), "{err}");
}

#[test]
fn other_version_is_refused() {
    let file = write_raw(&flow_batch(1, &[]), Some("2"));
    let err = read_parquet_flows(file).unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedVersion { found } if found == "2"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "unsupported flow schema version \"2\" (this build reads version 1)"
    );
}

#[test]
fn other_columns_are_refused() {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "ts",
        arrow_schema::DataType::Int64,
        false,
    )]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
    let err = read_parquet_flows(write_raw(&batch, Some("1"))).unwrap_err();
    assert!(matches!(err, Error::SchemaMismatch { .. }), "{err}");
}

#[test]
fn not_parquet_is_an_error() {
    use std::io::{Seek, Write};
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"ts\tuid\n1.0\tCabc\n").unwrap();
    file.rewind().unwrap();
    assert!(matches!(
        read_parquet_flows(file).unwrap_err(),
        Error::Parquet(_)
    ));
}

#[test]
fn invalid_write_options_are_refused() {
    let cases = [
        (
            WriteOptions {
                batch_rows: 0,
                ..WriteOptions::default()
            },
            "invalid parquet options: batch_rows must be between 1 and 2147483647",
        ),
        (
            WriteOptions {
                row_group_rows: 0,
                ..WriteOptions::default()
            },
            "invalid parquet options: row_group_rows must be at least 1",
        ),
        (
            WriteOptions {
                zstd_level: 99,
                ..WriteOptions::default()
            },
            "invalid parquet options: zstd_level must be between 1 and 22",
        ),
    ];
    for (options, message) in cases {
        let err = ParquetFlowWriter::new(Vec::new(), options).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn invalid_read_options_are_refused() {
    let file = super::write_file(&[], WriteOptions::default());
    let err = ParquetFlowReader::new(
        file,
        ReadOptions {
            batch_rows: 0,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid parquet options: batch_rows must be at least 1"
    );
}

#[test]
fn reader_and_writer_can_move_between_threads() {
    fn send<T: Send>() {}
    send::<ParquetFlowReader>();
    send::<ParquetFlowWriter<File>>();
    send::<ParquetFlowWriter<Vec<u8>>>();
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Error>();
}

#[test]
fn writes_to_any_writer() {
    // A Vec<u8> works as well as a file; the bytes are a complete Parquet file.
    let mut w = ParquetFlowWriter::new(Vec::new(), WriteOptions::default()).unwrap();
    w.write(&FlowRecord {
        ts: Timestamp(1),
        proto: Protocol::Udp,
        ..FlowRecord::default()
    })
    .unwrap();
    let bytes = w.finish().unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
}

/// The fuzz target's find (`testdata/parquet/dictionary_bomb.parquet`): `orig_p`'s dictionary
/// page declares 932,126,268 values in 12 bytes. Decoded as is, the Parquet library allocates
/// 3.7 GB for them; the reader refuses the file when it is opened, naming the page.
#[test]
fn a_dictionary_page_declaring_more_values_than_it_holds_is_refused_when_opened() {
    let bytes = std::fs::read(iotguard_testkit::testdata(
        "parquet/dictionary_bomb.parquet",
    ))
    .unwrap();
    let Err(err) = ParquetFlowReader::new(bytes::Bytes::from(bytes), ReadOptions::default()) else {
        panic!("the file is read");
    };
    assert!(
        matches!(
            &err,
            Error::DictionaryTooLarge { row_group: 0, column, values: 932_126_268, bytes: 12 }
                if column == "orig_p"
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "corrupt Parquet file: row group 0, column `orig_p`: the dictionary page declares \
         932126268 values in 12 bytes"
    );
}

/// The fuzz target's second find (`testdata/parquet/footer_bomb.parquet`): a list in the footer
/// declares more elements than the footer has bytes; the Parquet library reserves memory for
/// all of them (57.8 GB) and the process aborts. The reader refuses the footer first.
#[test]
fn a_footer_list_declaring_more_elements_than_bytes_is_refused_when_opened() {
    let bytes = std::fs::read(iotguard_testkit::testdata("parquet/footer_bomb.parquet")).unwrap();
    let Err(err) = ParquetFlowReader::new(bytes::Bytes::from(bytes), ReadOptions::default()) else {
        panic!("the file is read");
    };
    assert!(matches!(err, Error::CorruptFooter { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("corrupt Parquet footer at byte "),
        "{err}"
    );
}

/// The fuzz target's third find (`testdata/parquet/footer_type_bomb.parquet`, CI of 2026-12-04):
/// a footer field of the wrong Thrift type, which `parquet` 57.3 decoded as a list header anyway
/// and reserved 37.3 GB for. The footer walk saw a well-formed value of the declared type; the
/// library (60.1) now checks every list's type and length against the bytes left, and the file
/// is refused with its error instead of aborting the process.
#[test]
fn a_footer_field_of_the_wrong_type_is_refused_when_opened() {
    let bytes = std::fs::read(iotguard_testkit::testdata(
        "parquet/footer_type_bomb.parquet",
    ))
    .unwrap();
    let Err(err) = ParquetFlowReader::new(bytes::Bytes::from(bytes), ReadOptions::default()) else {
        panic!("the file is read");
    };
    assert!(matches!(err, Error::Parquet(_)), "{err:?}");
}

/// pyarrow and Spark name a list's items `element` (the Parquet spec's name) where Arrow
/// writers say `item`: a flow file rewritten by them is read all the same.
#[test]
fn list_items_named_element_are_read() {
    use arrow_array::builder::{ListBuilder, StringBuilder};
    let base = flow_batch(2, &[]);
    let at = base.schema().index_of("tunnel_parents").unwrap();
    let item = Field::new("element", arrow_schema::DataType::Utf8, false);
    let mut list = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(item.clone()));
    list.values().append_value("CAbc1");
    list.append(true);
    list.append(false);
    let mut fields: Vec<Field> = base
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[at] = Field::new(
        "tunnel_parents",
        arrow_schema::DataType::List(Arc::new(item)),
        true,
    );
    let mut columns = base.columns().to_vec();
    columns[at] = Arc::new(list.finish());
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let records: Vec<FlowRecord> = read_parquet_flows(write_raw(&batch, Some("1")))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0].tunnel_parents.as_deref(),
        Some(&["CAbc1".into()][..])
    );
    assert_eq!(records[1].tunnel_parents, None);
}
