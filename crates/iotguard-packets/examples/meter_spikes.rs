//! Where the meter's time goes at live capture's drop edge, offline: the packets of a capture
//! file played LOOPS times through one meter with new IPv4 addresses every loop (as
//! `tcpreplay --unique-ip` does in `bench/live_capture.sh`, so the table grows by the file's
//! connections every loop), stamped as if they came at RATE packets/s. Every `push` is timed on
//! its own: a kernel buffer absorbs the average cost, a single long push is what fills it.
//! Prints the per-packet percentiles, the slowest pushes (with the packet's loop, which tells
//! the table's size), and a queue model of the kernel's buffer at RATE: the longest a packet
//! waits, and the most packets waiting at once.
//!
//!   cargo run --release -p iotguard-packets --example meter_spikes -- FILE [LOOPS] [RATE]
#![allow(clippy::print_stdout)]

use std::time::Instant;

use iotguard_flow::Timestamp;
use iotguard_packets::pcap::Packet;
use iotguard_packets::{read_pcap, FlowMeter, MeterConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: meter_spikes FILE [LOOPS] [RATE]");
    let loops: u32 = args.next().map_or(200, |r| r.parse().expect("LOOPS"));
    let rate: f64 = args.next().map_or(400_000.0, |r| r.parse().expect("RATE"));
    let bytes = std::fs::read(&path).expect("the capture file reads");
    let mut packets: Vec<(i32, Vec<u8>)> = Vec::new();
    // A capture cut inside its last record still gives its whole packets.
    let _ = read_pcap(&bytes[..], |p| packets.push((p.linktype, p.data.to_vec())));
    let total = packets.len() * loops as usize;
    let mut took: Vec<u32> = Vec::with_capacity(total);
    let mut meter = FlowMeter::new(MeterConfig::default());
    let start = Instant::now();
    let mut i = 0u64;
    for lp in 0..loops {
        for (linktype, data) in &mut packets {
            if lp > 0 {
                shift_ipv4(*linktype, data);
            }
            let ts = Timestamp((i as f64 * 1e9 / rate) as i64);
            let t0 = Instant::now();
            let _ = meter.push(&Packet {
                ts,
                linktype: *linktype,
                data,
            });
            drop(meter.drain());
            took.push(u32::try_from(t0.elapsed().as_nanos()).unwrap_or(u32::MAX));
            i += 1;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let flows = meter.finish().len();
    let finish = t0.elapsed().as_secs_f64();
    let sum: u64 = took.iter().map(|&t| u64::from(t)).sum();
    println!(
        "{total} packets, {loops} loops, {flows} flows; pushes {:.3} s ({:.0} ns a packet, \
         {:.2} M packets/s), loop wall {wall:.3} s, finish {finish:.3} s",
        sum as f64 / 1e9,
        sum as f64 / total as f64,
        total as f64 / (sum as f64 / 1e9) / 1e6
    );
    let mut sorted = took.clone();
    sorted.sort_unstable();
    let pct = |p: f64| sorted[((sorted.len() - 1) as f64 * p) as usize];
    println!(
        "push ns: p50 {} p99 {} p99.9 {} p99.99 {} max {}",
        pct(0.5),
        pct(0.99),
        pct(0.999),
        pct(0.9999),
        sorted[sorted.len() - 1]
    );
    let over_ms: Vec<(usize, u32)> = took
        .iter()
        .enumerate()
        .filter(|&(_, &t)| t >= 1_000_000)
        .map(|(i, &t)| (i, t))
        .collect();
    let ms_total: u64 = over_ms.iter().map(|&(_, t)| u64::from(t)).sum();
    println!(
        "{} pushes took 1 ms or more, {:.3} s in all:",
        over_ms.len(),
        ms_total as f64 / 1e9
    );
    let n = packets.len();
    for &(i, t) in &over_ms {
        println!(
            "  packet {i} (loop {}, about {} connections before it): {:.1} ms",
            i / n,
            i / n * 3172 + (i % n) * 3172 / n,
            f64::from(t) / 1e6
        );
    }
    // The kernel's buffer as a queue served by the meter alone: packet i arrives at i / rate.
    let mut done = 0f64;
    let (mut worst_wait, mut worst_at) = (0f64, 0usize);
    for (i, &t) in took.iter().enumerate() {
        let arrive = i as f64 / rate;
        done = done.max(arrive) + f64::from(t) / 1e9;
        if done - arrive > worst_wait {
            worst_wait = done - arrive;
            worst_at = i;
        }
    }
    println!(
        "queue at {rate:.0} packets/s: longest wait {:.1} ms (packet {worst_at}), about {:.0} \
         packets waiting then",
        worst_wait * 1e3,
        worst_wait * rate
    );
}

/// Moves an Ethernet IPv4 packet's addresses on by 256 (both the same way, so a connection's
/// two directions stay one connection), so every loop's connections are new ones; other
/// packets are left alone.
fn shift_ipv4(linktype: i32, data: &mut [u8]) {
    if linktype != 1 || data.len() < 34 {
        return;
    }
    let mut at = 12;
    while data.len() >= at + 2 && matches!([data[at], data[at + 1]], [0x81, 0x00] | [0x88, 0xa8]) {
        at += 4;
    }
    if data.len() < at + 22 || [data[at], data[at + 1]] != [0x08, 0x00] {
        return;
    }
    let ip = at + 2;
    for off in [12, 16] {
        let a = &mut data[ip + off..ip + off + 4];
        let v = u32::from_be_bytes([a[0], a[1], a[2], a[3]]).wrapping_add(256);
        a.copy_from_slice(&v.to_be_bytes());
    }
}
