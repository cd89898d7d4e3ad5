//! The Page-Hinkley test: a sequential detector of a change in the mean of a stream, in both
//! directions (River's `PageHinkley`, two-sided).
//!
//! For each value `x`, with `mean` the running mean of the values since the last change:
//! `up += x − mean − δ` and `down += x − mean + δ`; a rise is detected when `up` exceeds its
//! minimum so far by more than `λ`, a fall when `down` is more than `λ` under its maximum.
//! `δ` is the change too small to matter, `λ` how much evidence is needed. After a detection
//! the test starts again from the next value.

use serde::{Deserialize, Serialize};

/// The direction of a detected change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The mean rose.
    Increase,
    /// The mean fell.
    Decrease,
}

/// A two-sided Page-Hinkley test.
#[derive(Clone, Debug, PartialEq)]
pub struct PageHinkley {
    delta: f64,
    lambda: f64,
    min_samples: u64,
    n: u64,
    mean: f64,
    up: f64,
    up_min: f64,
    down: f64,
    down_max: f64,
}

impl PageHinkley {
    /// Returns a test with tolerance `delta`, threshold `lambda`, detecting nothing before
    /// `min_samples` values.
    pub fn new(delta: f64, lambda: f64, min_samples: u64) -> PageHinkley {
        PageHinkley {
            delta,
            lambda,
            min_samples,
            n: 0,
            mean: 0.0,
            up: 0.0,
            up_min: 0.0,
            down: 0.0,
            down_max: 0.0,
        }
    }

    /// Adds a value; returns the change it completes, if any (the test then starts again).
    pub fn update(&mut self, x: f64) -> Option<Change> {
        if !x.is_finite() {
            return None;
        }
        self.n += 1;
        self.mean += (x - self.mean) / self.n as f64;
        self.up += x - self.mean - self.delta;
        self.up_min = self.up_min.min(self.up);
        self.down += x - self.mean + self.delta;
        self.down_max = self.down_max.max(self.down);
        if self.n < self.min_samples {
            return None;
        }
        let change = if self.up - self.up_min > self.lambda {
            Some(Change::Increase)
        } else if self.down_max - self.down > self.lambda {
            Some(Change::Decrease)
        } else {
            None
        };
        if change.is_some() {
            *self = PageHinkley::new(self.delta, self.lambda, self.min_samples);
        }
        change
    }

    /// Returns the larger of the two statistics (`up − min up`, `max down − down`): how close
    /// the test is to `λ`.
    pub fn statistic(&self) -> f64 {
        (self.up - self.up_min).max(self.down_max - self.down)
    }

    /// Returns the values seen since the last change.
    pub fn samples(&self) -> u64 {
        self.n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_change(xs: &[f64]) -> Option<(usize, Change)> {
        let mut ph = PageHinkley::new(0.05, 1.0, 3);
        xs.iter()
            .enumerate()
            .find_map(|(i, &x)| ph.update(x).map(|c| (i, c)))
    }

    #[test]
    fn a_step_up_is_detected_at_the_second_value_after_it() {
        // At i = 10: mean 1/11, up = 1 - 1/11 - 0.05 = 0.859; at i = 11: mean 2/12,
        // up += 1 - 1/6 - 0.05 = 0.783: 1.642 > 1.
        let mut xs = vec![0.0; 10];
        xs.extend([1.0; 10]);
        assert_eq!(first_change(&xs), Some((11, Change::Increase)));
        let mut ph = PageHinkley::new(0.05, 1.0, 3);
        for &x in &xs[..11] {
            assert_eq!(ph.update(x), None);
        }
        assert!((ph.statistic() - (1.0 - 1.0 / 11.0 - 0.05)).abs() < 1e-12);
        assert_eq!(ph.update(1.0), Some(Change::Increase));
        assert_eq!(ph.samples(), 0, "starts again after a detection");
    }

    #[test]
    fn a_step_down_and_a_small_step() {
        let mut xs = vec![1.0; 10];
        xs.extend([0.0; 10]);
        assert_eq!(first_change(&xs), Some((11, Change::Decrease)));
        // A step of 0.3 needs six values to gather the evidence.
        let mut xs = vec![0.0; 10];
        xs.extend([0.3; 30]);
        assert_eq!(first_change(&xs), Some((15, Change::Increase)));
    }

    #[test]
    fn noise_within_the_tolerance_is_no_change() {
        let xs: Vec<f64> = (0..60).map(|i| [0.0, 0.01, -0.01][i % 3]).collect();
        assert_eq!(first_change(&xs), None);
        // Nothing before min_samples, whatever the values.
        let mut ph = PageHinkley::new(0.0, 0.1, 3);
        assert_eq!(ph.update(0.0), None);
        assert_eq!(ph.update(100.0), None);
        assert_eq!(ph.update(f64::NAN), None);
    }
}
