//! Argus `ra` output with a header line (CTU-13 `.binetflow`), tab- or comma-separated.
//!
//! Columns are matched by `ra`'s own titles, case-insensitively: `StartTime`, `Dur`, `Proto`,
//! `SrcAddr`, `Sport`, `DstAddr`, `Dport`, `State`, `TotPkts`, `TotBytes`, `SrcPkts`, `SrcBytes`,
//! `DstPkts`, `DstBytes`, `SrcAppBytes`, `DstAppBytes`, `SrcMac`, `DstMac`, `SrcId` and `Label`;
//! every other column (`Dir`, `sTos`, `Flgs`, ...) is ignored. Decisions, where Argus and Zeek differ:
//!
//! - `StartTime` is `2018/05/10 10:52:47.283479` (read as UTC: `ra` prints local time, and the
//!   file does not say which zone that was) or epoch seconds. A time without a date (`ra`'s
//!   default `%T.%f`) cannot be placed and is a bad value.
//! - Argus byte counts are whole packets as captured, so they go to `orig_ip_bytes` and
//!   `resp_ip_bytes`, the nearest Zeek fields; on Ethernet they include the 14-byte link header.
//!   `SrcAppBytes`/`DstAppBytes`, where present, are payload and go to `orig_bytes`/`resp_bytes`.
//! - Without `DstPkts`/`DstBytes`, the responder's counts are `TotPkts − SrcPkts` and
//!   `TotBytes − SrcBytes`.
//! - Addresses of non-IP flows (`arp`, `llc`) may be MACs: they go to `orig_l2_addr` /
//!   `resp_l2_addr` and `orig_h` / `resp_h` stay unset. A management record (`man`, address `0`)
//!   is a record with no addresses, not an error.
//! - Ports may be hexadecimal (`0x0303`: ICMP type and code packed as Argus packs them; they are
//!   kept as that number, not split into Zeek's type/code) or empty (`arp`).
//! - `State` (`CON`, `INT`, `SPA_SRPA`, ...) is Argus's vocabulary: [`ConnState::Other`].
//! - `Label` is CTU-13's `flow=...` ([`Label::from_argus`]); an empty cell is unlabeled.
//!
//! [`ConnState::Other`]: crate::record::ConnState::Other
//! [`Label::from_argus`]: crate::label::Label::from_argus

use super::table::{Col, Dialect, LabelRule, Side};
use crate::detect::Format;
use crate::fields::Field;
use crate::time::Timestamp;

/// The Argus dialect.
pub(super) static DIALECT: Dialect = Dialect {
    format: Format::Argus,
    column,
    labels: LabelRule::Argus,
    time_required: true,
    trim: true,
    headerless: None,
    native: None,
};

/// Whether a header (normalised names) is `ra` output.
pub(super) fn is_header(has: impl Fn(&str) -> bool) -> bool {
    has("starttime") && (has("srcaddr") || has("proto"))
}

fn column(name: &str) -> Col {
    match name {
        "starttime" => Col::Time,
        "dur" => Col::Zeek(Field::Duration),
        "proto" => Col::Zeek(Field::Proto),
        "srcaddr" => Col::Addr(Side::Orig),
        "dstaddr" => Col::Addr(Side::Resp),
        "sport" => Col::Zeek(Field::OrigP),
        "dport" => Col::Zeek(Field::RespP),
        "state" => Col::State,
        "service" => Col::Zeek(Field::Service),
        "totpkts" => Col::TotPkts,
        "totbytes" => Col::TotBytes,
        "srcpkts" | "outpkts" => Col::Zeek(Field::OrigPkts),
        "dstpkts" | "inpkts" => Col::Zeek(Field::RespPkts),
        "srcbytes" => Col::Zeek(Field::OrigIpBytes),
        "dstbytes" => Col::Zeek(Field::RespIpBytes),
        "srcappbytes" | "sappbytes" => Col::Zeek(Field::OrigBytes),
        "dstappbytes" | "dappbytes" => Col::Zeek(Field::RespBytes),
        "srcmac" => Col::Mac(Side::Orig),
        "dstmac" => Col::Mac(Side::Resp),
        "srcid" => Col::Sensor,
        "label" => Col::Label,
        _ => Col::Ignored,
    }
}

/// Parses a start time: epoch seconds (`1525949567.283479`), or a date and time
/// (`2018/05/10 10:52:47.283479`, `2018-05-10T10:52:47Z`) read as UTC.
pub(super) fn parse_time(value: &[u8]) -> Option<Timestamp> {
    if value.len() >= 10 && matches!(value[4], b'/' | b'-') {
        parse_datetime(value)
    } else {
        Timestamp::parse_decimal(value)
    }
}

/// Parses `YYYY/MM/DD HH:MM:SS[.fraction]` (`/` or `-`, space or `T`, an optional `Z`) as UTC,
/// exactly to the nanosecond.
fn parse_datetime(value: &[u8]) -> Option<Timestamp> {
    let value = value.strip_suffix(b"Z").unwrap_or(value);
    if value.len() < 19 {
        return None;
    }
    let (date, rest) = value.split_at(10);
    let sep = date[4];
    if date[7] != sep || !matches!(rest[0], b' ' | b'T') {
        return None;
    }
    let (clock, frac) = rest[1..].split_at(8);
    if clock[2] != b':' || clock[5] != b':' {
        return None;
    }
    let year = digits(&date[..4])?;
    let month = digits(&date[5..7])?;
    let day = digits(&date[8..10])?;
    let (h, m, s) = (
        digits(&clock[..2])?,
        digits(&clock[3..5])?,
        digits(&clock[6..8])?,
    );
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let nanos = match frac {
        [] => 0,
        [b'.', f @ ..] if !f.is_empty() && f.len() <= 9 => {
            digits(f)? * 10u32.pow(9 - f.len() as u32)
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(h * 3600 + m * 60 + s);
    Some(Timestamp::from_secs_nanos(secs, nanos))
}

/// Parses a short run of ASCII digits (at most nine).
fn digits(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 9 {
        return None;
    }
    text.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delimited::tests::{errors, records};
    use crate::error::ErrorKind;
    use crate::label::LabelClass;
    use crate::record::{ConnState, Protocol};
    use crate::time::Interval;

    #[test]
    fn parses_argus_times_as_utc() {
        let t = |s: &str| parse_time(s.as_bytes()).map(|t| t.0);
        assert_eq!(t("1970/01/01 00:00:00"), Some(0));
        assert_eq!(
            t("2018/05/10 10:52:47.283479"),
            Some(1_525_949_567_283_479_000)
        );
        assert_eq!(
            t("2018-05-10T10:52:47.283479Z"),
            Some(1_525_949_567_283_479_000)
        );
        assert_eq!(t("2000/02/29 23:59:59.5"), Some(951_868_799_500_000_000));
        assert_eq!(t("1525949567.283479"), Some(1_525_949_567_283_479_000));
        assert_eq!(t("1969/12/31 23:59:59"), Some(-1_000_000_000));
        for bad in [
            "2018/05/10",
            "2018/13/10 10:52:47",
            "2019/02/29 10:52:47",
            "2018/05/10 24:00:00",
            "2018/05-10 10:52:47",
            "2018/05/10 10:52:47.",
            "2018/05/10 10:52:47.1234567890",
            "2018/05/10 10:52:47x",
            "10:52:47.283479",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    const TAB: &str = "StartTime\tDur\tProto\tSrcAddr\tSport\tDir\tDstAddr\tDport\tState\tsTos\tdTos\tTotPkts\tTotBytes\tSrcBytes\tSrcPkts\tLabel\n\
        2018/05/10 10:52:47.283479\t0.045010\tman\t0\t0\t\t0\t0\tSTA\t\t\t0\t0\t0\t0\t\n\
        1970/01/01 01:00:00.000000\t0.000000\tllc\t00:00:00:00:00:00\t0\t   ->\t00:00:00:00:00:00\t0\tINT\t\t\t1\t60\t60\t1\tflow=Background\n\
        1970/01/01 01:00:08.156845\t3554.205811\tarp\t10.0.2.15\t\t  who\t10.0.2.2\t\tCON\t\t\t22\t924\t462\t11\tflow=Background-ARP\n\
        1970/01/01 01:01:17.400949\t0.000000\ticmp\t10.0.2.15\t0x0303\t   ->\t8.8.4.4\t0x0ecc\tURP\t0\t\t1\t173\t173\t1\tflow=Background-ICMP\n\
        1970/01/01 01:02:03.5\t1.5\tudp\t10.0.2.15\t5353\t  <->\t10.0.2.3\t53\tCON\t0\t0\t2\t150\t70\t1\tflow=Malware-UDP-DNS\n";

    #[test]
    fn reads_tab_separated_ra_output() {
        let recs = records(Format::Argus, TAB);
        assert_eq!(recs.len(), 5);

        let man = &recs[0];
        assert_eq!(man.proto, Protocol::Other("man".into()));
        assert_eq!((man.orig_h, man.resp_h, man.orig_p), (None, None, Some(0)));
        assert_eq!(man.ts.0, 1_525_949_567_283_479_000);
        assert_eq!(man.label, None);

        let llc = &recs[1];
        assert_eq!(llc.ts.0, 3_600_000_000_000);
        assert_eq!(llc.orig_h, None);
        assert_eq!(llc.orig_l2_addr.as_deref(), Some("00:00:00:00:00:00"));
        assert_eq!(llc.resp_l2_addr.as_deref(), Some("00:00:00:00:00:00"));
        assert_eq!(llc.conn_state, Some(ConnState::Other("INT".into())));
        assert_eq!(llc.label.as_ref().unwrap().class, LabelClass::Other);

        let arp = &recs[2];
        assert_eq!(arp.orig_h, Some("10.0.2.15".parse().unwrap()));
        assert_eq!((arp.orig_p, arp.resp_p), (None, None));
        assert_eq!(arp.duration, Some(Interval(3_554_205_811_000)));
        assert_eq!((arp.orig_pkts, arp.resp_pkts), (Some(11), Some(11)));
        assert_eq!(
            (arp.orig_ip_bytes, arp.resp_ip_bytes),
            (Some(462), Some(462))
        );
        assert_eq!((arp.orig_bytes, arp.resp_bytes), (None, None));

        let icmp = &recs[3];
        assert_eq!((icmp.orig_p, icmp.resp_p), (Some(0x0303), Some(0x0ecc)));
        assert_eq!((icmp.orig_pkts, icmp.resp_pkts), (Some(1), Some(0)));

        let dns = &recs[4];
        assert_eq!(dns.ts.0, 3_723_500_000_000);
        assert_eq!(dns.proto, Protocol::Udp);
        assert_eq!((dns.orig_ip_bytes, dns.resp_ip_bytes), (Some(70), Some(80)));
        let label = dns.label.as_ref().unwrap();
        assert_eq!(
            (label.class, label.detailed.as_deref()),
            (LabelClass::Malicious, Some("Malware-UDP-DNS"))
        );
    }

    #[test]
    fn reads_comma_separated_output_with_destination_columns() {
        let text = "StartTime,Proto,SrcAddr,Sport,DstAddr,Dport,SrcPkts,DstPkts,TotPkts,SrcBytes,DstBytes,SrcAppBytes,DstAppBytes,SrcMac,SrcId,Label\n\
            1554394980.325010,udp,10.8.0.69,48427,8.8.8.8,53,1,1,2,63,79,35,51,0:1b:21:a:b:c,probe-1,\n";
        let r = &records(Format::Argus, text)[0];
        assert_eq!(r.ts.0, 1_554_394_980_325_010_000);
        assert_eq!((r.orig_pkts, r.resp_pkts), (Some(1), Some(1)));
        assert_eq!((r.orig_ip_bytes, r.resp_ip_bytes), (Some(63), Some(79)));
        assert_eq!((r.orig_bytes, r.resp_bytes), (Some(35), Some(51)));
        assert_eq!(r.orig_l2_addr.as_deref(), Some("0:1b:21:a:b:c"));
        assert_eq!(r.sensor.as_deref(), Some("probe-1"));
        assert_eq!(r.label, None);
    }

    #[test]
    fn bad_argus_lines_name_their_column() {
        let text = "StartTime,Proto,SrcAddr,Sport,DstAddr,TotPkts,SrcPkts,Label\n\
            2018/05/10 10:52:47,tcp,10.0.0.1,80,10.0.0.2,3,1,\n\
            10:52:47.283479,tcp,10.0.0.1,80,10.0.0.2,3,1,\n\
            2018/05/10 10:52:47,tcp,0,80,10.0.0.2,3,1,\n\
            2018/05/10 10:52:47,tcp,10.0.0.1,0x1FFFF,10.0.0.2,3,1,\n\
            2018/05/10 10:52:47,tcp,10.0.0.1,80,10.0.0.2,1,3,\n\
            ,tcp,10.0.0.1,80,10.0.0.2,3,1,\n\
            2018/05/10 10:52:47,tcp,10.0.0.1,80,10.0.0.2,3,\n";
        assert_eq!(
            errors(Format::Argus, text),
            vec![
                None,
                Some((ErrorKind::BadValue, Some("StartTime".into()))),
                Some((ErrorKind::BadValue, Some("SrcAddr".into()))),
                Some((ErrorKind::BadValue, Some("Sport".into()))),
                Some((ErrorKind::BadValue, Some("TotPkts".into()))),
                Some((ErrorKind::BadValue, Some("StartTime".into()))),
                Some((ErrorKind::FieldCount, None)),
            ]
        );
    }
}
