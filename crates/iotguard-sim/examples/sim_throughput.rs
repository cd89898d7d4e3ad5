//! Measures how fast the simulator generates flows, one thread and several, and prints the
//! label mix. Not a test (no timed assertions): run it in release.
//!
//! ```text
//! cargo run --release -p iotguard-sim --example sim_throughput -- [flows] [threads] [devices]
//! ```
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::time::Instant;

use iotguard_sim::{SimConfig, Simulator};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let threads: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get));
    let devices: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let mut config = SimConfig::default().with_devices(devices);
    if devices > 245 {
        config.local_network = "10.0.0.0/8".to_owned();
    }
    let sim = Simulator::new(config).expect("valid config");
    println!(
        "{} devices, chunks of {} s",
        sim.devices().len(),
        sim.chunk_duration().as_secs_f64()
    );

    // One thread, consuming each record (summing a field keeps the work from being skipped).
    let cpu = thread_cpu_secs();
    let t = Instant::now();
    let mut bytes = 0u64;
    let mut last_ts = None;
    for f in sim.flows().take(n) {
        bytes = bytes.wrapping_add(f.orig_ip_bytes.unwrap_or(0));
        last_ts = Some(f.ts);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "1 thread:  {n} flows in {secs:.2} s = {:.2} M flows/s (checksum {bytes})",
        n as f64 / secs / 1e6
    );
    if let (Some(a), Some(b)) = (cpu, thread_cpu_secs()) {
        println!(
            "           {:.2} s on the CPU = {:.2} M flows per CPU second",
            b - a,
            n as f64 / (b - a) / 1e6
        );
    }
    if let Some(ts) = last_ts {
        let days = (ts.as_secs_f64() - sim.chunk_start(0).as_secs_f64()) / 86_400.0;
        println!("simulated {days:.1} days");
    }
    // The label mix, counted in a second pass so that it does not slow the timed one.
    let mut labels: BTreeMap<String, u64> = BTreeMap::new();
    for f in sim.flows().take(n) {
        let label = f.label.as_ref().expect("labeled");
        let name = label.detailed.as_deref().unwrap_or(&label.name);
        match labels.get_mut(name) {
            Some(c) => *c += 1,
            None => {
                labels.insert(name.to_owned(), 1);
            }
        }
    }
    for (label, count) in &labels {
        println!(
            "  {label:<28} {count:>10} {:>6.2}%",
            100.0 * *count as f64 / n as f64
        );
    }

    let Some(threads) = NonZeroUsize::new(threads) else {
        return;
    };
    let t = Instant::now();
    let mut seen = 0usize;
    let mut bytes_par = 0u64;
    'outer: for chunk in sim.par_chunks(0, threads) {
        for f in chunk {
            if seen == n {
                break 'outer;
            }
            seen += 1;
            bytes_par = bytes_par.wrapping_add(f.orig_ip_bytes.unwrap_or(0));
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{threads} threads: {seen} flows in {secs:.2} s = {:.2} M flows/s (same output: {})",
        seen as f64 / secs / 1e6,
        bytes == bytes_par
    );
}

/// Returns the time this thread has spent on a CPU (Linux), which, unlike wall time, does not
/// count time lost to other processes on a busy machine.
fn thread_cpu_secs() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
}
