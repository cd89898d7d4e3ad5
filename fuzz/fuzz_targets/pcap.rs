//! Fuzz target: the pcap/pcapng reader and the flow meter on any bytes. Neither may panic, the
//! meter must account for every packet the reader gives it (in a flow or counted as skipped),
//! and every connection it opened must come out as exactly one flow.
#![no_main]

use iotguard_packets::{read_pcap, FlowMeter, MeterConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut meter = FlowMeter::new(MeterConfig {
        max_conns: 64,
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
    assert_eq!(
        s.in_flows + s.not_ip + s.unknown_linktype + s.malformed,
        s.packets
    );
    assert_eq!(s.flows, flows.len() as u64);
    let in_flows: u64 = flows
        .iter()
        .map(|f| f.orig_pkts.unwrap_or(0) + f.resp_pkts.unwrap_or(0))
        .sum();
    assert_eq!(in_flows, s.in_flows);
});
