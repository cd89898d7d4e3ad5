//! BoT-IoT CSV (UNSW Canberra, 2018): Argus flows with a header line, as in its documented columns
//! `pkSeqID, stime, flgs, proto, saddr, sport, daddr, dport, pkts, bytes, state, ltime, seq, dur,
//! mean, stddev, smac, dmac, sum, min, max, soui, doui, sco, dco, spkts, dpkts, sbytes, dbytes,
//! rate, srate, drate, attack, category, subcategory`.
//!
//! Releases differ (the 5 % extract drops the MAC and OUI columns and adds `*_number` and
//! 100-record window columns; values may be quoted, `"udp"`), so columns are found by name and
//! unknown ones ignored. The mapping:
//!
//! - `pkSeqID` → `uid` (the dataset's row id, to pivot back to the source row); `stime` → `ts`
//!   (epoch seconds); `dur` → `duration`; `proto`, `saddr`/`daddr`, `sport`/`dport` (decimal,
//!   hexadecimal `0x0303`, or empty for `arp`) as in Argus; `smac`/`dmac` → `*_l2_addr`.
//! - `spkts`/`dpkts` → `orig_pkts`/`resp_pkts`; `sbytes`/`dbytes` → `orig_ip_bytes` /
//!   `resp_ip_bytes` (Argus counts whole packets); where one side is missing it is derived from
//!   the totals `pkts`/`bytes`.
//! - `state` (`CON`, `INT`, `RST`, ...) → [`ConnState::Other`].
//! - `attack` (0/1) and `category` → [`Label::from_flag`]; `subcategory` is not kept.
//!
//! Header-less extracts (the full dataset's CSVs, whose names live in a separate file) are not
//! read by position: prepend the header line.
//!
//! [`ConnState::Other`]: crate::record::ConnState::Other
//! [`Label::from_flag`]: crate::label::Label::from_flag

use super::table::{Col, Dialect, LabelRule, Side};
use crate::detect::Format;
use crate::fields::Field;

/// The BoT-IoT dialect.
pub(super) static DIALECT: Dialect = Dialect {
    format: Format::BotIot,
    column,
    labels: LabelRule::Flag,
    time_required: true,
    trim: true,
    headerless: None,
};

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
    use crate::record::{ConnState, Protocol};
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
