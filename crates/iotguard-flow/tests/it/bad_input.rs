//! Bad input in every format: truncated lines, wrong field counts, bad numbers, binary junk, a
//! 10 MB line, empty and header-only files. Each bad line is one counted error with its line
//! number; no panic; the good lines around it read exactly as they do in the clean file.

use std::io::Cursor;

use iotguard_flow::{ErrorKind, FlowReader, FlowRecord, Format, ParseError, ReadOptions};

/// A fixture, its format, how many header lines it starts with, and one line with a bad number.
struct Case {
    file: &'static str,
    format: Format,
    header_lines: usize,
    bad_number: &'static str,
}

const CASES: &[Case] = &[
    Case {
        file: "zeek/conn_small.log",
        format: Format::ZeekTsv,
        header_lines: 8,
        bad_number: "1577836800.5\tCx\t10.0.0.5\t4000x\t203.0.113.9\t23\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t1\t40\t0\t0\t-   Benign   -",
    },
    Case {
        file: "zeek/conn_small.json",
        format: Format::ZeekJson,
        header_lines: 0,
        bad_number: r#"{"ts":1577836800.5,"uid":"Cx","id.orig_h":"10.0.0.5","id.orig_p":"4000x","id.resp_h":"10.0.0.1","id.resp_p":53,"proto":"udp"}"#,
    },
    Case {
        file: "ton-iot/ton_iot_network.csv",
        format: Format::TonIot,
        header_lines: 1,
        bad_number: "1554198358,192.168.1.79,47260,192.168.1.255,15600,udp,-,0,0,zero,S0,0,1,63,0,0,0,0,0,0,-,-,-,-,-,-,-,-,-,-,-,-,-,-,-,0,0,0,-,-,-,-,-,-,0,normal",
    },
    Case {
        file: "bot-iot/bot_iot_full_columns.csv",
        format: Format::BotIot,
        header_lines: 1,
        bad_number: "",
    },
    Case { file: "unsw-nb15/unsw_nb15_partition.csv", format: Format::UnswNb15, header_lines: 1, bad_number: "" },
    Case { file: "unsw-nb15/unsw_nb15_raw_no_header.csv", format: Format::UnswNb15, header_lines: 0, bad_number: "" },
];

fn read(bytes: Vec<u8>, format: Format) -> Vec<Result<FlowRecord, ParseError>> {
    let options = ReadOptions {
        format: Some(format),
        ..ReadOptions::default()
    };
    FlowReader::open("test", Cursor::new(bytes), &options)
        .unwrap()
        .collect()
}

/// The bad lines a case gets, each with the error kind it must give (None: any kind).
fn bad_lines(case: &Case, good: &str) -> Vec<(Vec<u8>, Option<ErrorKind>)> {
    let sep = if case.format == Format::ZeekTsv {
        '\t'
    } else {
        ','
    };
    let mut bad: Vec<(Vec<u8>, Option<ErrorKind>)> = vec![
        // Truncated: the first half of a good line.
        (good.as_bytes()[..good.len() / 2].to_vec(), None),
        // Binary junk (no newline inside, NUL and invalid UTF-8 included).
        (
            vec![
                0xff, 0x00, 0x89, b'P', b'N', b'G', 0x0d, 0x1a, 0xfe, 0x01, 0x02,
            ],
            None,
        ),
        // A 10 MB line: over the 1 MiB limit, skipped without being held.
        (vec![b'9'; 10 * 1024 * 1024], Some(ErrorKind::LineTooLong)),
    ];
    if case.format != Format::ZeekJson {
        // One field too many.
        bad.push((
            format!("{good}{sep}extra").into_bytes(),
            Some(ErrorKind::FieldCount),
        ));
    }
    if !case.bad_number.is_empty() {
        bad.push((
            case.bad_number.as_bytes().to_vec(),
            Some(ErrorKind::BadValue),
        ));
    }
    bad
}

#[test]
fn every_bad_line_is_one_counted_error_and_the_stream_goes_on() {
    for case in CASES {
        let text = std::fs::read_to_string(iotguard_testkit::testdata(case.file)).unwrap();
        let clean: Vec<FlowRecord> = read(text.clone().into_bytes(), case.format)
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|e| panic!("{}: clean fixture has a bad record: {e}", case.file))
            })
            .collect();
        let lines: Vec<&str> = text.lines().collect();
        let (header, data) = lines.split_at(case.header_lines);
        let data: Vec<&str> = data
            .iter()
            .copied()
            .filter(|l| !l.starts_with('#'))
            .collect();
        assert_eq!(
            data.len(),
            clean.len(),
            "{}: one record per data line",
            case.file
        );

        // Header, then each good line followed by one bad line (cycling through them).
        let bad = bad_lines(case, data[0]);
        let mut out: Vec<u8> = Vec::new();
        let mut line_no = 0u64;
        for h in header {
            out.extend_from_slice(h.as_bytes());
            out.push(b'\n');
            line_no += 1;
        }
        let mut expected_errors = Vec::new();
        for i in 0..data.len().max(bad.len()) {
            if let Some(good) = data.get(i) {
                out.extend_from_slice(good.as_bytes());
                out.push(b'\n');
                line_no += 1;
            }
            if let Some((bytes, kind)) = bad.get(i) {
                out.extend_from_slice(bytes);
                out.push(b'\n');
                line_no += 1;
                expected_errors.push((line_no, *kind));
            }
        }

        let got = read(out, case.format);
        let records: Vec<&FlowRecord> = got.iter().filter_map(|r| r.as_ref().ok()).collect();
        let errors: Vec<&ParseError> = got.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(records.len(), clean.len(), "{}: good records", case.file);
        for (a, b) in records.iter().zip(&clean) {
            assert_eq!(*a, b, "{}: a good record changed", case.file);
        }
        assert_eq!(
            errors.len(),
            expected_errors.len(),
            "{}: errors {errors:#?}",
            case.file
        );
        for (e, (line, kind)) in errors.iter().zip(&expected_errors) {
            assert_eq!(e.line, *line, "{}: {e}", case.file);
            if let Some(kind) = kind {
                assert_eq!(e.kind, *kind, "{}: {e}", case.file);
            }
            assert!(!e.reason.is_empty());
            // Rejected lines are kept verbatim (long ones cut at the limit).
            assert!(e.raw.len() <= 1 << 20, "{}: raw kept whole", case.file);
        }
    }
}

#[test]
fn empty_and_header_only_inputs_give_nothing_and_no_error() {
    for format in Format::ALL {
        assert!(read(Vec::new(), format).is_empty(), "{format}: empty input");
    }
    for case in CASES.iter().filter(|c| c.header_lines > 0) {
        let text = std::fs::read_to_string(iotguard_testkit::testdata(case.file)).unwrap();
        let header: String = text
            .lines()
            .take(case.header_lines)
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(
            read(header.into_bytes(), case.format).is_empty(),
            "{}: header only",
            case.file
        );
    }
}

#[test]
fn an_empty_input_is_detected_as_empty_not_refused() {
    let reader =
        FlowReader::open("empty", Cursor::new(Vec::new()), &ReadOptions::default()).unwrap();
    assert_eq!(reader.count(), 0);
}
