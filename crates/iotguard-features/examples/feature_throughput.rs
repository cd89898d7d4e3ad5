//! Measures feature extraction throughput on one core.
//!
//! `cargo run --release -p iotguard-features --example feature_throughput [-- FILE...]`
//!
//! With files (any format `iotguard-flow` reads), extracts their flows; without, 2 M flows of
//! the default simulated network. Flows are read into memory first, so only extraction is timed.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::fs::File;
use std::time::Instant;

use iotguard_features::{FeatureConfig, FeatureExtractor};
use iotguard_flow::{FlowReader, FlowRecord, ReadOptions};
use iotguard_sim::{SimConfig, Simulator};

fn main() -> Result<(), Box<dyn Error>> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let (source, flows): (String, Vec<FlowRecord>) = if files.is_empty() {
        let n = 2_000_000;
        let sim = Simulator::new(SimConfig::default())?;
        ("simulated".into(), sim.flows().take(n).collect())
    } else {
        let mut flows = Vec::new();
        for f in &files {
            let reader = FlowReader::open(f.as_str(), File::open(f)?, &ReadOptions::default())?;
            flows.extend(reader.filter_map(Result::ok));
        }
        (files.join(","), flows)
    };

    let mut x = FeatureExtractor::new(FeatureConfig::default());
    let mut row = vec![0f32; x.dim()];
    let mut checksum = 0f64;
    // Three passes: the first warms the host tables, the best of the next two is reported.
    let mut best = f64::INFINITY;
    for pass in 0..3 {
        let start = Instant::now();
        for r in &flows {
            x.extract(r, &mut row);
            checksum += f64::from(row[row.len() - 1]);
        }
        let secs = start.elapsed().as_secs_f64();
        if pass > 0 {
            best = best.min(secs);
        }
    }
    let (orig, resp) = x.host_counts();
    println!(
        "{source}: {} flows x {} features, {:.0} flows/s ({:.0} ns/flow), hosts {orig}+{resp}, checksum {checksum:.3e}",
        flows.len(),
        x.dim(),
        flows.len() as f64 / best,
        best * 1e9 / flows.len() as f64,
    );
    Ok(())
}
