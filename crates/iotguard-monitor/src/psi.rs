//! The population stability index and the status it gives.
//!
//! `PSI = Σ (a − e) · ln(a / e)` over the cells of two distributions given as shares (each
//! adding up to 1): `e` the reference's, `a` the live window's. A share of zero is taken as
//! [`PSI_FLOOR`] (the usual correction: an empty cell would make the index infinite). Common
//! reading, which the defaults follow: under 0.1 the population is stable, 0.1 to 0.25 it
//! moved somewhat (warn), above 0.25 it drifted.

use serde::{Deserialize, Serialize};

/// The share an empty cell counts as.
pub const PSI_FLOOR: f64 = 1e-4;

/// Returns the PSI of `actual` against `expected` (cell by cell; the shorter length is used).
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let e = e.max(PSI_FLOOR);
            let a = a.max(PSI_FLOOR);
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// How far a distribution moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Stable (PSI under the warn level).
    Ok,
    /// Moved somewhat.
    Warn,
    /// Drifted.
    Drift,
}

impl Status {
    /// Returns the status of a PSI value at the given levels.
    pub fn of(psi: f64, warn: f64, drift: f64) -> Status {
        if psi >= drift {
            Status::Drift
        } else if psi >= warn {
            Status::Warn
        } else {
            Status::Ok
        }
    }

    /// Returns the status's name (`ok`, `warn`, `drift`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Drift => "drift",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_of_a_hand_computed_example() {
        // (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
        // = 0.25 ln 2 + 0.25 ln 1.5 = 0.25 ln 3 = 0.274653072167...
        let v = psi(&[0.5, 0.5], &[0.25, 0.75]);
        assert!((v - 0.274_653_072_167_027_3).abs() < 1e-15, "{v}");
        assert_eq!(psi(&[0.2, 0.3, 0.5], &[0.2, 0.3, 0.5]), 0.0);
        // Four deciles' worth moved: 0.1 ln(0.2/0.1) + (-0.1) ln(0.1/0.2) = 0.2 ln 2.
        let v = psi(&[0.1, 0.2, 0.7], &[0.2, 0.1, 0.7]);
        assert!((v - 0.2 * 2f64.ln()).abs() < 1e-15, "{v}");
    }

    #[test]
    fn an_empty_cell_counts_as_the_floor() {
        // (0.5 - 1e-4) ln(0.5 / 1e-4) + (0.5 - 1) ln(0.5 / 1)
        let v = psi(&[0.0, 1.0], &[0.5, 0.5]);
        let want = (0.5 - 1e-4) * (0.5f64 / 1e-4).ln() + (0.5 - 1.0) * 0.5f64.ln();
        assert_eq!(v, want);
        assert!((v - 4.604_318_466_668_95).abs() < 1e-12, "{v}");
    }

    #[test]
    fn status_levels() {
        assert_eq!(Status::of(0.0999, 0.1, 0.25), Status::Ok);
        assert_eq!(Status::of(0.1, 0.1, 0.25), Status::Warn);
        assert_eq!(Status::of(0.25, 0.1, 0.25), Status::Drift);
        assert_eq!(Status::Drift.as_str(), "drift");
    }
}
