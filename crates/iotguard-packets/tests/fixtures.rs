//! The committed captures (testdata/pcap, written by gen_pcap_fixture.py): the pcap and the
//! pcapng of the same packets give the same flows, exactly these.

use iotguard_flow::{ConnState, FlowRecord, Protocol, Timestamp};
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

/// testdata/pcap/fragments.pcap (gen_fragments_fixture.py): datagrams in fragments, in order,
/// out of order, duplicated, forged, past their end, incomplete, over IPv4 and IPv6. Each
/// reassembled datagram is one packet of its flow with its whole IP length (Zeek's conn.log
/// counts), and every fragment that made no flow is counted with its reason.
#[test]
fn a_capture_of_ip_fragments_gives_the_reassembled_flows() {
    let (n, flows, s) = flows("pcap/fragments.pcap");
    assert_eq!(n, 25);
    let got: Vec<_> = flows
        .iter()
        .map(|f| {
            (
                f.orig_h.unwrap().to_string(),
                f.orig_p,
                f.resp_p,
                f.proto.clone(),
                f.conn_state.clone(),
                f.history.as_deref().map(str::to_owned),
                (f.orig_pkts, f.orig_ip_bytes, f.orig_bytes),
                (f.resp_pkts, f.resp_ip_bytes, f.resp_bytes),
            )
        })
        .collect();
    let h = |s: &str| Some(s.to_owned());
    assert_eq!(
        got,
        vec![
            (
                "192.0.2.10".to_owned(),
                Some(5000),
                Some(6000),
                Protocol::Udp,
                Some(ConnState::SF),
                h("Dd"),
                (Some(1), Some(1_028), Some(1_000)),
                (Some(1), Some(38), Some(10)),
            ),
            (
                "192.0.2.10".to_owned(),
                Some(40001),
                Some(80),
                Protocol::Tcp,
                Some(ConnState::SF),
                h("ShADaFf"),
                (Some(4), Some(1_360), Some(1_200)),
                (Some(3), Some(120), Some(0)),
            ),
            (
                "2001:db8::a".to_owned(),
                Some(40002),
                Some(9999),
                Protocol::Udp,
                Some(ConnState::S0),
                h("D"),
                (Some(1), Some(1_548), None),
                (Some(0), Some(0), None),
            ),
            (
                "192.0.2.10".to_owned(),
                Some(8100),
                Some(8101),
                Protocol::Udp,
                Some(ConnState::S0),
                h("D"),
                (Some(1), Some(628), None),
                (Some(0), Some(0), None),
            ),
        ]
    );
    assert_eq!(
        (s.packets, s.in_flows, s.not_ip, s.flows, s.fragments),
        (25, 21, 1, 4, 17)
    );
    assert_eq!(
        (
            s.frag_datagrams,
            s.frag_in_flows,
            s.frag_pending,
            s.frag_timed_out,
            s.frag_evicted,
            s.frag_unfinished,
            s.frag_rejected,
            s.frag_overlapping,
            s.frag_inconsistent
        ),
        (4, 14, 0, 0, 0, 2, 1, 1, 1)
    );
}
