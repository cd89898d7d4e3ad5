//! Reads one flow file to the end and prints what it took, as one JSON line: the Rust side of
//! `bench/read_bench.py`. Not a criterion benchmark: the inputs are gigabytes and the Python
//! peers run in the same script, each in its own process so its peak memory can be measured.
//!
//! Usage: `read_throughput FILE [--threads N] [--format NAME]`

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs::File;
use std::time::Instant;

use iotguard_flow::{FlowReader, Format, ReadOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut threads = 1usize;
    let mut format: Option<Format> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => threads = args.next().and_then(|v| v.parse().ok()).unwrap_or(1),
            "--format" => format = args.next().and_then(|v| v.parse().ok()),
            _ => path = Some(a),
        }
    }
    let Some(path) = path else {
        eprintln!("usage: read_throughput FILE [--threads N] [--format NAME]");
        std::process::exit(2);
    };
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let start = Instant::now();
    let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let options = ReadOptions {
        format,
        ..ReadOptions::default()
    };
    let reader = FlowReader::open_parallel(path.as_str(), file, &options, threads).expect("open");
    let (mut records, mut bad, mut check) = (0u64, 0u64, 0u64);
    for item in reader {
        match item {
            // Touch the record so the work cannot be skipped.
            Ok(r) => {
                records += 1;
                check = check.wrapping_add(r.orig_ip_bytes.unwrap_or(0));
            }
            Err(_) => bad += 1,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"records\":{records},\"bad\":{bad},\"bytes\":{bytes},\"seconds\":{secs:.4},\"mb_s\":{:.1},\"records_s\":{:.0},\"check\":{check}}}",
        bytes as f64 / 1e6 / secs,
        records as f64 / secs
    );
}
