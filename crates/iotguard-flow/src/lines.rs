//! Splits a byte stream into lines, bounded in length, counting line numbers.
//!
//! Every reader here is line-oriented, so line numbers, CRLF handling and the length limit live in
//! one place. A line longer than the limit is not buffered whole: its first `max_len` bytes are
//! kept for the reject file and the rest is skipped up to the next newline, so a 10 MB line (or a
//! binary file with no newline at all) costs bounded memory and the stream goes on.

use std::io::{self, Read};

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

/// How much is read from the input at a time.
const READ_SIZE: usize = 256 * 1024;

/// Reads lines with a length limit. Lines are handed out as slices of one internal buffer, not
/// copied one by one: the buffer is refilled with large reads, and only a line cut by the end of
/// the buffer is moved to its front.
pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Unread data is `buf[start..end]`.
    start: usize,
    end: usize,
    /// `buf[start..scanned]` is known to hold no newline.
    scanned: usize,
    eof: bool,
    line_no: u64,
    /// The input offset of `buf[0]`: bytes moved out of the buffer so far.
    base: u64,
    max_len: usize,
    /// The kept start of a line over the limit.
    long_prefix: Vec<u8>,
}

impl<R: Read> LineReader<R> {
    pub(crate) fn new(inner: R, max_len: usize) -> Self {
        LineReader {
            inner,
            buf: Vec::new(),
            start: 0,
            end: 0,
            scanned: 0,
            eof: false,
            line_no: 0,
            base: 0,
            max_len: max_len.max(1),
            long_prefix: Vec::new(),
        }
    }

    /// Returns the number of the line last returned (1-based).
    pub(crate) fn line_no(&self) -> u64 {
        self.line_no
    }

    /// Returns the input offset just after the line last returned (its line ending included):
    /// where the next line starts.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Reads more input after the unread data; returns the number of bytes read (0 at the end).
    fn fill(&mut self) -> io::Result<usize> {
        // Move the unread part to the front, then make room for a full read.
        if self.start > 0 {
            self.base += self.start as u64;
            self.buf.copy_within(self.start..self.end, 0);
            self.scanned -= self.start;
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < self.end + READ_SIZE {
            self.buf.resize(self.end + READ_SIZE, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(0);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the next line; `None` at the end of the input.
    pub(crate) fn next_line(&mut self) -> Option<io::Result<Line<'_>>> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.scanned..self.end]) {
                let nl = self.scanned + i;
                let (from, len) = (self.start, nl - self.start);
                self.start = nl + 1;
                self.scanned = self.start;
                self.line_no += 1;
                return Some(Ok(self.cut(from, len)));
            }
            self.scanned = self.end;
            if self.end - self.start > self.max_len {
                return Some(self.skip_long_line());
            }
            if self.eof {
                if self.start == self.end {
                    return None;
                }
                // The last line has no newline.
                let (from, len) = (self.start, self.end - self.start);
                self.start = self.end;
                self.line_no += 1;
                return Some(Ok(self.cut(from, len)));
            }
            if let Err(e) = self.fill() {
                return Some(Err(e));
            }
        }
    }

    /// Returns the line at `buf[from..from + len]`, cut at the limit if it is longer.
    fn cut(&self, from: usize, len: usize) -> Line<'_> {
        if len > self.max_len {
            return Line::TooLong(&self.buf[from..from + self.max_len], len as u64);
        }
        let mut line = &self.buf[from..from + len];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        Line::Whole(line)
    }

    /// Keeps the start of a line over the limit and skips the rest of it, up to its newline,
    /// without holding more than one read in memory.
    fn skip_long_line(&mut self) -> io::Result<Line<'_>> {
        self.long_prefix.clear();
        self.long_prefix
            .extend_from_slice(&self.buf[self.start..self.start + self.max_len]);
        let mut total = (self.end - self.start) as u64;
        self.start = self.end;
        self.scanned = self.end;
        loop {
            if self.fill()? == 0 {
                break;
            }
            match memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                Some(i) => {
                    total += i as u64;
                    self.start += i + 1;
                    self.scanned = self.start;
                    break;
                }
                None => {
                    total += (self.end - self.start) as u64;
                    self.start = self.end;
                    self.scanned = self.end;
                }
            }
        }
        self.line_no += 1;
        Ok(Line::TooLong(&self.long_prefix, total))
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
        assert_eq!(lines(b"abc\nabcd\r\n", 3), ["abc", "LONG(abc,5)"]);
    }

    #[test]
    fn lines_longer_than_a_read_are_skipped_in_bounded_memory() {
        let mut input = vec![b'x'; 3 * READ_SIZE + 17];
        input.extend_from_slice(b"\nnext\n");
        input.extend(std::iter::repeat_n(b'y', READ_SIZE * 2));
        let got = lines(&input, 100);
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0],
            format!("LONG({},{})", "x".repeat(100), 3 * READ_SIZE + 17)
        );
        assert_eq!(got[1], "next");
        assert_eq!(
            got[2],
            format!("LONG({},{})", "y".repeat(100), 2 * READ_SIZE)
        );
    }

    #[test]
    fn offsets_count_every_byte_consumed() {
        let mut input = b"ab\r\n\nxyz\n".to_vec();
        input.extend(std::iter::repeat_n(b'q', 2 * READ_SIZE));
        input.extend_from_slice(b"\nlast");
        let mut r = LineReader::new(io::BufReader::with_capacity(3, &input[..]), 10);
        let mut offsets = Vec::new();
        while let Some(line) = r.next_line() {
            line.unwrap();
            offsets.push(r.offset());
        }
        let long_end = 9 + 2 * READ_SIZE as u64 + 1;
        assert_eq!(offsets, [4, 5, 9, long_end, long_end + 4]);
        assert_eq!(offsets[4], input.len() as u64);
    }

    #[test]
    fn many_lines_across_reads_keep_their_numbers() {
        let text: String = (0..100_000).map(|i| format!("{i}\n")).collect();
        let mut r = LineReader::new(text.as_bytes(), 1 << 20);
        let mut n = 0;
        while let Some(line) = r.next_line() {
            let Line::Whole(l) = line.unwrap() else {
                panic!()
            };
            assert_eq!(l, n.to_string().as_bytes());
            n += 1;
            assert_eq!(r.line_no(), n);
        }
        assert_eq!(n, 100_000);
    }
}
