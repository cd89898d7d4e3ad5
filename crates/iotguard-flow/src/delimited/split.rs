//! Splitting one delimited line into fields, with RFC 4180 quoting within the line.
//!
//! A line without quotes (nearly every line of every flow export) is split in place with
//! `memchr`, and its fields are slices of the line. A line with a quoted field is copied once,
//! unquoted, into a scratch buffer the parser reuses, so neither path allocates per line once the
//! buffers have grown. A quoted field spanning several lines is not supported: flow exports do not
//! write them, and each half is reported as a bad line rather than silently joined.

use std::ops::Range;

/// Why a line's quoting is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct QuoteError {
    /// The 0-based index of the field at fault.
    pub(super) field: usize,
    /// What is wrong.
    pub(super) reason: &'static str,
}

/// Splits `line` on `sep` into `spans`, and returns the buffer the spans index: the line itself,
/// or `scratch` holding the unquoted fields end to end.
///
/// With `quotes`, a field that starts with `"` runs to the next lone `"`, may contain the
/// separator, and writes a quote as `""`; a quote elsewhere in a field is an ordinary byte (as
/// most CSV readers are lenient there). Without `quotes` (tab-separated input) quotes are data.
pub(super) fn split<'a>(
    line: &'a [u8],
    sep: u8,
    quotes: bool,
    spans: &mut Vec<Range<usize>>,
    scratch: &'a mut Vec<u8>,
) -> Result<&'a [u8], QuoteError> {
    spans.clear();
    if !quotes || memchr::memchr(b'"', line).is_none() {
        let mut start = 0;
        for end in memchr::memchr_iter(sep, line) {
            spans.push(start..end);
            start = end + 1;
        }
        spans.push(start..line.len());
        return Ok(line);
    }
    scratch.clear();
    let mut i = 0;
    loop {
        let start = scratch.len();
        let field = spans.len();
        if line.get(i) == Some(&b'"') {
            i += 1;
            loop {
                let Some(j) = memchr::memchr(b'"', &line[i..]) else {
                    return Err(QuoteError {
                        field,
                        reason: "quoted field has no closing quote",
                    });
                };
                scratch.extend_from_slice(&line[i..i + j]);
                i += j + 1;
                if line.get(i) == Some(&b'"') {
                    scratch.push(b'"');
                    i += 1;
                } else {
                    break;
                }
            }
            spans.push(start..scratch.len());
            match line.get(i) {
                None => return Ok(scratch),
                Some(&b) if b == sep => i += 1,
                Some(_) => {
                    return Err(QuoteError {
                        field,
                        reason: "text after a closing quote",
                    })
                }
            }
        } else {
            let end = memchr::memchr(sep, &line[i..]).map_or(line.len(), |j| i + j);
            scratch.extend_from_slice(&line[i..end]);
            spans.push(start..scratch.len());
            if end == line.len() {
                return Ok(scratch);
            }
            i = end + 1;
        }
    }
}

/// Picks the separator of a header (or first) line: a tab if there is one, else a comma, else a
/// semicolon (BoT-IoT's feature-name file); `None` for a line with none of them.
pub(super) fn separator(line: &[u8]) -> Option<u8> {
    [b'\t', b',', b';']
        .into_iter()
        .find(|&sep| memchr::memchr(sep, line).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(line: &str, sep: u8, quotes: bool) -> Result<Vec<String>, QuoteError> {
        let mut spans = Vec::new();
        let mut scratch = Vec::new();
        let buf = split(line.as_bytes(), sep, quotes, &mut spans, &mut scratch)?;
        Ok(spans
            .iter()
            .map(|r| String::from_utf8(buf[r.clone()].to_vec()).unwrap())
            .collect())
    }

    #[test]
    fn plain_fields() {
        assert_eq!(fields("a,b,,c", b',', true).unwrap(), ["a", "b", "", "c"]);
        assert_eq!(fields("", b',', true).unwrap(), [""]);
        assert_eq!(fields("a,", b',', true).unwrap(), ["a", ""]);
        assert_eq!(fields("a\tb,c", b'\t', false).unwrap(), ["a", "b,c"]);
    }

    #[test]
    fn quoted_fields() {
        assert_eq!(
            fields(r#"1,"udp","a,b","say ""hi""",x"#, b',', true).unwrap(),
            ["1", "udp", "a,b", r#"say "hi""#, "x"]
        );
        assert_eq!(fields(r#""",a"#, b',', true).unwrap(), ["", "a"]);
        assert_eq!(fields(r#"a,"""#, b',', true).unwrap(), ["a", ""]);
        assert_eq!(fields(r#"a,"b","#, b',', true).unwrap(), ["a", "b", ""]);
        // A quote inside an unquoted field is data; so are quotes in tab-separated input.
        assert_eq!(fields(r#"a"b,c"#, b',', true).unwrap(), [r#"a"b"#, "c"]);
        assert_eq!(fields("\"a\tb\"", b'\t', false).unwrap(), ["\"a", "b\""]);
    }

    #[test]
    fn broken_quoting() {
        assert_eq!(
            fields(r#"a,"b,c"#, b',', true).unwrap_err(),
            QuoteError {
                field: 1,
                reason: "quoted field has no closing quote"
            }
        );
        assert_eq!(
            fields(r#""a"b,c"#, b',', true).unwrap_err().reason,
            "text after a closing quote"
        );
    }

    #[test]
    fn picks_separator() {
        assert_eq!(separator(b"a\tb,c"), Some(b'\t'));
        assert_eq!(separator(b"a,b;c"), Some(b','));
        assert_eq!(separator(b"a;b"), Some(b';'));
        assert_eq!(separator(b"ab"), None);
    }

    /// Quotes a field the way a CSV writer does, where it needs quoting (and sometimes anyway).
    fn quote(field: &str, always: bool) -> String {
        if always || field.contains([',', '"']) || field.starts_with('"') {
            format!("\"{}\"", field.replace('"', "\"\""))
        } else {
            field.to_string()
        }
    }

    proptest! {
        #[test]
        fn prop_split_undoes_csv_quoting(
            row in prop::collection::vec(("[a-z0-9\",. -]{0,8}", any::<bool>()), 1..10)
        ) {
            let line: Vec<String> = row.iter().map(|(f, always)| quote(f, *always)).collect();
            let want: Vec<String> = row.into_iter().map(|(f, _)| f).collect();
            prop_assert_eq!(fields(&line.join(","), b',', true).unwrap(), want);
        }
    }
}
