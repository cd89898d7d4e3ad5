//! Arbitrary flow records: every optional field set or unset, IPv4, IPv6 and IPv4-mapped IPv6
//! addresses, empty and non-empty tunnel parent sets, labels with and without detailed names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use compact_str::CompactString;
use iotguard_flow::{ConnState, FlowRecord, Interval, Label, LabelClass, Protocol, Timestamp};
use proptest::option::of;
use proptest::prelude::*;
use proptest::sample::select;

/// Any short Unicode text, the empty string included.
fn text() -> impl Strategy<Value = String> {
    ".{0,12}"
}

fn compact() -> impl Strategy<Value = CompactString> {
    text().prop_map(CompactString::from)
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<Ipv4Addr>().prop_map(IpAddr::V4),
        any::<Ipv6Addr>().prop_map(IpAddr::V6),
        any::<Ipv4Addr>().prop_map(|a| IpAddr::V6(a.to_ipv6_mapped())),
    ]
}

/// Protocols as the readers make them: the named variants, or `Other` with any name that is
/// not one of theirs.
fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::Tcp),
        Just(Protocol::Udp),
        Just(Protocol::Icmp),
        Just(Protocol::Unknown),
        text()
            .prop_filter("a named protocol", |s| {
                !["tcp", "udp", "icmp", "unknown_transport"].contains(&s.as_str())
            })
            .prop_map(|s| Protocol::Other(s.into())),
    ]
}

/// Zeek's states, or `Other` with any name that is not one of Zeek's.
fn conn_state() -> impl Strategy<Value = ConnState> {
    prop_oneof![
        select(ConnState::ZEEK.to_vec()),
        text()
            .prop_filter("a Zeek state", |s| {
                !ConnState::ZEEK.iter().any(|z| z.as_str() == s)
            })
            .prop_map(|s| ConnState::Other(s.into())),
    ]
}

/// Labels with any class, name and detailed name: the fields are public, so the class is not
/// necessarily the one `Label::new` would derive, and the file must keep it as it is.
fn label() -> impl Strategy<Value = Label> {
    (
        select(vec![
            LabelClass::Benign,
            LabelClass::Malicious,
            LabelClass::Other,
        ]),
        text(),
        of(text()),
    )
        .prop_map(|(class, name, detailed)| Label {
            class,
            name: name.into(),
            detailed: detailed.map(Arc::from),
        })
}

/// Any flow record.
pub(super) fn flow_record() -> impl Strategy<Value = FlowRecord> {
    let addressing = (
        any::<i64>(),
        of(compact()),
        of(ip()),
        of(any::<u16>()),
        of(ip()),
        of(any::<u16>()),
        protocol(),
        of(compact()),
        of(any::<i64>()),
    );
    let counts = (
        of(any::<u64>()),
        of(any::<u64>()),
        of(conn_state()),
        of(any::<bool>()),
        of(any::<bool>()),
        of(any::<u64>()),
        of(compact()),
        of(any::<u64>()),
        of(any::<u64>()),
        of(any::<u64>()),
        of(any::<u64>()),
    );
    let rest = (
        of(proptest::collection::vec(compact(), 0..4)),
        of(compact()),
        of(compact()),
        of(compact()),
        of(text()),
        of(label()),
    );
    (addressing, counts, rest).prop_map(|(a, c, r)| FlowRecord {
        ts: Timestamp(a.0),
        untimed: false,
        native: None,
        uid: a.1,
        orig_h: a.2,
        orig_p: a.3,
        resp_h: a.4,
        resp_p: a.5,
        proto: a.6,
        service: a.7,
        duration: a.8.map(Interval),
        orig_bytes: c.0,
        resp_bytes: c.1,
        conn_state: c.2,
        local_orig: c.3,
        local_resp: c.4,
        missed_bytes: c.5,
        history: c.6,
        orig_pkts: c.7,
        orig_ip_bytes: c.8,
        resp_pkts: c.9,
        resp_ip_bytes: c.10,
        tunnel_parents: r.0,
        orig_l2_addr: r.1,
        resp_l2_addr: r.2,
        community_id: r.3,
        sensor: r.4.map(Arc::from),
        label: r.5,
    })
}
