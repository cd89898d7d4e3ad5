//! Same config, same flows: across runs, chunk orders and thread counts.

use std::num::NonZeroUsize;

use iotguard_flow::FlowRecord;
use iotguard_sim::{SimConfig, Simulator};

use crate::busy;

#[test]
fn same_seed_gives_identical_flows() {
    let a: Vec<FlowRecord> = busy(11).flows().take(20_000).collect();
    let b: Vec<FlowRecord> = busy(11).flows().take(20_000).collect();
    assert_eq!(a.len(), 20_000);
    assert!(a == b);
}

#[test]
fn different_seeds_give_different_flows() {
    let a: Vec<FlowRecord> = busy(1).flows().take(5_000).collect();
    let b: Vec<FlowRecord> = busy(2).flows().take(5_000).collect();
    let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
    assert_eq!(same, 0);
    assert_ne!(busy(1).devices(), busy(2).devices());
}

#[test]
fn thread_count_does_not_change_the_output() {
    let sim = busy(5);
    let n = 30_000;
    let sequential: Vec<FlowRecord> = sim.flows().take(n).collect();
    for threads in [1, 2, 3, 5] {
        let threads = NonZeroUsize::new(threads).unwrap();
        let parallel: Vec<FlowRecord> = sim.par_chunks(0, threads).flatten().take(n).collect();
        assert!(sequential == parallel, "{threads} threads differ");
    }
}

#[test]
fn chunks_built_alone_and_out_of_order_concatenate_to_the_stream() {
    let sim = busy(9);
    let mut chunks: Vec<Vec<FlowRecord>> = (0..4).rev().map(|i| sim.chunk(i).collect()).collect();
    chunks.reverse();
    let concatenated: Vec<FlowRecord> = chunks.into_iter().flatten().collect();
    let stream: Vec<FlowRecord> = sim.flows().take(concatenated.len()).collect();
    assert!(concatenated.len() > 10_000);
    assert!(concatenated == stream);

    let from_two: Vec<FlowRecord> = sim.flows_from(2).take(1_000).collect();
    let chunk_two: Vec<FlowRecord> = sim.chunk(2).take(1_000).collect();
    assert!(from_two == chunk_two);
}

#[test]
fn chunks_know_their_length_and_stay_in_their_window() {
    let sim = busy(3);
    for i in [0, 1, 7] {
        let chunk = sim.chunk(i);
        let len = chunk.len();
        let (start, end) = (sim.chunk_start(i), sim.chunk_start(i + 1));
        assert_eq!(end.0 - start.0, sim.chunk_duration().0);
        let flows: Vec<FlowRecord> = chunk.collect();
        assert_eq!(flows.len(), len);
        assert!(len > 1_000);
        assert!(
            flows.iter().all(|f| start <= f.ts && f.ts < end),
            "chunk {i}"
        );
    }
}

#[test]
fn timestamps_never_go_backwards() {
    for sim in [busy(4), Simulator::new(SimConfig::default()).unwrap()] {
        let mut last = sim.chunk_start(0);
        let mut count = 0;
        for f in sim.flows().take(80_000) {
            assert!(f.ts >= last, "{:?} after {last:?}", f.ts);
            last = f.ts;
            count += 1;
        }
        assert_eq!(count, 80_000);
    }
}

#[test]
fn the_end_of_the_simulation_is_reachable() {
    let sim = busy(1);
    let last = sim.chunk_count() - 1;
    assert_eq!(sim.chunk_at(iotguard_flow::Timestamp(i64::MAX)), last);
    assert_eq!(sim.chunk_at(iotguard_flow::Timestamp(0)), 0);
    assert!(sim.chunk(last).len() > 0);
    assert_eq!(sim.chunk(last + 1).len(), 0);
    let tail: Vec<FlowRecord> = sim.flows_from(last).collect();
    assert!(!tail.is_empty());
    let threads = NonZeroUsize::new(2).unwrap();
    assert_eq!(sim.par_chunks(last, threads).count(), 1);

    // Even from the latest start allowed, the last flows' times fit in i64 nanoseconds.
    let late = Simulator::new(SimConfig {
        start_unix_secs: 4_000_000_000,
        ..SimConfig::default()
    })
    .unwrap();
    let last = late.chunk_count() - 1;
    let flows: Vec<FlowRecord> = late.chunk(last).collect();
    assert!(flows.last().unwrap().ts > late.chunk_start(last));
}

/// The flows of seed 42 must stay exactly the same, on every platform and in every version,
/// unless the simulator is changed on purpose: then update the fingerprint below.
#[test]
fn pinned_fingerprint_of_seed_42() {
    let sim = Simulator::new(SimConfig::default().with_seed(42)).unwrap();
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    for f in sim.flows().take(20_000) {
        h.text(&canonical(&f));
    }
    assert_eq!(h.0, PINNED, "fingerprint {:#018x}", h.0);
}

const PINNED: u64 = 0x6a2c_d770_303b_7c72;

/// The fields of a record as text, in a fixed order that does not depend on `Debug`.
fn canonical(f: &FlowRecord) -> String {
    let l = f.label.as_ref().unwrap();
    format!(
        "{} {:?} {:?} {:?} {:?} {:?} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {:?}",
        f.ts.0,
        f.uid.as_deref(),
        f.orig_h,
        f.orig_p,
        f.resp_h,
        f.resp_p,
        f.proto,
        f.service.as_deref(),
        f.duration.map(|d| d.0),
        f.orig_bytes,
        f.resp_bytes,
        f.conn_state.as_ref().map(|s| s.as_str()),
        f.local_orig,
        f.local_resp,
        f.missed_bytes,
        f.history.as_deref(),
        f.orig_pkts,
        f.orig_ip_bytes,
        f.resp_pkts,
        f.resp_ip_bytes,
        l.name,
        l.detailed.as_deref(),
    )
}

/// FNV-1a, 64 bits.
struct Fnv(u64);

impl Fnv {
    fn text(&mut self, s: &str) {
        for b in s.bytes().chain([b'\n']) {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
