//! Building chunks on several threads and handing them out in order.
//!
//! Worker `w` of `n` builds chunks `first + w`, `first + w + n`, ... and sends each through
//! its own channel with room for one; the consumer takes from the workers' channels in turn.
//! So chunks come out in index order, each worker stays at most one chunk ahead, and the
//! result is the same for any number of workers because every chunk depends on its index
//! alone.

use std::num::NonZeroUsize;
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

use iotguard_flow::FlowRecord;

use crate::Simulator;

/// Chunks built on worker threads, yielded in index order (see [`Simulator::par_chunks`]).
#[derive(Debug)]
pub struct ParChunks {
    receivers: Vec<Receiver<Vec<FlowRecord>>>,
    workers: Vec<Option<JoinHandle<()>>>,
    next: usize,
    done: bool,
}

impl ParChunks {
    pub(crate) fn new(sim: Simulator, first: u64, threads: NonZeroUsize) -> ParChunks {
        let n = threads.get();
        let end = sim.chunk_count();
        let mut receivers = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for w in 0..n {
            let (tx, rx) = sync_channel(1);
            let sim = sim.clone();
            let handle = std::thread::Builder::new()
                .name(format!("iotguard-sim-{w}"))
                .spawn(move || {
                    let mut index = first + w as u64;
                    while index < end {
                        let chunk: Vec<FlowRecord> = sim.chunk(index).collect();
                        if tx.send(chunk).is_err() {
                            return;
                        }
                        index += n as u64;
                    }
                })
                .expect("spawning a simulator thread");
            receivers.push(rx);
            workers.push(Some(handle));
        }
        ParChunks {
            receivers,
            workers,
            next: 0,
            done: false,
        }
    }
}

impl Iterator for ParChunks {
    type Item = Vec<FlowRecord>;

    /// Returns the next chunk's flows.
    ///
    /// # Panics
    ///
    /// Re-raises the panic of a worker thread (a simulator bug).
    fn next(&mut self) -> Option<Vec<FlowRecord>> {
        if self.done {
            return None;
        }
        let w = self.next % self.receivers.len();
        match self.receivers[w].recv() {
            Ok(chunk) => {
                self.next += 1;
                Some(chunk)
            }
            Err(_) => {
                // The worker is gone: either it reached the end or it panicked.
                self.done = true;
                if let Some(handle) = self.workers[w].take() {
                    if let Err(panic) = handle.join() {
                        std::panic::resume_unwind(panic);
                    }
                }
                None
            }
        }
    }
}

impl Drop for ParChunks {
    fn drop(&mut self) {
        // Closing the channels makes every worker's next send fail, so they all stop.
        self.receivers.clear();
        for handle in self.workers.iter_mut().filter_map(Option::take) {
            // A worker's panic has nowhere to go while dropping; it already printed.
            let _ = handle.join();
        }
    }
}
