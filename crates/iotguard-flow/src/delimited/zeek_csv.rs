//! Delimited text whose plain first line names Zeek conn columns: IoT-23's CSV conversions
//! (comma-separated) and TSVs written with a plain header line instead of Zeek's `#` headers.
//!
//! The columns are Zeek's, so values go through the same [`fields::set_field`] rules as the
//! Zeek TSV reader, and a flow gives the identical record either way. An empty cell and `-` are
//! unset; `(empty)` is Zeek's empty value. `label` and `detailed-label` (or `detailedlabel`) are
//! plain columns; a tab-separated header that keeps IoT-23's packed last column
//! (`tunnel_parents   label   detailed-label`, space runs) is read as the TSV reader reads it.
//!
//! [`fields::set_field`]: crate::fields::set_field

use super::table::{Col, Dialect, LabelRule};
use crate::detect::Format;
use crate::fields::Field;

/// The Zeek-named CSV dialect.
pub(super) static DIALECT: Dialect = Dialect {
    format: Format::ZeekCsv,
    column,
    labels: LabelRule::Zeek,
    time_required: true,
    trim: false,
    headerless: None,
    native: None,
};

/// Whether a header (normalised names) names Zeek conn columns.
pub(super) fn is_header(has: impl Fn(&str) -> bool) -> bool {
    has("ts")
        && ["id.orig_h", "id_orig_h", "id.resp_h", "id_resp_h"]
            .into_iter()
            .any(has)
}

fn column(name: &str) -> Col {
    if name.contains("  ") {
        let packed: Box<[Field]> = name
            .split("  ")
            .filter(|part| !part.trim().is_empty())
            .map(Field::from_name)
            .collect();
        return Col::Packed(packed);
    }
    match Field::from_name(name) {
        Field::Ignored => Col::Ignored,
        Field::Sensor => Col::Sensor,
        field => Col::Zeek(field),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delimited::tests::{errors, records};
    use crate::error::ErrorKind;
    use crate::label::LabelClass;
    use crate::reader::{LineParser, Parsed};
    use crate::record::{ConnState, FlowRecord, Protocol};
    use crate::time::Interval;
    use crate::zeek::tsv::ZeekTsvParser;

    const HEADER: &str = "ts,uid,id.orig_h,id.orig_p,id.resp_h,id.resp_p,proto,service,duration,orig_bytes,resp_bytes,conn_state,local_orig,local_resp,missed_bytes,history,orig_pkts,orig_ip_bytes,resp_pkts,resp_ip_bytes,tunnel_parents,label,detailed-label";

    const ROWS: [&str; 3] = [
        "1545403816.962094,CrDn63WjJEmrWGjqf,192.168.1.195,41040,185.244.25.235,80,tcp,,3.139211,0,0,S0,,,0,S,3,180,0,0,,Benign,-",
        "1545403848.981338,CDrkrSobGYxHhYfth,192.168.1.195,41040,185.244.25.235,80,tcp,http,1.477656,149,128252,SF,T,F,2896,ShADadttcfF,94,5525,96,139044,\"Ca,Cb\",Malicious,C&C",
        "1545490198.459568,Ct2Yhy4d33oL3yyZY9,fe80::1,123,ff02::1,123,udp,-,-,-,-,S0,-,-,0,D,1,76,0,0,(empty),Malicious,PartOfAHorizontalPortScan",
    ];

    #[test]
    fn reads_iot23_csv() {
        let text = format!("{HEADER}\n{}\n", ROWS.join("\n"));
        let recs = records(Format::ZeekCsv, &text);
        let a = &recs[0];
        assert_eq!(a.ts.0, 1_545_403_816_962_094_000);
        assert_eq!(a.uid.as_deref(), Some("CrDn63WjJEmrWGjqf"));
        assert_eq!(a.orig_h, Some("192.168.1.195".parse().unwrap()));
        assert_eq!((a.orig_p, a.resp_p), (Some(41040), Some(80)));
        assert_eq!((a.proto.clone(), a.service.clone()), (Protocol::Tcp, None));
        assert_eq!(a.duration, Some(Interval(3_139_211_000)));
        assert_eq!((a.local_orig, a.tunnel_parents.clone()), (None, None));
        assert_eq!((a.orig_pkts, a.orig_ip_bytes), (Some(3), Some(180)));
        let label = a.label.as_ref().unwrap();
        assert_eq!(
            (label.class, label.detailed.clone()),
            (LabelClass::Benign, None)
        );

        let b = &recs[1];
        assert_eq!(b.service.as_deref(), Some("http"));
        assert_eq!((b.local_orig, b.local_resp), (Some(true), Some(false)));
        assert_eq!(b.conn_state, Some(ConnState::SF));
        assert_eq!(b.tunnel_parents, Some(vec!["Ca".into(), "Cb".into()]));
        assert_eq!(b.label.as_ref().unwrap().detailed.as_deref(), Some("C&C"));

        let c = &recs[2];
        assert_eq!(c.resp_h, Some("ff02::1".parse().unwrap()));
        assert_eq!((c.service.clone(), c.duration), (None, None));
        assert_eq!(c.tunnel_parents, Some(vec![]));
    }

    /// The TSV reader on the same flows, for comparison.
    fn tsv(rows: &[String]) -> Vec<FlowRecord> {
        let mut p = ZeekTsvParser::default();
        let header = format!("#fields\t{}", HEADER.replace(',', "\t"));
        assert!(matches!(p.parse(header.as_bytes()), Parsed::Skip));
        rows.iter()
            .map(|row| match p.parse(row.as_bytes()) {
                Parsed::Record(r) => *r,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn csv_plain_tsv_and_zeek_tsv_give_identical_records() {
        // The TSV form: tabs, `-` for unset, a set written without quotes.
        let tsv_rows: Vec<String> = ROWS
            .iter()
            .map(|r| {
                let r = r.replace("\"Ca,Cb\"", "Ca;Cb");
                r.split(',')
                    .map(|v| if v.is_empty() { "-" } else { v })
                    .collect::<Vec<_>>()
                    .join("\t")
                    .replace("Ca;Cb", "Ca,Cb")
            })
            .collect();
        let want = tsv(&tsv_rows);
        let csv = records(Format::ZeekCsv, &format!("{HEADER}\n{}\n", ROWS.join("\n")));
        assert_eq!(csv, want);
        let plain = format!("{}\n{}\n", HEADER.replace(',', "\t"), tsv_rows.join("\n"));
        assert_eq!(records(Format::ZeekCsv, &plain), want);
    }

    #[test]
    fn reads_a_plain_header_with_iot23_packed_labels() {
        let text = "ts\tuid\tid.orig_h\tid.resp_p\ttunnel_parents   label   detailed-label\n\
                    1547150790.793723\tCGEJbl3RNkmXzmkEd4\t192.168.1.199\t80\t-   Malicious   C&C\n";
        let r = &records(Format::ZeekCsv, text)[0];
        assert_eq!(r.resp_p, Some(80));
        assert_eq!(r.tunnel_parents, None);
        let label = r.label.as_ref().unwrap();
        assert_eq!(
            (label.class, label.detailed.as_deref()),
            (LabelClass::Malicious, Some("C&C"))
        );
    }

    #[test]
    fn bad_zeek_csv_lines() {
        let text = "ts,id.orig_h,id.resp_p,orig_bytes,label\n\
            1,10.0.0.1,80,5,Benign\n\
            2,10.0.0.1,80,5\n\
            3,10.0.0.999,80,5,Benign\n\
            4,10.0.0.1,99999,5,Benign\n\
            5,10.0.0.1,80,x,Benign\n\
            ,10.0.0.1,80,5,Benign\n\
            7,10.0.0.1,80,5,\"Benign\n\
            8,10.0.0.1,80,5,Ben\u{1}ign\n";
        assert_eq!(
            errors(Format::ZeekCsv, text),
            vec![
                None,
                Some((ErrorKind::FieldCount, None)),
                Some((ErrorKind::BadValue, Some("id.orig_h".into()))),
                Some((ErrorKind::BadValue, Some("id.resp_p".into()))),
                Some((ErrorKind::BadValue, Some("orig_bytes".into()))),
                Some((ErrorKind::BadValue, Some("ts".into()))),
                Some((ErrorKind::Malformed, Some("label".into()))),
                Some((ErrorKind::BadValue, Some("label".into()))),
            ]
        );
    }
}
