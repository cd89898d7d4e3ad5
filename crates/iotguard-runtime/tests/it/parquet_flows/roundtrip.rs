//! Records written to Parquet read back identical.

use iotguard_flow::FlowRecord;
use iotguard_runtime::parquet::{ReadOptions, WriteOptions};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use super::strategy::flow_record;
use super::{read_file, write_file};

/// Small batches and row groups, so a few dozen records span several of each on both sides.
fn small_batches() -> (WriteOptions, ReadOptions) {
    (
        WriteOptions {
            batch_rows: 7,
            row_group_rows: 16,
            ..WriteOptions::default()
        },
        ReadOptions {
            batch_rows: 5,
            ..Default::default()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prop_records_round_trip(records in proptest::collection::vec(flow_record(), 0..40)) {
        let (write, read) = small_batches();
        let back = read_file(write_file(&records, write), read);
        prop_assert_eq!(back, records);
    }
}

#[test]
fn many_batches_round_trip() {
    // A fixed set of 1000 arbitrary records, written in batches of 64 rows.
    let mut runner = TestRunner::deterministic();
    let records: Vec<FlowRecord> = (0..1000)
        .map(|_| flow_record().new_tree(&mut runner).unwrap().current())
        .collect();
    let options = WriteOptions {
        batch_rows: 64,
        row_group_rows: 300,
        ..WriteOptions::default()
    };
    let file = write_file(&records, options);
    assert_eq!(
        read_file(file.try_clone().unwrap(), ReadOptions::default()),
        records
    );
    assert_eq!(
        read_file(
            file,
            ReadOptions {
                batch_rows: 97,
                ..Default::default()
            }
        ),
        records
    );
}

#[test]
fn empty_file_round_trips() {
    let file = write_file(&[], WriteOptions::default());
    assert_eq!(
        read_file(file, ReadOptions::default()),
        Vec::<FlowRecord>::new()
    );
}

#[test]
fn default_record_round_trips() {
    // All optional fields unset: every nullable column is null.
    let records = vec![FlowRecord::default(); 3];
    let back = read_file(
        write_file(&records, WriteOptions::default()),
        ReadOptions::default(),
    );
    assert_eq!(back, records);
}
