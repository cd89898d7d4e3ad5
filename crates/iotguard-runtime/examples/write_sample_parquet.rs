//! Writes synthetic flow records to a Parquet flow file, for checking the file with other tools
//! (CI runs `tests/pyarrow_check.py` on it) until `iotguard convert` exists.
//!
//! Usage: `cargo run -p iotguard-runtime --example write_sample_parquet -- OUT.parquet [ROWS]`
//! (ROWS defaults to 1000). The records are the same for the same ROWS: a fixed-seed generator
//! mixes IPv4 and IPv6 flows, set and unset fields, empty and non-empty tunnel parents, and
//! benign, malicious and unlabeled flows. It then reads the file back and fails unless every
//! record is identical to the one written.

use std::error::Error;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;

use iotguard_flow::{ConnState, FlowRecord, Interval, Label, Protocol, Timestamp};
use iotguard_runtime::parquet::{read_parquet_flows, ParquetFlowWriter, WriteOptions};

/// SplitMix64: a tiny fixed-seed generator, so the example needs no extra dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn record(i: u64, rng: &mut Rng) -> FlowRecord {
    let v6 = rng.chance(20);
    let host = |rng: &mut Rng| -> IpAddr {
        if v6 {
            IpAddr::V6(Ipv6Addr::new(
                0xfe80,
                0,
                0,
                0,
                0,
                0,
                0,
                rng.below(50) as u16,
            ))
        } else {
            IpAddr::V4(Ipv4Addr::new(192, 168, 1, rng.below(50) as u8))
        }
    };
    let (proto, service, resp_p) = match rng.below(4) {
        0 => (Protocol::Udp, Some("dns"), 53),
        1 => (Protocol::Tcp, Some("http"), 80),
        2 => (Protocol::Tcp, None, 23),
        _ => (Protocol::Icmp, None, 0),
    };
    let measured = rng.chance(80);
    let label = match rng.below(3) {
        0 => Some(Label::new("Benign", None)),
        1 => Some(Label::new("Malicious", Some("PartOfAHorizontalPortScan"))),
        _ => None,
    };
    FlowRecord {
        ts: Timestamp(1_545_403_816_000_000_000 + i as i64 * 1_000_123),
        untimed: false,
        native: None,
        uid: Some(format!("C{i:017x}").into()),
        orig_h: Some(host(rng)),
        orig_p: Some(1024 + rng.below(60_000) as u16),
        resp_h: Some(host(rng)),
        resp_p: Some(resp_p),
        proto,
        service: service.map(Into::into),
        duration: measured.then(|| Interval(rng.below(5_000_000_000) as i64)),
        orig_bytes: measured.then(|| rng.below(10_000)),
        resp_bytes: measured.then(|| rng.below(100_000)),
        conn_state: Some(ConnState::ZEEK[rng.below(13) as usize].clone()),
        local_orig: Some(true),
        local_resp: rng.chance(50).then_some(false),
        missed_bytes: Some(0),
        history: measured.then(|| "ShADadFf".into()),
        orig_pkts: Some(1 + rng.below(100)),
        orig_ip_bytes: Some(rng.below(20_000)),
        resp_pkts: Some(rng.below(100)),
        resp_ip_bytes: Some(rng.below(200_000)),
        tunnel_parents: match rng.below(10) {
            0 => Some(vec!["CparentA".into(), "CparentB".into()]),
            1..=5 => Some(Vec::new()),
            _ => None,
        },
        orig_l2_addr: rng.chance(30).then(|| "00:11:22:33:44:55".into()),
        resp_l2_addr: None,
        community_id: rng
            .chance(30)
            .then(|| "1:LQU9qZlK+B5F3KDmev6m5PMibrg=".into()),
        sensor: Some(Arc::from("sample-sensor")),
        label,
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: write_sample_parquet OUT.parquet [ROWS]")?;
    let rows: u64 = match args.next() {
        Some(n) => n.parse().map_err(|e| format!("ROWS {n:?}: {e}"))?,
        None => 1000,
    };

    let start = Instant::now();
    let file = File::create(&path).map_err(|e| format!("creating {path}: {e}"))?;
    let mut writer = ParquetFlowWriter::new(file, WriteOptions::default())?;
    let mut rng = Rng(42);
    for i in 0..rows {
        writer.write(&record(i, &mut rng))?;
    }
    writer.finish()?;
    let wrote = start.elapsed();

    // Read the file back and compare with the same records made again, so the example also
    // checks the round trip on the file other tools are about to read.
    let start = Instant::now();
    let file = File::open(&path).map_err(|e| format!("opening {path}: {e}"))?;
    let mut rng = Rng(42);
    let mut read = 0u64;
    for (i, back) in read_parquet_flows(file)?.enumerate() {
        if back? != record(i as u64, &mut rng) {
            return Err(format!("{path}: record {i} reads back different").into());
        }
        read += 1;
    }
    if read != rows {
        return Err(format!("{path}: read {read} records, wrote {rows}").into());
    }
    let checked = start.elapsed();

    let size = std::fs::metadata(&path)?.len();
    #[allow(clippy::print_stderr)] // An example's one line of output.
    {
        eprintln!(
            "wrote {rows} records to {path} ({size} bytes) in {:.2} s, read them back identical in {:.2} s",
            wrote.as_secs_f64(),
            checked.as_secs_f64()
        );
    }
    Ok(())
}
