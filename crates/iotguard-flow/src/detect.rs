//! Flow formats, their names, and telling them apart from the first bytes of an input.

use std::fmt;
use std::str::FromStr;

use crate::reader::LineParser;

/// A flow record format this crate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Zeek TSV conn logs with `#` headers, including the IoT-23 and Stratosphere labeled variants.
    ZeekTsv,
    /// Zeek JSON lines (the JSON writer, zeek-kafka, Security Onion's underscore variant).
    ZeekJson,
    /// Delimited text with a plain first-line header of Zeek column names (IoT-23 CSV
    /// conversions; a TSV with a plain header line). An empty cell is unset.
    ZeekCsv,
    /// Argus `ra` output with a header line, tab- or comma-separated (CTU-13 binetflow).
    Argus,
    /// BoT-IoT CSV (Argus-derived, `pkSeqID,stime,flgs,...,attack,category,subcategory`).
    BotIot,
    /// UNSW-NB15 CSV: the raw 49-column files, the train/test partitions, sampled variants.
    UnswNb15,
    /// TON_IoT network CSV (`ts,src_ip,src_port,...,label,type`).
    TonIot,
}

impl Format {
    /// Every format, in the order `--format` lists them.
    pub const ALL: [Format; 7] = [
        Format::ZeekTsv,
        Format::ZeekJson,
        Format::ZeekCsv,
        Format::Argus,
        Format::BotIot,
        Format::UnswNb15,
        Format::TonIot,
    ];

    /// The names `--format` accepts, in the order of [`Format::ALL`].
    pub const NAMES: [&'static str; 7] = [
        "zeek-tsv",
        "zeek-json",
        "zeek-csv",
        "argus",
        "bot-iot",
        "unsw-nb15",
        "ton-iot",
    ];

    /// Returns the format's command-line name.
    pub fn name(self) -> &'static str {
        Format::NAMES[Format::ALL.iter().position(|f| *f == self).unwrap_or(0)]
    }

    /// Returns a fresh parser for the format.
    pub(crate) fn parser(self) -> Box<dyn LineParser> {
        match self {
            Format::ZeekTsv => Box::new(crate::zeek::tsv::ZeekTsvParser::default()),
            Format::ZeekJson => Box::new(crate::zeek::json::ZeekJsonParser::default()),
            Format::ZeekCsv
            | Format::Argus
            | Format::BotIot
            | Format::UnswNb15
            | Format::TonIot => crate::delimited::parser(self),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .iter()
            .zip(Format::NAMES)
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(f, _)| *f)
            .ok_or_else(|| format!("unknown format `{s}`; one of: {}", Format::NAMES.join(", ")))
    }
}

/// How many lines after a first line that fits no format are looked at for a Zeek header.
const JUNK_LINES_BEFORE_HEADER: usize = 8;

/// Guesses the format from the first bytes of an (uncompressed) input; `None` if nothing fits.
///
/// The first non-blank line decides. When it fits nothing, a Zeek TSV header line (`#separator`,
/// `#fields`) among the next few lines still makes the input a Zeek log: a stray line before the
/// header (a log concatenated after a partial write) is then rejected with a count rather than
/// the whole file skipped.
pub fn detect(head: &[u8]) -> Option<Format> {
    // Look at the first non-blank line, skipping a UTF-8 byte order mark.
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    let first = lines.next()?;
    if let Some(format) = detect_line(first) {
        return Some(format);
    }
    lines
        .take(JUNK_LINES_BEFORE_HEADER)
        .any(is_zeek_header)
        .then_some(Format::ZeekTsv)
}

fn is_zeek_header(line: &[u8]) -> bool {
    line.starts_with(b"#separator") || line.starts_with(b"#fields")
}

/// The format one header (or first) line names.
fn detect_line(first: &[u8]) -> Option<Format> {
    if is_zeek_header(first) || first.starts_with(b"#set_separator") {
        return Some(Format::ZeekTsv);
    }
    if first.first() == Some(&b'{') {
        return Some(Format::ZeekJson);
    }
    crate::delimited::detect(first)
}

/// Names what an input is when it is a known kind of file that holds no flow records.
pub(crate) fn not_flows(head: &[u8]) -> Option<&'static str> {
    const PCAP: &str = "a packet capture (pcap), not flow records; name the file itself \
         (`iotguard inspect FILE.pcap`) to read its packets as flows";
    match head.get(..4)? {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0xa1, 0xb2, 0xc3, 0xd4] | [0x4d, 0x3c, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d] => Some(PCAP),
        [0x0a, 0x0d, 0x0d, 0x0a] => Some("a packet capture (pcapng), not flow records; name the file itself (`iotguard inspect FILE.pcapng`) to read its packets as flows"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
        }
        assert!("nope".parse::<Format>().is_err());
    }

    #[test]
    fn detects_by_content() {
        assert_eq!(
            detect(b"#separator \\x09\n#fields\tts\n"),
            Some(Format::ZeekTsv)
        );
        assert_eq!(detect(b"\n{\"ts\":1}\n"), Some(Format::ZeekJson));
        assert_eq!(detect(b""), None);
        assert_eq!(detect(b"hello world\n"), None);
        assert!(not_flows(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0])
            .unwrap()
            .contains("pcap"));
        assert_eq!(not_flows(b"#fields"), None);
    }

    #[test]
    fn a_stray_line_before_a_zeek_header_is_still_a_zeek_log() {
        assert_eq!(
            detect(b"junk\n#separator \\x09\n#fields\tts\n"),
            Some(Format::ZeekTsv)
        );
        // A text file without a header soon after is still nothing.
        assert_eq!(
            detect(b"hello\nworld\n\n1\n2\n3\n4\n5\n6\n7\n8\n#fields\tts\n"),
            None
        );
    }
}
