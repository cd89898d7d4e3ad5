//! Delimited text with a header line: Zeek-named CSV, Argus `ra` output, BoT-IoT, UNSW-NB15 and
//! TON_IoT.
//!
//! One generic parser ([`table`]) reads them all. The first line is the header; each dialect
//! maps header names to what the column holds once, and a small finish step per record derives
//! what the format leaves implicit. Only the raw UNSW-NB15 files, whose 49 columns are documented
//! and which have no header, are read by position. The separator is found in the header line (a
//! tab, else a comma, else a semicolon); comma- and semicolon-separated lines may quote fields
//! (RFC 4180, within one line), tab-separated ones never do.
//!
//! Every dialect: `""` and `-` are unset; a blank line is skipped; a header-only file yields
//! nothing; the header repeated further down (concatenated files) is skipped; a bad line is one
//! error naming the column at fault, and reading goes on. A column the dialect does not use never
//! rejects a line, whatever bytes it holds. A layout with no time column (where the dialect
//! allows one) gives records marked [`untimed`](crate::FlowRecord::untimed).

mod argus;
mod bot_iot;
mod labels;
mod split;
mod table;
pub(crate) use table::normalise;
mod ton_iot;
mod unsw_nb15;
mod values;
mod zeek_csv;

use std::collections::HashSet;

use crate::detect::Format;
use crate::reader::LineParser;
use table::{DelimitedParser, Dialect};

/// Returns the dialect table of a delimited format.
fn dialect(format: Format) -> Option<&'static Dialect> {
    match format {
        Format::ZeekCsv => Some(&zeek_csv::DIALECT),
        Format::Argus => Some(&argus::DIALECT),
        Format::BotIot => Some(&bot_iot::DIALECT),
        Format::UnswNb15 => Some(&unsw_nb15::DIALECT),
        Format::TonIot => Some(&ton_iot::DIALECT),
        Format::ZeekTsv | Format::ZeekJson => None,
    }
}

/// Returns a parser for one of the delimited formats.
pub(crate) fn parser(format: Format) -> Box<dyn LineParser> {
    match dialect(format) {
        Some(d) => Box::new(DelimitedParser::new(d)),
        // Not a delimited format: its own parser (never reached through `Format::parser`).
        None => format.parser(),
    }
}

/// Guesses a delimited format from the first non-blank line of an input; `None` when unsure.
///
/// A header is recognised by names only its format uses (`id.orig_h`; `StartTime`; `pkSeqID`
/// or `stime`+`saddr`; `src_ip`+`src_ip_bytes`; `sbytes`+`sttl`); a header-less line by the
/// raw UNSW-NB15 shape (49 fields, the first an IP address) or the full BoT-IoT shape (35
/// fields: a row number, an epoch time, addresses at `saddr` and `daddr`).
pub(crate) fn detect(first_line: &[u8]) -> Option<Format> {
    let line = first_line.strip_prefix(table::BOM).unwrap_or(first_line);
    let sep = split::separator(line)?;
    let (mut spans, mut scratch) = (Vec::new(), Vec::new());
    let buf = split::split(line, sep, sep != b'\t', &mut spans, &mut scratch).ok()?;
    let fields: Vec<&[u8]> = spans.iter().map(|r| &buf[r.clone()]).collect();
    let names: HashSet<String> = fields.iter().map(|f| table::normalise(f)).collect();
    let has = |name: &str| names.contains(name);
    if zeek_csv::is_header(has) {
        Some(Format::ZeekCsv)
    } else if argus::is_header(has) {
        Some(Format::Argus)
    } else if ton_iot::is_header(has) {
        Some(Format::TonIot)
    } else if bot_iot::is_header(has) {
        Some(Format::BotIot)
    } else if unsw_nb15::is_header(has) || unsw_nb15::is_raw_record(&fields) {
        Some(Format::UnswNb15)
    } else if bot_iot::is_raw_record(&fields) {
        Some(Format::BotIot)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::error::{ErrorKind, ParseError};
    use crate::reader::{FlowReader, Parsed, ReadOptions};
    use crate::record::FlowRecord;

    fn read(format: Format, text: &str) -> Vec<Result<FlowRecord, ParseError>> {
        let input = Box::new(Cursor::new(text.as_bytes().to_vec()));
        FlowReader::with_format("test", input, format, &ReadOptions::default()).collect()
    }

    /// Reads `text` in `format`, failing the test on any bad line.
    pub(super) fn records(format: Format, text: &str) -> Vec<FlowRecord> {
        read(format, text)
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    /// Reads `text` in `format`: `None` per record, the kind and column per bad line.
    pub(super) fn errors(format: Format, text: &str) -> Vec<Option<(ErrorKind, Option<String>)>> {
        read(format, text)
            .into_iter()
            .map(|r| r.err().map(|e| (e.kind, e.field)))
            .collect()
    }

    /// Reads a committed fixture as `FlowReader::open` does (detecting the format, which must be
    /// `format`), failing the test on any bad line.
    pub(super) fn fixture(rel: &str, format: Format) -> Vec<FlowRecord> {
        let path = iotguard_testkit::testdata(rel);
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let reader = FlowReader::open(rel, file, &ReadOptions::default()).unwrap();
        assert_eq!(reader.format(), format, "{rel}");
        reader
            .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    #[test]
    fn detects_each_dialect_from_its_first_line() {
        let cases: &[(&str, Option<Format>)] = &[
            ("ts,uid,id.orig_h,id.orig_p,id.resp_h,id.resp_p,proto,label", Some(Format::ZeekCsv)),
            ("ts\tuid\tid.orig_h\tid.resp_h\ttunnel_parents   label   detailed-label", Some(Format::ZeekCsv)),
            ("\u{feff}\"ts\",\"id_orig_h\",\"id_resp_h\"", Some(Format::ZeekCsv)),
            ("StartTime\tDur\tProto\tSrcAddr\tSport\tDir\tDstAddr\tDport\tState\tLabel", Some(Format::Argus)),
            ("StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts", Some(Format::Argus)),
            ("pkSeqID,stime,flgs,proto,saddr,sport,daddr,dport,pkts,bytes,state", Some(Format::BotIot)),
            ("\"pkSeqID\",\"stime\",\"flgs\",\"proto\",\"saddr\"", Some(Format::BotIot)),
            ("pkSeqID;stime;flgs;proto;saddr;sport;daddr;dport", Some(Format::BotIot)),
            ("id,dur,proto,service,state,spkts,dpkts,sbytes,dbytes,rate,sttl,attack_cat,label", Some(Format::UnswNb15)),
            ("proto,state,dur,sbytes,dbytes,sttl,dttl,'ct_src_ ltm',label", Some(Format::UnswNb15)),
            ("ts,src_ip,src_port,dst_ip,dst_port,proto,service,duration,src_bytes,dst_bytes,conn_state,src_ip_bytes,label,type", Some(Format::TonIot)),
            ("", None),
            ("hello world", None),
            ("a,b,c", None),
            ("ts,value", None),
            // 48 fields: not the raw UNSW-NB15 shape.
            ("59.166.0.0,1390,149.171.126.6,53,udp,CON,0,0,0,0,0,0,0,dns,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0", None),
        ];
        for (line, want) in cases {
            assert_eq!(detect(line.as_bytes()), *want, "{line}");
        }
        let raw = format!("59.166.0.0,1390{}", ",0".repeat(47));
        assert_eq!(detect(raw.as_bytes()), Some(Format::UnswNb15));
        assert_eq!(
            crate::detect::detect(b"\n\nStartTime,SrcAddr\n"),
            Some(Format::Argus)
        );
    }

    #[test]
    fn header_only_blank_lines_and_repeated_headers() {
        for format in [
            Format::ZeekCsv,
            Format::Argus,
            Format::BotIot,
            Format::TonIot,
        ] {
            let header = match format {
                Format::ZeekCsv => "ts,id.orig_h",
                Format::Argus => "StartTime,SrcAddr",
                Format::BotIot => "stime,saddr",
                _ => "ts,src_ip",
            };
            assert!(records(format, &format!("{header}\n")).is_empty());
            assert!(records(format, &format!("\n  \n{header}\r\n\r\n\t\n")).is_empty());
            // Two files concatenated, each with a byte order mark.
            let text = format!("\u{feff}{header}\n1,10.0.0.1\n\n\u{feff}{header}\n2,10.0.0.2\n");
            let recs = records(format, &text);
            assert_eq!(recs.len(), 2, "{format}");
            assert_eq!(recs[1].ts.0, 2_000_000_000);
        }
        assert!(records(Format::UnswNb15, "").is_empty());
    }

    #[test]
    fn a_header_with_no_known_column_is_an_error_and_the_next_line_is_tried() {
        let got = errors(
            Format::Argus,
            "what,is,this\nStartTime,SrcAddr\n1,10.0.0.1\n",
        );
        assert_eq!(got, vec![Some((ErrorKind::Malformed, None)), None]);
    }

    #[test]
    fn binary_junk_and_bad_utf8_are_errors_naming_the_column() {
        let text = b"ts,id.orig_h,service,history\n\
            1,10.0.0.1,dns,Dd\n\
            2,10.0.0.1,dns,\x00\x01\x02\n\
            3,10.0.0.1,d\xffns,Dd\n\
            \x7fELF\x02\x01\x01\n\
            \x1f\x8b\x08\x00,\xde\xad,\xbe\xef,\n\
            7,10.0.0.1,dns,Dd\n";
        let input = Box::new(Cursor::new(text.to_vec()));
        let got: Vec<_> =
            FlowReader::with_format("junk", input, Format::ZeekCsv, &ReadOptions::default())
                .map(|r| r.map(|r| r.ts.0).map_err(|e| (e.kind, e.field, e.line)))
                .collect();
        assert_eq!(
            got,
            vec![
                Ok(1_000_000_000),
                Err((ErrorKind::BadValue, Some("history".into()), 3)),
                Err((ErrorKind::BadValue, Some("service".into()), 4)),
                Err((ErrorKind::FieldCount, None, 5)),
                Err((ErrorKind::BadValue, Some("ts".into()), 6)),
                Ok(7_000_000_000),
            ]
        );
    }

    #[test]
    fn forks_keep_the_header_and_is_header_marks_only_the_first_line() {
        let mut p = parser(Format::TonIot);
        assert!(p.is_header(b"ts,src_ip"));
        assert!(!p.is_header(b"   "));
        assert!(matches!(p.parse(b"ts,src_ip"), Parsed::Skip));
        assert!(!p.is_header(b"1,10.0.0.1"));
        let mut fork = p.fork();
        match fork.parse(b"5,10.0.0.5") {
            Parsed::Record(r) => assert_eq!(r.orig_h, Some("10.0.0.5".parse().unwrap())),
            other => panic!("{other:?}"),
        }
        // A fork of a parser that has seen no header still needs one.
        assert!(parser(Format::Argus).fork().is_header(b"StartTime,SrcAddr"));
    }

    /// A header and a good line per dialect, for the no-panic property.
    const SAMPLES: [(Format, &str, &str); 6] = [
        (
            Format::ZeekCsv,
            "ts,id.orig_h,id.orig_p,proto,tunnel_parents,label,detailed-label",
            "1.5,10.0.0.1,80,tcp,\"a,b\",Malicious,C&C",
        ),
        (
            Format::ZeekCsv,
            "ts\tid.resp_p\ttunnel_parents   label   detailed-label",
            "1.5\t80\t-   Benign   -",
        ),
        (
            Format::Argus,
            "StartTime,Proto,SrcAddr,Sport,DstAddr,TotPkts,SrcPkts,Label",
            "2018/05/10 10:52:47.1,icmp,10.0.0.1,0x0303,00:0c:29:9f:33:ab,3,1,flow=Botnet",
        ),
        (
            Format::BotIot,
            "pkSeqID,stime,proto,saddr,bytes,sbytes,attack,category",
            "1,1528089600.1,\"udp\",10.0.0.1,9,5,1,DoS",
        ),
        (
            Format::UnswNb15,
            "dur,proto,sbytes,dbytes,sttl,Stime,attack_cat,label",
            "0.1,tcp,1,2,31,1421951772,Fuzzers,1",
        ),
        (
            Format::TonIot,
            "ts,src_ip,dst_ip,conn_state,src_ip_bytes,label,type",
            "1554198358,10.0.0.1,::1,S0,40,0,normal",
        ),
    ];

    proptest::proptest! {
        #[test]
        fn prop_no_line_makes_a_parser_panic(
            sample in 0..SAMPLES.len(),
            junk in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
            cut in 0usize..100,
            byte in proptest::num::u8::ANY,
        ) {
            let (format, header, good) = SAMPLES[sample];
            // Junk where the header should be.
            let _ = parser(format).parse(&junk);
            let mut p = parser(format);
            proptest::prop_assert!(matches!(p.parse(header.as_bytes()), Parsed::Skip));
            proptest::prop_assert!(matches!(p.parse(good.as_bytes()), Parsed::Record(_)));
            // Arbitrary bytes, a good line with one byte replaced, and a good line cut short.
            let _ = p.parse(&junk);
            let mut changed = good.as_bytes().to_vec();
            let at = cut % changed.len();
            changed[at] = byte;
            let _ = p.parse(&changed);
            let _ = p.parse(&good.as_bytes()[..at]);
            // ... and the parser still reads good lines.
            proptest::prop_assert!(matches!(p.parse(good.as_bytes()), Parsed::Record(_)));
        }
    }

    #[test]
    fn every_delimited_format_has_a_parser() {
        for format in Format::ALL {
            if dialect(format).is_some() {
                let mut p = parser(format);
                assert!(matches!(p.parse(b""), Parsed::Skip));
            }
        }
    }
}
