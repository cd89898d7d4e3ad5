//! TON_IoT network CSV (UNSW Canberra, 2020): Zeek conn fields under other names, plus DNS, SSL,
//! HTTP and weird columns, a 0/1 `label` and an attack `type`.
//!
//! The mapping, column by column: `ts` → `ts` (epoch seconds); `src_ip`/`src_port`,
//! `dst_ip`/`dst_port` → `id.*`; `proto`, `service`, `duration`, `conn_state` (Zeek's states),
//! `missed_bytes` as in Zeek; `src_bytes`/`dst_bytes` → `orig_bytes`/`resp_bytes` (payload, as in
//! Zeek); `src_ip_bytes`/`dst_ip_bytes` → `orig_ip_bytes`/`resp_ip_bytes`; `src_pkts`/`dst_pkts`
//! → `orig_pkts`/`resp_pkts`; `label` (0/1) with `type` (`normal`, `scanning`, `ddos`, ...) →
//! [`Label::from_flag`]. The protocol-specific columns are not kept; their values are often
//! quoted (`http_uri`, `http_user_agent` hold commas), which the splitter handles.
//!
//! Both published layouts are read: `Network_dataset_N.csv` (with `ts` and `http_referrer`) and
//! `train_test_network.csv` (UTF-8 byte order mark, CRLF, no `ts`: its records are
//! [`untimed`](crate::FlowRecord::untimed), in file order, which groups them by `type`).
//!
//! [`Label::from_flag`]: crate::label::Label::from_flag

use super::table::{Col, Dialect, LabelRule};
use crate::detect::Format;
use crate::fields::Field;
use crate::native::NativeFamily;

/// The TON_IoT dialect.
pub(super) static DIALECT: Dialect = Dialect {
    format: Format::TonIot,
    column,
    labels: LabelRule::Flag,
    // `train_test_network.csv`, the file most studies use, has no `ts` column.
    time_required: false,
    trim: true,
    headerless: None,
    native: Some(NativeFamily::TonIot),
};

/// Whether a header (normalised names) is TON_IoT's network layout.
pub(super) fn is_header(has: impl Fn(&str) -> bool) -> bool {
    has("src_ip") && has("dst_ip") && (has("src_ip_bytes") || has("conn_state"))
}

fn column(name: &str) -> Col {
    match name {
        "ts" => Col::Zeek(Field::Ts),
        "src_ip" => Col::Zeek(Field::OrigH),
        "src_port" => Col::Zeek(Field::OrigP),
        "dst_ip" => Col::Zeek(Field::RespH),
        "dst_port" => Col::Zeek(Field::RespP),
        "proto" => Col::Zeek(Field::Proto),
        "service" => Col::Zeek(Field::Service),
        "duration" => Col::Zeek(Field::Duration),
        "src_bytes" => Col::Zeek(Field::OrigBytes),
        "dst_bytes" => Col::Zeek(Field::RespBytes),
        "conn_state" => Col::Zeek(Field::ConnState),
        "missed_bytes" => Col::Zeek(Field::MissedBytes),
        "src_pkts" => Col::Zeek(Field::OrigPkts),
        "src_ip_bytes" => Col::Zeek(Field::OrigIpBytes),
        "dst_pkts" => Col::Zeek(Field::RespPkts),
        "dst_ip_bytes" => Col::Zeek(Field::RespIpBytes),
        "label" => Col::Label,
        "type" => Col::Category,
        _ => Col::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delimited::tests::{errors, fixture};
    use crate::error::ErrorKind;
    use crate::label::LabelClass;
    use crate::record::{ConnState, Protocol};
    use crate::time::Interval;

    #[test]
    fn reads_the_network_dataset() {
        let recs = fixture("ton-iot/ton_iot_network.csv", Format::TonIot);
        assert_eq!(recs.len(), 4);
        let a = &recs[0];
        assert_eq!(a.ts.0, 1_554_198_358_000_000_000);
        assert_eq!(a.orig_h, Some("192.168.1.79".parse().unwrap()));
        assert_eq!((a.orig_p, a.resp_p), (Some(47260), Some(15600)));
        assert_eq!((a.service.clone(), a.duration), (None, Some(Interval(0))));
        assert_eq!(a.conn_state, Some(ConnState::S0));
        assert_eq!((a.orig_pkts, a.orig_ip_bytes), (Some(1), Some(63)));
        let normal = a.label.as_ref().unwrap();
        assert_eq!(
            (normal.class, normal.detailed.clone()),
            (LabelClass::Benign, None)
        );

        let scan = recs[1].label.as_ref().unwrap();
        assert_eq!(
            (scan.class, scan.detailed.as_deref()),
            (LabelClass::Malicious, Some("scanning"))
        );
        assert_eq!(recs[1].conn_state, Some(ConnState::REJ));

        let xss = &recs[2];
        assert_eq!(xss.proto, Protocol::Tcp);
        assert_eq!(xss.service.as_deref(), Some("http"));
        assert_eq!((xss.orig_bytes, xss.resp_bytes), (Some(412), Some(1543)));
        assert_eq!((xss.resp_pkts, xss.resp_ip_bytes), (Some(4), Some(1755)));
        assert_eq!(xss.label.as_ref().unwrap().detailed.as_deref(), Some("xss"));

        let mdns = &recs[3];
        assert_eq!(mdns.ts.0, 1_556_000_001_500_000_000);
        assert_eq!(mdns.resp_h, Some("ff02::fb".parse().unwrap()));
    }

    #[test]
    fn reads_the_train_test_file_without_time() {
        // Byte order mark, CRLF, 44 columns, no `ts`.
        let recs = fixture("ton-iot/ton_iot_train_test.csv", Format::TonIot);
        assert_eq!(recs.len(), 6);
        assert!(recs.iter().all(|r| r.untimed && r.ts.0 == 0));
        let types: Vec<_> = recs
            .iter()
            .map(|r| {
                let l = r.label.as_ref().unwrap();
                format!(
                    "{}:{}",
                    l.class.as_str(),
                    l.detailed.as_deref().unwrap_or("-")
                )
            })
            .collect();
        assert_eq!(
            types,
            [
                "malicious:backdoor",
                "malicious:backdoor",
                "benign:-",
                "benign:-",
                "malicious:xss",
                "malicious:mitm"
            ]
        );
        let a = &recs[0];
        assert_eq!(a.orig_h, Some("192.168.1.33".parse().unwrap()));
        assert_eq!((a.orig_p, a.resp_p), (Some(4444), Some(49201)));
        assert_eq!(a.duration, Some(Interval(310_500_000_000)));
        assert_eq!((a.orig_bytes, a.resp_bytes), (Some(98304), Some(2048)));
        assert_eq!((a.orig_pkts, a.orig_ip_bytes), (Some(101), Some(102_344)));
        assert_eq!((a.resp_pkts, a.resp_ip_bytes), (Some(30), Some(3248)));
        assert_eq!(a.conn_state, Some(ConnState::OTH));
        assert_eq!(recs[2].service.as_deref(), Some("dns"));
        let dns = recs[2].native.as_ref().unwrap();
        let names = dns.family.feature_names();
        let get = |n: &str| dns.values[names.iter().position(|x| x == n).unwrap()];
        assert_eq!(
            (
                get("native.dns_qtype"),
                get("native.dns_rd"),
                get("native.dns_aa")
            ),
            (1.0, 1.0, 0.0)
        );
        let http = recs[4].native.as_ref().unwrap();
        let get = |n: &str| http.values[names.iter().position(|x| x == n).unwrap()];
        assert_eq!(
            (
                get("native.http_method.GET"),
                get("native.http_status_code")
            ),
            (1.0, 200.0)
        );
        assert_eq!(recs[4].service.as_deref(), Some("http"));
        let icmp = &recs[5];
        assert_eq!(
            (icmp.proto.clone(), icmp.duration, icmp.orig_bytes),
            (Protocol::Icmp, None, None)
        );
    }

    #[test]
    fn bad_ton_iot_lines() {
        let text = "ts,src_ip,src_port,dst_ip,dst_port,proto,conn_state,src_ip_bytes,label,type\n\
            1554198358,10.0.0.1,1,10.0.0.2,2,tcp,S0,40,0,normal\n\
            1554198358,10.0.0.1,1,10.0.0.2,2,tcp,S0,40\n\
            1554198358,10.0.0.1,1,10.0.0.2,2,tcp,S0,forty,0,normal\n\
            -,10.0.0.1,1,10.0.0.2,2,tcp,S0,40,0,normal\n\
            1554198358,10.0.0.1,1,10.0.0.2,2,tcp,S0,40,0,\"nor\"mal\n";
        assert_eq!(
            errors(Format::TonIot, text),
            vec![
                None,
                Some((ErrorKind::FieldCount, None)),
                Some((ErrorKind::BadValue, Some("src_ip_bytes".into()))),
                Some((ErrorKind::BadValue, Some("ts".into()))),
                Some((ErrorKind::Malformed, Some("type".into()))),
            ]
        );
    }
}
