//! Splits a byte stream into lines, bounded in length, counting line numbers.
//!
//! Every reader here is line-oriented, so line numbers, CRLF handling and the length limit live in
//! one place. A line longer than the limit is not buffered whole: its first `max_len` bytes are
//! kept for the reject file and the rest is skipped up to the next newline, so a 10 MB line (or a
//! binary file with no newline at all) costs bounded memory and the stream goes on.

use std::io::{self, BufRead};

/// The default longest line kept: 1 MiB, far above any real flow record.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// One line read from the input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// A whole line without its `\n` or `\r\n`.
    Whole(&'a [u8]),
    /// A line over the limit: its first bytes, and its full length.
    TooLong(&'a [u8], u64),
}

/// Reads lines from a [`BufRead`] with a length limit.
pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    line_no: u64,
    max_len: usize,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(inner: R, max_len: usize) -> Self {
        LineReader {
            inner,
            buf: Vec::with_capacity(512),
            line_no: 0,
            max_len: max_len.max(1),
        }
    }

    /// Returns the number of the line last returned (1-based).
    pub(crate) fn line_no(&self) -> u64 {
        self.line_no
    }

    /// Reads the next line; `None` at the end of the input.
    pub(crate) fn next_line(&mut self) -> Option<io::Result<Line<'_>>> {
        self.buf.clear();
        let mut total: u64 = 0;
        let mut saw_any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e)),
            };
            if chunk.is_empty() {
                break;
            }
            saw_any = true;
            let (take, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            let room = self.max_len.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&chunk[..take.min(room)]);
            total += take as u64;
            self.inner.consume(if done { take + 1 } else { take });
            if done {
                break;
            }
        }
        if !saw_any {
            return None;
        }
        self.line_no += 1;
        if total as usize > self.max_len || total > self.max_len as u64 {
            return Some(Ok(Line::TooLong(&self.buf, total)));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Some(Ok(Line::Whole(&self.buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<String> {
        let mut r = LineReader::new(io::BufReader::with_capacity(4, input), max);
        let mut out = Vec::new();
        while let Some(line) = r.next_line() {
            out.push(match line.unwrap() {
                Line::Whole(l) => String::from_utf8_lossy(l).into_owned(),
                Line::TooLong(p, n) => format!("LONG({},{n})", String::from_utf8_lossy(p)),
            });
        }
        out
    }

    #[test]
    fn splits_lines_and_strips_crlf() {
        assert_eq!(lines(b"a\nbb\r\n\nccc", 100), ["a", "bb", "", "ccc"]);
        assert_eq!(lines(b"", 100), Vec::<String>::new());
        assert_eq!(lines(b"\n", 100), [""]);
    }

    #[test]
    fn long_lines_are_cut_and_skipped() {
        assert_eq!(lines(b"abcdefgh\nxy\n", 3), ["LONG(abc,8)", "xy"]);
        assert_eq!(lines(b"abcdefgh", 3), ["LONG(abc,8)"]);
    }
}
