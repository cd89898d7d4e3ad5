//! Tests of the Zeek JSON parser.

use std::net::IpAddr;

use super::*;
use crate::label::LabelClass;
use crate::record::{ConnState, Protocol};
use crate::time::Interval;

fn parse(line: &str) -> Result<FlowRecord, LineError> {
    match ZeekJsonParser::default().parse(line.as_bytes()) {
        Parsed::Record(r) => Ok(*r),
        Parsed::Error(e) => Err(e),
        Parsed::Skip => panic!("skipped: {line}"),
    }
}

fn error(line: &str) -> (ErrorKind, Option<String>, String) {
    let e = parse(line).expect_err(line);
    (e.kind, e.field, e.reason)
}

const NMAP: &str = r#"{"ts":1664462456.755299,"uid":"C5xhsO3uGtOfyrBlHh","id.orig_h":"172.16.1.11","id.orig_p":40042,"id.resp_h":"8.8.8.8","id.resp_p":53,"proto":"udp","service":"dns","duration":0.012166976928710938,"orig_bytes":0,"resp_bytes":111,"conn_state":"SHR","local_orig":true,"local_resp":false,"missed_bytes":0,"history":"Cd","orig_pkts":0,"orig_ip_bytes":0,"resp_pkts":1,"resp_ip_bytes":139}"#;

#[test]
fn reads_a_zeek_json_record_exactly() {
    let r = parse(NMAP).unwrap();
    assert_eq!(r.ts, Timestamp(1_664_462_456_755_299_000));
    assert_eq!(r.uid.as_deref(), Some("C5xhsO3uGtOfyrBlHh"));
    assert_eq!(r.orig_h, Some("172.16.1.11".parse::<IpAddr>().unwrap()));
    assert_eq!((r.orig_p, r.resp_p), (Some(40042), Some(53)));
    assert_eq!(r.proto, Protocol::Udp);
    assert_eq!(r.service.as_deref(), Some("dns"));
    assert_eq!(r.duration, Some(Interval(12_166_977)));
    assert_eq!(r.conn_state, Some(ConnState::SHR));
    assert_eq!((r.local_orig, r.local_resp), (Some(true), Some(false)));
    assert_eq!(r.history.as_deref(), Some("Cd"));
    assert_eq!(r.resp_ip_bytes, Some(139));
    assert_eq!(r.tunnel_parents, None);
    assert_eq!((r.label, r.sensor), (None, None));
}

#[test]
fn ten_digit_float_ts_and_long_durations_are_exact() {
    let r = parse(r#"{"ts":1664462456.755299,"duration":0.27964200000000083}"#).unwrap();
    assert_eq!(r.ts.as_nanos(), 1_664_462_456_755_299_000);
    assert_eq!(r.duration, Some(Interval(279_642_000)));
    // Spaces after the colons, as some writers put them; exponents are exact too.
    let r = parse(r#"{ "ts" : 8.176495 , "duration" : 1.5e-3 }"#).unwrap();
    assert_eq!(r.ts.as_nanos(), 8_176_495_000);
    assert_eq!(r.duration, Some(Interval(1_500_000)));
}

#[test]
fn underscore_keys_are_the_dotted_ones() {
    let dotted = parse(
        r#"{"ts":1.5,"id.orig_h":"fe80::1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2}"#,
    );
    let underscore = parse(
        r#"{"ts":1.5,"id_orig_h":"fe80::1","id_orig_p":1,"id_resp_h":"10.0.0.2","id_resp_p":2}"#,
    );
    assert_eq!(dotted.unwrap(), underscore.unwrap());
}

#[test]
fn millisecond_and_iso_timestamps() {
    let want = Timestamp(1_547_150_788_123_000_000);
    assert_eq!(parse(r#"{"ts":1547150788123}"#).unwrap().ts, want);
    assert_eq!(
        parse(r#"{"ts":"2019-01-10T20:06:28.123Z"}"#).unwrap().ts,
        want
    );
    assert_eq!(
        parse(r#"{"ts":"2019-01-10T21:06:28.123+01:00"}"#)
            .unwrap()
            .ts,
        want
    );
    // Small integers are seconds (relative captures), fractions are always seconds.
    assert_eq!(parse(r#"{"ts":15}"#).unwrap().ts, Timestamp(15_000_000_000));
    assert_eq!(
        parse(r#"{"ts":9223372036}"#).unwrap().ts,
        Timestamp(9_223_372_036_000_000_000)
    );
    assert_eq!(
        parse(r#"{"ts":-1000}"#).unwrap().ts.as_nanos(),
        -1_000_000_000_000
    );
    assert_eq!(
        parse(r#"{"ts":-100000000000}"#).unwrap().ts.as_nanos(),
        -100_000_000_000_000_000
    );
    let (kind, field, _) = error(r#"{"ts":"yesterday"}"#);
    assert_eq!((kind, field.as_deref()), (ErrorKind::BadValue, Some("ts")));
    let (_, field, _) = error(r#"{"ts":99999999999999999}"#);
    assert_eq!(field.as_deref(), Some("ts"));
}

#[test]
fn nulls_and_absent_keys_are_unset() {
    let r = parse(
        r#"{"ts":1.0,"uid":null,"service":null,"duration":null,"local_orig":null,"tunnel_parents":null,"label":null}"#,
    )
    .unwrap();
    assert_eq!(
        r,
        FlowRecord {
            ts: Timestamp(1_000_000_000),
            ..FlowRecord::default()
        }
    );
    assert_eq!(error(r#"{"ts":null}"#).1.as_deref(), Some("ts"));
}

#[test]
fn tunnel_parents_strings_escapes_and_labels() {
    let r = parse(
        r#"{"ts":1,"tunnel_parents":["CsaP1","C\u0041b\"c"],"history":"","service":"a\tb","label":"Malicious","detailed-label":"C&C","ip_proto":6,"vlan":{"x":[1,2]}}"#,
    )
    .unwrap();
    assert_eq!(
        r.tunnel_parents,
        Some(vec!["CsaP1".into(), "CAb\"c".into()])
    );
    assert_eq!(r.history.as_deref(), Some(""));
    assert_eq!(r.service.as_deref(), Some("a\tb"));
    let label = r.label.unwrap();
    assert_eq!(
        (label.class, &*label.name, label.detailed.as_deref()),
        (LabelClass::Malicious, "Malicious", Some("C&C"))
    );
    assert_eq!(
        parse(r#"{"ts":1,"tunnel_parents":[]}"#)
            .unwrap()
            .tunnel_parents,
        Some(vec![])
    );
    for key in ["detailedlabel", "detailed_label"] {
        let line = format!(r#"{{"ts":1,"label":"benign","{key}":"x\u00e9"}}"#);
        let label = parse(&line).unwrap().label.unwrap();
        assert_eq!(
            (label.class, label.detailed.as_deref()),
            (LabelClass::Benign, Some("xé"))
        );
    }
}

#[test]
fn zeek_kafka_wrapper() {
    let r =
        parse(r#"{"conn":{"ts":2.5,"uid":"C1","id.orig_p":7},"zeek_server":"sensor-1"}"#).unwrap();
    assert_eq!((r.ts.as_nanos(), r.orig_p), (2_500_000_000, Some(7)));
    assert_eq!(r.sensor.as_deref(), Some("sensor-1"));
    // The root's name, written after or before the record, overrides one inside it.
    let r = parse(r#"{"_system_name":"root","conn":{"ts":1,"_system_name":"inner"}}"#).unwrap();
    assert_eq!(r.sensor.as_deref(), Some("root"));
    let r = parse(r#"{"conn":{"ts":1,"sensorname":"inner"}}"#).unwrap();
    assert_eq!(r.sensor.as_deref(), Some("inner"));
    // Another log type is an error that names it.
    let (kind, _, reason) = error(r#"{"dns":{"ts":1,"query":"example.com"},"zeek_server":"s"}"#);
    assert_eq!(kind, ErrorKind::Malformed);
    assert!(reason.contains("`dns`"), "{reason}");
    let (_, _, reason) = error(r#"{"_path":"dns","ts":1}"#);
    assert!(reason.contains("`dns`"), "{reason}");
    assert!(parse(r#"{"_path":"conn","_write_ts":"x","ts":1}"#).is_ok());
    // A field error inside the wrapper names the field.
    assert_eq!(
        error(r#"{"conn":{"ts":1,"orig_bytes":"7"}}"#).1.as_deref(),
        Some("orig_bytes")
    );
    assert_eq!(error(r#"{"conn":7}"#).0, ErrorKind::Malformed);
}

#[test]
fn wrong_types_name_the_field() {
    for (line, field) in [
        (r#"{"ts":1,"id.orig_p":"80"}"#, "id.orig_p"),
        (r#"{"ts":1,"id.resp_p":70000}"#, "id.resp_p"),
        (r#"{"ts":1,"orig_bytes":-1}"#, "orig_bytes"),
        (r#"{"ts":1,"orig_pkts":1.5}"#, "orig_pkts"),
        (r#"{"ts":1,"local_orig":"T"}"#, "local_orig"),
        (r#"{"ts":1,"id.orig_h":"10.0.0.256"}"#, "id.orig_h"),
        (r#"{"ts":1,"id.orig_h":167772161}"#, "id.orig_h"),
        (r#"{"ts":1,"uid":["C1"]}"#, "uid"),
        (r#"{"ts":1,"tunnel_parents":"C1"}"#, "tunnel_parents"),
        (r#"{"ts":1,"tunnel_parents":["C1",2]}"#, "tunnel_parents"),
        (r#"{"ts":1,"duration":"0.5"}"#, "duration"),
        (r#"{"ts":true}"#, "ts"),
        (r#"{"ts":1,"label":1}"#, "label"),
    ] {
        let (kind, got, reason) = error(line);
        assert_eq!(
            (kind, got.as_deref()),
            (ErrorKind::BadValue, Some(field)),
            "{line}: {reason}"
        );
    }
    let (_, _, reason) = error(r#"{"ts":1,"id.orig_p":"80"}"#);
    assert_eq!(reason, "expected a number, found a string `\\\"80\\\"`");
}

#[test]
fn bad_json_and_non_objects_are_malformed() {
    for line in [
        "{",
        r#"{"ts":1"#,
        r#"{"ts":1,}"#,
        r#"{"ts":01}"#,
        r#"{"ts":1} {"ts":2}"#,
        r#"{"ts":1}x"#,
        "[1,2]",
        "5",
        r#""ts""#,
        "null",
        "{\"ts\":1,\"uid\":\"\u{1}\"}",
        "not json at all",
    ] {
        let (kind, field, _) = error(line);
        assert_eq!((kind, field), (ErrorKind::Malformed, None), "{line}");
    }
    // Not UTF-8.
    match ZeekJsonParser::default().parse(b"{\"ts\":1,\"uid\":\"\xff\"}") {
        Parsed::Error(e) => assert_eq!(e.kind, ErrorKind::Malformed),
        other => panic!("{other:?}"),
    }
    // Deep nesting in an ignored value is skipped without recursion; in a field it is refused.
    let deep = format!(
        r#"{{"ts":1,"x":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse(&deep).is_ok());
    let deep = format!(
        r#"{{"ts":1,"tunnel_parents":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(error(&deep).1.as_deref(), Some("tunnel_parents"));
}

#[test]
fn missing_ts_blank_lines_and_bom() {
    assert_eq!(error(r#"{"uid":"C1"}"#).1.as_deref(), Some("ts"));
    assert_eq!(error("{}").1.as_deref(), Some("ts"));
    let mut p = ZeekJsonParser::default();
    for blank in ["", "   ", "\t\r"] {
        assert!(matches!(p.parse(blank.as_bytes()), Parsed::Skip));
    }
    assert!(matches!(
        p.parse(b"\xEF\xBB\xBF{\"ts\":1}"),
        Parsed::Record(_)
    ));
}

#[test]
fn sensor_names_are_shared_between_records() {
    let mut p = ZeekJsonParser::default();
    let mut sensors = Vec::new();
    for _ in 0..2 {
        match p.parse(br#"{"ts":1,"_system_name":"s1"}"#) {
            Parsed::Record(r) => sensors.push(r.sensor.unwrap()),
            other => panic!("{other:?}"),
        }
    }
    assert!(Arc::ptr_eq(&sensors[0], &sensors[1]));
}

#[test]
fn every_truncation_of_a_record_is_an_error() {
    let mut p = ZeekJsonParser::default();
    for end in 1..NMAP.len() {
        match p.parse(&NMAP.as_bytes()[..end]) {
            Parsed::Error(e) => assert_eq!(e.kind, ErrorKind::Malformed, "{end}"),
            other => panic!("{end}: {other:?}"),
        }
    }
}

proptest::proptest! {
    #[test]
    fn prop_any_bytes_never_panic(line in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        let _ = ZeekJsonParser::default().parse(&line);
    }

    #[test]
    fn prop_json_like_lines_never_panic(line in r#"\{("(ts|conn|id\.orig_p|tunnel_parents|label|_path|x)":(-?[0-9]{1,14}(\.[0-9]{1,20})?(e-?[0-9]{1,3})?|"[a-z0-9:.\\\-T]{0,30}"|\[|\]|\{|\}|null|true|,)*,?){0,6}\}?"#) {
        let _ = ZeekJsonParser::default().parse(line.as_bytes());
    }
}
