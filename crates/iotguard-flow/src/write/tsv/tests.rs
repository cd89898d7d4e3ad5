//! Tests of the Zeek TSV writer.

use std::io::Cursor;
use std::sync::Arc;

use super::*;
use crate::detect::Format;
use crate::label::Label;
use crate::reader::{FlowReader, ReadOptions};
use crate::record::ConnState;
use crate::write::tests::full_record;

fn write(records: &[FlowRecord], options: TsvWriteOptions) -> String {
    let mut w = ZeekTsvWriter::new(Vec::new(), options).unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    String::from_utf8(w.finish().unwrap()).unwrap()
}

fn read(text: &str) -> Vec<FlowRecord> {
    let options = ReadOptions {
        format: Some(Format::ZeekTsv),
        ..ReadOptions::default()
    };
    FlowReader::open("test", Cursor::new(text.as_bytes().to_vec()), &options)
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn fixed(options: TsvWriteOptions) -> TsvWriteOptions {
    TsvWriteOptions {
        time: Some(Timestamp(1_575_560_796_000_000_000)),
        ..options
    }
}

#[test]
fn writes_zeek_header_records_and_close() {
    let text = write(&[full_record()], fixed(TsvWriteOptions::all_columns()));
    let want = "#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#open\t2019-12-05-15-46-36
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tlabel\tdetailed-label\torig_l2_addr\tresp_l2_addr\tcommunity_id\t_system_name
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tstring\tstring\tstring\tstring\tstring\tstring
1547150790.793723\tCGEJbl3RNkmXzmkEd4\t192.168.1.199\t59224\t2001:db8::1\t80\ttcp\thttp,-ssl\t3.081233001\t0\t18446744073709551615\tS0\tT\tF\t0\tShADadFf\t3\t180\t0\t0\tCsaP1,Cb\tMalicious\tC&C\t08:00:27:5b:df:e1\t52:54:00:12:35:02\t1:YTl/F5GgJFkeqMFbjo7cdzkXtpg=\tsensor-1
#close\t2019-12-05-15-46-36
";
    assert_eq!(text, want);
    assert_eq!(read(&text), vec![full_record()]);
}

#[test]
fn standard_columns_only_by_default() {
    let text = write(&[FlowRecord::default()], fixed(TsvWriteOptions::default()));
    let fields = text.lines().find(|l| l.starts_with("#fields")).unwrap();
    assert_eq!(fields.split('\t').count(), 1 + 21);
    assert!(fields.ends_with("\ttunnel_parents"));
    let record = text.lines().find(|l| !l.starts_with('#')).unwrap();
    assert_eq!(
        record,
        "0.000000\t-\t-\t-\t-\t-\tunknown_transport\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-"
    );
    let mut labeled = full_record();
    labeled.label = Some(Label::new("benign", None));
    let text = write(
        &[labeled],
        fixed(TsvWriteOptions {
            labels: true,
            ..TsvWriteOptions::default()
        }),
    );
    assert!(text.contains("\tCsaP1,Cb\tBenign\t-\n"), "{text}");
}

#[test]
fn escapes_separators_markers_and_control_bytes() {
    let mut rec = full_record();
    rec.uid = Some("C\t1\\x\n".into());
    rec.service = Some("(empty)".into());
    rec.history = Some("-".into());
    rec.conn_state = Some(ConnState::Other("A\u{7f}B".into()));
    rec.tunnel_parents = Some(vec!["a,b".into(), "".into(), "-".into(), "é".into()]);
    rec.community_id = Some("".into());
    rec.label = Some(Label::new("Mal\tware", Some("(x)")));
    rec.sensor = Some(Arc::from("s#1 ü"));
    let text = write(
        std::slice::from_ref(&rec),
        fixed(TsvWriteOptions::all_columns()),
    );
    let line = text.lines().find(|l| !l.starts_with('#')).unwrap();
    let cells: Vec<&str> = line.split('\t').collect();
    assert_eq!(cells[1], "C\\x091\\x5cx\\x0a");
    assert_eq!(cells[7], "\\x28empty)");
    assert_eq!(cells[11], "A\\x7fB");
    assert_eq!(cells[15], "\\x2d");
    assert_eq!(cells[20], "a\\x2cb,,\\x2d,é");
    assert_eq!(cells[21], "Mal\\x09ware");
    assert_eq!(cells[25], "(empty)");
    // An empty community_id reads back as the marker text: identifiers are never empty.
    rec.community_id = Some("(empty)".into());
    assert_eq!(read(&text), vec![rec]);
}

#[test]
fn sets_with_one_marker_like_element_round_trip() {
    for set in [
        vec![],
        vec!["".into()],
        vec!["-".into()],
        vec!["(empty)".into()],
    ] {
        let rec = FlowRecord {
            tunnel_parents: Some(set),
            ..FlowRecord::default()
        };
        let text = write(
            std::slice::from_ref(&rec),
            fixed(TsvWriteOptions::default()),
        );
        assert_eq!(read(&text), vec![rec]);
    }
}

#[test]
fn dropped_writer_keeps_records_but_not_close() {
    let mut out = Vec::new();
    {
        let mut w = ZeekTsvWriter::new(&mut out, fixed(TsvWriteOptions::default())).unwrap();
        w.write(&full_record()).unwrap();
    }
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\tCGEJbl3RNkmXzmkEd4\t"));
    assert!(!text.contains("#close"));
}

#[test]
fn log_times() {
    let mut out = Vec::new();
    push_log_time(&mut out, Timestamp(1_575_560_796_999_999_999));
    assert_eq!(out, b"2019-12-05-15-46-36");
    out.clear();
    push_log_time(&mut out, Timestamp(-1));
    assert_eq!(out, b"1969-12-31-23-59-59");
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    assert_eq!(civil_from_days(106_751), (2262, 4, 11));
}
