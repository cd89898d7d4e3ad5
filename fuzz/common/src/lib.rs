//! The check every fuzz target runs: read the bytes with a (given or detected) format, one
//! thread and two, and require that nothing panics, every item is accounted for, line numbers
//! never go backwards, and both readers agree.

use std::io::Cursor;

use iotguard_flow::{FlowReader, Format, ParallelFlowReader, ReadOptions};

/// Reads `data` and checks the reader's invariants; panics (a fuzz finding) if one breaks.
pub fn check(data: &[u8], format: Option<Format>) {
    // A small line limit so the fuzzer reaches the long-line path cheaply.
    let options = ReadOptions { format, max_line: 4096, ..ReadOptions::default() };
    let Ok(reader) = FlowReader::open("fuzz", Cursor::new(data.to_vec()), &options) else {
        return;
    };
    let lines = data.split(|&b| b == b'\n').count() as u64;
    let mut last_line = 0;
    let single: Vec<_> = reader.collect();
    for item in &single {
        if let Err(e) = item {
            assert!(e.line >= last_line, "line numbers went backwards");
            assert!(e.line <= lines.max(1), "line {} past the end ({lines} lines)", e.line);
            last_line = e.line;
        }
    }
    let reader = FlowReader::open("fuzz", Cursor::new(data.to_vec()), &options).expect("opened once");
    let parallel: Vec<_> = ParallelFlowReader::new(reader, 2).collect();
    assert_eq!(single, parallel, "parallel reader disagrees");
}
