//! Parquet flow files: round trips, the written schema, and bad input.

mod errors;
mod roundtrip;
mod schema;
mod shared_data;
mod strategy;

use std::fs::File;

use iotguard_flow::FlowRecord;
use iotguard_runtime::parquet::{ParquetFlowReader, ParquetFlowWriter, ReadOptions, WriteOptions};

/// Writes `records` to a temporary file and returns the file.
fn write_file(records: &[FlowRecord], options: WriteOptions) -> File {
    let mut writer = ParquetFlowWriter::new(tempfile::tempfile().unwrap(), options).unwrap();
    for r in records {
        writer.write(r).unwrap();
    }
    assert_eq!(writer.rows_written(), records.len() as u64);
    writer.finish().unwrap()
}

/// Reads every record of `file`, failing on any error.
fn read_file(file: File, options: ReadOptions) -> Vec<FlowRecord> {
    let reader = ParquetFlowReader::new(file, options).unwrap();
    let rows = reader.num_rows();
    let records: Vec<FlowRecord> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len() as u64, rows);
    records
}
