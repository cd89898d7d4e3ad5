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

use iotguard_flow::{OpenError, ReadOptions, Timestamp};
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
                let reader = match input.open(&options, threads, Arc::new(AtomicU64::new(0))) {
                    Ok(r) => r,
                    Err(iotguard_runtime::Error::Open(e @ OpenError::UnknownFormat { .. }))
                        if matches!(input, Input::InFolder(_)) =>
                    {
                        if !feed.push(SourceEvent::Notice(format!("skipped, {e}")), None) {
                            return;
                        }
                        continue;
                    }
                    Err(e) => {
                        if !feed.push(SourceEvent::Notice(format!("cannot read: {e}")), None) {
                            return;
                        }
                        continue;
                    }
                };
                for item in reader {
                    let event = match item {
                        Ok(rec) => SourceEvent::Record(Box::new(rec)),
                        Err(e) => SourceEvent::Rejected(Box::new(e)),
                    };
                    if !feed.push(event, None) {
                        return;
                    }
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
            Pacing::Rate(rate) if rate > 0.0 => Duration::from_secs_f64(self.sent as f64 / rate),
            Pacing::Speedup(speedup) if speedup > 0.0 => {
                let first = *self.first_ts.get_or_insert(ts);
                let secs = (ts.as_nanos() - first.as_nanos()).max(0) as f64 / 1e9 / speedup;
                Duration::from_secs_f64(secs.min(1e9))
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
