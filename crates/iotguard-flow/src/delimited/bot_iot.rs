//! BoT-IoT (UNSW Canberra, 2018): Argus flows, read in every layout the dataset is published in.
//!
//! - **Per-scenario exports**: `;`-separated, strings double-quoted (ports too), more Argus
//!   columns (`dir`, `srcid`, `record`, ...), no `pkSeqID`; the `record` column holds control
//!   bytes (0x13 0x10) in every row, which is never an error since no feature uses it.
//! - **The 5 % files**: `pkSeqID, stime, flgs, proto, saddr, sport, daddr, dport, pkts, bytes,
//!   state, ltime, seq, dur, mean, stddev, sum, min, max, spkts, dpkts, sbytes, dbytes, rate,
//!   srate, drate, attack, category, subcategory` (some releases add `*_number` and 100-record
//!   window columns; values may be quoted, `"udp"`).
//! - **The 10-best training/testing files**: `pkSeqID, proto, saddr, sport, daddr, dport, seq,
//!   stddev, N_IN_Conn_P_SrcIP, min, state_number, mean, N_IN_Conn_P_DstIP, drate, srate, max,
//!   attack, category, subcategory`: no time column, so records are
//!   [`untimed`](crate::FlowRecord::untimed) and no packet or byte counts are set.
//! - **The full dataset's header-less files**, whose names live in a separate feature-names file:
//!   read with that file's line as the header (`--header-from FILE`,
//!   [`ReadOptions::header`](crate::ReadOptions::header)), or recognised by shape (the 35
//!   documented columns [`FULL_COLUMNS`], a numeric `pkSeqID`, an epoch `stime`, addresses where
//!   `saddr` and `daddr` are).
//!
//! Columns are found by name and unknown ones ignored. The mapping:
//!
//! - `pkSeqID` → `uid` (the dataset's row id, to pivot back to the source row); `stime` → `ts`
//!   (epoch seconds); `dur` → `duration`; `proto`, `saddr`/`daddr`, `sport`/`dport` (decimal,
//!   hexadecimal `0x0303`, or empty for `arp`) as in Argus; `smac`/`dmac` → `*_l2_addr`.
//! - `spkts`/`dpkts` → `orig_pkts`/`resp_pkts`; `sbytes`/`dbytes` → `orig_ip_bytes` /
//!   `resp_ip_bytes` (Argus counts whole packets); where one side is missing it is derived from
//!   the totals `pkts`/`bytes`.
//! - `state` (`CON`, `INT`, `RST`, ...) → [`ConnState::Other`].
//! - `attack` (0/1) and `category` → [`Label::from_flag`] (`Normal` rows are benign with no
//!   detailed label; an attack's detailed label is its category as published, `Theft`, `DDoS`);
//!   `subcategory` is not kept.
//!
//! [`ConnState::Other`]: crate::record::ConnState::Other
//! [`Label::from_flag`]: crate::label::Label::from_flag

use super::argus;
use super::table::{Col, Dialect, Headerless, LabelRule, Side};
use super::values::is_mac;
use crate::detect::Format;
use crate::fields::{self, Field};
use crate::native::NativeFamily;

/// The columns of the full dataset's header-less files, in file order (its feature-names file).
pub(super) const FULL_COLUMNS: [&str; 35] = [
    "pkSeqID",
    "stime",
    "flgs",
    "proto",
    "saddr",
    "sport",
    "daddr",
    "dport",
    "pkts",
    "bytes",
    "state",
    "ltime",
    "seq",
    "dur",
    "mean",
    "stddev",
    "smac",
    "dmac",
    "sum",
    "min",
    "max",
    "soui",
    "doui",
    "sco",
    "dco",
    "spkts",
    "dpkts",
    "sbytes",
    "dbytes",
    "rate",
    "srate",
    "drate",
    "attack",
    "category",
    "subcategory",
];

/// The BoT-IoT dialect.
pub(super) static DIALECT: Dialect = Dialect {
    format: Format::BotIot,
    column,
    labels: LabelRule::Flag,
    // The 10-best files have no time column.
    time_required: false,
    trim: true,
    headerless: Some(Headerless {
        names: &FULL_COLUMNS,
        fits: is_raw_record,
    }),
    native: Some(NativeFamily::BotIot),
};

/// Whether a first line (split into fields) is a record of the full dataset's header-less
/// layout: 35 fields, a numeric `pkSeqID`, an epoch `stime`, and an address (IP or MAC) in
/// `saddr` and `daddr`.
pub(super) fn is_raw_record(fields: &[&[u8]]) -> bool {
    let addr = |f: &[u8]| {
        let f = f.trim_ascii();
        fields::parse_ip(f).is_some() || is_mac(f)
    };
    fields.len() == FULL_COLUMNS.len()
        && fields::parse_u64(fields[0].trim_ascii()).is_some()
        && argus::parse_time(fields[1].trim_ascii()).is_some()
        && addr(fields[4])
        && addr(fields[6])
}

/// Whether a header (normalised names) is BoT-IoT's.
pub(super) fn is_header(has: impl Fn(&str) -> bool) -> bool {
    has("pkseqid") || (has("stime") && has("saddr") && has("daddr"))
}

fn column(name: &str) -> Col {
    match name {
        "pkseqid" => Col::Zeek(Field::Uid),
        "stime" => Col::Time,
        "proto" => Col::Zeek(Field::Proto),
        "saddr" => Col::Addr(Side::Orig),
        "daddr" => Col::Addr(Side::Resp),
        "sport" => Col::Zeek(Field::OrigP),
        "dport" => Col::Zeek(Field::RespP),
        "pkts" => Col::TotPkts,
        "bytes" => Col::TotBytes,
        "state" => Col::State,
        "dur" => Col::Zeek(Field::Duration),
        "smac" => Col::Mac(Side::Orig),
        "dmac" => Col::Mac(Side::Resp),
        "spkts" => Col::Zeek(Field::OrigPkts),
        "dpkts" => Col::Zeek(Field::RespPkts),
        "sbytes" => Col::Zeek(Field::OrigIpBytes),
        "dbytes" => Col::Zeek(Field::RespIpBytes),
        "attack" => Col::Label,
        "category" => Col::Category,
        _ => Col::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delimited::tests::{errors, fixture};
    use crate::error::ErrorKind;
    use crate::label::LabelClass;
    use crate::reader::{FlowReader, ReadOptions};
    use crate::record::{ConnState, FlowRecord, Protocol};
    use crate::time::Interval;

    #[test]
    fn reads_the_documented_columns() {
        let recs = fixture("bot-iot/bot_iot_full_columns.csv", Format::BotIot);
        assert_eq!(recs.len(), 6);
        let r = &recs[0];
        assert_eq!(r.uid.as_deref(), Some("1"));
        assert_eq!(r.ts.0, 1_528_089_600_009_475_000);
        assert_eq!(r.proto, Protocol::Udp);
        assert_eq!(r.orig_h, Some("192.168.100.150".parse().unwrap()));
        assert_eq!((r.orig_p, r.resp_p), (Some(6551), Some(80)));
        assert_eq!(r.duration, Some(Interval(4_999_318_000)));
        assert_eq!(r.conn_state, Some(ConnState::Other("INT".into())));
        assert_eq!((r.orig_pkts, r.resp_pkts), (Some(5), Some(0)));
        assert_eq!((r.orig_ip_bytes, r.resp_ip_bytes), (Some(300), Some(0)));
        assert_eq!(r.orig_l2_addr.as_deref(), Some("00:0c:29:9f:33:ab"));
        let label = r.label.as_ref().unwrap();
        assert_eq!(
            (label.class, label.detailed.as_deref()),
            (LabelClass::Malicious, Some("DDoS"))
        );

        let arp = recs
            .iter()
            .find(|r| r.proto == Protocol::Other("arp".into()))
            .unwrap();
        assert_eq!((arp.orig_p, arp.resp_p), (None, None));
        assert_eq!((arp.orig_pkts, arp.resp_pkts), (Some(1), Some(1)));
        let normal = arp.label.as_ref().unwrap();
        assert_eq!(
            (normal.class, normal.detailed.clone()),
            (LabelClass::Benign, None)
        );

        let icmp = recs.iter().find(|r| r.proto == Protocol::Icmp).unwrap();
        assert_eq!(icmp.orig_p, Some(0x0303));
    }

    #[test]
    fn reads_a_quoted_layout_with_fewer_columns() {
        let recs = fixture("bot-iot/bot_iot_fewer_columns_quoted.csv", Format::BotIot);
        assert_eq!(recs.len(), 3);
        let r = &recs[0];
        assert_eq!(r.uid.as_deref(), Some("3142762"));
        assert_eq!(r.proto, Protocol::Udp);
        assert_eq!(r.resp_h, Some("192.168.100.3".parse().unwrap()));
        // No dpkts/dbytes column in this layout: derived from the totals.
        assert_eq!((r.orig_pkts, r.resp_pkts), (Some(4), Some(0)));
        assert_eq!((r.orig_ip_bytes, r.resp_ip_bytes), (Some(240), Some(0)));
        assert_eq!(r.label.as_ref().unwrap().detailed.as_deref(), Some("DoS"));
        let recon = &recs[2];
        assert_eq!(
            recon.label.as_ref().unwrap().detailed.as_deref(),
            Some("Reconnaissance")
        );
    }

    /// Reads a fixture with a separate header line (`--header-from`), detecting the format from it.
    fn with_header(rel: &str, header_rel: &str) -> Vec<FlowRecord> {
        let header = std::fs::read(iotguard_testkit::testdata(header_rel)).unwrap();
        let options = ReadOptions {
            header: Some(header.into()),
            ..ReadOptions::default()
        };
        let file = std::fs::File::open(iotguard_testkit::testdata(rel)).unwrap();
        let reader = FlowReader::open(rel, file, &options).unwrap();
        assert_eq!(reader.format(), Format::BotIot);
        reader
            .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn summary(recs: &[FlowRecord]) -> Vec<(String, Option<String>, bool)> {
        recs.iter()
            .map(|r| {
                let l = r.label.as_ref().unwrap();
                (
                    l.class.as_str().to_string(),
                    l.detailed.as_ref().map(|d| d.to_string()),
                    r.untimed,
                )
            })
            .collect()
    }

    #[test]
    fn reads_a_per_scenario_export() {
        // `;`-separated, every string quoted, 37 columns, control bytes in `record`, empty MACs,
        // empty ports on ARP, rows out of time order: all five rows are records.
        let recs = fixture("bot-iot/bot_iot_scenario_export.csv", Format::BotIot);
        assert_eq!(recs.len(), 5);
        let theft = (
            String::from("malicious"),
            Some(String::from("Theft")),
            false,
        );
        let normal = (String::from("benign"), None, false);
        assert_eq!(
            summary(&recs),
            vec![theft.clone(), normal.clone(), theft.clone(), normal, theft]
        );
        let r = &recs[0];
        assert_eq!(r.ts.0, 1_529_284_410_250_117_000);
        assert_eq!(r.proto, Protocol::Tcp);
        assert_eq!(r.orig_h, Some("192.168.100.150".parse().unwrap()));
        assert_eq!((r.orig_p, r.resp_p), (Some(41822), Some(22)));
        assert_eq!(r.duration, Some(Interval(752_814_000)));
        assert_eq!((r.orig_pkts, r.resp_pkts), (Some(14), Some(16)));
        assert_eq!((r.orig_ip_bytes, r.resp_ip_bytes), (Some(1702), Some(3508)));
        assert_eq!(r.conn_state, Some(ConnState::Other("FIN".into())));
        assert_eq!((r.orig_l2_addr.clone(), r.uid.clone()), (None, None));
        let arp = &recs[2];
        assert_eq!(arp.proto, Protocol::Other("arp".into()));
        assert_eq!((arp.orig_p, arp.resp_p), (None, None));
        // Out of time order, as published: kept in file order.
        assert!(recs[3].ts < recs[1].ts && recs[1].ts < recs[0].ts);
        // The Argus statistics are kept as native values.
        let native = r.native.as_ref().unwrap();
        assert_eq!(native.family, crate::NativeFamily::BotIot);
        let names = native.family.feature_names();
        let get = |n: &str| native.values[names.iter().position(|x| x == n).unwrap()];
        assert_eq!(
            (get("native.mean"), get("native.drate")),
            (0.752814, 19.925346)
        );
        assert_eq!((get("native.state.FIN"), get("native.flgs.s")), (1.0, 0.0));
    }

    #[test]
    fn control_bytes_in_a_used_column_are_still_an_error() {
        let text = "\"stime\";\"proto\";\"saddr\";\"record\";\"attack\";\"category\"\n\
            1.5;\"udp\";\"10.0.0.1\";\"\x13\x10\";0;\"Normal\"\n\
            1.5;\"u\x13dp\";\"10.0.0.1\";\"\x13\x10\";0;\"Normal\"\n\
            1.5;\"udp\";\"10.0.0.1\";\"\x13\x10\";0;\"Nor\x01mal\"\n";
        assert_eq!(
            errors(Format::BotIot, text),
            vec![
                None,
                Some((ErrorKind::BadValue, Some("proto".into()))),
                Some((ErrorKind::BadValue, Some("category".into()))),
            ]
        );
    }

    #[test]
    fn reads_the_5pc_layout() {
        let recs = fixture("bot-iot/bot_iot_5pc.csv", Format::BotIot);
        assert_eq!(recs.len(), 4);
        let details: Vec<_> = summary(&recs).into_iter().map(|(c, d, _)| (c, d)).collect();
        assert_eq!(
            details,
            vec![
                ("malicious".into(), Some("DoS".into())),
                ("malicious".into(), Some("DDoS".into())),
                ("malicious".into(), Some("Reconnaissance".into())),
                ("benign".into(), None),
            ]
        );
        assert_eq!(recs[0].uid.as_deref(), Some("3576001"));
        assert_eq!(recs[0].ts.0, 1_528_094_420_118_203_000);
        assert_eq!((recs[0].orig_pkts, recs[0].resp_pkts), (Some(5), Some(2)));
        assert_eq!((recs[2].orig_p, recs[2].resp_p), (Some(8), Some(0x0ab2)));
        assert!(recs.iter().all(|r| !r.untimed));
    }

    #[test]
    fn reads_the_10_best_layout_without_time() {
        let recs = fixture("bot-iot/bot_iot_10_best.csv", Format::BotIot);
        assert_eq!(recs.len(), 5);
        assert!(recs.iter().all(|r| r.untimed && r.ts.0 == 0));
        let r = &recs[0];
        assert_eq!(r.uid.as_deref(), Some("3142762"));
        assert_eq!(
            (r.proto.clone(), r.orig_p, r.resp_p),
            (Protocol::Udp, Some(6551), Some(80))
        );
        // No count columns in this layout: none invented.
        assert_eq!(
            (r.orig_pkts, r.orig_ip_bytes, r.duration),
            (None, None, None)
        );
        let classes: Vec<_> = summary(&recs)
            .into_iter()
            .map(|(c, d, _)| format!("{c}:{}", d.unwrap_or_default()))
            .collect();
        assert_eq!(
            classes,
            [
                "malicious:DDoS",
                "malicious:DoS",
                "malicious:DoS",
                "benign:",
                "malicious:Reconnaissance"
            ]
        );
    }

    #[test]
    fn reads_the_header_less_full_files_by_shape_and_with_the_names_file() {
        let by_shape = fixture("bot-iot/bot_iot_full_no_header.csv", Format::BotIot);
        let named = with_header(
            "bot-iot/bot_iot_full_no_header.csv",
            "bot-iot/bot_iot_feature_names.csv",
        );
        assert_eq!(by_shape, named);
        assert_eq!(by_shape.len(), 3);
        let r = &by_shape[1];
        assert_eq!(r.uid.as_deref(), Some("2"));
        assert_eq!(r.ts.0, 1_526_344_122_105_310_000);
        assert_eq!((r.orig_p, r.resp_p), (Some(12001), Some(80)));
        assert_eq!((r.orig_ip_bytes, r.resp_ip_bytes), (Some(120), Some(0)));
        assert_eq!(
            summary(&by_shape),
            vec![
                ("benign".into(), None, false),
                ("malicious".into(), Some("DDoS".into()), false),
                ("malicious".into(), Some("DDoS".into()), false),
            ]
        );
        // The names file given for a file that has its own header: that line is not a record.
        let with_own = with_header(
            "bot-iot/bot_iot_full_columns.csv",
            "bot-iot/bot_iot_feature_names.csv",
        );
        assert_eq!(
            with_own,
            fixture("bot-iot/bot_iot_full_columns.csv", Format::BotIot)
        );
    }

    #[test]
    fn a_names_file_of_no_known_columns_is_refused() {
        let options = ReadOptions {
            header: Some(b"what;is;this\n".to_vec().into()),
            ..ReadOptions::default()
        };
        let input = std::io::Cursor::new(b"1,2,3\n".to_vec());
        assert!(FlowReader::open("x", input, &options).is_err());
        let options = ReadOptions {
            format: Some(Format::ZeekTsv),
            header: Some(b"pkSeqID;stime\n".to_vec().into()),
            ..ReadOptions::default()
        };
        let input = std::io::Cursor::new(b"1,2\n".to_vec());
        assert!(FlowReader::open("x", input, &options).is_err());
    }

    #[test]
    fn bad_bot_iot_lines() {
        let text = "pkSeqID,stime,proto,saddr,sport,daddr,dport,pkts,spkts,attack,category\n\
            1,1528089600.1,udp,10.0.0.1,53,10.0.0.2,53,2,1,0,Normal\n\
            2,1528089600.1,udp,10.0.0.1,53,10.0.0.2,53,2,1,2,DoS\n\
            3,1528089600.1,udp,host-a,53,10.0.0.2,53,2,1,1,DoS\n\
            4,15280896OO,udp,10.0.0.1,53,10.0.0.2,53,2,1,1,DoS\n\
            5,1528089600.1,udp,10.0.0.1,53,10.0.0.2,53,2,1,1,\"DoS\n";
        assert_eq!(
            errors(Format::BotIot, text),
            vec![
                None,
                Some((ErrorKind::BadValue, Some("attack".into()))),
                Some((ErrorKind::BadValue, Some("saddr".into()))),
                Some((ErrorKind::BadValue, Some("stime".into()))),
                Some((ErrorKind::Malformed, Some("category".into()))),
            ]
        );
    }
}
