//! Fuzz target: the pcap/pcapng reader and the flow meter on any bytes. Neither may panic, the
//! meter must account for every packet the reader gives it (in a flow, counted as skipped, or
//! an IP fragment counted as dropped with its reason), and every connection it opened must come
//! out as exactly one flow. testdata/pcap/fragments.pcap seeds it with IP fragments.
#![no_main]

use iotguard_packets::{read_pcap, FlowMeter, MeterConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small bounds, so that eviction from the table and from reassembly runs too.
    let mut meter = FlowMeter::new(MeterConfig {
        max_conns: 64,
        max_frag_datagrams: 8,
        max_frag_bytes: 16 * 1024,
        ..MeterConfig::default()
    });
    let mut given = 0u64;
    let read = read_pcap(data, |p| {
        given += 1;
        let _ = meter.push(&p);
    });
    if let Ok(n) = read {
        assert_eq!(n, given);
    }
    let flows = meter.finish();
    let s = meter.stats();
    assert_eq!(s.packets, given);
    // Every packet accounted once: in a flow, skipped, or an IP fragment dropped with its
    // reason (none pending once the meter is finished).
    assert_eq!(s.frag_pending, 0);
    assert_eq!(
        s.in_flows
            + s.not_ip
            + s.unknown_linktype
            + s.malformed
            + s.frag_timed_out
            + s.frag_evicted
            + s.frag_unfinished
            + s.frag_rejected,
        s.packets
    );
    assert!(s.frag_in_flows <= s.fragments && s.frag_datagrams <= s.frag_in_flows);
    assert_eq!(s.flows, flows.len() as u64);
    // A reassembled datagram is one packet of its flow, whatever its fragments.
    let in_flows: u64 = flows
        .iter()
        .map(|f| f.orig_pkts.unwrap_or(0) + f.resp_pkts.unwrap_or(0))
        .sum();
    assert_eq!(in_flows, s.in_flows - s.frag_in_flows + s.frag_datagrams);
});
