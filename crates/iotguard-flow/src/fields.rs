//! The Zeek conn fields by name, and how a text value becomes a typed field of a [`FlowRecord`].
//!
//! Every header-driven reader (Zeek TSV, Zeek-named CSV, Zeek JSON) maps its column or key names to
//! a [`Field`] once, then sets fields from text values with [`set_field`]. Keeping the value rules
//! here means the TSV, CSV and JSON forms of the same flow give identical records.

use std::net::IpAddr;
use std::sync::Arc;

use compact_str::CompactString;

use crate::error::{ErrorKind, LineError};
use crate::label::LabelCache;
use crate::record::{ConnState, FlowRecord, Protocol};
use crate::time::{Interval, Timestamp};

/// A field of a Zeek conn record, named as Zeek names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    Ts,
    Uid,
    OrigH,
    OrigP,
    RespH,
    RespP,
    Proto,
    Service,
    Duration,
    OrigBytes,
    RespBytes,
    ConnState,
    LocalOrig,
    LocalResp,
    MissedBytes,
    History,
    OrigPkts,
    OrigIpBytes,
    RespPkts,
    RespIpBytes,
    TunnelParents,
    OrigL2Addr,
    RespL2Addr,
    CommunityId,
    Sensor,
    Label,
    DetailedLabel,
    /// A column this program does not use (kept out of the record, never an error).
    Ignored,
}

impl Field {
    /// Maps a column or key name to a field: Zeek's dotted names, the underscore variant
    /// (`id_orig_h`) and the label spellings of IoT-23 and Stratosphere.
    pub(crate) fn from_name(name: &str) -> Field {
        let name = name.trim();
        match name {
            "ts" => Field::Ts,
            "uid" => Field::Uid,
            "id.orig_h" | "id_orig_h" => Field::OrigH,
            "id.orig_p" | "id_orig_p" => Field::OrigP,
            "id.resp_h" | "id_resp_h" => Field::RespH,
            "id.resp_p" | "id_resp_p" => Field::RespP,
            "proto" => Field::Proto,
            "service" => Field::Service,
            "duration" => Field::Duration,
            "orig_bytes" => Field::OrigBytes,
            "resp_bytes" => Field::RespBytes,
            "conn_state" => Field::ConnState,
            "local_orig" => Field::LocalOrig,
            "local_resp" => Field::LocalResp,
            "missed_bytes" => Field::MissedBytes,
            "history" => Field::History,
            "orig_pkts" => Field::OrigPkts,
            "orig_ip_bytes" => Field::OrigIpBytes,
            "resp_pkts" => Field::RespPkts,
            "resp_ip_bytes" => Field::RespIpBytes,
            "tunnel_parents" => Field::TunnelParents,
            "orig_l2_addr" => Field::OrigL2Addr,
            "resp_l2_addr" => Field::RespL2Addr,
            "community_id" => Field::CommunityId,
            "_system_name" | "zeek_server" | "sensorname" | "_node_name" => Field::Sensor,
            _ if name.eq_ignore_ascii_case("label") => Field::Label,
            _ if name.eq_ignore_ascii_case("detailed-label")
                || name.eq_ignore_ascii_case("detailedlabel")
                || name.eq_ignore_ascii_case("detailed_label") =>
            {
                Field::DetailedLabel
            }
            _ => Field::Ignored,
        }
    }

    /// Returns Zeek's name for the field (for error messages and writers).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Ts => "ts",
            Field::Uid => "uid",
            Field::OrigH => "id.orig_h",
            Field::OrigP => "id.orig_p",
            Field::RespH => "id.resp_h",
            Field::RespP => "id.resp_p",
            Field::Proto => "proto",
            Field::Service => "service",
            Field::Duration => "duration",
            Field::OrigBytes => "orig_bytes",
            Field::RespBytes => "resp_bytes",
            Field::ConnState => "conn_state",
            Field::LocalOrig => "local_orig",
            Field::LocalResp => "local_resp",
            Field::MissedBytes => "missed_bytes",
            Field::History => "history",
            Field::OrigPkts => "orig_pkts",
            Field::OrigIpBytes => "orig_ip_bytes",
            Field::RespPkts => "resp_pkts",
            Field::RespIpBytes => "resp_ip_bytes",
            Field::TunnelParents => "tunnel_parents",
            Field::OrigL2Addr => "orig_l2_addr",
            Field::RespL2Addr => "resp_l2_addr",
            Field::CommunityId => "community_id",
            Field::Sensor => "_system_name",
            Field::Label => "label",
            Field::DetailedLabel => "detailed-label",
            Field::Ignored => "(ignored)",
        }
    }
}

/// Raw label text collected while a line is parsed; turned into a `Label` at the end.
#[derive(Default, Debug)]
pub(crate) struct PendingLabel<'a> {
    pub(crate) name: Option<&'a str>,
    pub(crate) detailed: Option<&'a str>,
}

impl<'a> PendingLabel<'a> {
    /// Sets `rec.label` from what was collected; a line with neither column stays unlabeled.
    pub(crate) fn finish(self, rec: &mut FlowRecord, cache: &mut LabelCache) {
        if let Some(name) = self.name.filter(|n| !n.is_empty() && *n != "-") {
            rec.label = Some(cache.get(name, self.detailed));
        }
    }
}

/// Returns the value as UTF-8 text or a `bad_value` error naming the field.
pub(crate) fn text(field: Field, value: &[u8]) -> Result<&str, LineError> {
    std::str::from_utf8(value)
        .map_err(|_| LineError::bad_value(field.name(), "text (not UTF-8)", value))
}

/// Parses an unsigned decimal count quickly.
pub(crate) fn parse_u64(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in value {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Parses a port: decimal, or Argus's hexadecimal `0x0303` for ICMP type and code.
pub(crate) fn parse_port(value: &[u8]) -> Option<u16> {
    if let Some(hex) = value
        .strip_prefix(b"0x")
        .or_else(|| value.strip_prefix(b"0X"))
    {
        let s = std::str::from_utf8(hex).ok()?;
        return u16::from_str_radix(s, 16).ok();
    }
    parse_u64(value).and_then(|n| u16::try_from(n).ok())
}

/// Parses an IPv4 or IPv6 address (dotted quads without the standard library's general parser,
/// which costs several times more on this hot path).
pub(crate) fn parse_ip(value: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = parse_ipv4(value) {
        return Some(IpAddr::V4(v4));
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Parses `a.b.c.d` with each part 0..=255 and no leading zeros (as the standard library
/// requires); `None` for anything else.
fn parse_ipv4(value: &[u8]) -> Option<std::net::Ipv4Addr> {
    if value.len() < 7 || value.len() > 15 {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut part = 0usize;
    let mut acc: u32 = 0;
    let mut digits = 0;
    for &b in value {
        if b == b'.' {
            if digits == 0 || part == 3 {
                return None;
            }
            octets[part] = acc as u8;
            part += 1;
            acc = 0;
            digits = 0;
            continue;
        }
        let d = b.wrapping_sub(b'0');
        if d > 9 || (digits == 1 && acc == 0) {
            return None;
        }
        acc = acc * 10 + u32::from(d);
        digits += 1;
        if acc > 255 {
            return None;
        }
    }
    if part != 3 || digits == 0 {
        return None;
    }
    octets[3] = acc as u8;
    Some(std::net::Ipv4Addr::from(octets))
}

/// Parses Zeek's booleans (`T`/`F`) and the common spellings (`true`, `false`, `1`, `0`).
pub(crate) fn parse_bool(value: &[u8]) -> Option<bool> {
    match value {
        b"T" | b"t" | b"true" | b"True" | b"TRUE" | b"1" => Some(true),
        b"F" | b"f" | b"false" | b"False" | b"FALSE" | b"0" => Some(false),
        _ => None,
    }
}

/// Sets one field of `rec` from its text value. The caller has already handled unset values.
///
/// `set_sep` splits set-valued fields (`tunnel_parents`); `empty` is the empty-set marker.
pub(crate) fn set_field<'a>(
    rec: &mut FlowRecord,
    label: &mut PendingLabel<'a>,
    field: Field,
    value: &'a [u8],
    set_sep: u8,
    empty: &[u8],
) -> Result<(), LineError> {
    let bad = |what: &str| LineError::bad_value(field.name(), what, value);
    match field {
        Field::Ts => {
            rec.ts = Timestamp::parse_decimal(value).ok_or_else(|| bad("time"))?;
        }
        Field::Uid => rec.uid = Some(CompactString::from(text(field, value)?)),
        Field::OrigH => rec.orig_h = Some(parse_ip(value).ok_or_else(|| bad("address"))?),
        Field::RespH => rec.resp_h = Some(parse_ip(value).ok_or_else(|| bad("address"))?),
        Field::OrigP => rec.orig_p = Some(parse_port(value).ok_or_else(|| bad("port"))?),
        Field::RespP => rec.resp_p = Some(parse_port(value).ok_or_else(|| bad("port"))?),
        Field::Proto => {
            rec.proto = match value {
                b"tcp" => Protocol::Tcp,
                b"udp" => Protocol::Udp,
                b"icmp" => Protocol::Icmp,
                _ => Protocol::parse(text(field, value)?),
            }
        }
        Field::Service => rec.service = Some(empty_aware(field, value, empty)?),
        Field::Duration => {
            rec.duration = Some(Interval::parse_decimal(value).ok_or_else(|| bad("interval"))?);
        }
        Field::OrigBytes => rec.orig_bytes = Some(parse_u64(value).ok_or_else(|| bad("count"))?),
        Field::RespBytes => rec.resp_bytes = Some(parse_u64(value).ok_or_else(|| bad("count"))?),
        Field::MissedBytes => {
            rec.missed_bytes = Some(parse_u64(value).ok_or_else(|| bad("count"))?);
        }
        Field::OrigPkts => rec.orig_pkts = Some(parse_u64(value).ok_or_else(|| bad("count"))?),
        Field::OrigIpBytes => {
            rec.orig_ip_bytes = Some(parse_u64(value).ok_or_else(|| bad("count"))?);
        }
        Field::RespPkts => rec.resp_pkts = Some(parse_u64(value).ok_or_else(|| bad("count"))?),
        Field::RespIpBytes => {
            rec.resp_ip_bytes = Some(parse_u64(value).ok_or_else(|| bad("count"))?);
        }
        Field::ConnState => {
            rec.conn_state = Some(match value {
                b"S0" => ConnState::S0,
                b"SF" => ConnState::SF,
                b"OTH" => ConnState::OTH,
                b"REJ" => ConnState::REJ,
                _ => ConnState::parse(text(field, value)?),
            });
        }
        Field::LocalOrig => rec.local_orig = Some(parse_bool(value).ok_or_else(|| bad("bool"))?),
        Field::LocalResp => rec.local_resp = Some(parse_bool(value).ok_or_else(|| bad("bool"))?),
        Field::History => rec.history = Some(empty_aware(field, value, empty)?),
        Field::TunnelParents => {
            let mut set = Vec::new();
            if value != empty {
                for item in value.split(|&b| b == set_sep) {
                    set.push(CompactString::from(text(field, item)?));
                }
            }
            rec.tunnel_parents = Some(set);
        }
        Field::OrigL2Addr => rec.orig_l2_addr = Some(CompactString::from(text(field, value)?)),
        Field::RespL2Addr => rec.resp_l2_addr = Some(CompactString::from(text(field, value)?)),
        Field::CommunityId => rec.community_id = Some(CompactString::from(text(field, value)?)),
        Field::Sensor => rec.sensor = Some(Arc::from(text(field, value)?)),
        Field::Label => label.name = Some(text(field, value)?),
        Field::DetailedLabel => label.detailed = Some(text(field, value)?),
        Field::Ignored => {}
    }
    Ok(())
}

/// A string field where Zeek's empty marker means the empty string.
fn empty_aware(field: Field, value: &[u8], empty: &[u8]) -> Result<CompactString, LineError> {
    if value == empty {
        Ok(CompactString::default())
    } else {
        Ok(CompactString::from(text(field, value)?))
    }
}

/// The error for a line that names no timestamp column at all.
pub(crate) fn missing_ts() -> LineError {
    LineError {
        kind: ErrorKind::BadValue,
        field: Some("ts".into()),
        reason: "missing".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_port(b"65535"), Some(65535));
        assert_eq!(parse_port(b"65536"), None);
        assert_eq!(parse_port(b"0x0303"), Some(0x0303));
    }

    #[test]
    fn ipv4_fast_path_agrees_with_std() {
        for text in [
            "1.2.3.4",
            "0.0.0.0",
            "255.255.255.255",
            "192.168.1.199",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1..3.4",
            "a.b.c.d",
            "1.2.3.4 ",
            "fd00::1",
            "::ffff:1.2.3.4",
        ] {
            let std = text.parse::<IpAddr>().ok();
            assert_eq!(parse_ip(text.as_bytes()), std, "{text}");
        }
    }

    #[test]
    fn names_and_aliases() {
        assert_eq!(Field::from_name("id.orig_h"), Field::OrigH);
        assert_eq!(Field::from_name("id_orig_h"), Field::OrigH);
        assert_eq!(Field::from_name("detailedlabel"), Field::DetailedLabel);
        assert_eq!(Field::from_name("Label"), Field::Label);
        assert_eq!(Field::from_name("vlan"), Field::Ignored);
    }
}
