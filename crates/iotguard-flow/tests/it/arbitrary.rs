//! Proptest strategies for arbitrary valid flow records, for every round-trip test (Zeek TSV,
//! Zeek JSON, and later Parquet): `use crate::arbitrary::flow_record;`.
//!
//! "Valid" means what a reader can produce, so a lossless writer must give it back:
//! - labels are built with [`Label::new`], protocols with [`Protocol::parse`] and states with
//!   [`ConnState::parse`], which normalise (case, trimming, canonical names) as readers do;
//! - a label's name is not blank and not `-` (both mean "unlabeled");
//! - identifier strings (`uid`, link-layer addresses, `community_id`, sensor) and protocol and
//!   state names are not empty: Zeek TSV writes the empty string as `(empty)`, which means the
//!   empty string only in `service`, `history` and sets. `service`, `history` and set elements
//!   may be empty.
//!
//! Strings come from an alphabet with every character a writer must escape (tab, newline,
//! carriage return, other control bytes, DEL, backslash, quote, comma, `#`) plus non-ASCII text,
//! and sometimes are exactly a marker (`-`, `(empty)`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use compact_str::CompactString;
use iotguard_flow::{ConnState, FlowRecord, Interval, Label, Protocol, Timestamp};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

/// The pieces text is made of: characters to escape, characters that look like escapes (`\x41`
/// must read back as those four characters), and plain and non-ASCII text.
const PIECES: &[&str] = &[
    "a", "b", "C", "x", "Z", "0", "9", " ", "  ", "-", "_", ".", ":", "/", "=", ",", "#", "(", ")",
    "&", "\"", "\\", "\\x41", "\\x2c", "\t", "\n", "\r", "\u{1}", "\u{1f}", "\u{7f}", "é", "ß",
    "→", "🦀",
];

/// Text from the pieces (possibly empty), or exactly one of Zeek's markers.
pub(crate) fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => vec(select(PIECES), 0..8).prop_map(|ps| ps.concat()),
        1 => Just("-".to_owned()),
        1 => Just("(empty)".to_owned()),
    ]
}

/// Text that is not empty.
pub(crate) fn word() -> impl Strategy<Value = String> {
    text().prop_filter("not empty", |s| !s.is_empty())
}

fn compact(s: impl Strategy<Value = String>) -> impl Strategy<Value = CompactString> {
    s.prop_map(CompactString::from)
}

/// An IPv4 or IPv6 address.
pub(crate) fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        3 => any::<Ipv4Addr>().prop_map(IpAddr::V4),
        1 => any::<Ipv6Addr>().prop_map(IpAddr::V6),
    ]
}

/// A transport protocol: the named ones and other names.
pub(crate) fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::Tcp),
        Just(Protocol::Udp),
        Just(Protocol::Icmp),
        Just(Protocol::Unknown),
        word()
            .prop_map(|s| Protocol::parse(&s))
            .prop_filter("a name", |p| !p.as_str().is_empty()),
    ]
}

/// A connection state: Zeek's and other names.
pub(crate) fn conn_state() -> impl Strategy<Value = ConnState> {
    prop_oneof![
        select(ConnState::ZEEK.to_vec()),
        word()
            .prop_map(|s| ConnState::parse(&s))
            .prop_filter("a name", |s| !s.as_str().is_empty()),
    ]
}

/// A label as a reader makes it: IoT-23's names and detailed labels, and arbitrary text.
pub(crate) fn label() -> impl Strategy<Value = Label> {
    let name = prop_oneof![
        select(vec![
            "Benign",
            "benign",
            "Malicious",
            "Background",
            "Unknown"
        ])
        .prop_map(String::from),
        text(),
    ];
    let detailed = option::of(prop_oneof![
        select(vec!["C&C", "DDoS", "partofahorizontalportscan", "-"]).prop_map(String::from),
        text(),
    ]);
    (name, detailed)
        .prop_filter("a name that is a label", |(n, _)| {
            !n.trim().is_empty() && n.trim() != "-"
        })
        .prop_map(|(n, d)| Label::new(&n, d.as_deref()))
}

/// An arbitrary valid flow record: every optional field unset or set, IPv4 and IPv6, times over
/// the whole nanosecond range.
pub(crate) fn flow_record() -> impl Strategy<Value = FlowRecord> {
    let ends = (
        any::<i64>(),
        option::of(compact(word())),
        option::of(ip()),
        option::of(any::<u16>()),
        option::of(ip()),
        option::of(any::<u16>()),
        protocol(),
    );
    let conn = (
        option::of(compact(text())),
        option::of(any::<i64>()),
        option::of(any::<u64>()),
        option::of(any::<u64>()),
        option::of(conn_state()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(any::<u64>()),
        option::of(compact(text())),
    );
    let counts = (
        option::of(any::<u64>()),
        option::of(any::<u64>()),
        option::of(any::<u64>()),
        option::of(any::<u64>()),
        option::of(vec(compact(text()), 0..4)),
    );
    let extras = (
        option::of(compact(word())),
        option::of(compact(word())),
        option::of(compact(word())),
        option::of(word()),
        option::of(label()),
    );
    (ends, conn, counts, extras).prop_map(
        |(
            (ts, uid, orig_h, orig_p, resp_h, resp_p, proto),
            (
                service,
                duration,
                orig_bytes,
                resp_bytes,
                conn_state,
                local_orig,
                local_resp,
                missed_bytes,
                history,
            ),
            (orig_pkts, orig_ip_bytes, resp_pkts, resp_ip_bytes, tunnel_parents),
            (orig_l2_addr, resp_l2_addr, community_id, sensor, label),
        )| FlowRecord {
            ts: Timestamp(ts),
            untimed: false,
            native: None,
            uid,
            orig_h,
            orig_p,
            resp_h,
            resp_p,
            proto,
            service,
            duration: duration.map(Interval),
            orig_bytes,
            resp_bytes,
            conn_state,
            local_orig,
            local_resp,
            missed_bytes,
            history,
            orig_pkts,
            orig_ip_bytes,
            resp_pkts,
            resp_ip_bytes,
            tunnel_parents,
            orig_l2_addr,
            resp_l2_addr,
            community_id,
            sensor: sensor.map(Arc::from),
            label,
        },
    )
}
