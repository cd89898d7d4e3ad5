//! Deterministic data parallelism over fixed-size chunks of rows, and the worker pool of a fit.
//!
//! Work is cut into chunks whose size does not depend on the thread count; each chunk's result
//! lands in its own slot and callers combine the slots in chunk order. Floating-point sums
//! therefore come out bitwise the same on one thread or many, and on any machine.
//! [`map_chunks`] and [`fill_chunks`] spawn scoped `std` threads per call (tens of microseconds,
//! negligible next to their passes over the data). The tree engine instead runs a whole fit on
//! one [`with_pool`] pool of parked `rayon` workers, since it forks and joins for every node
//! (a few microseconds each), too often to spawn threads each time.

use crate::error::{Error, Result};
use std::ops::Range;

/// Returns `requested` or, when `None`, the number of available cores (at least 1).
pub(crate) fn thread_count(requested: Option<usize>) -> usize {
    requested
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
        .max(1)
}

/// Runs `f` on a new pool of exactly `threads` worker threads (or inline on the calling thread
/// when `threads` is 1), so `rayon` work inside `f` uses those threads and never the global
/// pool. The pool lives as long as `f`.
pub(crate) fn with_pool<T, F>(threads: usize, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    if threads <= 1 {
        return Ok(f());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("iotguard-fit-{i}"))
        .build()
        .map_err(|e| Error::InvalidParams(format!("cannot start {threads} worker threads: {e}")))?;
    Ok(pool.install(f))
}

/// Returns `f(rows)` for each chunk of `chunk_rows` rows out of `n_rows`, in chunk order,
/// computed on up to `threads` threads (contiguous runs of chunks per thread).
pub(crate) fn map_chunks<T, F>(n_rows: usize, chunk_rows: usize, threads: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(Range<usize>) -> T + Sync,
{
    let chunk_rows = chunk_rows.max(1);
    let n_chunks = n_rows.div_ceil(chunk_rows);
    let range = |c: usize| c * chunk_rows..((c + 1) * chunk_rows).min(n_rows);
    let threads = threads.clamp(1, n_chunks.max(1));
    if threads == 1 {
        return (0..n_chunks).map(|c| f(range(c))).collect();
    }
    let mut slots: Vec<Option<T>> = (0..n_chunks).map(|_| None).collect();
    let f = &f;
    std::thread::scope(|scope| {
        let mut rest: &mut [Option<T>] = &mut slots;
        let mut first = 0;
        for t in 0..threads {
            let take = (t + 1) * n_chunks / threads - t * n_chunks / threads;
            let (mine, r) = std::mem::take(&mut rest).split_at_mut(take);
            rest = r;
            let start = first;
            first += take;
            let mut work = move || {
                for (k, slot) in mine.iter_mut().enumerate() {
                    *slot = Some(f(range(start + k)));
                }
            };
            if t + 1 == threads {
                work();
            } else {
                scope.spawn(work);
            }
        }
    });
    slots.into_iter().flatten().collect()
}

/// Calls `f(rows, out_rows)` for each chunk of `chunk_rows` rows, where `out_rows` is that
/// chunk's part of `out` (`width` values per row), on up to `threads` threads.
pub(crate) fn fill_chunks<T, F>(
    out: &mut [T],
    width: usize,
    chunk_rows: usize,
    threads: usize,
    f: F,
) where
    T: Send,
    F: Fn(Range<usize>, &mut [T]) + Sync,
{
    let width = width.max(1);
    let chunk_rows = chunk_rows.max(1);
    let n_rows = out.len() / width;
    let mut pieces: Vec<(Range<usize>, &mut [T])> = out
        .chunks_mut(chunk_rows * width)
        .enumerate()
        .map(|(c, piece)| {
            let start = c * chunk_rows;
            (start..(start + piece.len() / width).min(n_rows), piece)
        })
        .collect();
    let n_chunks = pieces.len();
    let threads = threads.clamp(1, n_chunks.max(1));
    let f = &f;
    std::thread::scope(|scope| {
        let mut rest: &mut [(Range<usize>, &mut [T])] = &mut pieces;
        for t in 0..threads {
            let take = (t + 1) * n_chunks / threads - t * n_chunks / threads;
            let (mine, r) = std::mem::take(&mut rest).split_at_mut(take);
            rest = r;
            let mut work = move || {
                for (rows, piece) in mine.iter_mut() {
                    f(rows.clone(), piece);
                }
            };
            if t + 1 == threads {
                work();
            } else {
                scope.spawn(work);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_in_order_for_any_thread_count() {
        for threads in 1..5 {
            let r = map_chunks(10, 3, threads, |r| r);
            assert_eq!(r, vec![0..3, 3..6, 6..9, 9..10]);
            let mut out = vec![0usize; 20];
            fill_chunks(&mut out, 2, 3, threads, |rows, piece| {
                for (k, v) in piece.iter_mut().enumerate() {
                    *v = rows.start * 2 + k;
                }
            });
            assert_eq!(out, (0..20).collect::<Vec<_>>());
        }
        assert!(map_chunks(0, 3, 2, |r| r).is_empty());
        assert_eq!(thread_count(Some(0)), 1);
    }

    #[test]
    fn pool_has_exactly_the_threads_asked_for() {
        assert_eq!(with_pool(1, rayon::current_thread_index).unwrap(), None);
        assert_eq!(with_pool(3, rayon::current_num_threads).unwrap(), 3);
        assert!(with_pool(2, rayon::current_thread_index).unwrap().is_some());
    }
}
