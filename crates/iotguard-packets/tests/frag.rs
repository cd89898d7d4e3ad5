//! IP fragment reassembly in the flow meter (issue 14), on datagrams built here and cut into
//! fragments: in order, out of order, duplicated, overlapping, incomplete, IPv6, over the
//! bounds; exact flows and counters. A reassembled datagram is one packet of its flow with the
//! datagram's IP length, as in Zeek's conn.log, so a fragmented capture gives the flows of the
//! same capture unfragmented.

use etherparse::PacketBuilder;
use iotguard_flow::{ConnState, FlowRecord, Interval, Protocol, Timestamp};
use iotguard_packets::pcap::Packet;
use iotguard_packets::{FlowMeter, MeterConfig, MeterStats};
use proptest::prelude::*;

const A: [u8; 4] = [192, 168, 1, 10];
const B: [u8; 4] = [203, 0, 113, 5];
const A6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a,
];
const B6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
];
const SEC: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * SEC;

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

fn tcp_syn(from_a: bool, ack: bool, seq: u32) -> Vec<u8> {
    let (src, dst, sp, dp) = if from_a {
        (A, B, 40000, 80)
    } else {
        (B, A, 80, 40000)
    };
    let b = PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, seq, 1024)
        .syn();
    let b = if ack { b.ack(1) } else { b };
    let mut out = Vec::new();
    b.write(&mut out, &[]).unwrap();
    out
}

fn tcp_ack(from_a: bool, seq: u32, fin: bool, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sp, dp) = if from_a {
        (A, B, 40000, 80)
    } else {
        (B, A, 80, 40000)
    };
    let b = PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, seq, 1024)
        .ack(1);
    let b = if fin { b.fin() } else { b };
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

fn udp6(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv6(A6, B6, 64)
        .udp(sp, dp)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One IPv4 fragment of an Ethernet frame's datagram: payload bytes `from..to`, MF as given.
fn v4_piece(frame: &[u8], id: u16, from: usize, to: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let mut h = frame[14..14 + ihl].to_vec();
    h[2..4].copy_from_slice(&((ihl + to - from) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    let flags = if more { 0x2000 } else { 0 } | (from / 8) as u16;
    h[6..8].copy_from_slice(&flags.to_be_bytes());
    h[10..12].copy_from_slice(&[0, 0]);
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    let mut out = frame[..14].to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&data[from..to]);
    out
}

/// Cuts an Ethernet IPv4 frame's datagram at these payload offsets (multiples of 8).
fn fragment_v4(frame: &[u8], id: u16, cuts: &[usize]) -> Vec<Vec<u8>> {
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    let data = &frame[14 + ihl..14 + total];
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(data.len());
    bounds
        .windows(2)
        .map(|w| v4_piece(frame, id, w[0], w[1], w[1] < data.len(), data))
        .collect()
}

/// Cuts an Ethernet IPv6 frame's datagram at these payload offsets, with a fragment header.
fn fragment_v6(frame: &[u8], id: u32, cuts: &[usize]) -> Vec<Vec<u8>> {
    let next = frame[14 + 6];
    let data = &frame[14 + 40..];
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(data.len());
    bounds
        .windows(2)
        .map(|w| {
            let (from, to) = (w[0], w[1]);
            let more = to < data.len();
            let mut out = frame[..14 + 40].to_vec();
            out[14 + 4..14 + 6].copy_from_slice(&((8 + to - from) as u16).to_be_bytes());
            out[14 + 6] = 44;
            out.extend_from_slice(&[next, 0]);
            out.extend_from_slice(&((from as u16) | u16::from(more)).to_be_bytes());
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&data[from..to]);
            out
        })
        .collect()
}

fn run(config: MeterConfig, packets: &[(f64, Vec<u8>)]) -> (Vec<FlowRecord>, MeterStats) {
    let mut m = FlowMeter::new(config);
    for (t, data) in packets {
        let _ = m.push(&Packet {
            ts: Timestamp(T0 + (t * 1e9) as i64),
            linktype: 1,
            data,
        });
    }
    let flows = m.finish();
    let stats = m.stats().clone();
    check_accounting(&flows, &stats);
    (flows, stats)
}

/// MeterStats' two identities: every packet accounted once, and the flows' packets.
fn check_accounting(flows: &[FlowRecord], s: &MeterStats) {
    assert_eq!(
        s.in_flows
            + s.not_ip
            + s.unknown_linktype
            + s.malformed
            + s.frag_pending
            + s.frag_timed_out
            + s.frag_evicted
            + s.frag_unfinished
            + s.frag_rejected,
        s.packets,
        "{s:?}"
    );
    let pkts: u64 = flows
        .iter()
        .map(|f| f.orig_pkts.unwrap_or(0) + f.resp_pkts.unwrap_or(0))
        .sum();
    assert_eq!(
        pkts,
        s.in_flows - s.frag_in_flows + s.frag_datagrams,
        "{s:?}"
    );
    assert_eq!(s.flows, flows.len() as u64);
}

fn at(t: f64, frames: Vec<Vec<u8>>) -> Vec<(f64, Vec<u8>)> {
    frames.into_iter().map(|f| (t, f)).collect()
}

/// A 1,000-byte UDP datagram from A:5000 cut in three (400, 400 and 208 bytes of IP payload),
/// and B's 10-byte answer one second later, whole.
fn udp_exchange(order: &[usize]) -> Vec<(f64, Vec<u8>)> {
    let frags = fragment_v4(&udp(true, 5000, 6000, &[7; 1000]), 0x1234, &[400, 800]);
    let mut packets: Vec<(f64, Vec<u8>)> = order.iter().map(|&i| (0.0, frags[i].clone())).collect();
    packets.push((1.0, udp(false, 6000, 5000, &[9; 10])));
    packets
}

#[test]
fn a_fragmented_udp_datagram_is_one_packet_of_its_flow_with_its_ports_and_bytes() {
    let (flows, s) = run(MeterConfig::default(), &udp_exchange(&[0, 1, 2]));
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert_eq!(f.proto, Protocol::Udp);
    assert_eq!((f.orig_p, f.resp_p), (Some(5000), Some(6000)));
    assert_eq!(f.ts, Timestamp(T0));
    assert_eq!(f.duration, Some(Interval(SEC)));
    // Zeek: one packet, the reassembled datagram's IP length (20 + 8 + 1,000).
    assert_eq!(
        (f.orig_pkts, f.orig_ip_bytes, f.orig_bytes),
        (Some(1), Some(1_028), Some(1_000))
    );
    assert_eq!(
        (f.resp_pkts, f.resp_ip_bytes, f.resp_bytes),
        (Some(1), Some(38), Some(10))
    );
    assert_eq!(f.conn_state, Some(ConnState::SF));
    assert_eq!(f.history.as_deref(), Some("Dd"));
    assert_eq!(
        (
            s.packets,
            s.in_flows,
            s.fragments,
            s.frag_datagrams,
            s.frag_in_flows,
            s.frag_pending
        ),
        (4, 4, 3, 1, 3, 0)
    );
}

#[test]
fn fragments_out_of_order_or_repeated_give_the_same_flow() {
    let (in_order, _) = run(MeterConfig::default(), &udp_exchange(&[0, 1, 2]));
    for order in [&[2, 1, 0][..], &[1, 2, 0], &[2, 0, 1]] {
        let (flows, s) = run(MeterConfig::default(), &udp_exchange(order));
        assert_eq!(flows, in_order, "{order:?}");
        assert_eq!((s.frag_datagrams, s.frag_overlapping), (1, 0));
    }
    // A duplicate is an overlap with the same bytes (Zeek's fragment_overlap): counted, and
    // the datagram still one packet.
    let (flows, s) = run(MeterConfig::default(), &udp_exchange(&[0, 1, 1, 2]));
    assert_eq!(flows, in_order);
    assert_eq!(
        (
            s.packets,
            s.in_flows,
            s.frag_in_flows,
            s.frag_overlapping,
            s.frag_inconsistent
        ),
        (5, 5, 4, 1, 0)
    );
    // The last fragment twice, after the datagram is complete: the second starts a datagram
    // of its own that never completes.
    let (flows, s) = run(MeterConfig::default(), &udp_exchange(&[0, 1, 2, 2]));
    assert_eq!(flows, in_order);
    assert_eq!((s.frag_datagrams, s.frag_unfinished), (1, 1));
}

#[test]
fn an_overlap_with_other_bytes_keeps_the_data_that_came_first_as_zeek_does() {
    // A TCP data segment to port 80 cut in two; then a forged first fragment with another
    // destination port (an evasion): the first copy's header stays.
    let seg = tcp_ack(true, 1, false, &[b'x'; 600]);
    let frags = fragment_v4(&seg, 7, &[304]);
    let mut forged = frags[0].clone();
    let tcp = 14 + 20;
    forged[tcp + 2..tcp + 4].copy_from_slice(&4444u16.to_be_bytes());
    let (flows, s) = run(
        MeterConfig::default(),
        &at(0.0, vec![frags[0].clone(), forged, frags[1].clone()]),
    );
    assert_eq!(flows.len(), 1);
    assert_eq!((flows[0].orig_p, flows[0].resp_p), (Some(40000), Some(80)));
    assert_eq!(
        (flows[0].orig_pkts, flows[0].orig_ip_bytes),
        (Some(1), Some(640))
    );
    assert_eq!(
        (s.frag_inconsistent, s.frag_overlapping, s.frag_in_flows),
        (1, 0, 3)
    );
    // A fragment overlapping two others in part (bytes 296..312 of 600 + 20): same bytes.
    let payload = &seg[tcp..];
    let middle = v4_piece(&seg, 7, 296, 312, true, payload);
    let (flows2, s) = run(
        MeterConfig::default(),
        &at(0.0, vec![frags[1].clone(), middle, frags[0].clone()]),
    );
    assert_eq!(flows2.len(), 1);
    assert_eq!(
        (flows2[0].orig_p, flows2[0].orig_ip_bytes),
        (Some(40000), Some(640))
    );
    assert_eq!(
        (s.frag_overlapping, s.frag_inconsistent, s.frag_datagrams),
        (2, 0, 1)
    );
}

#[test]
fn a_fragment_of_another_protocol_is_inconsistent_and_the_first_fragments_protocol_wins() {
    let frags = fragment_v4(&udp(true, 5000, 6000, &[7; 1000]), 3, &[400, 800]);
    let mut tcp_middle = frags[1].clone();
    tcp_middle[14 + 9] = 6;
    let (flows, s) = run(
        MeterConfig::default(),
        &at(0.0, vec![tcp_middle, frags[0].clone(), frags[2].clone()]),
    );
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].proto, Protocol::Udp);
    assert_eq!(
        (flows[0].orig_p, flows[0].orig_ip_bytes),
        (Some(5000), Some(1_028))
    );
    assert_eq!(
        (s.frag_inconsistent, s.frag_datagrams, s.frag_in_flows),
        (1, 1, 3)
    );
}

#[test]
fn a_fragmented_tcp_segment_counts_as_the_whole_segment_would() {
    let whole = tcp_ack(true, 1, false, &[b'y'; 1_200]);
    let conn = |data: Vec<Vec<u8>>| {
        let mut p = vec![
            (0.0, tcp_syn(true, false, 0)),
            (0.1, tcp_syn(false, true, 0)),
            (0.2, tcp_ack(true, 1, false, &[])),
        ];
        p.extend(at(0.3, data));
        p.push((0.4, tcp_ack(false, 1, false, &[])));
        p.push((0.5, tcp_ack(true, 1_201, true, &[])));
        p.push((0.6, tcp_ack(false, 1, true, &[])));
        p
    };
    let (plain, _) = run(MeterConfig::default(), &conn(vec![whole.clone()]));
    let (flows, s) = run(
        MeterConfig::default(),
        &conn(fragment_v4(&whole, 99, &[16, 512, 1_000])),
    );
    assert_eq!(flows, plain);
    let f = &flows[0];
    assert_eq!((f.orig_p, f.resp_p), (Some(40000), Some(80)));
    assert_eq!(
        (f.orig_pkts, f.orig_ip_bytes, f.orig_bytes),
        (Some(4), Some(1_360), Some(1_200))
    );
    assert_eq!(f.history.as_deref(), Some("ShADaFf"));
    assert_eq!(f.conn_state, Some(ConnState::SF));
    assert_eq!(
        (s.packets, s.fragments, s.frag_in_flows, s.frag_datagrams),
        (10, 4, 4, 1)
    );
}

#[test]
fn a_datagram_missing_its_last_fragment_times_out_after_5_min_counted() {
    let frags = fragment_v4(&udp(true, 5000, 6000, &[7; 1000]), 1, &[400, 800]);
    let mut p = at(0.0, frags[..2].to_vec());
    p.push((299.0, udp(true, 7000, 53, &[1; 20])));
    let mut m = FlowMeter::new(MeterConfig::default());
    let push = |m: &mut FlowMeter, (t, data): &(f64, Vec<u8>)| {
        let _ = m.push(&Packet {
            ts: Timestamp(T0 + (t * 1e9) as i64),
            linktype: 1,
            data,
        });
    };
    for packet in &p {
        push(&mut m, packet);
    }
    assert_eq!((m.stats().frag_pending, m.stats().frag_timed_out), (2, 0));
    // 5 min after the first fragment, the meter's clock moved on by a packet: dropped.
    push(&mut m, &(300.5, udp(true, 7000, 53, &[1; 20])));
    assert_eq!((m.stats().frag_pending, m.stats().frag_timed_out), (0, 2));
    // The last fragment, too late: a datagram of its own, unfinished when the capture ends.
    push(&mut m, &(301.0, frags[2].clone()));
    let flows = m.finish();
    let s = m.stats().clone();
    check_accounting(&flows, &s);
    assert_eq!(
        (
            s.packets,
            s.in_flows,
            s.frag_timed_out,
            s.frag_unfinished,
            s.frag_pending
        ),
        (5, 2, 2, 1, 0)
    );
    assert!(flows.iter().all(|f| f.orig_p == Some(7000)), "{flows:?}");
    // Without a later packet, `expire` moves the clock and drops it just the same.
    let mut m = FlowMeter::new(MeterConfig::default());
    push(&mut m, &(0.0, frags[0].clone()));
    m.expire(Timestamp(T0 + 301 * SEC));
    assert_eq!((m.stats().frag_pending, m.stats().frag_timed_out), (0, 1));
}

#[test]
fn ipv6_fragments_reassemble_and_the_fragment_header_is_not_counted() {
    let whole = udp6(5353, 5353, &[3; 1_500]);
    let (plain, _) = run(MeterConfig::default(), &[(0.0, whole.clone())]);
    let frags = fragment_v6(&whole, 0xdead_beef, &[512, 1_024]);
    let mut backwards = frags.clone();
    backwards.reverse();
    for order in [frags, backwards] {
        let (flows, s) = run(MeterConfig::default(), &at(0.0, order));
        assert_eq!(flows, plain);
        assert_eq!(flows[0].proto, Protocol::Udp);
        assert_eq!((flows[0].orig_p, flows[0].resp_p), (Some(5353), Some(5353)));
        // 40 + 8 + 1,500: the three fragment headers are not in the datagram.
        assert_eq!(
            (flows[0].orig_pkts, flows[0].orig_ip_bytes),
            (Some(1), Some(1_548))
        );
        assert_eq!((s.fragments, s.frag_in_flows, s.frag_datagrams), (3, 3, 1));
    }
}

#[test]
fn reassembly_is_bounded_in_datagrams_and_bytes_and_counts_what_it_drops() {
    let first = |id: u16| fragment_v4(&udp(true, 5000, 6000, &[7; 1000]), id, &[400])[0].clone();
    let config = MeterConfig {
        max_frag_datagrams: 2,
        ..MeterConfig::default()
    };
    let (_, s) = run(config, &at(0.0, vec![first(1), first(2), first(3)]));
    assert_eq!(
        (s.frag_evicted, s.frag_unfinished, s.frag_pending),
        (1, 2, 0)
    );
    // Bytes: each first fragment holds 400 bytes (or more, as Vec grows); a bound of 1,000
    // holds two at most.
    let config = MeterConfig {
        max_frag_bytes: 1_000,
        ..MeterConfig::default()
    };
    let (_, s) = run(
        config.clone(),
        &at(0.0, vec![first(1), first(2), first(3), first(4)]),
    );
    assert!(s.frag_evicted >= 2, "{s:?}");
    assert_eq!(s.frag_evicted + s.frag_unfinished, 4);
    // A datagram that alone passes the bound is dropped, the others kept.
    let big = fragment_v4(&udp(true, 1, 2, &[0; 3_000]), 9, &[2_000])[0].clone();
    let (_, s) = run(config, &at(0.0, vec![first(1), big]));
    assert_eq!((s.frag_evicted, s.frag_unfinished), (1, 1));
}

#[test]
fn fragments_inconsistent_with_their_datagram_are_rejected_and_counted() {
    let dg = udp(true, 5000, 6000, &[7; 1000]);
    let payload = dg[34..].to_vec();
    let frags = fragment_v4(&dg, 5, &[400, 800]);
    // After the last fragment (end 1,008), a fragment past it; one not a multiple of 8 bytes
    // before the end; a second last fragment with another end.
    let longer = [payload.clone(), vec![0; 8]].concat();
    let past = v4_piece(&dg, 5, 800, 1_016, true, &longer);
    let odd = v4_piece(&dg, 5, 400, 405, true, &payload);
    let other_end = v4_piece(&dg, 5, 800, 1_000, false, &payload);
    let (flows, s) = run(
        MeterConfig::default(),
        &at(
            0.0,
            vec![
                frags[2].clone(),
                past,
                odd,
                other_end,
                frags[0].clone(),
                frags[1].clone(),
            ],
        ),
    );
    assert_eq!(s.frag_rejected, 3, "{s:?}");
    assert_eq!((s.packets, s.frag_datagrams, s.frag_in_flows), (6, 1, 3));
    assert_eq!(
        (flows[0].orig_pkts, flows[0].orig_ip_bytes),
        (Some(1), Some(1_028))
    );
}

/// Capture 42-1 with every IPv4 packet over 576 bytes cut into fragments of at most 576 (every
/// other one's fragments sent last first) gives exactly the flows of the capture as it is.
#[test]
fn capture_42_1_fragmented_gives_the_flows_of_the_capture_whole() {
    let Some(data) = iotguard_testkit::shared_data("capture_42_1_fragmented") else {
        return;
    };
    let bytes = std::fs::read(data.join("iot23/CTU-IoT-Malware-Capture-42-1.pcap")).unwrap();
    let mut packets: Vec<(Timestamp, Vec<u8>)> = Vec::new();
    let _ = iotguard_packets::read_pcap(&bytes[..], |p| packets.push((p.ts, p.data.to_vec())));
    assert_eq!(packets.len(), 24_484);
    let meter = |packets: &[(Timestamp, Vec<u8>)]| {
        let mut m = FlowMeter::new(MeterConfig::default());
        for (ts, data) in packets {
            let _ = m.push(&Packet {
                ts: *ts,
                linktype: 1,
                data,
            });
        }
        let flows = m.finish();
        check_accounting(&flows, m.stats());
        (flows, m.stats().clone())
    };
    let (whole, whole_stats) = meter(&packets);
    let mut cut = Vec::new();
    let mut split = 0;
    for (ts, frame) in &packets {
        let v4 = frame.len() > 34 && frame[12..14] == [8, 0];
        let total = if v4 {
            usize::from(u16::from_be_bytes([frame[16], frame[17]]))
        } else {
            0
        };
        if total <= 576 {
            cut.push((*ts, frame.clone()));
            continue;
        }
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        let step = (576 - ihl) / 8 * 8;
        let cuts: Vec<usize> = (1..)
            .map(|i| i * step)
            .take_while(|&c| c < total - ihl)
            .collect();
        let mut frags = fragment_v4(frame, split as u16, &cuts);
        if split % 2 == 1 {
            frags.reverse();
        }
        split += 1;
        cut.extend(frags.into_iter().map(|f| (*ts, f)));
    }
    let (flows, s) = meter(&cut);
    assert_eq!((split, cut.len()), (306, 25_126));
    assert_eq!(flows.len(), 4_426);
    assert_eq!(flows, whole);
    assert_eq!(
        (
            s.packets,
            s.in_flows,
            s.fragments,
            s.frag_in_flows,
            s.frag_datagrams
        ),
        (25_126, 22_748 + 948 - 306, 948, 948, 306)
    );
    assert_eq!(
        (
            s.frag_pending,
            s.frag_timed_out,
            s.frag_evicted,
            s.frag_unfinished,
            s.frag_rejected
        ),
        (0, 0, 0, 0, 0)
    );
    assert_eq!((whole_stats.in_flows, whole_stats.fragments), (22_748, 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any cut of a datagram into fragments (at multiples of 8), sent in any order, some sent
    /// twice before it completes, reassembles to the flow of the datagram sent whole.
    #[test]
    fn any_split_in_any_order_gives_the_flow_of_the_whole_datagram(
        len in 1usize..3_000,
        tcp in any::<bool>(),
        cuts in proptest::collection::vec(1usize..400, 1..12),
        keys in proptest::collection::vec(any::<u32>(), 16),
        repeat in proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
    ) {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let whole = if tcp {
            tcp_ack(true, 1, false, &payload)
        } else {
            udp(true, 5000, 6000, &payload)
        };
        let ip_payload = whole.len() - 34;
        // The first cut always falls inside the payload (a multiple of 8 below it), so every
        // case has two fragments or more: drawing cuts past the end and rejecting them made
        // more than 1,024 rejects at 1,000 cases.
        let mut at_ = 8 * (1 + (cuts[0] - 1) % ((ip_payload - 1) / 8));
        let mut bounds = vec![at_];
        for c in &cuts[1..] {
            at_ += c * 8;
            if at_ >= ip_payload {
                break;
            }
            bounds.push(at_);
        }
        let frags = fragment_v4(&whole, 42, &bounds);
        prop_assert!(frags.len() > 1);
        // Any order: the fragments sorted by random keys.
        let mut keyed: Vec<(u32, usize, Vec<u8>)> = frags
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, f)| (keys[i % keys.len()], i, f))
            .collect();
        keyed.sort();
        // Some sent twice, first: fragments before the last, so that the copies alone never
        // complete the datagram (a copy after it completes would start a datagram of its own,
        // as in Zeek).
        let before_last = &frags[..frags.len() - 1];
        let mut sent: Vec<Vec<u8>> = repeat
            .iter()
            .map(|r| before_last[r.index(before_last.len())].clone())
            .collect();
        sent.extend(keyed.into_iter().map(|(_, _, f)| f));
        let (plain, _) = run(MeterConfig::default(), &[(0.0, whole.clone())]);
        let (flows, s) = run(MeterConfig::default(), &at(0.0, sent));
        prop_assert_eq!(flows, plain);
        prop_assert_eq!(s.frag_datagrams, 1);
        prop_assert_eq!(s.frag_inconsistent, 0);
    }
}
