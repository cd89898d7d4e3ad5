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

/// Per-feature means and standard deviations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each column's finite values.
    pub mean: Vec<f64>,
    /// Population standard deviation of each column's finite values (1 when zero or undefined).
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Fits means and standard deviations on row-major `features` with `n_features` columns.
    ///
    /// Errors if the matrix is not whole (its length is not a multiple of `n_features`).
    pub fn fit(features: &[f32], n_features: usize) -> Result<Standardizer> {
        if n_features == 0 {
            return Ok(Standardizer {
                mean: Vec::new(),
                std: Vec::new(),
            });
        }
        if features.len() % n_features != 0 {
            return Err(Error::InvalidData(format!(
                "{} values are not rows of {n_features} features",
                features.len()
            )));
        }
        // Welford's update per column: one pass, numerically stable for large offsets
        // (byte counts, timestamps-like features).
        let mut count = vec![0u64; n_features];
        let mut mean = vec![0f64; n_features];
        let mut m2 = vec![0f64; n_features];
        for row in features.chunks_exact(n_features) {
            for (j, &x) in row.iter().enumerate() {
                if x.is_finite() {
                    let x = f64::from(x);
                    count[j] += 1;
                    let d = x - mean[j];
                    mean[j] += d / count[j] as f64;
                    m2[j] += d * (x - mean[j]);
                }
            }
        }
        let std = (0..n_features)
            .map(|j| {
                let var = if count[j] > 0 {
                    m2[j] / count[j] as f64
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
    /// accumulates in `f64`).
    pub fn transform(&self, features: &[f32]) -> Vec<f32> {
        let d = self.n_features();
        if d == 0 {
            return Vec::new();
        }
        features
            .chunks_exact(d)
            .flat_map(|row| row.iter().enumerate().map(|(j, &x)| self.z(j, x) as f32))
            .collect()
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
