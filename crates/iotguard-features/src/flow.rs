//! Per-flow features: what one conn record says about itself, with no state.
//!
//! Encoding choices:
//! - Counts (bytes, packets, missed bytes) are `ln(1 + x)`: they span nine orders of magnitude,
//!   and the log scale suits distance- and gradient-based models while trees do not care.
//! - Ratios are `ln((resp + 1) / (orig + 1))` (0 = symmetric; sign = direction).
//! - The payload share (`orig_bytes / orig_ip_bytes`) can exceed 1: Zeek counts payload from
//!   sequence numbers, so bytes the sensor missed are in the numerator but not the denominator.
//! - An unset numeric input (`-` in Zeek) is `NaN`, never 0; an undefined ratio (division by a
//!   zero packet or IP byte count) is `NaN` too.
//! - Categories are one-hot. An unset category (no `conn_state`, no `service`) is all zeros; a
//!   value outside the known list sets the `.other` column.
//! - Zeek history: one indicator per letter and direction (upper case = originator), plus the
//!   string length (`NaN` if unset) and the direction-flip mark `^`.
//! - Ports: classes (well known < 1024, registered < 49152, ephemeral) for both ends, and
//!   indicators for responder ports that IoT malware and IoT devices use. For ICMP the "ports" are
//!   the type and code: the classes and indicators are 0 and `icmp_type`/`icmp_code` are set.
//! - Address-derived classes (IPv6, multicast/broadcast responder) are allowed; the addresses
//!   themselves, the uid and the timestamp never are.

use std::net::IpAddr;

use iotguard_flow::{ConnState, FlowRecord, Protocol};

/// Numeric per-flow features, in order.
const NUMERIC: [&str; 18] = [
    "duration_s",
    "orig_bytes_log1p",
    "resp_bytes_log1p",
    "orig_pkts_log1p",
    "resp_pkts_log1p",
    "orig_ip_bytes_log1p",
    "resp_ip_bytes_log1p",
    "missed_bytes_log1p",
    "bytes_ratio_log",
    "pkts_ratio_log",
    "orig_bytes_per_pkt",
    "resp_bytes_per_pkt",
    "orig_payload_share",
    "resp_payload_share",
    "local_orig",
    "local_resp",
    "ipv6",
    "resp_multicast",
];

const PROTOS: [&str; 4] = ["tcp", "udp", "icmp", "other"];

/// Zeek history letters and what they mean (the lower-case letter; upper case is the originator).
const HISTORY: [(u8, &str); 12] = [
    (b's', "syn"),
    (b'h', "synack"),
    (b'a', "ack"),
    (b'd', "data"),
    (b'f', "fin"),
    (b'r', "rst"),
    (b'c', "badsum"),
    (b'g', "gap"),
    (b't', "retrans"),
    (b'w', "zerowin"),
    (b'i', "inconsistent"),
    (b'q', "multiflag"),
];

/// Services with a column of their own (Zeek analyzer names); others set `service.other`.
const SERVICES: [&str; 13] = [
    "dns", "http", "ssl", "ssh", "dhcp", "ntp", "irc", "ftp", "smtp", "snmp", "sip", "mqtt", "quic",
];

const PORT_CLASSES: [&str; 3] = ["well_known", "registered", "ephemeral"];

/// Responder ports with an indicator: telnet (23, 2323: Mirai), ssh, http, https, dns, ntp,
/// Huawei HG532 UPnP (37215), SSDP (1900), mDNS (5353), TR-069 (7547), alt-http (8080),
/// MQTT (1883), ADB (5555).
const IOT_PORTS: [u16; 14] = [
    23, 2323, 22, 80, 443, 53, 123, 37215, 1900, 5353, 7547, 8080, 1883, 5555,
];

/// Number of per-flow features.
pub(crate) const FLOW_LEN: usize = NUMERIC.len()
    + PROTOS.len()
    + ConnState::ZEEK.len()
    + 1 // conn_state.other
    + 1 // failed
    + 2 // history_len, history.flipped
    + 2 * HISTORY.len()
    + SERVICES.len()
    + 1 // service.other
    + 2 * PORT_CLASSES.len()
    + IOT_PORTS.len()
    + 2; // icmp_type, icmp_code

/// Appends the per-flow feature names, in vector order.
pub(crate) fn names(out: &mut Vec<String>) {
    out.extend(NUMERIC.iter().map(|s| s.to_string()));
    out.extend(PROTOS.iter().map(|p| format!("proto.{p}")));
    out.extend(ConnState::ZEEK.iter().map(|s| format!("conn_state.{s}")));
    out.push("conn_state.other".into());
    out.push("failed".into());
    out.push("history_len".into());
    out.push("history.flipped".into());
    for side in ["orig", "resp"] {
        out.extend(HISTORY.iter().map(|(_, n)| format!("history.{side}_{n}")));
    }
    out.extend(SERVICES.iter().map(|s| format!("service.{s}")));
    out.push("service.other".into());
    for side in ["orig", "resp"] {
        out.extend(PORT_CLASSES.iter().map(|c| format!("{side}_port.{c}")));
    }
    out.extend(IOT_PORTS.iter().map(|p| format!("resp_port.{p}")));
    out.push("icmp_type".into());
    out.push("icmp_code".into());
}

/// Whether a flow failed or was refused: states S0, REJ, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR,
/// OTH, or a responder that sent no packet.
pub(crate) fn is_failed(rec: &FlowRecord) -> bool {
    use ConnState::*;
    matches!(
        rec.conn_state,
        Some(S0 | REJ | RSTO | RSTR | RSTOS0 | RSTRH | SH | SHR | OTH)
    ) || rec.resp_pkts == Some(0)
}

/// Writes position by position and checks the count.
struct Cursor<'a> {
    out: &'a mut [f32],
    i: usize,
}

impl Cursor<'_> {
    #[inline]
    fn push(&mut self, v: f64) {
        self.out[self.i] = v as f32;
        self.i += 1;
    }

    #[inline]
    fn flag(&mut self, b: bool) {
        self.push(if b { 1.0 } else { 0.0 });
    }
}

#[inline]
fn log1p(v: Option<u64>) -> f64 {
    v.map_or(f64::NAN, |x| (x as f64).ln_1p())
}

#[inline]
fn ratio(num: Option<u64>, den: Option<u64>) -> f64 {
    match (num, den) {
        (Some(n), Some(d)) if d > 0 => n as f64 / d as f64,
        _ => f64::NAN,
    }
}

#[inline]
fn log_ratio(resp: Option<u64>, orig: Option<u64>) -> f64 {
    match (resp, orig) {
        (Some(r), Some(o)) => (r as f64).ln_1p() - (o as f64).ln_1p(),
        _ => f64::NAN,
    }
}

#[inline]
fn opt_flag(b: Option<bool>) -> f64 {
    b.map_or(f64::NAN, |b| if b { 1.0 } else { 0.0 })
}

fn is_multicast_or_broadcast(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

fn port_class(p: u16) -> usize {
    match p {
        0..=1023 => 0,
        1024..=49151 => 1,
        _ => 2,
    }
}

/// Writes the [`FLOW_LEN`] per-flow features of `rec` into `out` (exactly that long).
pub(crate) fn write(rec: &FlowRecord, out: &mut [f32]) {
    debug_assert_eq!(out.len(), FLOW_LEN);
    let mut c = Cursor { out, i: 0 };

    c.push(rec.duration.map_or(f64::NAN, |d| d.as_secs_f64()));
    c.push(log1p(rec.orig_bytes));
    c.push(log1p(rec.resp_bytes));
    c.push(log1p(rec.orig_pkts));
    c.push(log1p(rec.resp_pkts));
    c.push(log1p(rec.orig_ip_bytes));
    c.push(log1p(rec.resp_ip_bytes));
    c.push(log1p(rec.missed_bytes));
    c.push(log_ratio(rec.resp_bytes, rec.orig_bytes));
    c.push(log_ratio(rec.resp_pkts, rec.orig_pkts));
    c.push(ratio(rec.orig_bytes, rec.orig_pkts));
    c.push(ratio(rec.resp_bytes, rec.resp_pkts));
    c.push(ratio(rec.orig_bytes, rec.orig_ip_bytes));
    c.push(ratio(rec.resp_bytes, rec.resp_ip_bytes));
    c.push(opt_flag(rec.local_orig));
    c.push(opt_flag(rec.local_resp));
    c.push(match (rec.orig_h, rec.resp_h) {
        (None, None) => f64::NAN,
        (o, r) => opt_flag(Some(o.or(r).is_some_and(|a| a.is_ipv6()))),
    });
    c.push(opt_flag(rec.resp_h.map(is_multicast_or_broadcast)));

    let proto = match rec.proto {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
        Protocol::Icmp => 2,
        Protocol::Unknown | Protocol::Other(_) => 3,
    };
    for i in 0..PROTOS.len() {
        c.flag(i == proto);
    }

    let state = rec.conn_state.as_ref().map(|s| {
        ConnState::ZEEK
            .iter()
            .position(|z| z == s)
            .unwrap_or(ConnState::ZEEK.len())
    });
    for i in 0..=ConnState::ZEEK.len() {
        c.flag(state == Some(i));
    }
    c.flag(is_failed(rec));

    let mut orig_bits = 0u16;
    let mut resp_bits = 0u16;
    let mut flipped = false;
    match &rec.history {
        Some(h) => {
            c.push(h.len() as f64);
            for b in h.bytes() {
                flipped |= b == b'^';
                let lower = b.to_ascii_lowercase();
                if let Some(k) = HISTORY.iter().position(|&(l, _)| l == lower) {
                    if b.is_ascii_uppercase() {
                        orig_bits |= 1 << k;
                    } else {
                        resp_bits |= 1 << k;
                    }
                }
            }
        }
        None => c.push(f64::NAN),
    }
    c.flag(flipped);
    for bits in [orig_bits, resp_bits] {
        for k in 0..HISTORY.len() {
            c.flag(bits & (1 << k) != 0);
        }
    }

    let mut services = 0u16;
    let mut other_service = false;
    if let Some(s) = &rec.service {
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match SERVICES.iter().position(|k| part.eq_ignore_ascii_case(k)) {
                Some(k) => services |= 1 << k,
                None => other_service = true,
            }
        }
    }
    for k in 0..SERVICES.len() {
        c.flag(services & (1 << k) != 0);
    }
    c.flag(other_service);

    let icmp = rec.proto == Protocol::Icmp;
    for port in [rec.orig_p, rec.resp_p] {
        let class = port.filter(|_| !icmp).map(port_class);
        for k in 0..PORT_CLASSES.len() {
            c.flag(class == Some(k));
        }
    }
    let resp_p = rec.resp_p.filter(|_| !icmp);
    for p in IOT_PORTS {
        c.flag(resp_p == Some(p));
    }
    let icmp_num = |p: Option<u16>| p.filter(|_| icmp).map_or(f64::NAN, f64::from);
    c.push(icmp_num(rec.orig_p));
    c.push(icmp_num(rec.resp_p));

    debug_assert_eq!(c.i, FLOW_LEN);
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotguard_flow::Interval;

    fn names_vec() -> Vec<String> {
        let mut v = Vec::new();
        names(&mut v);
        v
    }

    fn get(rec: &FlowRecord, name: &str) -> f32 {
        let n = names_vec();
        let i = n.iter().position(|x| x == name).expect(name);
        let mut out = vec![f32::INFINITY; FLOW_LEN];
        write(rec, &mut out);
        out[i]
    }

    #[test]
    fn names_match_the_written_length() {
        assert_eq!(names_vec().len(), FLOW_LEN);
    }

    #[test]
    fn empty_record_gives_nan_numbers_and_zero_categories() {
        let rec = FlowRecord::default();
        let mut out = vec![f32::INFINITY; FLOW_LEN];
        write(&rec, &mut out);
        assert!(out.iter().all(|v| v.is_nan() || *v == 0.0 || *v == 1.0));
        assert!(get(&rec, "duration_s").is_nan());
        assert!(get(&rec, "history_len").is_nan());
        assert_eq!(get(&rec, "proto.other"), 1.0);
        assert_eq!(get(&rec, "conn_state.SF"), 0.0);
        assert_eq!(get(&rec, "service.other"), 0.0);
    }

    #[test]
    fn values_land_in_their_named_columns() {
        let rec = FlowRecord {
            proto: Protocol::Tcp,
            duration: Some(Interval(1_500_000_000)),
            orig_bytes: Some(100),
            resp_bytes: Some(0),
            orig_pkts: Some(4),
            resp_pkts: Some(0),
            orig_ip_bytes: Some(300),
            conn_state: Some(ConnState::S0),
            history: Some("ShR^".into()),
            service: Some("http,foo".into()),
            orig_p: Some(50000),
            resp_p: Some(23),
            resp_h: Some("239.255.255.250".parse().unwrap()),
            ..FlowRecord::default()
        };
        assert_eq!(get(&rec, "duration_s"), 1.5);
        assert_eq!(get(&rec, "orig_bytes_log1p"), (101f64).ln() as f32);
        assert_eq!(get(&rec, "bytes_ratio_log"), -(101f64).ln() as f32);
        assert_eq!(get(&rec, "orig_bytes_per_pkt"), 25.0);
        assert!(get(&rec, "resp_bytes_per_pkt").is_nan());
        assert_eq!(get(&rec, "orig_payload_share"), (100.0 / 300.0) as f32);
        assert!(get(&rec, "resp_payload_share").is_nan());
        assert_eq!(get(&rec, "resp_multicast"), 1.0);
        assert_eq!(get(&rec, "ipv6"), 0.0);
        assert_eq!(get(&rec, "proto.tcp"), 1.0);
        assert_eq!(get(&rec, "conn_state.S0"), 1.0);
        assert_eq!(get(&rec, "failed"), 1.0);
        assert_eq!(get(&rec, "history_len"), 4.0);
        assert_eq!(get(&rec, "history.flipped"), 1.0);
        assert_eq!(get(&rec, "history.orig_syn"), 1.0);
        assert_eq!(get(&rec, "history.resp_synack"), 1.0);
        assert_eq!(get(&rec, "history.orig_rst"), 1.0);
        assert_eq!(get(&rec, "history.resp_syn"), 0.0);
        assert_eq!(get(&rec, "service.http"), 1.0);
        assert_eq!(get(&rec, "service.other"), 1.0);
        assert_eq!(get(&rec, "orig_port.ephemeral"), 1.0);
        assert_eq!(get(&rec, "resp_port.well_known"), 1.0);
        assert_eq!(get(&rec, "resp_port.23"), 1.0);
        assert_eq!(get(&rec, "resp_port.2323"), 0.0);
        assert!(get(&rec, "icmp_type").is_nan());
    }

    #[test]
    fn icmp_ports_are_type_and_code() {
        let rec = FlowRecord {
            proto: Protocol::Icmp,
            orig_p: Some(8),
            resp_p: Some(0),
            ..FlowRecord::default()
        };
        assert_eq!(get(&rec, "icmp_type"), 8.0);
        assert_eq!(get(&rec, "icmp_code"), 0.0);
        assert_eq!(get(&rec, "resp_port.well_known"), 0.0);
    }

    #[test]
    fn no_reply_counts_as_failed() {
        let rec = FlowRecord {
            conn_state: Some(ConnState::SF),
            resp_pkts: Some(0),
            ..FlowRecord::default()
        };
        assert!(is_failed(&rec));
        let ok = FlowRecord {
            resp_pkts: Some(1),
            ..rec
        };
        assert!(!is_failed(&ok));
    }
}
