//! Per-feature standardisation fitted on training rows, with mean imputation of missing values.
//!
//! `z = (x − mean) / std`, with mean and (population) standard deviation computed over the
//! finite values of each column. Missing values (NaN, and ±∞, which would poison a linear model)
//! become the mean, i.e. `z = 0`, so they contribute nothing to a linear model's output and its
//! explanation. Constant and all-missing columns get `std = 1` (and an all-missing column
//! `mean = 0`), so transforming never divides by zero. Fit on training rows only; applying the
//! training statistics to test rows is what keeps evaluation honest.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::parallel;

/// Rows per unit of parallel work (fixed, so results do not depend on the thread count).
const CHUNK_ROWS: usize = 8192;

/// Per-feature means and standard deviations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each column's finite values.
    pub mean: Vec<f64>,
    /// Population standard deviation of each column's finite values (1 when zero or undefined).
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Fits means and standard deviations on row-major `features` with `n_features` columns,
    /// on all available cores (the result does not depend on the core count).
    ///
    /// Errors if the matrix is not whole (its length is not a multiple of `n_features`).
    pub fn fit(features: &[f32], n_features: usize) -> Result<Standardizer> {
        Standardizer::fit_threads(features, n_features, parallel::thread_count(None))
    }

    /// Fits as [`Standardizer::fit`] on up to `threads` threads.
    pub(crate) fn fit_threads(
        features: &[f32],
        n_features: usize,
        threads: usize,
    ) -> Result<Standardizer> {
        let d = n_features;
        if d == 0 {
            return Ok(Standardizer {
                mean: Vec::new(),
                std: Vec::new(),
            });
        }
        if features.len() % d != 0 {
            return Err(Error::InvalidData(format!(
                "{} values are not rows of {d} features",
                features.len()
            )));
        }
        let n_rows = features.len() / d;
        // Two passes (mean, then squared deviations from it): accurate even for features with a
        // large offset, and branch-free, so each pass runs at memory speed. Per-chunk partial
        // sums are added in chunk order, which keeps the result independent of `threads`.
        let sums = parallel::map_chunks(n_rows, CHUNK_ROWS, threads, |rows| {
            let mut sum = vec![0f64; d];
            let mut count = vec![0u64; d];
            for row in features[rows.start * d..rows.end * d].chunks_exact(d) {
                for ((s, c), &x) in sum.iter_mut().zip(&mut count).zip(row) {
                    let finite = x.is_finite();
                    *s += if finite { f64::from(x) } else { 0.0 };
                    *c += u64::from(finite);
                }
            }
            (sum, count)
        });
        let mut sum = vec![0f64; d];
        let mut count = vec![0u64; d];
        for (s, c) in &sums {
            sum.iter_mut().zip(s).for_each(|(a, b)| *a += b);
            count.iter_mut().zip(c).for_each(|(a, b)| *a += b);
        }
        let mean: Vec<f64> = sum
            .iter()
            .zip(&count)
            .map(|(&s, &c)| if c > 0 { s / c as f64 } else { 0.0 })
            .collect();
        let squares = parallel::map_chunks(n_rows, CHUNK_ROWS, threads, |rows| {
            let mut ss = vec![0f64; d];
            for row in features[rows.start * d..rows.end * d].chunks_exact(d) {
                for ((s, m), &x) in ss.iter_mut().zip(&mean).zip(row) {
                    let dev = f64::from(x) - m;
                    *s += if x.is_finite() { dev * dev } else { 0.0 };
                }
            }
            ss
        });
        let mut ss = vec![0f64; d];
        for part in &squares {
            ss.iter_mut().zip(part).for_each(|(a, b)| *a += b);
        }
        let std = (0..d)
            .map(|j| {
                let var = if count[j] > 0 {
                    ss[j] / count[j] as f64
                } else {
                    0.0
                };
                let s = var.sqrt();
                // Treat spreads lost in rounding as constant, so z stays 0 rather than noise.
                if s > 1e-12 * mean[j].abs().max(1.0) {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Standardizer { mean, std })
    }

    /// Returns the number of features.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    /// Returns feature `j`'s standardised value (0 for missing or out-of-range features).
    #[inline]
    pub fn z(&self, j: usize, x: f32) -> f64 {
        match (self.mean.get(j), self.std.get(j)) {
            (Some(m), Some(s)) if x.is_finite() => (f64::from(x) - m) / s,
            _ => 0.0,
        }
    }

    /// Writes the standardised values of `row` into `out` (missing trailing features give 0).
    pub fn transform_row(&self, row: &[f32], out: &mut [f64]) {
        for (j, o) in out.iter_mut().enumerate() {
            *o = row.get(j).map_or(0.0, |&x| self.z(j, x));
        }
    }

    /// Returns the standardised row-major matrix, as `f32` (half the memory of `f64`; training
    /// accumulates in `f64`), on all available cores. A trailing partial row is dropped.
    pub fn transform(&self, features: &[f32]) -> Vec<f32> {
        self.transform_threads(features, parallel::thread_count(None))
    }

    /// Transforms as [`Standardizer::transform`] on up to `threads` threads.
    pub(crate) fn transform_threads(&self, features: &[f32], threads: usize) -> Vec<f32> {
        let d = self.n_features();
        if d == 0 {
            return Vec::new();
        }
        let n_rows = features.len() / d;
        let mut out = vec![0f32; n_rows * d];
        let inv_std: Vec<f64> = self.std.iter().map(|s| 1.0 / s).collect();
        parallel::fill_chunks(&mut out, d, CHUNK_ROWS, threads, |rows, piece| {
            let src = &features[rows.start * d..rows.end * d];
            for (o_row, x_row) in piece.chunks_exact_mut(d).zip(src.chunks_exact(d)) {
                for (((o, &x), m), is) in o_row.iter_mut().zip(x_row).zip(&self.mean).zip(&inv_std)
                {
                    let z = ((f64::from(x) - m) * is) as f32;
                    *o = if x.is_finite() { z } else { 0.0 };
                }
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_ignoring_missing_and_imputes_mean() {
        let x = [1.0, 5.0, f32::NAN, 5.0, 3.0, 5.0, f32::INFINITY, 5.0];
        let s = Standardizer::fit(&x, 2).unwrap();
        assert_eq!(s.mean, vec![2.0, 5.0]);
        assert_eq!(s.std, vec![1.0, 1.0]);
        let t = s.transform(&x);
        assert_eq!(t, vec![-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        let mut out = [9.0; 2];
        s.transform_row(&[f32::NAN], &mut out);
        assert_eq!(out, [0.0, 0.0]);
    }

    #[test]
    fn thread_count_does_not_change_a_bit() {
        let x: Vec<f32> = (0..50_000u32)
            .map(|i| {
                let v = (i.wrapping_mul(2_654_435_761) % 10_007) as f32;
                if i % 13 == 0 {
                    f32::NAN
                } else {
                    1e6 + v * 0.37
                }
            })
            .collect();
        let one = Standardizer::fit_threads(&x, 5, 1).unwrap();
        let three = Standardizer::fit_threads(&x, 5, 3).unwrap();
        assert_eq!(one, three);
        assert_eq!(one.transform_threads(&x, 1), three.transform_threads(&x, 3));
        // Two-pass accuracy with a large offset: the spread of 0.37·(0..10007) is about 1070.
        assert!((one.std[0] - 1069.6).abs() < 5.0, "{}", one.std[0]);
    }

    #[test]
    fn population_std_and_edge_cases() {
        let s = Standardizer::fit(&[0.0, 2.0, 4.0, 6.0], 1).unwrap();
        assert_eq!(s.mean, vec![3.0]);
        assert!((s.std[0] - 5f64.sqrt()).abs() < 1e-12);
        let all_nan = Standardizer::fit(&[f32::NAN, f32::NAN], 1).unwrap();
        assert_eq!((all_nan.mean[0], all_nan.std[0]), (0.0, 1.0));
        let big = Standardizer::fit(&[1e9, 1e9, 1e9], 1).unwrap();
        assert_eq!(big.std[0], 1.0);
        assert!(Standardizer::fit(&[1.0, 2.0, 3.0], 2).is_err());
        assert!(Standardizer::fit(&[], 0).unwrap().transform(&[]).is_empty());
        let back: Standardizer = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
