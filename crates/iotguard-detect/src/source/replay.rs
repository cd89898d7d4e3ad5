//! [`ReplaySource`]: files, folders and standard input read to their end, as fast as possible,
//! at a fixed rate of flows per second, or at the capture's own pace times a speed-up.
//!
//! Inputs are expanded and opened by `iotguard_runtime::input` (compression and format handled,
//! folders walked in path order, non-flow files in folders skipped with a notice, an input that
//! cannot be opened reported and the others still read). Pacing sleeps in steps of at most
//! 50 ms, answering `Idle` in between, so shutdown is never held up by a slow rate.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iotguard_flow::{ErrorKind, OpenError, ReadOptions, Timestamp};
use iotguard_runtime::input::{self, Input};

use super::{Source, SourceEvent, Threaded};
use crate::error::Result;

/// How fast a replay goes.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Pacing {
    /// As fast as the detector goes.
    #[default]
    Fast,
    /// At most this many flows per second.
    Rate(f64),
    /// The capture's own pace (its flows' times) times this factor.
    Speedup(f64),
}

/// Replays inputs; see the module docs.
pub struct ReplaySource {
    name: String,
    inner: Threaded<()>,
    pacing: Pacing,
    pending: Option<SourceEvent>,
    started: Option<Instant>,
    first_ts: Option<Timestamp>,
    sent: u64,
}

impl ReplaySource {
    /// Expands `paths` (`-` is standard input) and starts reading them on their own thread,
    /// each input parsed on `threads` threads.
    pub fn open(
        paths: &[PathBuf],
        options: ReadOptions,
        threads: usize,
        pacing: Pacing,
    ) -> Result<ReplaySource> {
        let expanded = input::expand(paths)?;
        let name = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let skipped: Vec<String> = expanded
            .skipped
            .iter()
            .map(|(p, why)| format!("{}: skipped, {why}", p.display()))
            .collect();
        let inputs = expanded.inputs;
        let inner = Threaded::spawn("iotguard-replay", move |feed| {
            for notice in skipped {
                if !feed.push(SourceEvent::Notice(notice), None) {
                    return;
                }
            }
            for input in &inputs {
                if !replay_input(input, &options, threads, feed) {
                    return;
                }
            }
        })?;
        Ok(ReplaySource {
            name,
            inner,
            pacing,
            pending: None,
            started: None,
            first_ts: None,
            sent: 0,
        })
    }

    /// How long to wait before releasing a record with time `ts`.
    fn wait_for(&mut self, ts: Timestamp) -> Duration {
        let started = *self.started.get_or_insert_with(Instant::now);
        let due = match self.pacing {
            Pacing::Fast => return Duration::ZERO,
            // Never a panic on overflow: a wait too long to represent is the longest one.
            Pacing::Rate(rate) if rate > 0.0 => {
                Duration::try_from_secs_f64(self.sent as f64 / rate).unwrap_or(Duration::MAX)
            }
            Pacing::Speedup(speedup) if speedup > 0.0 => {
                let first = *self.first_ts.get_or_insert(ts);
                let secs =
                    ts.as_nanos().saturating_sub(first.as_nanos()).max(0) as f64 / 1e9 / speedup;
                Duration::try_from_secs_f64(secs.min(1e9)).unwrap_or(Duration::MAX)
            }
            _ => return Duration::ZERO,
        };
        due.saturating_sub(started.elapsed())
    }
}

impl Source for ReplaySource {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_event(&mut self) -> Result<SourceEvent> {
        let event = match self.pending.take() {
            Some(e) => e,
            None => self.inner.next_event(),
        };
        if let SourceEvent::Record(rec) = &event {
            let wait = self.wait_for(rec.ts);
            if !wait.is_zero() {
                std::thread::sleep(wait.min(Duration::from_millis(50)));
                if wait > Duration::from_millis(50) {
                    self.pending = Some(event);
                    return Ok(SourceEvent::Idle);
                }
            }
            self.sent += 1;
        }
        Ok(event)
    }
}

/// Reads one input into the feed; returns false once the receiving side is gone. An input that
/// cannot be opened, or cannot be read to its end (an I/O error, a truncated compressed stream,
/// a reader that panics on a corrupt file), gets a `cannot read` notice (the CLI exits
/// non-zero on it) and the next input is read.
fn replay_input(
    input: &Input,
    options: &ReadOptions,
    threads: usize,
    feed: &Arc<super::Feeder<()>>,
) -> bool {
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        input.open(options, threads, Arc::new(AtomicU64::new(0)))
    }));
    let mut reader = match opened {
        Ok(Ok(r)) => r,
        Ok(Err(iotguard_runtime::Error::Open(e @ OpenError::UnknownFormat { .. })))
            if matches!(input, Input::InFolder(_)) =>
        {
            return feed.push(SourceEvent::Notice(format!("skipped, {e}")), None);
        }
        Ok(Err(e)) => {
            // Name the input when the error does not (a corrupt Parquet file's does not).
            let (name, e) = (input.name(), e.to_string());
            let text = if e.contains(&name) {
                format!("cannot read: {e}")
            } else {
                format!("cannot read: {name}: {e}")
            };
            return feed.push(SourceEvent::Notice(text), None);
        }
        Err(p) => {
            let why = iotguard_flow::panic_message(p.as_ref());
            let text = format!("cannot read: {}: the reader failed: {why}", input.name());
            return feed.push(SourceEvent::Notice(text), None);
        }
    };
    let mut records = 0u64;
    loop {
        let item = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.next())) {
            Ok(Some(item)) => item,
            Ok(None) => return true,
            Err(p) => {
                let text = format!(
                    "cannot read: {}: the reader failed after {records} records, input ends \
                     here: {}",
                    input.name(),
                    iotguard_flow::panic_message(p.as_ref())
                );
                return feed.push(SourceEvent::Notice(text), None);
            }
        };
        let cut_short = match &item {
            Err(e) if e.kind == ErrorKind::Io => Some(format!("cannot read: {e}")),
            _ => None,
        };
        let event = match item {
            Ok(rec) => {
                records += 1;
                SourceEvent::Record(Box::new(rec))
            }
            Err(e) => SourceEvent::Rejected(Box::new(e)),
        };
        if !feed.push(event, None) {
            return false;
        }
        if let Some(text) = cut_short {
            if !feed.push(SourceEvent::Notice(text), None) {
                return false;
            }
        }
    }
}
