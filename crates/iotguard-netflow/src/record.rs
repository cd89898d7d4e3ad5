//! Exported flows as [`FlowRecord`]s, with Zeek's conn.log meanings where NetFlow allows them.
//!
//! - NetFlow counts IP bytes (headers included): they go to `orig_ip_bytes`/`resp_ip_bytes`,
//!   as Argus's do. Payload bytes (`orig_bytes`) are the IP bytes less the smallest headers
//!   (IPv4 20, IPv6 40, plus UDP 8, TCP 20, ICMP 8) per packet: exact for UDP and ICMP, an
//!   upper bound for TCP (options such as timestamps add 12 bytes a packet).
//! - Zeek's `history` is written from what the flags and counts show, in Zeek's usual order
//!   (`ShADadFfRr`, upper case the originator): NetFlow keeps no order of events, so the
//!   letters are those Zeek would log, not always in the order it would log them.
//! - `service` is set where the port makes it near certain and Zeek's analyzers would name it
//!   from the payload: DNS (UDP 53, 5353, 5355) and DHCP (UDP 67, 68), as the flow meter does.
//! - A unidirectional record (v5, v9, IPFIX without RFC 5103) is one direction: its source is
//!   the originator, and nothing is known of the other direction (`resp_*` unset, no state).
//! - A biflow (IPFIX with reverse elements, `softflowd -b`) is a connection, but exporters
//!   order its ends by address, not by who spoke first. The source is taken for the responder
//!   when its port is one of Zeek's likely server ports and the destination's is not (the rule
//!   Zeek itself applies to connections seen without their first packet), or when neither is
//!   and only the destination's port is ephemeral (a C&C server on port 4975, say).
//! - The TCP state is read from the union of each direction's flags (NetFlow keeps no order):
//!   S0, REJ, S1, S2, S3, SF, RSTO, RSTR or OTH, as close to Zeek's as flags allow.

use std::net::IpAddr;

use compact_str::CompactString;
use iotguard_flow::{ConnState, FlowRecord, Interval, Protocol, Timestamp};

use crate::wire::ExportedFlow;

const FIN: u16 = 0x01;
const SYN: u16 = 0x02;
const RST: u16 = 0x04;
const ACK: u16 = 0x10;

/// Builds the record for one exported flow; `serial` makes its uid unique in the run.
pub fn to_record(f: &ExportedFlow, serial: u64) -> FlowRecord {
    let biflow = f.rev_packets.is_some() || f.rev_octets.is_some();
    let proto = match f.proto {
        Some(6) => Protocol::Tcp,
        Some(17) => Protocol::Udp,
        Some(1) | Some(58) => Protocol::Icmp,
        Some(n) => Protocol::Other(n.to_string().into()),
        None => Protocol::Unknown,
    };
    let icmp = matches!(proto, Protocol::Icmp);
    // ICMP: Zeek's ports are the type and code.
    let (sp, dp) = match (icmp, f.icmp_type_code) {
        (true, Some(tc)) => (Some(tc >> 8), Some(tc & 0xff)),
        (true, None) => (
            f.dst_port.map(|p| p >> 8).or(Some(0)),
            f.dst_port.map(|p| p & 0xff).or(Some(0)),
        ),
        _ => (f.src_port, f.dst_port),
    };
    let mut o = End {
        addr: f.src,
        port: sp,
        pkts: f.packets,
        octets: f.octets,
        flags: f.tcp_flags.unwrap_or(0),
    };
    let mut r = End {
        addr: f.dst,
        port: dp,
        pkts: f.rev_packets.or(biflow.then_some(0)),
        octets: f.rev_octets.or(biflow.then_some(0)),
        flags: f.rev_tcp_flags.unwrap_or(0),
    };
    let turned = biflow && !icmp && server_first(o.port, r.port);
    if turned {
        std::mem::swap(&mut o, &mut r);
    }
    let start = f.start_ms.unwrap_or(0);
    let end = f.end_ms.unwrap_or(start).max(start);
    let conn_state = if biflow {
        Some(state(&proto, &o, &r))
    } else {
        None
    };
    let v6 = matches!(o.addr, Some(IpAddr::V6(_)));
    let header = if v6 { 40 } else { 20 }
        + match proto {
            Protocol::Tcp => 20,
            Protocol::Udp | Protocol::Icmp => 8,
            _ => 0,
        };
    let payload = |e: &End| match (e.octets, e.pkts) {
        (Some(b), Some(n)) => Some(b.saturating_sub(n.saturating_mul(header))),
        _ => None,
    };
    let (ob, rb) = (payload(&o), payload(&r));
    let service = match proto {
        Protocol::Udp => [o.port, r.port].iter().flatten().find_map(|p| match p {
            53 | 5353 | 5355 => Some("dns"),
            67 | 68 => Some("dhcp"),
            _ => None,
        }),
        _ => None,
    };
    let history = history(&proto, &o, &r, ob, rb);
    FlowRecord {
        ts: Timestamp::from_millis(start),
        uid: Some(format!("N{serial:x}").into()),
        orig_h: o.addr,
        orig_p: o.port,
        resp_h: r.addr,
        resp_p: r.port,
        proto,
        duration: Some(Interval(
            end.saturating_sub(start).saturating_mul(1_000_000),
        )),
        orig_bytes: ob,
        resp_bytes: rb,
        service: service.map(CompactString::const_new),
        history: Some(history.into()),
        conn_state,
        orig_pkts: o.pkts,
        orig_ip_bytes: o.octets,
        resp_pkts: r.pkts,
        resp_ip_bytes: r.octets,
        ..FlowRecord::default()
    }
}

/// Whether a biflow listed with ends `(a, b)` has its server first: `a` is one of Zeek's
/// likely server ports and `b` is not, or neither is and only `b` is ephemeral (32768 and up,
/// where Linux and most IoT stacks pick client ports).
fn server_first(a: Option<u16>, b: Option<u16>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return false;
    };
    let likely = iotguard_packets::likely_server_port;
    match (likely(a), likely(b)) {
        (true, false) => true,
        (false, false) => a < 32768 && b >= 32768,
        _ => false,
    }
}

/// One direction of a flow.
struct End {
    addr: Option<IpAddr>,
    port: Option<u16>,
    pkts: Option<u64>,
    octets: Option<u64>,
    flags: u16,
}

/// Zeek's history letters that the flags and counts show, in Zeek's usual order.
fn history(proto: &Protocol, o: &End, r: &End, ob: Option<u64>, rb: Option<u64>) -> String {
    let mut h = String::new();
    let sent = |e: &End| e.pkts.unwrap_or(0) > 0;
    if !matches!(proto, Protocol::Tcp) {
        if sent(o) {
            h.push('D');
        }
        if sent(r) {
            h.push('d');
        }
        return h;
    }
    let (of, rf) = (o.flags, r.flags);
    let mut put = |cond: bool, c: char| {
        if cond {
            h.push(c);
        }
    };
    put(of & SYN != 0, 'S');
    put(rf & SYN != 0 && rf & ACK != 0, 'h');
    put(of & ACK != 0, 'A');
    put(ob.unwrap_or(0) > 0, 'D');
    put(rf & ACK != 0 && rf & SYN == 0, 'a');
    put(rb.unwrap_or(0) > 0, 'd');
    put(of & FIN != 0, 'F');
    put(rf & FIN != 0, 'f');
    put(of & RST != 0, 'R');
    put(rf & RST != 0, 'r');
    h
}

/// The connection state a biflow's flags allow.
fn state(proto: &Protocol, o: &End, r: &End) -> ConnState {
    let answered = r.pkts.unwrap_or(0) > 0;
    if !matches!(proto, Protocol::Tcp) {
        return if answered {
            ConnState::SF
        } else {
            ConnState::S0
        };
    }
    let (of, rf) = (o.flags, r.flags);
    if of & SYN == 0 {
        return ConnState::OTH;
    }
    if !answered {
        return ConnState::S0;
    }
    if rf & RST != 0 && rf & SYN == 0 {
        return ConnState::REJ;
    }
    let established = rf & SYN != 0 && rf & ACK != 0;
    if !established {
        return ConnState::OTH;
    }
    match (of & FIN != 0, rf & FIN != 0, of & RST != 0, rf & RST != 0) {
        (_, _, true, _) => ConnState::RSTO,
        (_, _, _, true) => ConnState::RSTR,
        (true, true, _, _) => ConnState::SF,
        (true, false, _, _) => ConnState::S2,
        (false, true, _, _) => ConnState::S3,
        _ => ConnState::S1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn biflow(sport: u16, dport: u16, flags: u16, rev_flags: u16, rev_pkts: u64) -> ExportedFlow {
        ExportedFlow {
            src: Some("10.0.0.1".parse().unwrap()),
            dst: Some("10.0.0.2".parse().unwrap()),
            src_port: Some(sport),
            dst_port: Some(dport),
            proto: Some(6),
            packets: Some(5),
            octets: Some(300),
            tcp_flags: Some(flags),
            rev_packets: Some(rev_pkts),
            rev_octets: Some(rev_pkts * 60),
            rev_tcp_flags: Some(rev_flags),
            start_ms: Some(1_000),
            end_ms: Some(3_500),
            ..ExportedFlow::default()
        }
    }

    #[test]
    fn a_biflow_listed_server_first_is_turned_around() {
        let r = to_record(&biflow(443, 53044, SYN | ACK | FIN, SYN | ACK | FIN, 8), 1);
        assert_eq!(r.orig_p, Some(53044));
        assert_eq!(r.resp_p, Some(443));
        assert_eq!(r.orig_h, Some("10.0.0.2".parse().unwrap()));
        assert_eq!((r.orig_pkts, r.resp_pkts), (Some(8), Some(5)));
        assert_eq!((r.orig_ip_bytes, r.resp_ip_bytes), (Some(480), Some(300)));
        assert_eq!(r.conn_state, Some(ConnState::SF));
        // 8 packets of 60 bytes, 5 of 60: all headers (IPv4 + TCP, 40 bytes) and 20 bytes each.
        assert_eq!((r.orig_bytes, r.resp_bytes), (Some(160), Some(100)));
        assert_eq!(r.history.as_deref(), Some("ShADdFf"));
        assert_eq!(r.duration, Some(Interval(2_500_000_000)));
        assert_eq!(r.ts, Timestamp::from_millis(1_000));
    }

    #[test]
    fn a_server_on_an_unlisted_port_is_told_by_the_clients_ephemeral_port() {
        let r = to_record(&biflow(4975, 50642, SYN | ACK, SYN, 1), 1);
        assert_eq!((r.orig_p, r.resp_p), (Some(50642), Some(4975)));
        let r = to_record(&biflow(50642, 4975, SYN, SYN | ACK, 1), 1);
        assert_eq!((r.orig_p, r.resp_p), (Some(50642), Some(4975)));
    }

    #[test]
    fn tcp_states_from_flags() {
        let cases = [
            (SYN, 0, 0, ConnState::S0),
            (SYN, RST | ACK, 1, ConnState::REJ),
            (SYN | ACK, SYN | ACK, 3, ConnState::S1),
            (SYN | ACK | FIN, SYN | ACK, 3, ConnState::S2),
            (SYN | ACK, SYN | ACK | FIN, 3, ConnState::S3),
            (SYN | ACK | RST, SYN | ACK, 3, ConnState::RSTO),
            (SYN | ACK, SYN | ACK | RST, 3, ConnState::RSTR),
            (ACK, ACK, 3, ConnState::OTH),
        ];
        for (f, rf, rp, want) in cases {
            let r = to_record(&biflow(40000, 23, f, rf, rp), 1);
            assert_eq!(r.conn_state, Some(want), "flags {f:#x}/{rf:#x}");
        }
    }

    #[test]
    fn a_one_way_record_says_nothing_of_the_other_direction() {
        let f = ExportedFlow {
            rev_packets: None,
            rev_octets: None,
            rev_tcp_flags: None,
            ..biflow(443, 53044, SYN, 0, 0)
        };
        let r = to_record(&f, 1);
        assert_eq!((r.orig_p, r.resp_p), (Some(443), Some(53044)));
        assert_eq!((r.resp_pkts, r.conn_state), (None, None));
    }
}
