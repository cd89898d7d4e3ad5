//! The datasets' own ("native") columns beyond the Zeek conn fields: BoT-IoT's Argus statistics,
//! TON_IoT's DNS, SSL, HTTP and weird fields and UNSW-NB15's Argus/Bro statistics and `ct_*`
//! counters, kept as numbers for the native feature set.
//!
//! They live in an optional boxed [`Native`] on the record, set only by readers of inputs that
//! carry a family's every column, so the common record (and Zeek input) pays one pointer for it.
//! A value that does not parse is missing (`NaN`), never a rejected line: these columns are not
//! what the record needs to exist.

use std::fmt;
use std::str::FromStr;

/// How one native column becomes numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A decimal number.
    Num,
    /// Zeek's `T`/`F` (or `true`/`false`, `1`/`0`): 1 or 0.
    Bool,
    /// 1 when the cell is set (not `-` or empty), else 0.
    Set,
    /// One indicator per listed value, then `.other` for any other set value.
    OneHot(&'static [&'static str]),
    /// Argus flags (`e s`, `e d`, `e *`): one indicator per listed flag character.
    Flags(&'static [char]),
}

/// One native column: its header name (as normalised: lower case), another name some layouts
/// give it (empty if none), and how it is encoded.
#[derive(Clone, Copy, Debug)]
struct Column {
    name: &'static str,
    alias: &'static str,
    kind: Kind,
}

impl Column {
    /// Whether a normalised header name names this column.
    fn is_named(&self, name: &str) -> bool {
        name == self.name || (!self.alias.is_empty() && name == self.alias)
    }
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        alias: "",
        kind,
    }
}

/// A number column that some layouts name `alias`.
const fn num_or(name: &'static str, alias: &'static str) -> Column {
    Column {
        name,
        alias,
        kind: Kind::Num,
    }
}

/// BoT-IoT's Argus statistics (the 5 % files and the per-scenario exports carry them all).
const BOT_IOT: &[Column] = &[
    col("mean", Kind::Num),
    col("stddev", Kind::Num),
    col("sum", Kind::Num),
    col("min", Kind::Num),
    col("max", Kind::Num),
    col("rate", Kind::Num),
    col("srate", Kind::Num),
    col("drate", Kind::Num),
    col(
        "state",
        Kind::OneHot(&[
            "CON", "INT", "FIN", "RST", "REQ", "ECO", "URP", "ACC", "CLO",
        ]),
    ),
    col("flgs", Kind::Flags(&['s', 'd', '*', 'g', 'r', '&', 'M'])),
];

/// TON_IoT's protocol columns (identifiers such as `dns_query`, `ssl_subject`, `http_uri` and
/// the user agent are left out: they name hosts and sessions, not behaviour).
const TON_IOT: &[Column] = &[
    col("dns_qclass", Kind::Num),
    col("dns_qtype", Kind::Num),
    col("dns_rcode", Kind::Num),
    col("dns_aa", Kind::Bool),
    col("dns_rd", Kind::Bool),
    col("dns_ra", Kind::Bool),
    col("dns_rejected", Kind::Bool),
    col(
        "ssl_version",
        Kind::OneHot(&["TLSv10", "TLSv11", "TLSv12", "TLSv13", "SSLv3"]),
    ),
    col("ssl_cipher", Kind::Set),
    col("ssl_resumed", Kind::Bool),
    col("ssl_established", Kind::Bool),
    col("http_trans_depth", Kind::Num),
    col(
        "http_method",
        Kind::OneHot(&["GET", "POST", "HEAD", "PUT", "OPTIONS", "DELETE"]),
    ),
    col("http_request_body_len", Kind::Num),
    col("http_response_body_len", Kind::Num),
    col("http_status_code", Kind::Num),
    col("http_orig_mime_types", Kind::Set),
    col("http_resp_mime_types", Kind::Set),
    col("weird_name", Kind::Set),
    col("weird_notice", Kind::Bool),
];

/// UNSW-NB15's own statistics, by the raw files' names (the sampled layout keeps them; the
/// train/test partitions rename five, accepted as aliases). Left out: addresses, ports and
/// times, the TCP base sequence numbers (`stcpb`, `dtcpb`: per-connection random values) and
/// the partitions' `rate` (the raw files do not have it). `sttl`, `dttl` and `ct_state_ttl` are
/// known to separate the testbed's attack hosts by their TTLs rather than by behaviour; they are
/// kept so that the ablation can show how much of the published accuracy they carry.
const UNSW_NB15: &[Column] = &[
    col("sttl", Kind::Num),
    col("dttl", Kind::Num),
    col("sloss", Kind::Num),
    col("dloss", Kind::Num),
    col("sload", Kind::Num),
    col("dload", Kind::Num),
    col("swin", Kind::Num),
    col("dwin", Kind::Num),
    num_or("smeansz", "smean"),
    num_or("dmeansz", "dmean"),
    col("trans_depth", Kind::Num),
    num_or("res_bdy_len", "response_body_len"),
    col("sjit", Kind::Num),
    col("djit", Kind::Num),
    num_or("sintpkt", "sinpkt"),
    num_or("dintpkt", "dinpkt"),
    col("tcprtt", Kind::Num),
    col("synack", Kind::Num),
    col("ackdat", Kind::Num),
    col("is_sm_ips_ports", Kind::Num),
    col("ct_state_ttl", Kind::Num),
    col("ct_flw_http_mthd", Kind::Num),
    col("is_ftp_login", Kind::Num),
    col("ct_ftp_cmd", Kind::Num),
    col("ct_srv_src", Kind::Num),
    col("ct_srv_dst", Kind::Num),
    col("ct_dst_ltm", Kind::Num),
    // The sampled layout's header spells it `'ct_src_ ltm'`.
    num_or("ct_src_ltm", "ct_src_ ltm"),
    col("ct_src_dport_ltm", Kind::Num),
    col("ct_dst_sport_ltm", Kind::Num),
    col("ct_dst_src_ltm", Kind::Num),
];

/// A dataset family with native columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NativeFamily {
    /// BoT-IoT: Argus statistics (`mean`, `stddev`, `sum`, `min`, `max`, `rate`, `srate`,
    /// `drate`, `state`, `flgs`).
    BotIot,
    /// TON_IoT: the `dns_*`, `ssl_*`, `http_*` and `weird_*` fields.
    TonIot,
    /// UNSW-NB15: its Argus/Bro statistics (`sttl`, `sload`, `sjit`, `tcprtt`, ...) and `ct_*`
    /// counters.
    UnswNb15,
}

impl NativeFamily {
    /// Every family.
    pub const ALL: [NativeFamily; 3] = [
        NativeFamily::BotIot,
        NativeFamily::TonIot,
        NativeFamily::UnswNb15,
    ];

    /// The family's name (`bot-iot`, `ton-iot`, `unsw-nb15`), as model files record it.
    pub fn name(self) -> &'static str {
        match self {
            NativeFamily::BotIot => "bot-iot",
            NativeFamily::TonIot => "ton-iot",
            NativeFamily::UnswNb15 => "unsw-nb15",
        }
    }

    fn columns(self) -> &'static [Column] {
        match self {
            NativeFamily::BotIot => BOT_IOT,
            NativeFamily::TonIot => TON_IOT,
            NativeFamily::UnswNb15 => UNSW_NB15,
        }
    }

    /// The input columns the family needs, by (lower-case) header name.
    pub fn column_names(self) -> impl Iterator<Item = &'static str> {
        self.columns().iter().map(|c| c.name)
    }

    /// The family's columns that a delimited header line does not name, in the family's order
    /// (names compared as the readers compare them: trimmed, unquoted, any case). The separator
    /// is whichever of `,`, `;` and tab the line holds most of. A line that is no such header
    /// (a Zeek log's `#separator` line) lacks them all.
    pub fn missing_columns(self, header: &[u8]) -> Vec<&'static str> {
        let line = header.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(header);
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let sep = [b',', b';', b'\t']
            .into_iter()
            .max_by_key(|&s| line.iter().filter(|&&b| b == s).count())
            .unwrap_or(b',');
        let names: Vec<String> = line
            .split(|&b| b == sep)
            .map(crate::delimited::normalise)
            .collect();
        self.columns()
            .iter()
            .filter(|c| !names.iter().any(|n| c.is_named(n)))
            .map(|c| c.name)
            .collect()
    }

    /// Where each of the family's columns is among a header's normalised names, or `None` if
    /// the header lacks one.
    pub(crate) fn positions(self, names: &[String]) -> Option<Box<[usize]>> {
        self.columns()
            .iter()
            .map(|c| names.iter().position(|n| c.is_named(n)))
            .collect()
    }

    /// The index of a (normalised) header name among the family's columns.
    #[cfg(test)]
    pub(crate) fn column_index(self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.name == name)
    }

    /// The number of values a record of this family carries.
    pub fn width(self) -> usize {
        self.columns().iter().map(|c| kind_width(c.kind)).sum()
    }

    /// The feature names of the values, in order (`native.mean`, `native.state.CON`, ...).
    pub fn feature_names(self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.width());
        for c in self.columns() {
            match c.kind {
                Kind::Num | Kind::Bool | Kind::Set => names.push(format!("native.{}", c.name)),
                Kind::OneHot(values) => {
                    names.extend(values.iter().map(|v| format!("native.{}.{v}", c.name)));
                    names.push(format!("native.{}.other", c.name));
                }
                Kind::Flags(flags) => {
                    names.extend(flags.iter().map(|f| format!("native.{}.{f}", c.name)));
                }
            }
        }
        names
    }

    /// The offset of a column's first value.
    fn offset(self, column: usize) -> usize {
        self.columns()[..column]
            .iter()
            .map(|c| kind_width(c.kind))
            .sum()
    }

    /// A record's native values with nothing set: numbers missing, indicators 0.
    pub(crate) fn empty(self) -> Native {
        let mut values = vec![0f32; self.width()];
        for (i, c) in self.columns().iter().enumerate() {
            if matches!(c.kind, Kind::Num | Kind::Bool) {
                values[self.offset(i)] = f32::NAN;
            }
        }
        Native {
            family: self,
            values: values.into(),
        }
    }
}

fn kind_width(kind: Kind) -> usize {
    match kind {
        Kind::Num | Kind::Bool | Kind::Set => 1,
        Kind::OneHot(values) => values.len() + 1,
        Kind::Flags(flags) => flags.len(),
    }
}

impl fmt::Display for NativeFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NativeFamily {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NativeFamily::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown native feature family `{s}`; one of: bot-iot, ton-iot, unsw-nb15")
            })
    }
}

/// A record's native values: the family and its numbers in [`NativeFamily::feature_names`] order.
#[derive(Clone, Debug)]
pub struct Native {
    /// Which family the values are.
    pub family: NativeFamily,
    /// The values (`NaN` = missing).
    pub values: Box<[f32]>,
}

impl PartialEq for Native {
    /// Bitwise on the values, so records with missing (`NaN`) values still equal themselves.
    fn eq(&self, other: &Self) -> bool {
        self.family == other.family
            && self.values.len() == other.values.len()
            && self
                .values
                .iter()
                .zip(other.values.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Native {
    /// Sets the values of the family's column `column` from a (set, non-empty) cell.
    pub(crate) fn set(&mut self, column: usize, value: &[u8]) {
        let family = self.family;
        let Some(c) = family.columns().get(column) else {
            return;
        };
        let at = family.offset(column);
        let text = std::str::from_utf8(value).unwrap_or("").trim();
        match c.kind {
            Kind::Num => {
                self.values[at] = text.parse::<f64>().map_or(f32::NAN, |v| v as f32);
            }
            Kind::Bool => {
                self.values[at] = match text {
                    "T" | "t" | "true" | "True" | "1" => 1.0,
                    "F" | "f" | "false" | "False" | "0" => 0.0,
                    _ => f32::NAN,
                }
            }
            Kind::Set => self.values[at] = 1.0,
            Kind::OneHot(values) => {
                let i = values
                    .iter()
                    .position(|v| v.eq_ignore_ascii_case(text))
                    .unwrap_or(values.len());
                self.values[at + i] = 1.0;
            }
            Kind::Flags(flags) => {
                for (i, f) in flags.iter().enumerate() {
                    if text.contains(*f) {
                        self.values[at + i] = 1.0;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_columns_are_named_from_the_header() {
        let full = b"ts,src_ip,DNS_QCLASS,dns_qtype,dns_rcode,dns_AA,dns_RD,dns_RA,dns_rejected,ssl_version,ssl_cipher,ssl_resumed,ssl_established,http_trans_depth,http_method,http_request_body_len,http_response_body_len,http_status_code,http_orig_mime_types,http_resp_mime_types,weird_name,weird_notice,label\r\n";
        assert!(NativeFamily::TonIot.missing_columns(full).is_empty());
        let partial = b"\"ts\";\"dns_qclass\";\"dns_qtype\";\"dns_rcode\";\"dns_aa\";\"dns_rd\";\"dns_ra\";\"dns_rejected\";\"ssl_version\";\"ssl_cipher\";\"ssl_resumed\";\"ssl_established\";\"http_trans_depth\";\"http_method\";\"http_request_body_len\";\"http_status_code\";\"http_orig_mime_types\";\"http_resp_mime_types\";\"label\"";
        assert_eq!(
            NativeFamily::TonIot.missing_columns(partial),
            ["http_response_body_len", "weird_name", "weird_notice"]
        );
        let zeek = b"#separator \\x09";
        assert_eq!(
            NativeFamily::TonIot.missing_columns(zeek).len(),
            NativeFamily::TonIot.column_names().count()
        );
    }

    #[test]
    fn names_match_widths_and_values_encode() {
        for f in NativeFamily::ALL {
            assert_eq!(f.feature_names().len(), f.width());
            assert_eq!(f.name().parse::<NativeFamily>(), Ok(f));
            assert_eq!(f.empty(), f.empty());
        }
        let f = NativeFamily::BotIot;
        let mut n = f.empty();
        n.set(f.column_index("mean").unwrap(), b"0.5");
        n.set(f.column_index("state").unwrap(), b"INT");
        n.set(f.column_index("flgs").unwrap(), b"e d");
        n.set(f.column_index("stddev").unwrap(), b"oops");
        let names = f.feature_names();
        let get = |name: &str| n.values[names.iter().position(|x| x == name).unwrap()];
        assert_eq!(get("native.mean"), 0.5);
        assert!(get("native.stddev").is_nan() && get("native.sum").is_nan());
        assert_eq!(
            (get("native.state.INT"), get("native.state.CON")),
            (1.0, 0.0)
        );
        assert_eq!((get("native.flgs.d"), get("native.flgs.s")), (1.0, 0.0));
        let t = NativeFamily::TonIot;
        let mut n = t.empty();
        n.set(t.column_index("dns_rd").unwrap(), b"T");
        n.set(t.column_index("http_method").unwrap(), b"PATCH");
        let names = t.feature_names();
        let get = |name: &str| n.values[names.iter().position(|x| x == name).unwrap()];
        assert_eq!(get("native.dns_rd"), 1.0);
        assert!(get("native.dns_aa").is_nan());
        assert_eq!(get("native.http_method.other"), 1.0);
        assert_eq!(get("native.weird_name"), 0.0);
    }
}
