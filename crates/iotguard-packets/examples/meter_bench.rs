//! The flow meter alone on a capture file: reads the file into memory once, then meters all of
//! it RUNS times (a new meter each time, its ended flows drained after every packet and
//! dropped, as the pcap input drains them) and prints the fastest run. The pcap reader is in
//! the timing; the disk and any flow writer are not. `bench/meter_bench.sh` runs it.
//!
//!   cargo run --release -p iotguard-packets --example meter_bench -- FILE [RUNS]
#![allow(clippy::print_stdout)]

use std::time::Instant;

use iotguard_packets::{read_pcap, FlowMeter, MeterConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: meter_bench FILE [RUNS]");
    let runs: usize = args
        .next()
        .map_or(20, |r| r.parse().expect("RUNS is a number"));
    let bytes = std::fs::read(&path).expect("the capture file reads");
    let mut best = f64::INFINITY;
    let mut summary = String::new();
    let mut packets = 0u64;
    for _ in 0..runs {
        let start = Instant::now();
        let mut meter = FlowMeter::new(MeterConfig::default());
        packets = 0;
        let mut flows = 0;
        // A capture cut inside its last record still gives its whole packets.
        let _ = read_pcap(&bytes[..], |p| {
            packets += 1;
            let _ = meter.push(&p);
            flows += meter.drain().len();
        });
        flows += meter.finish().len();
        let secs = start.elapsed().as_secs_f64();
        if secs < best {
            best = secs;
            summary = format!("{flows} flows, {:?}", meter.stats());
        }
    }
    println!(
        "{path}: {packets} packets, best of {runs} runs {:.2} ms, {:.2} M packets/s; {summary}",
        best * 1e3,
        packets as f64 / best / 1e6
    );
}
