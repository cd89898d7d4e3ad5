//! Reading one input on several threads, records still in input order.
//!
//! One thread splits the input into chunks of whole lines; worker threads parse the chunks; the
//! iterator hands the results back in input order. Header lines change how later lines parse
//! (Zeek's `#fields`, a CSV's first line), so the splitter feeds every header line to its own
//! parser as it passes, and each chunk carries a fork of that parser taken at the chunk's first
//! line: a worker then parses its chunk exactly as a single reader would, headers inside the
//! chunk included. Line numbers, errors and rejected lines are the same as [`FlowReader`]'s.
//!
//! A thread that dies (a parser that panics) is not taken for the end of the input: the
//! iterator joins the threads when the results stop and yields an [`ErrorKind::Io`] error
//! saying the input ends there, as for any read that fails.
//!
//! Channels are bounded, so a slow consumer slows the splitter instead of filling memory. A
//! chunk is bounded in bytes and in lines ([`CHUNK_LINES`]): blank lines add no bytes, and a
//! file of nothing but newlines must not become one chunk of billions of lines. A worker reserves
//! room for one result per non-blank line, not per line.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::detect::Format;
use crate::error::{ErrorKind, LineError, ParseError};
use crate::lines::Line;
use crate::reader::{FlowReader, LineParser, Parsed, RecordIter};
use crate::record::FlowRecord;

/// Bytes of line data per chunk.
const CHUNK_BYTES: usize = 512 * 1024;

/// Lines per chunk at most (a flow record is about 100 to 300 bytes, so byte-bound chunks of
/// records hold fewer).
const CHUNK_LINES: usize = 16 * 1024;

type Results = Vec<Result<FlowRecord, ParseError>>;

/// A run of whole lines and the parser state at its first line.
struct Chunk {
    seq: u64,
    first_line: u64,
    parser: Box<dyn LineParser>,
    data: Vec<u8>,
    /// End offset of each line in `data`.
    ends: Vec<u32>,
    /// How many of the lines are not empty (at most one result each).
    non_blank: usize,
    /// Lines over the length limit: (index in this chunk, full length).
    too_long: Vec<(usize, u64)>,
    /// An I/O error that ended the input after this chunk's lines.
    io_error: Option<String>,
}

/// Reads one input on several threads; yields exactly what [`FlowReader`] yields, in order.
pub struct ParallelFlowReader {
    results: Receiver<(u64, Results)>,
    pending: BTreeMap<u64, Results>,
    next_seq: u64,
    current: std::vec::IntoIter<Result<FlowRecord, ParseError>>,
    format: Format,
    threads: Vec<JoinHandle<()>>,
    input: Arc<str>,
    /// Set once the results have stopped and the threads were checked.
    finished: bool,
}

impl ParallelFlowReader {
    /// Takes over a freshly opened reader and parses its lines on `workers` threads (plus one
    /// thread that splits the input).
    pub fn new(reader: FlowReader, workers: usize) -> ParallelFlowReader {
        let workers = workers.max(1);
        let format = reader.format;
        let (chunk_tx, chunk_rx) = bounded::<Chunk>(workers * 2);
        let (result_tx, result_rx) = bounded::<(u64, Results)>(workers * 2);
        let input = reader.input.clone();
        let sensor = reader.sensor.clone();
        let mut threads = Vec::with_capacity(workers + 1);
        threads.push(std::thread::spawn(move || split(reader, &chunk_tx)));
        for _ in 0..workers {
            let chunk_rx = chunk_rx.clone();
            let result_tx = result_tx.clone();
            let input = input.clone();
            let sensor = sensor.clone();
            threads.push(std::thread::spawn(move || {
                for chunk in chunk_rx {
                    let seq = chunk.seq;
                    let results = parse_chunk(chunk, &input, sensor.as_ref());
                    if result_tx.send((seq, results)).is_err() {
                        return;
                    }
                }
            }));
        }
        ParallelFlowReader {
            results: result_rx,
            pending: BTreeMap::new(),
            next_seq: 0,
            current: Vec::new().into_iter(),
            format,
            threads,
            input,
            finished: false,
        }
    }
}

/// The splitter: cuts the input into chunks, keeping its parser in step with the headers.
fn split(mut reader: FlowReader, out: &Sender<Chunk>) {
    let mut seq = 0;
    let new_chunk = |seq: u64, first_line: u64, parser: &dyn LineParser| Chunk {
        seq,
        first_line,
        parser: parser.fork(),
        data: Vec::with_capacity(CHUNK_BYTES + 4096),
        ends: Vec::with_capacity(4096),
        non_blank: 0,
        too_long: Vec::new(),
        io_error: None,
    };
    let mut chunk = new_chunk(seq, 1, reader.parser.as_ref());
    loop {
        let line = reader.lines.next_line();
        let done = match line {
            None => true,
            Some(Err(e)) => {
                chunk.io_error = Some(format!("read failed, input ends here: {e}"));
                true
            }
            Some(Ok(Line::TooLong(prefix, len))) => {
                chunk.too_long.push((chunk.ends.len(), len));
                chunk.data.extend_from_slice(prefix);
                chunk.ends.push(chunk.data.len() as u32);
                chunk.non_blank += 1;
                false
            }
            Some(Ok(Line::Whole(bytes))) => {
                if reader.parser.is_header(bytes) {
                    // Keep the splitter's parser in step; the worker parses the line again in
                    // its own fork and reports any problem with it.
                    let _ = reader.parser.parse(bytes);
                }
                chunk.data.extend_from_slice(bytes);
                chunk.ends.push(chunk.data.len() as u32);
                chunk.non_blank += usize::from(!bytes.is_empty());
                false
            }
        };
        if done || chunk.data.len() >= CHUNK_BYTES || chunk.ends.len() >= CHUNK_LINES {
            let next_first = reader.lines.line_no() + 1;
            let full = std::mem::replace(
                &mut chunk,
                new_chunk(seq + 1, next_first, reader.parser.as_ref()),
            );
            if (!full.ends.is_empty() || full.io_error.is_some()) && out.send(full).is_err() {
                return;
            }
            seq += 1;
            if done {
                return;
            }
        }
    }
}

/// A worker's job: parse one chunk's lines in order.
fn parse_chunk(mut chunk: Chunk, input: &Arc<str>, sensor: Option<&Arc<str>>) -> Results {
    // One result per non-blank line at most (plus an I/O error); blank lines give none.
    let mut out = Vec::with_capacity(chunk.non_blank + usize::from(chunk.io_error.is_some()));
    let mut start = 0usize;
    let mut too_long = chunk.too_long.iter().peekable();
    for (i, &end) in chunk.ends.iter().enumerate() {
        let line_no = chunk.first_line + i as u64;
        let bytes = &chunk.data[start..end as usize];
        start = end as usize;
        if too_long.peek().is_some_and(|(idx, _)| *idx == i) {
            let (_, len) = too_long.next().copied().unwrap_or((i, 0));
            let e = LineError::new(
                ErrorKind::LineTooLong,
                format!("line of {len} bytes is over the {} byte limit", bytes.len()),
            );
            out.push(Err(e.at(input, line_no, bytes)));
            continue;
        }
        match chunk.parser.parse(bytes) {
            Parsed::Skip => {}
            Parsed::Record(mut rec) => {
                if rec.sensor.is_none() {
                    rec.sensor = sensor.cloned();
                }
                out.push(Ok(*rec));
            }
            Parsed::Error(e) => out.push(Err(e.at(input, line_no, bytes))),
        }
    }
    if let Some(msg) = chunk.io_error.take() {
        // The line last read, as the one-thread reader reports it.
        let line_no = chunk.first_line + chunk.ends.len() as u64 - 1;
        out.push(Err(
            LineError::new(ErrorKind::Io, msg).at(input, line_no, b"")
        ));
    }
    out
}

impl Iterator for ParallelFlowReader {
    type Item = Result<FlowRecord, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            if let Some(results) = self.pending.remove(&self.next_seq) {
                self.next_seq += 1;
                self.current = results.into_iter();
                continue;
            }
            if self.finished {
                return None;
            }
            match self.results.recv() {
                Ok((seq, results)) => {
                    self.pending.insert(seq, results);
                }
                // Every worker is gone: the input is done, unless a thread died.
                Err(_) => {
                    self.finished = true;
                    if let Some(e) = self.failure() {
                        return Some(Err(e));
                    }
                }
            }
        }
    }
}

impl ParallelFlowReader {
    /// Once every worker is gone: the error to yield if a thread died or chunks are missing.
    fn failure(&mut self) -> Option<ParseError> {
        let mut died = Vec::new();
        let mut threads = std::mem::take(&mut self.threads);
        let splitter = (!threads.is_empty()).then(|| threads.remove(0));
        // Every worker has dropped its sender, so each is ending: joining them is quick.
        for handle in threads {
            if let Err(payload) = handle.join() {
                died.push(crate::error::panic_message(payload.as_ref()));
            }
        }
        // Workers that all ended well ended because the splitter closed its channel, so it is
        // ending too. If a worker died, the splitter may be blocked reading its input: it ends
        // at its next send, and the workers' deaths are what is reported.
        if let Some(handle) = splitter.filter(|_| died.is_empty()) {
            if let Err(payload) = handle.join() {
                died.push(crate::error::panic_message(payload.as_ref()));
            }
        }
        if died.is_empty() && self.pending.is_empty() {
            return None;
        }
        let why = if died.is_empty() {
            format!("{} parsed chunks were never delivered", self.pending.len())
        } else {
            format!("a reading thread failed: {}", died.join("; "))
        };
        self.pending.clear();
        let e = LineError::new(
            ErrorKind::Io,
            format!("read failed, input ends here: {why}"),
        );
        Some(e.at(&self.input, 0, b""))
    }
}

impl RecordIter for ParallelFlowReader {
    fn format_name(&self) -> &'static str {
        self.format.name()
    }
}

impl Drop for ParallelFlowReader {
    fn drop(&mut self) {
        // Closing our end makes the workers' sends fail, which stops them; the splitter stops
        // when its channel closes. Threads are detached rather than joined so that dropping a
        // reader early never blocks.
        self.threads.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::ReadOptions;
    use std::fmt::Write;

    fn both(text: String, threads: usize) -> (Results, Results) {
        let opts = ReadOptions {
            max_line: 200,
            ..ReadOptions::default()
        };
        let single: Vec<_> =
            FlowReader::open("t", std::io::Cursor::new(text.clone().into_bytes()), &opts)
                .unwrap()
                .collect();
        let reader = FlowReader::open("t", std::io::Cursor::new(text.into_bytes()), &opts).unwrap();
        let parallel: Vec<_> = ParallelFlowReader::new(reader, threads).collect();
        (single, parallel)
    }

    #[test]
    fn same_records_errors_and_line_numbers_as_one_thread() {
        let mut text = String::from("#separator \\x09\n#fields\tts\tid.resp_p\torig_bytes\n");
        for i in 0..200_000u32 {
            match i % 997 {
                0 => text.push_str("bad\tline\n"),
                1 => writeln!(text, "{i}\t{}\t1", "9".repeat(300)).unwrap(),
                // A new header block in the middle swaps the column order.
                2 if i == 100_000 + 2 - (100_000 % 997) => {
                    text.push_str("#separator \\x09\n#fields\torig_bytes\tts\tid.resp_p\n");
                }
                _ => writeln!(text, "{i}.5\t{}\t{}", i % 65_000, i).unwrap(),
            }
        }
        let (single, parallel) = both(text, 2);
        assert!(single.len() > 190_000);
        assert!(single.iter().filter(|r| r.is_err()).count() > 300);
        assert_eq!(single, parallel);
    }

    #[test]
    fn chunks_of_blank_lines_are_bounded_in_lines_and_reserve_nothing() {
        let mut text = String::from("#fields\tts\tid.resp_p\n");
        text.push_str(&"\n".repeat(1_000_000));
        text.push_str("1.5\t23\n\n\n2.5\t80\n");
        let reader = FlowReader::open(
            "t",
            std::io::Cursor::new(text.clone().into_bytes()),
            &ReadOptions::default(),
        )
        .unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        split(reader, &tx);
        drop(tx);
        let chunks: Vec<Chunk> = rx.into_iter().collect();
        // 1 + 1,000,000 + 4 lines, 16,384 at most per chunk.
        assert_eq!(chunks.len(), 62);
        assert!(chunks.iter().all(|c| c.ends.len() <= CHUNK_LINES));
        assert_eq!(
            chunks.iter().map(|c| c.ends.len()).sum::<usize>(),
            1_000_005
        );
        let input: Arc<str> = Arc::from("t");
        let mut records = Vec::new();
        for chunk in chunks {
            let non_blank = chunk.non_blank;
            let results = parse_chunk(chunk, &input, None);
            // Room for the non-blank lines only: ~456 bytes per blank line reserved before
            // made a file of newlines abort on allocation.
            assert_eq!(results.capacity(), non_blank);
            records.extend(results);
        }
        assert_eq!(records.len(), 2);
        let (single, parallel) = both(text, 2);
        assert_eq!(single.len(), 2);
        assert_eq!(single, parallel);
    }

    /// A parser that panics on one line (a bug), to see what the reader makes of a dead worker.
    struct PanicsOn(&'static [u8]);

    impl LineParser for PanicsOn {
        fn parse(&mut self, line: &[u8]) -> Parsed {
            assert!(line != self.0, "parser bug");
            Parsed::Skip
        }
        fn fork(&self) -> Box<dyn LineParser> {
            Box::new(PanicsOn(self.0))
        }
        fn is_header(&self, _: &[u8]) -> bool {
            false
        }
    }

    #[test]
    fn a_worker_that_dies_is_an_io_error_not_the_end() {
        let mut text = String::new();
        for i in 0..100_000 {
            writeln!(text, "{i}").unwrap();
        }
        let opts = ReadOptions {
            format: Some(Format::ZeekTsv),
            ..ReadOptions::default()
        };
        let mut reader =
            FlowReader::open("t", std::io::Cursor::new(text.into_bytes()), &opts).unwrap();
        reader.parser = Box::new(PanicsOn(b"50000"));
        let items: Vec<_> = ParallelFlowReader::new(reader, 2).collect();
        let last = items.last().expect("an error, not a quiet end");
        let e = last.as_ref().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Io);
        assert!(e.reason.contains("parser bug"), "{}", e.reason);
    }

    #[test]
    fn empty_input() {
        let (single, parallel) = both(String::from("#fields\tts\n"), 3);
        assert!(single.is_empty() && parallel.is_empty());
    }

    #[test]
    fn dropping_early_does_not_hang() {
        let mut text = String::from("#fields\tts\n");
        for i in 0..300_000 {
            writeln!(text, "{i}").unwrap();
        }
        let reader = FlowReader::open(
            "t",
            std::io::Cursor::new(text.into_bytes()),
            &ReadOptions::default(),
        )
        .unwrap();
        let mut p = ParallelFlowReader::new(reader, 2);
        assert!(p.next().unwrap().is_ok());
        drop(p);
    }
}
