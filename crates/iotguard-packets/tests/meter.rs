//! The flow meter on packets built here: Zeek's states, history, byte counts and timeouts on
//! the simple cases, with exact expected values.

use etherparse::PacketBuilder;
use iotguard_flow::{ConnState, FlowRecord, Interval, Protocol, Timestamp};
use iotguard_packets::pcap::Packet;
use iotguard_packets::{FlowMeter, MeterConfig};

const A: [u8; 4] = [192, 168, 1, 10];
const B: [u8; 4] = [203, 0, 113, 5];

#[derive(Clone, Copy)]
enum F {
    Syn,
    SynAck,
    Ack,
    Fin,
    Rst,
}

fn tcp(from_a: bool, flags: F, seq: u32, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sp, dp) = if from_a {
        (A, B, 40000, 80)
    } else {
        (B, A, 80, 40000)
    };
    let b = PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, seq, 1024);
    let b = match flags {
        F::Syn => b.syn(),
        F::SynAck => b.syn().ack(1),
        F::Ack => b.ack(1),
        F::Fin => b.fin().ack(1),
        F::Rst => b.rst(),
    };
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

fn udp(from_a: bool, sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let (src, dst) = if from_a { (A, B) } else { (B, A) };
    let mut out = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4(src, dst, 64)
        .udp(sp, dp)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// Runs the meter over packets at the given seconds.
fn meter(config: MeterConfig, packets: &[(f64, Vec<u8>)]) -> (Vec<FlowRecord>, FlowMeter) {
    let mut m = FlowMeter::new(config);
    for (t, data) in packets {
        let ts = Timestamp((t * 1e9) as i64 + 1_700_000_000_000_000_000);
        m.push(&Packet {
            ts,
            linktype: 1,
            data,
        })
        .unwrap();
    }
    let flows = m.finish();
    (flows, m)
}

#[test]
fn a_whole_tcp_connection_is_sf_with_zeeks_history_and_payload_sizes() {
    let (flows, m) = meter(
        MeterConfig::default(),
        &[
            (0.0, tcp(true, F::Syn, 100, b"")),
            (0.1, tcp(false, F::SynAck, 500, b"")),
            (0.2, tcp(true, F::Ack, 101, b"")),
            (0.3, tcp(true, F::Ack, 101, b"GET / HTTP/1.1\r\n\r\n")),
            (0.4, tcp(false, F::Ack, 501, &[b'x'; 300])),
            (0.5, tcp(true, F::Fin, 119, b"")),
            (0.6, tcp(false, F::Fin, 801, b"")),
        ],
    );
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert_eq!(f.proto, Protocol::Tcp);
    assert_eq!((f.orig_p, f.resp_p), (Some(40000), Some(80)));
    assert_eq!(f.conn_state, Some(ConnState::SF));
    assert_eq!(f.history.as_deref(), Some("ShADdFf"));
    assert_eq!(f.service.as_deref(), Some("http"));
    assert_eq!((f.orig_bytes, f.resp_bytes), (Some(18), Some(300)));
    assert_eq!((f.orig_pkts, f.resp_pkts), (Some(4), Some(3)));
    // IPv4 20 + TCP 20 bytes of headers a packet.
    assert_eq!(
        (f.orig_ip_bytes, f.resp_ip_bytes),
        (Some(4 * 40 + 18), Some(3 * 40 + 300))
    );
    assert_eq!(f.duration, Some(Interval(600_000_000)));
    assert_eq!(m.stats().flows, 1);
}

#[test]
fn an_unanswered_syn_ends_after_5_s_and_a_later_one_opens_another_connection() {
    let (flows, _) = meter(
        MeterConfig::default(),
        &[
            (0.0, tcp(true, F::Syn, 100, b"")),
            (1.0, tcp(true, F::Syn, 100, b"")),
            (3.0, tcp(true, F::Syn, 100, b"")),
            (7.0, tcp(true, F::Syn, 100, b"")),
        ],
    );
    let got: Vec<_> = flows
        .iter()
        .map(|f| {
            (
                f.conn_state.clone(),
                f.history.as_deref().map(str::to_owned),
                f.orig_pkts,
                f.orig_bytes,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some(ConnState::S0), Some("S".to_owned()), Some(3), Some(0)),
            // One packet: no duration, and no payload sizes, as Zeek logs it.
            (Some(ConnState::S0), Some("S".to_owned()), Some(1), None),
        ]
    );
}

#[test]
fn a_rejected_syn_is_rej() {
    let (flows, _) = meter(
        MeterConfig::default(),
        &[
            (0.0, tcp(true, F::Syn, 100, b"")),
            (0.01, tcp(false, F::Rst, 0, b"")),
        ],
    );
    assert_eq!(flows[0].conn_state, Some(ConnState::REJ));
    assert_eq!(flows[0].history.as_deref(), Some("Sr"));
}

#[test]
fn udp_dns_answered_is_sf_and_a_reply_seen_first_is_turned_around() {
    let dns = [0u8; 20];
    let (flows, _) = meter(
        MeterConfig::default(),
        &[
            (0.0, udp(true, 5555, 53, &dns)),
            (0.1, udp(false, 53, 5555, &dns)),
            // A server's answer first: the client is still the originator (`^`).
            (1.0, udp(false, 53, 40000, &dns)),
        ],
    );
    assert_eq!(flows.len(), 2, "{flows:#?}");
    assert_eq!(flows[0].conn_state, Some(ConnState::SF));
    assert_eq!(flows[0].history.as_deref(), Some("Dd"));
    assert_eq!(flows[0].service.as_deref(), Some("dns"));
    assert_eq!(flows[1].orig_p, Some(40000));
    assert_eq!(flows[1].resp_p, Some(53));
    assert_eq!(flows[1].conn_state, Some(ConnState::SHR));
    assert_eq!(flows[1].history.as_deref(), Some("^d"));
}

#[test]
fn a_full_table_ends_its_longest_idle_connection_and_loses_none() {
    let config = MeterConfig {
        max_conns: 2,
        ..MeterConfig::default()
    };
    let (flows, m) = meter(
        config,
        &[
            (0.0, udp(true, 1000, 9999, b"a")),
            (0.1, udp(true, 1001, 9999, b"b")),
            (0.2, udp(true, 1002, 9999, b"c")),
        ],
    );
    assert_eq!(flows.len(), 3);
    assert_eq!(m.stats().evicted, 1);
    assert_eq!(m.stats().packets, 3);
}

/// A full table ends the connection whose last packet is oldest, not the one opened first:
/// connections touched again stay, and each new one past the cap ends exactly one.
#[test]
fn a_full_table_ends_the_connection_idle_longest_not_the_first_opened() {
    let mut m = FlowMeter::new(MeterConfig {
        max_conns: 3,
        ..MeterConfig::default()
    });
    let mut evicted = Vec::new();
    let packets = [
        (0.0, 1000),
        (0.1, 1001),
        (0.2, 1002),
        (0.3, 1000), // 1000 is active again: 1001 is now idle longest
        (0.4, 1003), // ends 1001
        (0.5, 1001), // 1001 again, a new connection: ends 1002
        (0.6, 1004), // ends 1000
        (0.6, 1005), // ends 1003
        (0.7, 1006), // ends the second 1001 (opened while the table was full)
    ];
    for (t, sport) in packets {
        m.push(&Packet {
            ts: Timestamp((t * 1e9) as i64 + 1_700_000_000_000_000_000),
            linktype: 1,
            data: &udp(true, sport, 9999, b"x"),
        })
        .unwrap();
        evicted.extend(m.drain().iter().map(|f| f.orig_p.unwrap()));
    }
    assert_eq!(evicted, [1001, 1002, 1000, 1003, 1001]);
    assert_eq!(m.stats().evicted, 5);
    let rest: Vec<u16> = m.finish().iter().map(|f| f.orig_p.unwrap()).collect();
    assert_eq!(rest, [1004, 1005, 1006]);
}

#[test]
fn arp_is_counted_not_metered() {
    let mut arp = vec![0xff; 6];
    arp.extend([1; 6]);
    arp.extend([0x08, 0x06]);
    arp.extend([0; 28]);
    let mut m = FlowMeter::new(MeterConfig::default());
    let r = m.push(&Packet {
        ts: Timestamp(0),
        linktype: 1,
        data: &arp,
    });
    assert!(r.is_err());
    assert_eq!(
        (m.stats().packets, m.stats().not_ip, m.stats().flows),
        (1, 1, 0)
    );
    assert!(m.finish().is_empty());
}

#[test]
fn a_dns_exchange_ends_after_10_s_idle_as_zeeks_dns_sessions_do() {
    let dns = [0u8; 20];
    let (flows, _) = meter(
        MeterConfig::default(),
        &[
            (0.0, udp(true, 5555, 53, &dns)),
            (0.1, udp(false, 53, 5555, &dns)),
            // The same ports 15 s later: a new DNS session (one UDP flow under the 1 min
            // timeout of other UDP traffic).
            (15.0, udp(true, 5555, 53, &dns)),
        ],
    );
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[1].orig_pkts, Some(1));
}

#[test]
fn a_rst_after_a_fin_ends_the_connection_5_s_later() {
    let (flows, _) = meter(
        MeterConfig::default(),
        &[
            (0.0, tcp(true, F::Syn, 100, b"")),
            (0.1, tcp(false, F::SynAck, 500, b"")),
            (0.2, tcp(true, F::Ack, 101, b"")),
            (0.3, tcp(false, F::Fin, 501, b"")),
            (0.4, tcp(false, F::Rst, 502, b"")),
            // 10 s later, the same ports: a connection of its own.
            (10.4, tcp(true, F::Syn, 9000, b"")),
        ],
    );
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0].conn_state, Some(ConnState::RSTR));
    assert_eq!(flows[0].history.as_deref(), Some("ShAfr"));
    assert_eq!(flows[1].conn_state, Some(ConnState::S0));
}

#[test]
fn expire_ends_idle_connections_without_a_next_packet() {
    // A live capture gone quiet: the wall clock, not a packet, moves the meter's time.
    let base = 1_700_000_000_000_000_000i64;
    let mut m = FlowMeter::new(MeterConfig::default());
    let data = udp(true, 40000, 9999, b"hello");
    m.push(&Packet {
        ts: Timestamp(base),
        linktype: 1,
        data: &data,
    })
    .unwrap();
    // UDP idles out after 60 s: not yet at 60 s, ended past it.
    m.expire(Timestamp(base + 60_000_000_000));
    assert!(m.drain().is_empty());
    // A time before the last packet's changes nothing.
    m.expire(Timestamp(base - 1));
    assert!(m.drain().is_empty());
    m.expire(Timestamp(base + 60_000_000_001));
    let flows = m.drain();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].orig_pkts, Some(1));
    assert_eq!(m.stats().flows, 1);
    assert!(m.finish().is_empty());
}

#[test]
fn a_connections_end_moves_with_its_packets_as_expire_sees_it() {
    // The table keeps each connection's deadline beside it, set at its packets: an unanswered
    // SYN ends 5 s after it, an answered one after 5 min idle, a closed one 5 s after its
    // last packet. `expire` reads only the kept deadline.
    let base = 1_700_000_000_000_000_000i64;
    let at = |ms: i64| Timestamp(base + ms * 1_000_000);
    let mut m = FlowMeter::new(MeterConfig::default());
    let push = |m: &mut FlowMeter, ms: i64, data: Vec<u8>| {
        m.push(&Packet {
            ts: at(ms),
            linktype: 1,
            data: &data,
        })
        .unwrap();
    };
    push(&mut m, 0, tcp(true, F::Syn, 100, b""));
    push(&mut m, 4_000, tcp(false, F::SynAck, 500, b""));
    push(&mut m, 4_500, tcp(true, F::Ack, 101, b""));
    // Past the SYN's 5 s, within 5 min of the last packet: still open.
    m.expire(at(6_000));
    m.expire(at(304_500));
    assert!(m.drain().is_empty());
    push(&mut m, 304_500, tcp(true, F::Fin, 101, b""));
    push(&mut m, 304_600, tcp(false, F::Fin, 501, b""));
    m.expire(at(309_600));
    assert!(m.drain().is_empty());
    m.expire(at(309_700));
    let flows = m.drain();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].conn_state, Some(ConnState::SF));
    assert_eq!((flows[0].orig_pkts, flows[0].resp_pkts), (Some(3), Some(2)));
}
