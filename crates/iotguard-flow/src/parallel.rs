//! Reading one input on several threads, records still in input order.
//!
//! One thread splits the input into chunks of whole lines; worker threads parse the chunks; the
//! iterator hands the results back in input order. Header lines change how later lines parse
//! (Zeek's `#fields`, a CSV's first line), so the splitter feeds every header line to its own
//! parser as it passes, and each chunk carries a fork of that parser taken at the chunk's first
//! line: a worker then parses its chunk exactly as a single reader would, headers inside the
//! chunk included. Line numbers, errors and rejected lines are the same as [`FlowReader`]'s.
//!
//! Channels are bounded, so a slow consumer slows the splitter instead of filling memory.

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

type Results = Vec<Result<FlowRecord, ParseError>>;

/// A run of whole lines and the parser state at its first line.
struct Chunk {
    seq: u64,
    first_line: u64,
    parser: Box<dyn LineParser>,
    data: Vec<u8>,
    /// End offset of each line in `data`.
    ends: Vec<u32>,
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
                false
            }
        };
        if done || chunk.data.len() >= CHUNK_BYTES {
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
    let mut out = Vec::with_capacity(chunk.ends.len());
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
            match self.results.recv() {
                Ok((seq, results)) => {
                    self.pending.insert(seq, results);
                }
                // Every sender is gone and nothing is pending: the input is done.
                Err(_) => return None,
            }
        }
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
