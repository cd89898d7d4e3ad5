//! Prints simulated flows as Zeek-like TSV lines (conn.log columns, then label and detailed
//! label), for eyeballing. The real writers live elsewhere.
//!
//! ```text
//! cargo run --release -p iotguard-sim --example sim_dump -- [flows] [seed]
//! ```

use std::io::Write;

use iotguard_flow::FlowRecord;
use iotguard_sim::{SimConfig, Simulator};

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".to_owned(), |v| v.to_string())
}

fn line(f: &FlowRecord) -> String {
    let l = f.label.as_ref().unwrap();
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        f.ts,
        opt(&f.uid),
        opt(&f.orig_h),
        opt(&f.orig_p),
        opt(&f.resp_h),
        opt(&f.resp_p),
        f.proto,
        opt(&f.service),
        opt(&f.duration),
        opt(&f.orig_bytes),
        opt(&f.resp_bytes),
        opt(&f.conn_state),
        opt(&f.local_orig),
        opt(&f.local_resp),
        opt(&f.missed_bytes),
        opt(&f.history),
        opt(&f.orig_pkts),
        opt(&f.orig_ip_bytes),
        opt(&f.resp_pkts),
        opt(&f.resp_ip_bytes),
        l.name,
        l.detailed.as_deref().unwrap_or("-"),
    )
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let sim = Simulator::new(SimConfig::default().with_seed(seed)).unwrap();
    let mut out = std::io::stdout().lock();
    for f in sim.flows().take(n) {
        // Stop quietly when the reader goes away (`| head`).
        if writeln!(out, "{}", line(&f)).is_err() {
            return;
        }
    }
}
