//! The two ways the grower fills a node's histogram, both into the flat per-feature layout of
//! [`BinnedDataset::hist_offset`], each for one block of consecutive features (the grower hands
//! blocks to the fit's worker threads; each block's bins are written by one thread only).
//!
//! - Row-wise and sparse ([`fill_sparse`]): one row at a time, adding only the bins that are not
//!   their feature's most frequent one (the binned dataset keeps these per row, ascending, so a
//!   block's are one run found by binary search); each feature's most frequent bin is then the
//!   node's total minus its other bins (LightGBM's trick). Flow features are mostly their usual
//!   value (on the labeled captures 63 of 181 per row are not), so this skips two thirds of the
//!   work. Rows are summed in chunks of a fixed size, each into its own buffer, and the buffers
//!   added in chunk order.
//! - Column-wise ([`fill_cols`]): four features at a time over the node's rows with gradients in
//!   node order, so each feature's bins (a few KB) stay in L1 even with 255 bins. Used for dense
//!   data; each feature is summed in row order.
//!
//! Either way a bin's sums are added in the same order whatever the blocks, so results do not
//! depend on the thread count.

use super::grow::BinStat;
use crate::binned::BinnedDataset;
use std::ops::Range;

/// Fills `out`, the histogram slots of features `feats` (`hist_offset(feats.start)` onwards),
/// from the sparse rows `rows` (per-row `g`, `h`, indexed by row) in chunks of `chunk` rows, and
/// returns the rows' total. `out` must be zeroed.
pub(super) fn fill_sparse(
    data: &BinnedDataset,
    g: &[f32],
    h: &[f32],
    rows: &[u32],
    feats: Range<usize>,
    chunk: usize,
    out: &mut [BinStat],
) -> BinStat {
    let slots = data.hist_offset(feats.start) as u32..data.hist_offset(feats.end) as u32;
    let mut pieces = rows.chunks(chunk.max(1));
    let mut total = match pieces.next() {
        Some(first) => fill_rows_sparse(data, g, h, first, slots.clone(), out),
        None => BinStat::default(),
    };
    let mut buf = Vec::new();
    for piece in pieces {
        buf.clear();
        buf.resize(out.len(), BinStat::default());
        total.add(&fill_rows_sparse(
            data,
            g,
            h,
            piece,
            slots.clone(),
            &mut buf,
        ));
        for (a, b) in out.iter_mut().zip(&buf) {
            a.add(b);
        }
    }
    let base = slots.start as usize;
    for f in feats {
        let o = data.hist_offset(f) - base;
        let bins = &mut out[o..o + data.feature(f).n_bins()];
        let mut rest = total;
        for s in bins.iter() {
            rest = rest.sub(s);
        }
        bins[data.default_bin(f) as usize] = rest;
    }
    total
}

/// Adds rows `rows` to `out` (the histogram from slot `slots.start`) at their uncommon bins
/// within `slots`, and returns their total.
fn fill_rows_sparse(
    data: &BinnedDataset,
    g: &[f32],
    h: &[f32],
    rows: &[u32],
    slots: Range<u32>,
    out: &mut [BinStat],
) -> BinStat {
    let mut total = BinStat::default();
    for &r in rows {
        let r = r as usize;
        let (gi, hi) = (f64::from(g[r]), f64::from(h[r]));
        total.g += gi;
        total.h += hi;
        total.n += 1;
        let mut row = data.sparse_row(r);
        if slots.start > 0 {
            row = &row[row.partition_point(|&s| s < slots.start)..];
        }
        for &slot in row {
            if slot >= slots.end {
                break;
            }
            let s = &mut out[(slot - slots.start) as usize];
            s.g += gi;
            s.h += hi;
            s.n += 1;
        }
    }
    total
}

/// Fills `out`, the part of a histogram that starts at slot `base`, for `feats` (ascending),
/// over `rows`, whose gradients are `g[i]`, `h[i]` for `rows[i]` (node order).
pub(super) fn fill_cols(
    data: &BinnedDataset,
    g: &[f32],
    h: &[f32],
    rows: &[u32],
    feats: &[usize],
    out: &mut [BinStat],
    base: usize,
) {
    // Four features per pass over the rows: the row index and gradients are read once and the
    // four updates are independent, which keeps the CPU busy. Each pass sums into 256-bin
    // arrays (a `u8` bin indexes them without checks), then copies the real bins out.
    let mut scratch = vec![[BinStat::default(); 256]; 4];
    for group in feats.chunks(4) {
        for a in scratch.iter_mut() {
            a.fill(BinStat::default());
        }
        if let ([f0, f1, f2, f3], [o0, o1, o2, o3]) = (group, &mut scratch[..]) {
            let c0 = data.column(*f0);
            let n = c0.len();
            let (c1, c2, c3) = (
                &data.column(*f1)[..n],
                &data.column(*f2)[..n],
                &data.column(*f3)[..n],
            );
            for ((&r, &gi), &hi) in rows.iter().zip(g).zip(h) {
                let r = r as usize;
                let (gi, hi) = (f64::from(gi), f64::from(hi));
                for (o, c) in [
                    (&mut *o0, c0),
                    (&mut *o1, c1),
                    (&mut *o2, c2),
                    (&mut *o3, c3),
                ] {
                    let s = &mut o[c[r] as usize];
                    s.g += gi;
                    s.h += hi;
                    s.n += 1;
                }
            }
        } else {
            for (&f, o) in group.iter().zip(scratch.iter_mut()) {
                let c = data.column(f);
                for ((&r, &gi), &hi) in rows.iter().zip(g).zip(h) {
                    let s = &mut o[c[r as usize] as usize];
                    s.g += f64::from(gi);
                    s.h += f64::from(hi);
                    s.n += 1;
                }
            }
        }
        for (&f, o) in group.iter().zip(&scratch) {
            let at = data.hist_offset(f) - base;
            let nb = data.feature(f).n_bins();
            out[at..at + nb].copy_from_slice(&o[..nb]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Dataset;
    use rand::{Rng, SeedableRng};

    /// Rows whose features are mostly 0 (some missing), so the binned dataset keeps sparse rows.
    fn sparse_data(n: usize, m: usize, seed: u64) -> Dataset {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let features = (0..n * m)
            .map(|_| match rng.random_range(0..10) {
                0 => f32::NAN,
                1..=2 => rng.random_range(0..40) as f32,
                _ => 0.0,
            })
            .collect();
        Dataset {
            feature_names: (0..m).map(|i| format!("f{i}")).collect(),
            features,
            target: vec![false; n],
            ..Dataset::default()
        }
    }

    #[test]
    fn sparse_and_column_histograms_agree() {
        let (n, m) = (3_000, 9);
        let data = BinnedDataset::from_dataset(&sparse_data(n, m, 3), 255, 1).unwrap();
        assert!(data.sparse_per_row().unwrap() < m as f64 / 2.0);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let g: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let h: Vec<f32> = (0..n).map(|_| rng.random_range(0.1..1.0)).collect();
        let rows: Vec<u32> = (0..n as u32).filter(|r| r % 3 != 1).collect();
        let feats: Vec<usize> = (0..m).collect();

        // All features in one block and one chunk, against two blocks in chunks of 700 rows.
        let mut sparse = vec![BinStat::default(); data.hist_len()];
        let total = fill_sparse(&data, &g, &h, &rows, 0..m, 10_000, &mut sparse);
        assert_eq!(total.n, 2_000);
        let mut blocks = vec![BinStat::default(); data.hist_len()];
        let (a, b) = blocks.split_at_mut(data.hist_offset(4));
        assert_eq!(fill_sparse(&data, &g, &h, &rows, 0..4, 700, a).n, 2_000);
        assert_eq!(fill_sparse(&data, &g, &h, &rows, 4..m, 700, b).n, 2_000);

        let gathered: (Vec<f32>, Vec<f32>) =
            rows.iter().map(|&r| (g[r as usize], h[r as usize])).unzip();
        let mut dense = vec![BinStat::default(); data.hist_len()];
        let (a, b) = dense.split_at_mut(data.hist_offset(5));
        fill_cols(&data, &gathered.0, &gathered.1, &rows, &feats[..5], a, 0);
        let base = data.hist_offset(5);
        fill_cols(&data, &gathered.0, &gathered.1, &rows, &feats[5..], b, base);
        for other in [&blocks, &dense] {
            for (a, b) in sparse.iter().zip(other.iter()) {
                assert_eq!(a.n, b.n);
                assert!((a.g - b.g).abs() < 1e-9 && (a.h - b.h).abs() < 1e-9);
            }
            // Each feature's bins hold every row once.
            for f in 0..m {
                let o = data.hist_offset(f);
                let count: u32 = other[o..o + data.feature(f).n_bins()]
                    .iter()
                    .map(|s| s.n)
                    .sum();
                assert_eq!(count, 2_000);
            }
        }
    }
}
