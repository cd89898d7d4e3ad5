//! UNSW-NB15 CSV (UNSW Canberra, 2015): Argus and Bro features of the same flows, in three layouts.
//!
//! - The raw `UNSW-NB15_N.csv` files have **no header**: their 49 columns are documented (and
//!   listed in [`RAW_COLUMNS`]), and a first line of 49 fields that starts with an IP address is
//!   read in that order. This is the only layout anywhere in this crate read by position.
//! - The train/test partitions (`UNSW_NB15_training-set.csv`) have a header
//!   (`id,dur,proto,service,state,spkts,...,attack_cat,label`) and no addresses, ports or times.
//! - Sampled variants keep the raw columns minus addresses, ports and `attack_cat`, with a
//!   header (one name, `'ct_src_ ltm'`, carries quotes and a space; it is not a column used
//!   here) and a `label` of `Benign`/`Malicious`.
//!
//! The mapping: `srcip`/`dstip`, `sport`/`dsport` (decimal, hexadecimal, `-` unset) → addresses
//! and ports; `Stime` → `ts`; `dur` → `duration`; `Spkts`/`Dpkts` → `orig_pkts`/`resp_pkts`;
//! `sbytes`/`dbytes` → `orig_ip_bytes`/`resp_ip_bytes` (Argus counts); `service` (`-` unset) →
//! `service`; `state` (`FIN`, `CON`, `INT`, ...) → [`ConnState::Other`]; `id` → `uid`; `label`
//! 0/1 with `attack_cat` → [`Label::from_flag`], or a `Benign`/`Malicious` label → [`Label::new`].
//!
//! **Records of a layout without `Stime` (the partitions) have no time: `ts` is 0.** Nothing
//! time-based (windows, rates, ordering) means anything for them.
//!
//! [`ConnState::Other`]: crate::record::ConnState::Other
//! [`Label::from_flag`]: crate::label::Label::from_flag
//! [`Label::new`]: crate::label::Label::new

use super::table::{Col, Dialect, Headerless, LabelRule};
use crate::detect::Format;
use crate::fields::{self, Field};
use crate::native::NativeFamily;

/// The columns of the raw, header-less `UNSW-NB15_N.csv` files, in file order.
pub(super) const RAW_COLUMNS: [&str; 49] = [
    "srcip",
    "sport",
    "dstip",
    "dsport",
    "proto",
    "state",
    "dur",
    "sbytes",
    "dbytes",
    "sttl",
    "dttl",
    "sloss",
    "dloss",
    "service",
    "Sload",
    "Dload",
    "Spkts",
    "Dpkts",
    "swin",
    "dwin",
    "stcpb",
    "dtcpb",
    "smeansz",
    "dmeansz",
    "trans_depth",
    "res_bdy_len",
    "Sjit",
    "Djit",
    "Stime",
    "Ltime",
    "Sintpkt",
    "Dintpkt",
    "tcprtt",
    "synack",
    "ackdat",
    "is_sm_ips_ports",
    "ct_state_ttl",
    "ct_flw_http_mthd",
    "is_ftp_login",
    "ct_ftp_cmd",
    "ct_srv_src",
    "ct_srv_dst",
    "ct_dst_ltm",
    "ct_src_ltm",
    "ct_src_dport_ltm",
    "ct_dst_sport_ltm",
    "ct_dst_src_ltm",
    "attack_cat",
    "Label",
];

/// The UNSW-NB15 dialect.
pub(super) static DIALECT: Dialect = Dialect {
    format: Format::UnswNb15,
    column,
    labels: LabelRule::Flag,
    time_required: false,
    trim: true,
    headerless: Some(Headerless {
        names: &RAW_COLUMNS,
        fits: is_raw_record,
    }),
    native: Some(NativeFamily::UnswNb15),
};

/// Whether a header (normalised names) is one of UNSW-NB15's.
pub(super) fn is_header(has: impl Fn(&str) -> bool) -> bool {
    has("sbytes") && has("dbytes") && (has("sttl") || has("attack_cat") || has("ct_srv_src"))
}

/// Whether a first line (split into fields) is a record of the raw, header-less layout.
pub(super) fn is_raw_record(fields: &[&[u8]]) -> bool {
    fields.len() == RAW_COLUMNS.len() && starts_with_ip(fields[0])
}

fn starts_with_ip(field: &[u8]) -> bool {
    fields::parse_ip(field.trim_ascii()).is_some()
}

fn column(name: &str) -> Col {
    match name {
        "id" => Col::Zeek(Field::Uid),
        "srcip" => Col::Zeek(Field::OrigH),
        "dstip" => Col::Zeek(Field::RespH),
        "sport" => Col::Zeek(Field::OrigP),
        "dsport" => Col::Zeek(Field::RespP),
        "proto" => Col::Zeek(Field::Proto),
        "state" => Col::State,
        "dur" => Col::Zeek(Field::Duration),
        "sbytes" => Col::Zeek(Field::OrigIpBytes),
        "dbytes" => Col::Zeek(Field::RespIpBytes),
        "service" => Col::Zeek(Field::Service),
        "spkts" => Col::Zeek(Field::OrigPkts),
        "dpkts" => Col::Zeek(Field::RespPkts),
        "stime" => Col::Time,
        "attack_cat" => Col::Category,
        "label" => Col::Label,
        _ => Col::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delimited::tests::{errors, fixture, records};
    use crate::error::ErrorKind;
    use crate::label::LabelClass;
    use crate::record::{ConnState, Protocol};
    use crate::time::Interval;

    #[test]
    fn reads_raw_files_without_a_header() {
        let recs = fixture("unsw-nb15/unsw_nb15_raw_no_header.csv", Format::UnswNb15);
        assert_eq!(recs.len(), 4);
        let dns = &recs[0];
        assert_eq!(dns.orig_h, Some("59.166.0.3".parse().unwrap()));
        assert_eq!((dns.orig_p, dns.resp_p), (Some(40210), Some(53)));
        assert_eq!(dns.proto, Protocol::Udp);
        assert_eq!(dns.conn_state, Some(ConnState::Other("CON".into())));
        assert_eq!(dns.duration, Some(Interval(1_021_000)));
        assert_eq!(
            (dns.orig_ip_bytes, dns.resp_ip_bytes),
            (Some(130), Some(162))
        );
        assert_eq!((dns.orig_pkts, dns.resp_pkts), (Some(2), Some(2)));
        assert_eq!(dns.service.as_deref(), Some("dns"));
        assert_eq!(dns.ts.0, 1_421_927_420_000_000_000);
        let benign = dns.label.as_ref().unwrap();
        assert_eq!(
            (benign.class, benign.detailed.clone()),
            (LabelClass::Benign, None)
        );

        let exploit = recs[1].label.as_ref().unwrap();
        assert_eq!(
            (exploit.class, exploit.detailed.as_deref()),
            (LabelClass::Malicious, Some("Exploits"))
        );
        assert_eq!(recs[2].resp_p, Some(0xcc09));
        assert_eq!(recs[2].service, None);
    }

    #[test]
    fn reads_the_train_test_partitions_without_times() {
        let recs = fixture("unsw-nb15/unsw_nb15_partition.csv", Format::UnswNb15);
        assert_eq!(recs.len(), 3);
        let r = &recs[1];
        assert_eq!(r.uid.as_deref(), Some("2"));
        assert_eq!(r.ts.0, 0);
        assert_eq!((r.orig_h, r.orig_p), (None, None));
        assert_eq!(r.service.as_deref(), Some("dns"));
        assert_eq!((r.orig_pkts, r.resp_pkts), (Some(2), Some(0)));
        assert_eq!((r.orig_ip_bytes, r.resp_ip_bytes), (Some(114), Some(0)));
        assert_eq!(
            r.label.as_ref().unwrap().detailed.as_deref(),
            Some("Generic")
        );
        // `attack_cat` Normal is not a detail of a benign label.
        let normal = recs[0].label.as_ref().unwrap();
        assert_eq!(
            (normal.class, normal.detailed.clone()),
            (LabelClass::Benign, None)
        );
    }

    #[test]
    fn reads_the_sampled_layout_with_text_labels() {
        let text =
            "proto,state,dur,sbytes,dbytes,sttl,service,Spkts,Dpkts,Stime,'ct_src_ ltm',label\n\
            tcp,FIN,0.098989,4550,70026,31,,78,82,1421951772,5,Benign\n\
            udp,INT,0.000003,200,0,254,dns,2,0,1421951773,2,Malicious\n";
        let recs = records(Format::UnswNb15, text);
        assert_eq!(recs[0].ts.0, 1_421_951_772_000_000_000);
        assert_eq!(recs[0].service, None);
        assert_eq!(recs[0].label.as_ref().unwrap().class, LabelClass::Benign);
        let bad = recs[1].label.as_ref().unwrap();
        assert_eq!(
            (bad.class, bad.detailed.clone()),
            (LabelClass::Malicious, None)
        );
    }

    /// The value of a native feature of a record, by name.
    fn native(rec: &crate::FlowRecord, name: &str) -> f32 {
        let n = rec.native.as_ref().expect("native values");
        assert_eq!(n.family, NativeFamily::UnswNb15);
        let names = n.family.feature_names();
        n.values[names.iter().position(|x| x == name).unwrap()]
    }

    #[test]
    fn every_layout_with_the_statistics_carries_them_as_native_values() {
        // The partitions rename five columns; their names are aliases.
        let recs = fixture("unsw-nb15/unsw_nb15_partition.csv", Format::UnswNb15);
        let r = &recs[0];
        assert_eq!(
            [
                native(r, "native.sttl"),
                native(r, "native.dttl"),
                native(r, "native.smeansz"),
                native(r, "native.sintpkt"),
                native(r, "native.res_bdy_len"),
                native(r, "native.ct_src_ltm"),
            ],
            [252.0, 254.0, 43.0, 24.2956, 0.0, 1.0]
        );
        // The raw files, read by position.
        let raw = fixture("unsw-nb15/unsw_nb15_raw_no_header.csv", Format::UnswNb15);
        assert!(raw.iter().all(|r| r.native.is_some()));
        // The sampled layout's `'ct_src_ ltm'`.
        let mut header: Vec<&str> = NativeFamily::UnswNb15.column_names().collect();
        header.retain(|c| *c != "ct_src_ltm");
        let text = format!(
            "proto,dur,sbytes,dbytes,Stime,{},'ct_src_ ltm',label\n\
             tcp,0.1,1,2,1421951772,{}7,Benign\n",
            header.join(","),
            "3,".repeat(header.len())
        );
        let recs = records(Format::UnswNb15, &text);
        assert_eq!(
            (
                native(&recs[0], "native.sttl"),
                native(&recs[0], "native.ct_src_ltm")
            ),
            (3.0, 7.0)
        );
    }

    #[test]
    fn a_header_lacking_a_statistic_gives_records_without_native_values() {
        let text = "proto,state,dur,sbytes,dbytes,sttl,Stime,label\n\
            tcp,FIN,0.1,1,2,31,1421951772,Benign\n";
        let recs = records(Format::UnswNb15, text);
        assert!(recs[0].native.is_none());
        assert_eq!(
            NativeFamily::UnswNb15
                .missing_columns(text.lines().next().unwrap().as_bytes())
                .len(),
            NativeFamily::UnswNb15.column_names().count() - 1
        );
    }

    #[test]
    fn bad_unsw_lines() {
        let text = "dur,proto,sbytes,dbytes,sttl,Stime,attack_cat,label\n\
            0.1,tcp,1,2,31,1421951772,,0\n\
            0.1,tcp,1,2,31,1421951772,,7\n\
            0.1,tcp,-1,2,31,1421951772,,0\n\
            abc,tcp,1,2,31,1421951772,,0\n\
            0.1,tcp,1,2,31,,,0\n\
            0.1,tcp,1,2,31,1421951772,Fuzz\u{7}ers,0\n";
        assert_eq!(
            errors(Format::UnswNb15, text),
            vec![
                None,
                Some((ErrorKind::BadValue, Some("label".into()))),
                Some((ErrorKind::BadValue, Some("sbytes".into()))),
                Some((ErrorKind::BadValue, Some("dur".into()))),
                Some((ErrorKind::BadValue, Some("Stime".into()))),
                Some((ErrorKind::BadValue, Some("attack_cat".into()))),
            ]
        );
    }

    #[test]
    fn a_raw_line_that_is_not_a_record_is_an_error_not_a_header() {
        let line = format!("not-an-ip{}", ",0".repeat(48));
        assert_eq!(
            errors(Format::UnswNb15, &line),
            vec![Some((ErrorKind::Malformed, None))]
        );
    }
}
