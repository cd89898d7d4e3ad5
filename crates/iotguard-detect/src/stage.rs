//! [`Stager`]: the active model scores flows on a second thread while the pipeline's thread
//! extracts features ahead and folds scored flows into incidents behind.
//!
//! The pipeline's thread extracts each flow's features in flow order ([`Detector::stage`]) into
//! a chunk of [`CHUNK_ROWS`] rows; a full chunk goes to a queue that the scoring thread takes
//! chunks from, oldest first. When the pipeline needs a chunk's scores and the scoring thread
//! has not taken it yet, the pipeline scores it itself (and any later chunk while it waits), so
//! neither thread idles while there is scoring to do. Scored chunks are finished in flow order
//! ([`Detector::finish_staged`]: drift, incidents, explanations, baseline, shadow), so every
//! score, alert and incident is what [`Detector::process`] gives one flow at a time: a score
//! depends only on the row and the model, the row only on the flows before it in order.
//!
//! Invariants:
//! - at most [`MAX_CHUNKS`] chunks are queued or being scored (bounded memory: about
//!   `(MAX_CHUNKS + 1) * CHUNK_ROWS` flows and their rows);
//! - one chunk, one model: a model or shadow swapped into the handle is picked up only after
//!   every staged flow is finished ([`Stager::push`] drains first), so a swap takes effect at
//!   the same flow as in the one-thread path;
//! - a scoring thread that died is an error ([`Error::Worker`]) the next time its work is
//!   needed or when the stager closes, never a hang or a silently dropped flow.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use iotguard_flow::FlowRecord;
use iotguard_models::Scorer;

use crate::detector::Detector;
use crate::error::{Error, Result};
use crate::model::ActiveModel;
use crate::scored::ScoredFlow;

/// Flows per chunk.
pub(crate) const CHUNK_ROWS: usize = 256;

/// Chunks queued or being scored at most.
pub(crate) const MAX_CHUNKS: usize = 4;

/// How a chunk's rows are scored: the active model's score (tests put a failing one in).
pub(crate) type ScoreFn = fn(&ActiveModel, &[f32]) -> f32;

/// The active model's score of one row.
fn model_score(model: &ActiveModel, row: &[f32]) -> f32 {
    model.loaded.model.score(row)
}

/// Where finished flows go, one at a time in flow order, each right after it is finished (so
/// what the taker does between two flows, such as closing idle incidents every `batch` flows,
/// sees the detector as [`Detector::process`] left it after that flow).
pub(crate) type Take<'t> = dyn FnMut(&mut Detector, Finished) + 't;

/// A flow scored and finished, in flow order.
pub(crate) struct Finished {
    /// The flow.
    pub rec: Box<FlowRecord>,
    /// When the pipeline received it.
    pub received: Instant,
    /// Its verdict.
    pub scored: ScoredFlow,
}

/// Rows of consecutive flows and, once scored, their scores.
struct Chunk {
    seq: u64,
    model: Option<Arc<ActiveModel>>,
    rows: Vec<f32>,
    scores: Vec<f32>,
    len: usize,
}

impl Chunk {
    fn new(dim: usize) -> Chunk {
        Chunk {
            seq: 0,
            model: None,
            rows: vec![0.0; CHUNK_ROWS * dim],
            scores: Vec::with_capacity(CHUNK_ROWS),
            len: 0,
        }
    }

    fn score(&mut self, dim: usize, score: ScoreFn) {
        self.scores.clear();
        if let Some(model) = self.model.as_deref() {
            let rows = &self.rows[..self.len * dim];
            self.scores
                .extend(rows.chunks_exact(dim).map(|row| score(model, row)));
        }
    }
}

/// The queue of chunks to score.
struct Queue {
    jobs: VecDeque<Chunk>,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

/// Stages flows through the scoring thread; see the module docs.
pub(crate) struct Stager {
    dim: usize,
    score: ScoreFn,
    /// The chunk being filled.
    open: Chunk,
    /// Every staged flow not yet finished, in flow order.
    flows: VecDeque<(Box<FlowRecord>, Instant)>,
    /// Chunks handed to the queue and not yet finished, oldest first.
    in_flight: VecDeque<u64>,
    /// Chunks scored (by either thread) and not yet finished.
    done: Vec<Chunk>,
    spare: Vec<Chunk>,
    next_seq: u64,
    shared: Arc<Shared>,
    results: Receiver<Chunk>,
    worker: Option<JoinHandle<()>>,
}

impl Stager {
    /// Starts the scoring thread for rows of `dim` features.
    pub(crate) fn new(dim: usize) -> Result<Stager> {
        Stager::with_score(dim, model_score)
    }

    fn with_score(dim: usize, score: ScoreFn) -> Result<Stager> {
        let dim = dim.max(1);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
        });
        // Room for every chunk that can exist, so the scoring thread never waits to hand back.
        let (tx, results) = mpsc::sync_channel(MAX_CHUNKS + 2);
        let worker = std::thread::Builder::new()
            .name("iotguard-score".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || work(&shared, &tx, dim, score)
            })
            .map_err(|e| Error::Worker(format!("cannot start the scoring thread: {e}")))?;
        Ok(Stager {
            dim,
            score,
            open: Chunk::new(dim),
            flows: VecDeque::new(),
            in_flight: VecDeque::new(),
            done: Vec::new(),
            spare: Vec::new(),
            next_seq: 0,
            shared,
            results,
            worker: Some(worker),
        })
    }

    /// Whether flows are staged and not yet finished.
    pub(crate) fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Stages one flow (extracting its features now); gives `take` the flows finished to make
    /// room, in flow order.
    pub(crate) fn push(
        &mut self,
        detector: &mut Detector,
        rec: Box<FlowRecord>,
        received: Instant,
        take: &mut Take<'_>,
    ) -> Result<()> {
        if detector.swap_pending() {
            self.drain(detector, take)?;
        }
        let at = self.open.len * self.dim;
        let model = detector.stage(&rec, &mut self.open.rows[at..at + self.dim]);
        if self.open.len == 0 {
            self.open.model = Some(Arc::clone(model));
        }
        self.open.len += 1;
        self.flows.push_back((rec, received));
        if self.open.len == CHUNK_ROWS {
            self.submit()?;
        }
        while self.in_flight.len() > MAX_CHUNKS {
            self.finish_oldest(detector, take)?;
        }
        Ok(())
    }

    /// Finishes every staged flow, giving each to `take` in flow order.
    pub(crate) fn drain(&mut self, detector: &mut Detector, take: &mut Take<'_>) -> Result<()> {
        while !self.in_flight.is_empty() {
            self.finish_oldest(detector, take)?;
        }
        if self.open.len > 0 {
            let mut chunk = std::mem::replace(
                &mut self.open,
                self.spare.pop().unwrap_or_else(|| Chunk::new(self.dim)),
            );
            chunk.score(self.dim, self.score);
            self.finish_chunk(chunk, detector, take);
        }
        Ok(())
    }

    /// Stops the scoring thread; fails if it died.
    pub(crate) fn close(mut self) -> Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> Result<()> {
        if let Ok(mut q) = self.shared.queue.lock() {
            // Chunks nobody waits for any more (the run stopped on an error) are not scored.
            q.jobs.clear();
            q.closed = true;
        }
        self.shared.ready.notify_all();
        match self.worker.take().map(JoinHandle::join) {
            Some(Err(panic)) => Err(died(&*panic)),
            _ => Ok(()),
        }
    }

    /// Hands the open chunk to the scoring thread.
    fn submit(&mut self) -> Result<()> {
        let fresh = self.spare.pop().unwrap_or_else(|| Chunk::new(self.dim));
        let mut chunk = std::mem::replace(&mut self.open, fresh);
        chunk.seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight.push_back(chunk.seq);
        self.queue()?.jobs.push_back(chunk);
        self.shared.ready.notify_one();
        Ok(())
    }

    fn queue(&self) -> Result<std::sync::MutexGuard<'_, Queue>> {
        self.shared
            .queue
            .lock()
            .map_err(|_| Error::Worker("the scoring queue was poisoned".into()))
    }

    /// Gets the oldest chunk in flight scored (scoring queued chunks here while the scoring
    /// thread holds it) and finishes its flows.
    fn finish_oldest(&mut self, detector: &mut Detector, take: &mut Take<'_>) -> Result<()> {
        let Some(seq) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let chunk = loop {
            if let Some(i) = self.done.iter().position(|c| c.seq == seq) {
                break self.done.swap_remove(i);
            }
            // What the scoring thread finished first: scoring a queued chunk here while the one
            // needed waits in the channel would leave the scoring thread without work.
            if let Ok(chunk) = self.results.try_recv() {
                self.done.push(chunk);
                continue;
            }
            let queued = self.queue()?.jobs.pop_front();
            if let Some(mut chunk) = queued {
                chunk.score(self.dim, self.score);
                if chunk.seq == seq {
                    break chunk;
                }
                self.done.push(chunk);
                continue;
            }
            match self.results.recv() {
                Ok(chunk) => self.done.push(chunk),
                Err(_) => {
                    return Err(self
                        .stop()
                        .err()
                        .unwrap_or_else(|| Error::Worker("the scoring thread stopped".into())))
                }
            }
        };
        self.finish_chunk(chunk, detector, take);
        Ok(())
    }

    fn finish_chunk(&mut self, mut chunk: Chunk, detector: &mut Detector, take: &mut Take<'_>) {
        let rows = chunk.rows.chunks_exact(self.dim);
        for (row, &score) in rows.zip(&chunk.scores).take(chunk.len) {
            let Some((rec, received)) = self.flows.pop_front() else {
                break;
            };
            let scored = detector.finish_staged(&rec, row, score);
            take(
                detector,
                Finished {
                    rec,
                    received,
                    scored,
                },
            );
        }
        chunk.model = None;
        chunk.len = 0;
        self.spare.push(chunk);
    }
}

impl Drop for Stager {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The scoring thread: takes chunks oldest first until the queue closes.
fn work(shared: &Shared, done: &SyncSender<Chunk>, dim: usize, score: ScoreFn) {
    loop {
        let mut chunk = {
            let Ok(mut q) = shared.queue.lock() else {
                return;
            };
            loop {
                if let Some(chunk) = q.jobs.pop_front() {
                    break chunk;
                }
                if q.closed {
                    return;
                }
                q = match shared.ready.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
        };
        chunk.score(dim, score);
        if done.send(chunk).is_err() {
            return;
        }
    }
}

/// The error for a scoring thread that panicked.
fn died(panic: &(dyn std::any::Any + Send)) -> Error {
    let why = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    Error::Worker(format!("the scoring thread died: {why}"))
}

#[cfg(test)]
mod tests {
    use iotguard_features::FeatureConfig;
    use iotguard_sim::{SimConfig, Simulator};

    use super::*;
    use crate::config::DetectConfig;
    use crate::model::ModelHandle;

    fn detector() -> Detector {
        let loaded =
            iotguard_runtime::lab::learning_placeholder(&FeatureConfig::default()).unwrap();
        let handle = ModelHandle::new(ActiveModel::new(loaded, None));
        Detector::new(handle, DetectConfig::default()).unwrap()
    }

    fn flows(n: usize) -> Vec<FlowRecord> {
        Simulator::new(SimConfig::default().with_seed(3))
            .unwrap()
            .flows()
            .take(n)
            .collect()
    }

    /// A score that depends on the row, so a row given to the wrong flow shows.
    fn row_sum(_: &ActiveModel, row: &[f32]) -> f32 {
        row.iter().filter(|v| v.is_finite()).sum()
    }

    /// Panics on the scoring thread only.
    fn panics_on_the_thread(model: &ActiveModel, row: &[f32]) -> f32 {
        if std::thread::current().name() == Some("iotguard-score") {
            panic!("injected failure");
        }
        row_sum(model, row)
    }

    #[test]
    fn staged_flows_come_back_in_order_with_their_own_rows() {
        let records = flows(3 * CHUNK_ROWS * MAX_CHUNKS + 17);
        let mut one = detector();
        let mut row = vec![0.0; one.dim()];
        let want: Vec<(String, f32)> = records
            .iter()
            .map(|r| {
                one.stage(r, &mut row);
                (format!("{:?}", r.uid), row_sum(one.model(), &row))
            })
            .collect();
        let mut two = detector();
        let mut stager = Stager::with_score(two.dim(), row_sum).unwrap();
        let mut out = Vec::new();
        let mut keep = |_: &mut Detector, f: Finished| out.push(f);
        for r in &records {
            stager
                .push(&mut two, Box::new(r.clone()), Instant::now(), &mut keep)
                .unwrap();
            // Bounded: never more than the chunks in flight and the open one.
            assert!(stager.flows.len() <= (MAX_CHUNKS + 1) * CHUNK_ROWS);
        }
        stager.drain(&mut two, &mut keep).unwrap();
        assert!(stager.is_empty());
        stager.close().unwrap();
        let got: Vec<(String, f32)> = out
            .iter()
            .map(|f| (format!("{:?}", f.rec.uid), f.scored.score))
            .collect();
        assert_eq!(got.len(), want.len());
        assert!(
            got == want,
            "a staged flow came back out of order or with another row"
        );
        assert_eq!(two.counts().0, records.len() as u64);
    }

    /// A stager whose scoring thread panics, given `records` and then waited on until its
    /// thread took the full chunk (and died).
    fn fed_to_a_dying_thread(
        d: &mut Detector,
        records: &[FlowRecord],
        take: &mut Take<'_>,
    ) -> Stager {
        let mut stager = Stager::with_score(d.dim(), panics_on_the_thread).unwrap();
        for r in records {
            stager
                .push(d, Box::new(r.clone()), Instant::now(), take)
                .unwrap();
        }
        while !stager.queue().unwrap().jobs.is_empty() {
            std::thread::yield_now();
        }
        stager
    }

    #[test]
    fn a_dead_scoring_thread_is_an_error_not_a_hang() {
        let records = flows(CHUNK_ROWS);
        let mut d = detector();
        let mut taken = 0usize;
        let mut count = |_: &mut Detector, _: Finished| taken += 1;
        let mut stager = fed_to_a_dying_thread(&mut d, &records, &mut count);
        let err = stager.drain(&mut d, &mut count).unwrap_err();
        assert!(
            matches!(&err, Error::Worker(why) if why.contains("injected failure")),
            "{err}"
        );
        // Noticed at the end too, when no flow waited for the dead thread.
        let stager = fed_to_a_dying_thread(&mut d, &records, &mut count);
        assert!(matches!(stager.close(), Err(Error::Worker(_))));
        // The flows of the chunks the dead thread held were never given as finished.
        assert_eq!(taken, 0);
    }
}
