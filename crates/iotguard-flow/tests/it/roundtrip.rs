//! Writing records as Zeek TSV or Zeek JSON and reading them back gives identical records.

use std::io::Cursor;

use iotguard_flow::{
    FlowReader, FlowRecord, Format, ReadOptions, Timestamp, TsvWriteOptions, ZeekJsonWriter,
    ZeekTsvWriter,
};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::arbitrary::flow_record;

fn read_back(format: Format, bytes: Vec<u8>) -> Vec<FlowRecord> {
    let options = ReadOptions {
        format: Some(format),
        ..ReadOptions::default()
    };
    FlowReader::open("round-trip", Cursor::new(bytes), &options)
        .unwrap()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&e.raw))))
        .collect()
}

fn tsv(records: &[FlowRecord]) -> Vec<u8> {
    let options = TsvWriteOptions {
        time: Some(Timestamp(0)),
        ..TsvWriteOptions::all_columns()
    };
    let mut w = ZeekTsvWriter::new(Vec::new(), options).unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    w.finish().unwrap()
}

fn json(records: &[FlowRecord]) -> Vec<u8> {
    let mut w = ZeekJsonWriter::new(Vec::new());
    for r in records {
        w.write(r).unwrap();
    }
    w.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn prop_zeek_tsv_round_trip(records in vec(flow_record(), 0..6)) {
        prop_assert_eq!(read_back(Format::ZeekTsv, tsv(&records)), records);
    }

    #[test]
    fn prop_zeek_json_round_trip(records in vec(flow_record(), 0..6)) {
        prop_assert_eq!(read_back(Format::ZeekJson, json(&records)), records);
    }

    /// The two writers' outputs are detected as their formats and agree record for record.
    #[test]
    fn prop_tsv_and_json_agree(records in vec(flow_record(), 1..4)) {
        let read = |bytes| {
            let reader = FlowReader::open("detect", Cursor::new(bytes), &ReadOptions::default())
                .unwrap();
            let format = reader.format();
            (format, reader.map(Result::unwrap).collect::<Vec<_>>())
        };
        let (tsv_format, from_tsv) = read(tsv(&records));
        let (json_format, from_json) = read(json(&records));
        prop_assert_eq!((tsv_format, json_format), (Format::ZeekTsv, Format::ZeekJson));
        prop_assert_eq!(from_tsv, from_json);
    }
}

/// Real captures (labeled TSV, IPv6, relative times, JSON with long floats) read, written in
/// both formats and read again give the same records.
#[test]
fn real_captures_round_trip() {
    let Some(dir) = iotguard_testkit::shared_data("real_captures_round_trip") else {
        return;
    };
    for rel in [
        "iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled",
        "stratosphere/CTU-Malware-Capture-Botnet-230-1-first1000.conn.log.labeled",
        "stratosphere/nmap-port-scanning.conn.json.log",
        "stratosphere/unlabeled-mixed.conn.json.log",
    ] {
        let bytes = std::fs::read(dir.join(rel)).unwrap();
        let records: Vec<FlowRecord> =
            FlowReader::open(rel, Cursor::new(bytes), &ReadOptions::default())
                .unwrap()
                .map(Result::unwrap)
                .collect();
        assert!(!records.is_empty(), "{rel}");
        assert_eq!(
            read_back(Format::ZeekTsv, tsv(&records)),
            records,
            "{rel} via TSV"
        );
        assert_eq!(
            read_back(Format::ZeekJson, json(&records)),
            records,
            "{rel} via JSON"
        );
    }
}
