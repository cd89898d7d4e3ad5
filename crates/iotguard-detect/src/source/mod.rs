//! Where flows come from: the [`Source`] trait and its implementations, file and folder
//! [`replay`] (with pacing; standard input too) and a live Zeek log folder [`follow`]ed through
//! rotation with a checkpoint. The Kafka source lives in `iotguard-kafka` and implements the
//! same trait.
//!
//! Sources read on their own thread and hand events over a bounded channel in batches, so
//! parsing overlaps detection, and [`Source::next_event`] can return
//! [`SourceEvent::Idle`] when nothing came for a while (the pipeline then sends and flushes what
//! it has, and checks for shutdown).
//!
//! A reader thread that dies (a panic in a reader) is not taken for the end of the source: what
//! it had read is still delivered, then a `cannot read` notice names the failure (the CLI exits
//! non-zero on it), then `End`.

pub mod checkpoint;
pub mod follow;
pub mod replay;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use iotguard_flow::{FlowRecord, ParseError};

use crate::error::Result;

/// What a source yields.
#[derive(Debug)]
pub enum SourceEvent {
    /// A parsed flow record.
    Record(Box<FlowRecord>),
    /// A rejected line, with where and why (counted, reported, kept in the rejects file).
    Rejected(Box<ParseError>),
    /// Something to tell the operator (an input skipped or unreadable, a log rotated).
    Notice(String),
    /// Nothing arrived for a while; the source is still live.
    Idle,
    /// The source has ended (replays only; a followed log never ends by itself).
    End,
}

/// A stream of flow records.
pub trait Source: Send {
    /// Returns the source's name for reports.
    fn name(&self) -> &str;

    /// Returns the next event, waiting at most about 100 ms before answering
    /// [`SourceEvent::Idle`].
    fn next_event(&mut self) -> Result<SourceEvent>;

    /// Records that every event returned so far has been processed and its alerts flushed to
    /// every sink (the followed log saves its checkpoint here; Kafka commits offsets).
    fn commit(&mut self) -> Result<()> {
        Ok(())
    }
}

/// How long a source waits for its reader thread before answering `Idle`.
const IDLE_AFTER: Duration = Duration::from_millis(100);

/// Events go over the channel in batches of this many.
const BATCH: usize = 512;

/// One event with the position after it (for checkpoints).
pub(crate) type Positioned<P> = (SourceEvent, Option<P>);

/// The reader thread's end of the channel: batches events, stops when the receiver is gone.
/// Shared (`Arc`) so a reader waiting for data (the followed log) can send what it has first.
pub(crate) struct Feeder<P> {
    tx: Sender<Vec<Positioned<P>>>,
    batch: Mutex<Vec<Positioned<P>>>,
}

impl<P> Feeder<P> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Positioned<P>>> {
        self.batch.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues an event; returns false once the receiving side is gone (the thread should end).
    pub(crate) fn push(&self, event: SourceEvent, pos: Option<P>) -> bool {
        let full = {
            let mut batch = self.lock();
            batch.push((event, pos));
            batch.len() >= BATCH
        };
        if full {
            return self.flush();
        }
        true
    }

    /// Sends the queued events now; returns false once the receiving side is gone.
    pub(crate) fn flush(&self) -> bool {
        let batch = {
            let mut batch = self.lock();
            if batch.is_empty() {
                return true;
            }
            std::mem::replace(&mut *batch, Vec::with_capacity(BATCH))
        };
        self.tx.send(batch).is_ok()
    }
}

/// The pipeline's end: a reader thread's events, one at a time.
pub(crate) struct Threaded<P> {
    rx: Option<Receiver<Vec<Positioned<P>>>>,
    current: std::vec::IntoIter<Positioned<P>>,
    thread: Option<JoinHandle<()>>,
    /// The position after the last event returned.
    pub(crate) position: Option<P>,
    ended: bool,
    /// The thread's name, and why it died if it did.
    name: String,
    failure: Arc<Mutex<Option<String>>>,
}

impl<P: Send + 'static> Threaded<P> {
    /// Starts `body` on a thread named `name`; it feeds events until it returns or the
    /// receiving side is dropped. `End` is sent after it returns.
    pub(crate) fn spawn(
        name: &str,
        body: impl FnOnce(&Arc<Feeder<P>>) + Send + 'static,
    ) -> Result<Threaded<P>> {
        let (tx, rx) = bounded(8);
        let failure = Arc::new(Mutex::new(None));
        let thread_failure = failure.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let feeder = Arc::new(Feeder {
                    tx,
                    batch: Mutex::new(Vec::with_capacity(BATCH)),
                });
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&feeder)));
                if let Err(payload) = run {
                    // Deliver what was read, then end without `End`: the receiving side
                    // reports the failure.
                    *thread_failure.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(iotguard_flow::panic_message(payload.as_ref()));
                    feeder.flush();
                    return;
                }
                feeder.push(SourceEvent::End, None);
                feeder.flush();
            })
            .map_err(|e| crate::Error::io(name, e))?;
        Ok(Threaded {
            rx: Some(rx),
            current: Vec::new().into_iter(),
            thread: Some(thread),
            position: None,
            ended: false,
            name: name.to_string(),
            failure,
        })
    }

    /// Returns the next event, or `Idle` after [`IDLE_AFTER`] without one.
    pub(crate) fn next_event(&mut self) -> SourceEvent {
        loop {
            if let Some((event, pos)) = self.current.next() {
                if pos.is_some() {
                    self.position = pos;
                }
                if matches!(event, SourceEvent::End) {
                    self.ended = true;
                }
                return event;
            }
            if self.ended {
                return SourceEvent::End;
            }
            let Some(rx) = &self.rx else {
                return SourceEvent::End;
            };
            match rx.recv_timeout(IDLE_AFTER) {
                Ok(batch) => self.current = batch.into_iter(),
                Err(RecvTimeoutError::Timeout) => return SourceEvent::Idle,
                Err(RecvTimeoutError::Disconnected) => {
                    self.ended = true;
                    let failure = self
                        .failure
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .take();
                    if let Some(why) = failure {
                        return SourceEvent::Notice(format!(
                            "cannot read: {} thread failed, nothing after this was read: {why}",
                            self.name
                        ));
                    }
                    return SourceEvent::End;
                }
            }
        }
    }
}

impl<P> Drop for Threaded<P> {
    fn drop(&mut self) {
        // Dropping the receiver makes the thread's next send fail, so it ends; a thread
        // blocked on a read (standard input) is left to end with the process.
        self.rx = None;
        if self.ended {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_thread_that_dies_delivers_what_it_read_then_says_so() {
        let mut source = Threaded::<()>::spawn("test-reader", |feed| {
            for i in 0..3 {
                feed.push(SourceEvent::Notice(format!("line {i}")), None);
            }
            panic!("reader bug");
        })
        .unwrap();
        let mut events = Vec::new();
        loop {
            match source.next_event() {
                SourceEvent::Idle => continue,
                SourceEvent::End => break,
                SourceEvent::Notice(text) => events.push(text),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(events.len(), 4, "{events:?}");
        assert_eq!(events[2], "line 2");
        assert_eq!(
            events[3],
            "cannot read: test-reader thread failed, nothing after this was read: reader bug"
        );
    }
}
