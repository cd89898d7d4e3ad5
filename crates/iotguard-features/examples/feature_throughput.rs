//! Measures feature extraction throughput on one core.
//!
//! `cargo run --release -p iotguard-features --example feature_throughput [-- FILE...]`
//!
//! With files (any format `iotguard-flow` reads), extracts their flows; without, 2 M flows of
//! the default simulated network. `--churn` gives every simulated flow a new originator and
//! responder address and disables idle eviction (the worst case: both host tables full at
//! `max_hosts` and evicting on every flow).
//! Flows are read into memory first, so only extraction is timed.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use iotguard_features::{FeatureConfig, FeatureExtractor};
use iotguard_flow::{FlowReader, FlowRecord, ReadOptions};
use iotguard_sim::{SimConfig, Simulator};

fn main() -> Result<(), Box<dyn Error>> {
    let mut files: Vec<String> = std::env::args().skip(1).collect();
    let churn = files.iter().any(|f| f == "--churn");
    files.retain(|f| f != "--churn");
    let (source, flows): (String, Vec<FlowRecord>) = if files.is_empty() {
        let n = 2_000_000;
        let sim = Simulator::new(SimConfig::default())?;
        let mut flows: Vec<FlowRecord> = sim.flows().take(n).collect();
        if churn {
            for (i, f) in (0u32..).zip(flows.iter_mut()) {
                f.orig_h = Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)));
                f.resp_h = Some(IpAddr::V4(Ipv4Addr::from(0x6400_0000 + i)));
            }
        }
        let name = if churn {
            "simulated, churn"
        } else {
            "simulated"
        };
        (name.into(), flows)
    } else {
        let mut flows = Vec::new();
        for f in &files {
            let reader = FlowReader::open(f.as_str(), File::open(f)?, &ReadOptions::default())?;
            flows.extend(reader.filter_map(Result::ok));
        }
        (files.join(","), flows)
    };

    let config = FeatureConfig {
        // With churn, no idle eviction: the tables fill to max_hosts and evict by LRU.
        idle_timeout_secs: if churn { 1e12 } else { 3600.0 },
        ..FeatureConfig::default()
    };
    let mut x = FeatureExtractor::new(config);
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
