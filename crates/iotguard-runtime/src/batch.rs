//! Reading a list of inputs to the end: records to a sink, problems counted, reported and set
//! aside, statistics per input. Shared by `inspect`, `convert` and (later) training.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use iotguard_flow::{ErrorKind, FlowRecord, ParseError, ReadOptions};

use crate::audit::LabelAudit;
use crate::error::{Error, Result};
use crate::input::Input;
use crate::inspect::Collector;

/// How to read the inputs.
#[derive(Clone, Debug, Default)]
pub struct BatchConfig {
    /// Reader options (format override, sensor name, line limit).
    pub options: ReadOptions,
    /// Threads per input (1 reads on the calling thread).
    pub threads: usize,
    /// Where rejected lines are kept verbatim, one per line.
    pub rejects: Option<PathBuf>,
    /// Corrections to the inputs' labels, applied when a dataset is built from them
    /// ([`crate::audit`]); empty by default.
    pub label_audit: LabelAudit,
    /// `--since/--until`: records outside it are left out (and counted in the window).
    pub window: crate::window::TimeWindow,
    /// A row budget for the datasets built from the inputs (`train --max-train-rows`): rows
    /// past it are sampled ([`iotguard_models::reservoir`]); `None` keeps every row.
    pub sample: Option<iotguard_models::reservoir::SampleConfig>,
}

/// What reading the inputs gave.
#[derive(Debug)]
pub struct BatchOutcome {
    /// Statistics per input that could be opened, in input order.
    pub per_input: Vec<Collector>,
    /// Inputs that could not be opened or read to their end (a read error, a truncated
    /// compressed stream, a reader that failed), with the reason. An input read in part also
    /// has its statistics in `per_input`.
    pub failed_inputs: Vec<(String, String)>,
    /// Files found in folders that hold no flow records (README files, checksum lists), with
    /// the reason; reported, not failures.
    pub skipped_inputs: Vec<(String, String)>,
    /// Records left out for being outside [`BatchConfig::window`] (`--since/--until`).
    pub outside_window: u64,
    /// Inputs holding exactly the flows of an earlier input (the same capture in another
    /// format, or a copy): (input, the earlier input, records). A dataset keeps the earlier
    /// one's rows only ([`crate::dataset`]); set by dataset building, empty otherwise.
    pub duplicates: Vec<(String, String, u64)>,
}

impl BatchOutcome {
    /// Returns the statistics of all inputs together.
    pub fn total(&self) -> Collector {
        let mut all = Collector::new("all");
        for c in &self.per_input {
            all.merge(c);
        }
        all
    }
}

/// Reads every input to its end. Each record goes to `sink` with the index of its input (in
/// `inputs`); each rejected record is counted,
/// given to `on_error` (to report) and written to the reject file. An input that cannot be
/// opened or read to its end (an I/O error, which its reader yields last, or a reader that
/// panics) is recorded in [`BatchOutcome::failed_inputs`] and the others are still read. A sink
/// error (a full disk) stops the batch.
pub fn run_batch(
    inputs: &[Input],
    config: &BatchConfig,
    bytes_read: &Arc<AtomicU64>,
    sink: &mut dyn FnMut(usize, FlowRecord) -> Result<()>,
    on_error: &mut dyn FnMut(&ParseError),
) -> Result<BatchOutcome> {
    let mut rejects = match &config.rejects {
        Some(path) => Some((
            BufWriter::new(
                File::create(path).map_err(|e| Error::io(&path.display().to_string(), e))?,
            ),
            path.display().to_string(),
        )),
        None => None,
    };
    let outside_before = config.window.outside_count();
    let mut outcome = BatchOutcome {
        per_input: Vec::new(),
        failed_inputs: Vec::new(),
        skipped_inputs: Vec::new(),
        outside_window: 0,
        duplicates: Vec::new(),
    };
    for (index, input) in inputs.iter().enumerate() {
        // A reader that panics (a library's bug on a corrupt file) fails its input, not the
        // batch: the other inputs are still read.
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            input.open(&config.options, config.threads, bytes_read.clone())
        }))
        .unwrap_or_else(|p| {
            Err(Error::io(
                &input.name(),
                std::io::Error::other(format!(
                    "the reader failed: {}",
                    iotguard_flow::panic_message(p.as_ref())
                )),
            ))
        });
        let mut reader = match opened {
            Ok(r) => config.window.wrap(r),
            Err(e @ Error::Open(iotguard_flow::OpenError::UnknownFormat { .. }))
                if matches!(input, Input::InFolder(_)) =>
            {
                outcome.skipped_inputs.push((input.name(), e.to_string()));
                continue;
            }
            Err(e) => {
                outcome.failed_inputs.push((input.name(), e.to_string()));
                continue;
            }
        };
        let mut stats = Collector::new(input.name());
        stats.format(reader.format_name());
        // Why the input could not be read to its end, if it could not.
        let mut cut_short: Option<String> = None;
        let mut records = 0u64;
        loop {
            let item =
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.next())) {
                    Ok(Some(item)) => item,
                    Ok(None) => break,
                    Err(p) => {
                        cut_short = Some(format!(
                            "{}: the reader failed after {} records, input ends here: {}",
                            input.name(),
                            records,
                            iotguard_flow::panic_message(p.as_ref())
                        ));
                        break;
                    }
                };
            match item {
                Ok(rec) => {
                    records += 1;
                    stats.record(&rec);
                    sink(index, rec)?;
                }
                Err(e) => {
                    if e.kind == ErrorKind::Io {
                        // Not a bad record: the rest of the input could not be read.
                        cut_short = Some(e.to_string());
                    }
                    stats.error(&e);
                    on_error(&e);
                    if let Some((w, name)) = rejects.as_mut() {
                        w.write_all(&e.raw)
                            .and_then(|()| w.write_all(b"\n"))
                            .map_err(|err| Error::io(name, err))?;
                    }
                }
            }
        }
        if let Some(why) = cut_short {
            outcome.failed_inputs.push((input.name(), why));
        }
        outcome.per_input.push(stats);
    }
    if let Some((mut w, name)) = rejects {
        w.flush().map_err(|e| Error::io(&name, e))?;
    }
    outcome.outside_window = config.window.outside_count() - outside_before;
    Ok(outcome)
}
