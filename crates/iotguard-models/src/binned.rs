//! A binned copy of a dataset's features, shared by every tree model.
//!
//! Each feature gets up to 255 value bins whose edges are quantiles of a seeded sample of rows
//! (every distinct value gets its own bin when there are few), plus one bin of its own for
//! missing values (`NaN`). Bins are stored column-major as `u8` (building a dense histogram and
//! routing rows at a split read one column per feature). When most bins are their feature's most
//! frequent one, as for flow features, each row's other bins are also kept as a list of
//! histogram slots, so histograms can be built row by row skipping the common bins. The `f32`
//! edges are kept: a split "bin ≤ b" is the split "value ≤ `edges[b]`", so trained trees score
//! raw `f32` rows without binning them.
//!
//! Histograms over all features are one flat array: feature `f`'s bins (its value bins and the
//! missing-value bin) start at [`BinnedDataset::hist_offset`]`(f)`, so a feature with 2 values
//! costs 3 slots, not 256.
//!
//! This module does not keep labels or weights: models pair a `BinnedDataset` with the target of
//! the [`Dataset`] it came from.

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

/// How many rows are sampled to find bin edges; quantiles of 200 k rows are plenty for 255 bins.
const SAMPLE_ROWS: usize = 200_000;

/// The bin edges of one feature.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureBins {
    /// Ascending upper edges: value bin `b` holds values in `(edges[b-1], edges[b]]`; the last
    /// value bin holds everything above the last edge.
    pub edges: Vec<f32>,
}

impl FeatureBins {
    /// Finds edges from sorted, non-missing values: one bin per distinct value when there are at
    /// most `max_bins`, else (deduplicated) quantiles.
    fn from_sorted(sorted: &[f32], max_bins: usize) -> Self {
        let mut distinct: Vec<f32> = sorted.to_vec();
        distinct.dedup();
        let mut edges = Vec::new();
        if distinct.len() <= max_bins {
            for w in distinct.windows(2) {
                edges.push(midpoint(w[0], w[1]));
            }
        } else {
            let n = sorted.len();
            for k in 1..max_bins {
                let i = (k * n / max_bins).clamp(1, n - 1);
                let e = midpoint(sorted[i - 1], sorted[i]);
                if edges.last().is_none_or(|&last| e > last) && e < sorted[n - 1] {
                    edges.push(e);
                }
            }
        }
        FeatureBins { edges }
    }

    /// Returns the number of value bins (without the missing-value bin).
    pub fn n_value_bins(&self) -> usize {
        self.edges.len() + 1
    }

    /// Returns the bin that holds missing values: the one after the last value bin.
    pub fn nan_bin(&self) -> u8 {
        self.n_value_bins() as u8
    }

    /// Returns the number of bins including the missing-value bin.
    pub fn n_bins(&self) -> usize {
        self.edges.len() + 2
    }

    /// Returns the bin of value `v`.
    pub fn bin(&self, v: f32) -> u8 {
        if v.is_nan() {
            self.nan_bin()
        } else {
            self.edges.partition_point(|&e| e < v) as u8
        }
    }

    /// Returns the `f32` threshold of the split "bin ≤ `bin`": `value ≤ threshold`.
    ///
    /// For the last value bin (the split "any value" against "missing") this is `f32::MAX`, not
    /// infinity, so model files stay plain JSON; a `+inf` value then goes right with the missing
    /// values at such splits.
    pub fn threshold(&self, bin: u8) -> f32 {
        self.edges.get(bin as usize).copied().unwrap_or(f32::MAX)
    }
}

/// Returns a value in `[a, b)` halfway between `a < b` (or `a` when rounding or infinities forbid).
/// Edges are kept finite (model files are JSON): infinite data values clamp to `±f32::MAX`.
fn midpoint(a: f32, b: f32) -> f32 {
    let m = a + (b - a) / 2.0;
    let m = if m >= a && m < b { m } else { a };
    m.clamp(-f32::MAX, f32::MAX)
}

/// A dataset's features as per-feature `u8` bins, column-major.
#[derive(Clone, Debug)]
pub struct BinnedDataset {
    n_rows: usize,
    features: Vec<FeatureBins>,
    bins: Vec<u8>,
    /// Per feature, where its bins start in a flat histogram; one more entry holds the total.
    offsets: Vec<usize>,
    /// Per feature, its most frequent bin.
    default_bins: Vec<u8>,
    /// Per feature, how many rows are not in its most frequent bin.
    uncommon: Vec<usize>,
    /// When most bins are their feature's most frequent one: per row, the histogram slots
    /// (offset + bin) of its other bins, rows one after another (`sparse_start` has `n_rows + 1`
    /// entries). Empty otherwise.
    sparse_slots: Vec<u32>,
    sparse_start: Vec<usize>,
}

impl BinnedDataset {
    /// Bins `data`'s features with at most `max_bins` (2..=255) value bins per feature; edges come
    /// from a sample of rows drawn with `seed`. Binning runs on all available cores.
    pub fn from_dataset(data: &Dataset, max_bins: usize, seed: u64) -> Result<Self> {
        data.validate()?;
        if !(2..=255).contains(&max_bins) {
            return Err(Error::InvalidParams(format!(
                "max_bins must be in 2..=255, got {max_bins}"
            )));
        }
        let n_rows = data.n_rows();
        let n_features = data.n_features();
        let sample: Vec<usize> = if n_rows <= SAMPLE_ROWS {
            (0..n_rows).collect()
        } else {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut s: Vec<usize> = (0..SAMPLE_ROWS)
                .map(|_| rng.random_range(0..n_rows))
                .collect();
            s.sort_unstable();
            s
        };
        let mut features = vec![FeatureBins { edges: Vec::new() }; n_features];
        let mut bins = vec![0u8; n_rows * n_features];
        let bin_feature = |f: usize, fbin: &mut FeatureBins, col: &mut [u8]| {
            let mut vals: Vec<f32> = sample
                .iter()
                .map(|&r| data.features[r * n_features + f])
                .filter(|v| !v.is_nan())
                .collect();
            vals.sort_unstable_by(f32::total_cmp);
            *fbin = FeatureBins::from_sorted(&vals, max_bins);
            for (r, b) in col.iter_mut().enumerate() {
                *b = fbin.bin(data.features[r * n_features + f]);
            }
        };
        let cols = bins.chunks_mut(n_rows.max(1));
        if rayon::current_thread_index().is_some() {
            // On a fit's worker pool (see `parallel::with_pool`): one task per feature.
            features
                .par_iter_mut()
                .zip(cols.collect::<Vec<_>>())
                .enumerate()
                .for_each(|(f, (fbin, col))| bin_feature(f, fbin, col));
        } else {
            // Elsewhere, scoped threads on all cores, a run of features each.
            let threads = crate::binned::n_threads(0).min(n_features.max(1));
            let per = n_features.div_ceil(threads.max(1)).max(1);
            let mut work: Vec<_> = features.iter_mut().zip(cols).enumerate().collect();
            let bin_feature = &bin_feature;
            std::thread::scope(|s| {
                for run in work.chunks_mut(per) {
                    s.spawn(move || {
                        for (f, (fbin, col)) in run.iter_mut() {
                            bin_feature(*f, fbin, col);
                        }
                    });
                }
            });
        }
        let mut offsets = Vec::with_capacity(n_features + 1);
        let mut total = 0;
        for fb in &features {
            offsets.push(total);
            total += fb.n_bins();
        }
        offsets.push(total);
        let columns = || bins.chunks(n_rows.max(1)).take(n_features);
        let mut uncommon = Vec::with_capacity(n_features);
        let default_bins: Vec<u8> = columns()
            .map(|col| {
                let mut counts = [0usize; 256];
                for &b in col {
                    counts[b as usize] += 1;
                }
                // The lowest of the most frequent bins.
                let d = (0..256).rev().max_by_key(|&b| counts[b]).unwrap_or(0);
                uncommon.push(col.len() - counts[d]);
                d as u8
            })
            .collect();
        let others: usize = uncommon.iter().sum();
        let (mut sparse_slots, mut sparse_start) = (Vec::new(), Vec::new());
        if others * 2 <= n_rows * n_features {
            // Count each row's entries, then place them feature by feature (so ascending).
            sparse_start = vec![0usize; n_rows + 1];
            for (col, &d) in columns().zip(&default_bins) {
                for (r, &b) in col.iter().enumerate() {
                    sparse_start[r + 1] += usize::from(b != d);
                }
            }
            for r in 0..n_rows {
                sparse_start[r + 1] += sparse_start[r];
            }
            let mut cursor = sparse_start[..n_rows].to_vec();
            sparse_slots = vec![0u32; others];
            for ((col, &d), &o) in columns().zip(&default_bins).zip(&offsets) {
                for (r, &b) in col.iter().enumerate() {
                    if b != d {
                        sparse_slots[cursor[r]] = (o + b as usize) as u32;
                        cursor[r] += 1;
                    }
                }
            }
        }
        Ok(BinnedDataset {
            n_rows,
            features,
            bins,
            offsets,
            default_bins,
            uncommon,
            sparse_slots,
            sparse_start,
        })
    }

    /// Returns the number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Returns the number of features.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// Returns feature `f`'s bin edges.
    pub fn feature(&self, f: usize) -> &FeatureBins {
        &self.features[f]
    }

    /// Returns feature `f`'s bins, one per row.
    pub fn column(&self, f: usize) -> &[u8] {
        &self.bins[f * self.n_rows..(f + 1) * self.n_rows]
    }

    /// Returns where feature `f`'s bins start in a flat histogram over all features.
    pub fn hist_offset(&self, f: usize) -> usize {
        self.offsets[f]
    }

    /// Returns feature `f`'s most frequent bin.
    pub(crate) fn default_bin(&self, f: usize) -> u8 {
        self.default_bins[f]
    }

    /// Returns how many rows are not in feature `f`'s most frequent bin.
    pub(crate) fn uncommon_rows(&self, f: usize) -> usize {
        self.uncommon[f]
    }

    /// Returns how many bins per row are not their feature's most frequent one, on average,
    /// when the sparse rows are kept (at most half the features); `None` otherwise.
    pub(crate) fn sparse_per_row(&self) -> Option<f64> {
        (!self.sparse_start.is_empty())
            .then(|| self.sparse_slots.len() as f64 / self.n_rows.max(1) as f64)
    }

    /// Returns the histogram slots of row `r`'s bins that are not their feature's most frequent
    /// one (empty when the sparse rows are not kept).
    pub(crate) fn sparse_row(&self, r: usize) -> &[u32] {
        match self.sparse_start.get(r..r + 2) {
            Some(&[a, b]) => &self.sparse_slots[a..b],
            _ => &[],
        }
    }

    /// Returns the number of bins of a flat histogram over all features.
    pub fn hist_len(&self) -> usize {
        self.offsets[self.features.len()]
    }
}

/// Returns the number of worker threads to use: `requested`, or all cores when it is 0.
pub(crate) fn n_threads(requested: usize) -> usize {
    if requested > 0 {
        requested
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(values: Vec<f32>) -> Dataset {
        let n = values.len();
        Dataset {
            feature_names: vec!["x".into()],
            features: values,
            target: vec![false; n],
            ..Dataset::default()
        }
    }

    #[test]
    fn few_distinct_values_get_one_bin_each_and_nan_its_own() {
        let d = data(vec![3.0, 1.0, f32::NAN, 2.0, 1.0, 3.0]);
        let b = BinnedDataset::from_dataset(&d, 255, 1).unwrap();
        let fb = b.feature(0);
        assert_eq!(fb.edges, vec![1.5, 2.5]);
        assert_eq!(b.column(0), &[2, 0, 3, 1, 0, 2]);
        assert_eq!(fb.nan_bin(), 3);
        assert_eq!((b.hist_offset(0), b.hist_len()), (0, 4));
        // The split "bin <= b" is the split "value <= threshold(b)".
        for v in [1.0f32, 2.0, 3.0, 0.0, 10.0] {
            for bin in 0..fb.n_value_bins() as u8 {
                assert_eq!(fb.bin(v) <= bin, v <= fb.threshold(bin));
            }
        }
    }

    #[test]
    fn many_values_are_quantile_binned() {
        let d = data((0..10_000).map(|i| (i % 1000) as f32).collect());
        let b = BinnedDataset::from_dataset(&d, 16, 7).unwrap();
        let fb = b.feature(0);
        assert!(fb.n_value_bins() <= 16 && fb.n_value_bins() >= 14);
        let mut counts = vec![0usize; fb.n_bins()];
        for &x in b.column(0) {
            counts[x as usize] += 1;
        }
        // Roughly equal-frequency bins.
        assert!(counts[..fb.n_value_bins()]
            .iter()
            .all(|&c| (400..=900).contains(&c)));
        assert!(BinnedDataset::from_dataset(&d, 256, 7).is_err());
    }

    #[test]
    fn rows_mirror_columns_and_histogram_offsets_follow_bin_counts() {
        let d = Dataset {
            feature_names: vec!["a".into(), "b".into(), "c".into()],
            features: vec![
                0.0,
                5.0,
                1.0, //
                0.0,
                5.0,
                2.0, //
                0.0,
                6.0,
                3.0, //
                1.0,
                7.0,
                f32::NAN,
            ],
            target: vec![false; 4],
            ..Dataset::default()
        };
        let b = BinnedDataset::from_dataset(&d, 255, 1).unwrap();
        assert_eq!(b.column(1), &[0, 0, 1, 2]);
        assert_eq!(b.column(2), &[0, 1, 2, 3]);
        // 2 + 1, 3 + 1 and 3 + 1 bins (value bins plus the missing-value bin).
        assert_eq!(
            (0..3).map(|f| b.hist_offset(f)).collect::<Vec<_>>(),
            vec![0, 3, 7]
        );
        assert_eq!(b.hist_len(), 11);
        // Most frequent bins: a and b 0, c ties between all four (the lowest wins).
        assert_eq!(
            (0..3).map(|f| b.default_bin(f)).collect::<Vec<_>>(),
            vec![0, 0, 0]
        );
        // 6 of 12 bins differ from their default: sparse rows are kept.
        assert_eq!(b.sparse_per_row(), Some(1.5));
        assert_eq!(b.sparse_row(0), &[] as &[u32]);
        assert_eq!(b.sparse_row(1), &[7 + 1]);
        assert_eq!(b.sparse_row(3), &[1, 3 + 2, 7 + 3]);
    }
}
