//! The reader every format shares: lines in, `Result<FlowRecord, ParseError>` out.
//!
//! A format is a [`LineParser`]: it turns one line into a record, a skip (a header or comment), or
//! a problem. [`FlowReader`] owns the line splitting, the line numbers, the input's name and the
//! rejected lines, so every format reports errors the same way and no format can stop the stream
//! on bad data. Only an I/O error ends a reader early, and it is yielded as an error first.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;

use crate::detect::{self, Format};
use crate::error::{ErrorKind, LineError, ParseError};
use crate::lines::{Line, LineReader, DEFAULT_MAX_LINE};
use crate::parallel::ParallelFlowReader;
use crate::record::FlowRecord;

/// Any reader of flow records: an iterator that also names the format it reads (the formats
/// of this crate, and others read elsewhere, such as Parquet in the runtime).
pub trait RecordIter: Iterator<Item = Result<FlowRecord, ParseError>> + Send {
    /// Returns the name of the format being read (`zeek-tsv`, `parquet`, ...).
    fn format_name(&self) -> &'static str;
}

impl RecordIter for FlowReader {
    fn format_name(&self) -> &'static str {
        self.format.name()
    }
}

/// What a format's parser made of one line.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// A flow record.
    Record(Box<FlowRecord>),
    /// A header, comment or blank line: nothing to yield.
    Skip,
    /// A line that should have been a record and is not.
    Error(LineError),
}

/// One format's line parser.
pub(crate) trait LineParser: Send {
    /// Parses one line (without its line ending).
    fn parse(&mut self, line: &[u8]) -> Parsed;

    /// Returns a parser in the same state, for parsing later lines on another thread.
    fn fork(&self) -> Box<dyn LineParser>;

    /// Returns true if the line changes the parser's state (a header line), so a parallel reader
    /// must feed it to the parser in order rather than to a worker.
    fn is_header(&self, line: &[u8]) -> bool;

    /// Takes the column names from a header line given apart from the data (see
    /// [`ReadOptions::header`]); false when the format has no use for one or the line names
    /// none of its columns.
    fn preset_header(&mut self, _header: &[u8]) -> bool {
        false
    }
}

/// Options shared by every reader.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// The format to read; `None` detects it from the content.
    pub format: Option<Format>,
    /// The sensor name given to records whose input names none.
    pub sensor: Option<Arc<str>>,
    /// The longest line kept; longer lines are rejected as [`ErrorKind::LineTooLong`].
    pub max_line: usize,
    /// A header line for header-less delimited input (BoT-IoT's full files, whose column names
    /// are in a separate feature-names file): its first non-blank line names the columns, in its
    /// own separator. A first data line equal to it is taken as the input's own header.
    pub header: Option<Arc<[u8]>>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            sensor: None,
            max_line: DEFAULT_MAX_LINE,
            header: None,
        }
    }
}

/// Why an input could not be opened as flow records.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Reading the first bytes (or the compression header) failed.
    #[error("{input}: {source}")]
    Io {
        /// The input's name.
        input: Arc<str>,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The content matches no known format and none was given.
    #[error("{input}: {}", match what {
        Some(w) => format!("this is {w}"),
        None => format!("cannot tell the flow format from the content; name it with --format ({})", Format::NAMES.join(", ")),
    })]
    UnknownFormat {
        /// The input's name.
        input: Arc<str>,
        /// What the input looks like instead, when known (`a pcap packet capture, ...`).
        what: Option<String>,
    },
}

/// Reads flow records from one input, one `Result` per record.
///
/// ```
/// use iotguard_flow::{FlowReader, ReadOptions};
/// let log = "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n\
///            1.5\tC1\t10.0.0.1\t1234\t10.0.0.2\t23\ttcp\n";
/// let reader = FlowReader::open("example", log.as_bytes(), &ReadOptions::default()).unwrap();
/// let records: Vec<_> = reader.collect();
/// assert_eq!(records.len(), 1);
/// assert_eq!(records[0].as_ref().unwrap().resp_p, Some(23));
/// ```
pub struct FlowReader {
    pub(crate) lines: LineReader<Box<dyn BufRead + Send>>,
    pub(crate) parser: Box<dyn LineParser>,
    pub(crate) input: Arc<str>,
    pub(crate) format: Format,
    pub(crate) sensor: Option<Arc<str>>,
    /// Whether the parser took [`ReadOptions::header`].
    header_taken: bool,
    ended: bool,
}

impl FlowReader {
    /// Opens an input: undoes gzip or zstd compression, detects the format (unless the options
    /// name one) and returns a reader positioned at the first line.
    pub fn open(
        input: impl Into<Arc<str>>,
        reader: impl Read + Send + 'static,
        options: &ReadOptions,
    ) -> Result<FlowReader, OpenError> {
        let input = input.into();
        let io_err = |source| OpenError::Io {
            input: input.clone(),
            source,
        };
        let mut stream = crate::compress::decompress(reader).map_err(io_err)?;
        let format = match (options.format, &options.header) {
            (Some(f), _) => f,
            (None, Some(header)) => detect::detect(header).ok_or_else(|| {
                io_err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the given header line names the columns of no known delimited format",
                ))
            })?,
            (None, None) => {
                let head = peek(&mut stream, 64 * 1024).map_err(io_err)?;
                match detect::detect(head) {
                    Some(f) => f,
                    // Nothing to read (an empty file, a log rotated before its first line): any
                    // reader yields nothing; call it an empty Zeek log.
                    None if head.iter().all(u8::is_ascii_whitespace) => Format::ZeekTsv,
                    None => {
                        let what = detect::not_flows(head).map(str::to_string);
                        return Err(OpenError::UnknownFormat { input, what });
                    }
                }
            }
        };
        let reader = FlowReader::with_format(input.clone(), stream, format, options);
        if options.header.is_some() && !reader.header_taken {
            return Err(io_err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a separate header line applies to delimited text with a header; {format} names none of its columns"),
            )));
        }
        Ok(reader)
    }

    /// Opens an input for reading on `threads` threads (see [`ParallelFlowReader`]); with one
    /// thread or fewer this is [`FlowReader::open`] boxed.
    pub fn open_parallel(
        input: impl Into<Arc<str>>,
        reader: impl Read + Send + 'static,
        options: &ReadOptions,
        threads: usize,
    ) -> Result<Box<dyn RecordIter>, OpenError> {
        let reader = FlowReader::open(input, reader, options)?;
        Ok(if threads <= 1 {
            Box::new(reader)
        } else {
            Box::new(ParallelFlowReader::new(reader, threads))
        })
    }

    /// Reads an already decompressed stream in a known format.
    pub fn with_format(
        input: impl Into<Arc<str>>,
        reader: Box<dyn BufRead + Send>,
        format: Format,
        options: &ReadOptions,
    ) -> FlowReader {
        let mut parser = format.parser();
        let header_taken = options
            .header
            .as_ref()
            .is_some_and(|h| parser.preset_header(h));
        FlowReader {
            lines: LineReader::new(reader, options.max_line),
            parser,
            input: input.into(),
            format,
            sensor: options.sensor.clone(),
            header_taken,
            ended: false,
        }
    }

    /// Returns the format being read.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Returns the input's name.
    pub fn input(&self) -> &Arc<str> {
        &self.input
    }

    /// Returns the number of the line last read (1-based).
    pub fn line_no(&self) -> u64 {
        self.lines.line_no()
    }

    /// Returns the input offset (after decompression) just after the line last read, its line
    /// ending included: where the next line starts. A followed log's checkpoint keeps it, to
    /// tell on restart whether the file still holds what was read.
    pub fn byte_offset(&self) -> u64 {
        self.lines.offset()
    }

    fn error(&self, e: LineError, raw: &[u8]) -> ParseError {
        e.at(&self.input, self.lines.line_no(), raw)
    }
}

impl Iterator for FlowReader {
    type Item = Result<FlowRecord, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        loop {
            let line = match self.lines.next_line() {
                None => {
                    self.ended = true;
                    return None;
                }
                Some(Err(e)) => {
                    self.ended = true;
                    let err =
                        LineError::new(ErrorKind::Io, format!("read failed, input ends here: {e}"));
                    return Some(Err(self.error(err, b"")));
                }
                Some(Ok(line)) => line,
            };
            match line {
                Line::TooLong(prefix, len) => {
                    let prefix = prefix.to_vec();
                    let err = LineError::new(
                        ErrorKind::LineTooLong,
                        format!(
                            "line of {len} bytes is over the {} byte limit",
                            prefix.len()
                        ),
                    );
                    return Some(Err(self.error(err, &prefix)));
                }
                Line::Whole(bytes) => match self.parser.parse(bytes) {
                    Parsed::Skip => continue,
                    Parsed::Record(mut rec) => {
                        if rec.sensor.is_none() {
                            rec.sensor.clone_from(&self.sensor);
                        }
                        return Some(Ok(*rec));
                    }
                    Parsed::Error(e) => {
                        let raw = bytes.to_vec();
                        return Some(Err(self.error(e, &raw)));
                    }
                },
            }
        }
    }
}

/// Fills the stream's buffer with up to `want` bytes without consuming them.
///
/// `BufRead::fill_buf` returns whatever one read gave; detection wants a few lines, so this
/// wraps the stream in a larger buffer when needed.
fn peek(stream: &mut Box<dyn BufRead + Send>, want: usize) -> io::Result<&[u8]> {
    let first = stream.fill_buf()?.len();
    if first >= want.min(4096) || first == 0 {
        return stream.fill_buf();
    }
    // Read more: move the stream behind a bigger buffer that holds the first bytes.
    let mut head = Vec::with_capacity(want);
    let old = std::mem::replace(stream, Box::new(io::empty()));
    let mut limited = old.take(want as u64);
    limited.read_to_end(&mut head)?;
    let rest = limited.into_inner();
    *stream = Box::new(BufReader::with_capacity(
        want.max(64 * 1024),
        io::Cursor::new(head).chain(rest),
    ));
    stream.fill_buf()
}
