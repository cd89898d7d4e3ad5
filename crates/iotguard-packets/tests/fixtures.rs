//! The committed captures (testdata/pcap, written by gen_pcap_fixture.py): the pcap and the
//! pcapng of the same packets give the same flows, exactly these.

use iotguard_flow::{ConnState, FlowRecord, Timestamp};
use iotguard_packets::{read_pcap, FlowMeter, MeterConfig, MeterStats};

fn flows(name: &str) -> (u64, Vec<FlowRecord>, MeterStats) {
    let bytes = std::fs::read(iotguard_testkit::testdata(name)).unwrap();
    let mut meter = FlowMeter::new(MeterConfig::default());
    let n = read_pcap(bytes.as_slice(), |p| {
        let _ = meter.push(&p);
    })
    .unwrap();
    let flows = meter.finish();
    (n, flows, meter.stats().clone())
}

#[test]
fn pcap_and_pcapng_of_the_same_packets_give_the_same_flows() {
    let (n, pcap, stats) = flows("pcap/handshake.pcap");
    let (n_ng, pcapng, stats_ng) = flows("pcap/handshake.pcapng");
    assert_eq!((n, n_ng), (10, 10));
    assert_eq!(pcap, pcapng);
    assert_eq!(stats, stats_ng);
    assert_eq!((stats.in_flows, stats.not_ip, stats.flows), (9, 1, 2));
    let got: Vec<_> = pcap
        .iter()
        .map(|f| {
            (
                f.ts,
                f.orig_p,
                f.resp_p,
                f.service.as_deref().map(str::to_owned),
                f.conn_state.clone(),
                f.history.as_deref().map(str::to_owned),
                f.orig_bytes,
                f.resp_bytes,
                f.orig_pkts,
                f.resp_pkts,
            )
        })
        .collect();
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        got,
        [
            (
                Timestamp::from_secs_nanos(1_700_000_000, 0),
                Some(40000),
                Some(80),
                s("http"),
                Some(ConnState::SF),
                // No pure ACK from the responder, so no `a`.
                s("ShADdFf"),
                Some(27),
                Some(27),
                Some(4),
                Some(3),
            ),
            (
                Timestamp::from_secs_nanos(1_700_000_001, 0),
                Some(53000),
                Some(53),
                s("dns"),
                Some(ConnState::SF),
                s("Dd"),
                Some(29),
                Some(45),
                Some(1),
                Some(1),
            ),
        ]
    );
}

#[test]
fn a_capture_cut_anywhere_gives_the_packets_before_the_cut_and_an_error() {
    let bytes = std::fs::read(iotguard_testkit::testdata("pcap/handshake.pcap")).unwrap();
    for cut in [30, 100, 400, bytes.len() - 1] {
        let mut given = 0;
        let r = read_pcap(&bytes[..cut], |_| given += 1);
        match r {
            Err(iotguard_packets::PcapError::Corrupt { packets, .. }) => assert_eq!(packets, given),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    assert!(matches!(
        read_pcap(&b"not a capture at all"[..], |_| {}),
        Err(iotguard_packets::PcapError::NotPcap)
    ));
}
