//! Real exports, kept as test data: the first two datagrams softflowd 1.1.0 sent for the shared
//! capture (42-1) in each version (`testdata/netflow/*.frames`: each datagram after its length,
//! two bytes big-endian). Decoded without softflowd, so these run everywhere.

use std::net::SocketAddr;

use iotguard_flow::{ConnState, Interval, Protocol, Timestamp};
use iotguard_netflow::record::to_record;
use iotguard_netflow::sequence::{Check, Sequences};
use iotguard_netflow::Decoder;

fn frames(name: &str) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(iotguard_testkit::testdata(&format!("netflow/{name}"))).unwrap();
    let mut out = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        out.push(rest[2..2 + n].to_vec());
        rest = &rest[2 + n..];
    }
    out
}

/// Decodes a file's datagrams in order: (flows per datagram, sequence checks, records).
fn decode(name: &str) -> (Vec<usize>, Vec<Check>, Vec<iotguard_flow::FlowRecord>) {
    let from: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let (mut dec, mut seq) = (Decoder::new(), Sequences::new());
    let (mut counts, mut checks, mut records) = (Vec::new(), Vec::new(), Vec::new());
    for d in frames(name) {
        let d = dec.decode(from, &d).unwrap();
        counts.push(d.flows.len());
        checks.push(seq.check(from, &d));
        for f in &d.flows {
            let serial = records.len() as u64 + 1;
            records.push(to_record(f, serial));
        }
    }
    (counts, checks, records)
}

#[test]
fn softflowd_v5() {
    let (counts, checks, records) = decode("softflowd-v5.frames");
    assert_eq!(counts, [30, 30]);
    assert_eq!(checks, [Check::First, Check::InOrder]);
    // One direction of the TLS connection below: the server's, as the exporter listed it.
    let r = &records[0];
    assert_eq!(r.orig_h, Some("88.99.66.31".parse().unwrap()));
    assert_eq!(
        (r.orig_p, r.resp_p, &r.proto),
        (Some(443), Some(53044), &Protocol::Tcp)
    );
    assert_eq!((r.orig_pkts, r.orig_ip_bytes), (Some(4), Some(2425)));
    assert_eq!(
        (r.resp_pkts, &r.conn_state),
        (None, &None),
        "one direction: nothing of the other"
    );
}

#[test]
fn softflowd_v9() {
    let (counts, checks, records) = decode("softflowd-v9.frames");
    assert_eq!(counts, [24, 32]);
    assert_eq!(checks, [Check::First, Check::InOrder]);
    assert_eq!(records[0].orig_p, Some(443));
    assert_eq!(records[0].history.as_deref(), Some("SADF"));
}

#[test]
fn softflowd_ipfix_biflows() {
    let (counts, checks, records) = decode("softflowd-ipfix.frames");
    assert_eq!(counts, [17, 27]);
    assert_eq!(checks, [Check::First, Check::InOrder]);
    // Zeek's conn.log of the same packets: 1547127327.272608, 192.168.1.197:53044 ->
    // 88.99.66.31:443, 0.116933 s, 524 and 2209 payload bytes, RSTO, ShADadRf, 8 packets
    // (936 IP bytes) and 4 (2425).
    let r = &records[0];
    assert_eq!(r.ts, Timestamp::from_millis(1_547_127_327_272));
    assert_eq!(r.orig_h, Some("192.168.1.197".parse().unwrap()));
    assert_eq!((r.orig_p, r.resp_p), (Some(53044), Some(443)));
    assert_eq!(r.duration, Some(Interval(117_000_000)));
    assert_eq!(r.conn_state, Some(ConnState::RSTO));
    assert_eq!((r.orig_pkts, r.orig_ip_bytes), (Some(8), Some(942)));
    assert_eq!((r.resp_pkts, r.resp_ip_bytes), (Some(4), Some(2425)));
    // Upper bounds: the IP bytes less 40 a packet (these packets carry TCP options).
    assert_eq!((r.orig_bytes, r.resp_bytes), (Some(622), Some(2265)));
    // Zeek's letters, in Zeek's usual order rather than the order they happened.
    assert_eq!(r.history.as_deref(), Some("ShADdfR"));
}
