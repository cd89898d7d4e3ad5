//! Bounded samples of feature vectors: a uniform reservoir of the pooled rows (for the
//! correlation matrix) and one reservoir per input and class (for distributions by class and
//! shift between inputs), each row weighted by how many rows it stands for.
//!
//! Reservoir sampling (Vitter's algorithm R) keeps a uniform sample of a stream of unknown
//! length in fixed memory; a seeded ChaCha stream makes the sample the same on every run.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A uniform sample of at most `cap` rows of `dim` values.
#[derive(Clone, Debug)]
pub(crate) struct Reservoir {
    cap: usize,
    dim: usize,
    rows: Vec<f32>,
    seen: u64,
}

impl Reservoir {
    pub(crate) fn new(cap: usize, dim: usize) -> Self {
        Reservoir {
            cap,
            dim,
            rows: Vec::new(),
            seen: 0,
        }
    }

    /// Offers one row: kept with probability `cap / seen`.
    pub(crate) fn offer(&mut self, row: &[f32], rng: &mut ChaCha8Rng) {
        self.seen += 1;
        if self.len() < self.cap {
            self.rows.extend_from_slice(row);
        } else if self.cap > 0 {
            let j = rng.random_range(0..self.seen);
            if let Ok(j) = usize::try_from(j) {
                if j < self.cap {
                    self.rows[j * self.dim..(j + 1) * self.dim].copy_from_slice(row);
                }
            }
        }
    }

    /// Rows kept.
    pub(crate) fn len(&self) -> usize {
        self.rows.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Rows offered.
    #[cfg(test)]
    pub(crate) fn seen(&self) -> u64 {
        self.seen
    }

    /// Row `i`.
    pub(crate) fn row(&self, i: usize) -> &[f32] {
        &self.rows[i * self.dim..(i + 1) * self.dim]
    }

    /// How many offered rows each kept row stands for.
    pub(crate) fn weight(&self) -> f64 {
        if self.len() == 0 {
            0.0
        } else {
            self.seen as f64 / self.len() as f64
        }
    }
}

/// Labeled rows sampled per (input, class), with the RNG they share.
#[derive(Debug)]
pub(crate) struct Strata {
    per_stratum: usize,
    max_strata: usize,
    dim: usize,
    index: HashMap<(u32, u32), usize>,
    keys: Vec<(u32, u32)>,
    reservoirs: Vec<Reservoir>,
    /// Rows of strata beyond `max_strata`, not sampled.
    pub(crate) unsampled: u64,
    pooled: Reservoir,
    rng: ChaCha8Rng,
}

/// The sampled rows, flattened, with each row's weight, input, class and target.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sampled {
    pub(crate) dim: usize,
    pub(crate) rows: Vec<f32>,
    pub(crate) weight: Vec<f64>,
    pub(crate) input: Vec<u32>,
    pub(crate) class: Vec<u32>,
}

impl Sampled {
    pub(crate) fn len(&self) -> usize {
        self.weight.len()
    }

    pub(crate) fn value(&self, i: usize, f: usize) -> f32 {
        self.rows[i * self.dim + f]
    }
}

impl Strata {
    pub(crate) fn new(
        per_stratum: usize,
        max_strata: usize,
        pooled: usize,
        dim: usize,
        seed: u64,
    ) -> Self {
        Strata {
            per_stratum,
            max_strata,
            dim,
            index: HashMap::new(),
            keys: Vec::new(),
            reservoirs: Vec::new(),
            unsampled: 0,
            pooled: Reservoir::new(pooled, dim),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Offers a labeled row of `input` and class `class` to its stratum and to the pooled sample.
    pub(crate) fn offer(&mut self, input: u32, class: u32, row: &[f32]) {
        self.pooled.offer(row, &mut self.rng);
        let next = self.reservoirs.len();
        let slot = match self.index.get(&(input, class)) {
            Some(&s) => s,
            None if next < self.max_strata => {
                self.index.insert((input, class), next);
                self.keys.push((input, class));
                self.reservoirs
                    .push(Reservoir::new(self.per_stratum, self.dim));
                next
            }
            None => {
                self.unsampled += 1;
                return;
            }
        };
        self.reservoirs[slot].offer(row, &mut self.rng);
    }

    /// The uniform sample of every labeled row.
    pub(crate) fn pooled(&self) -> &Reservoir {
        &self.pooled
    }

    /// Every stratum's rows, weighted so that weights sum to each stratum's row count.
    pub(crate) fn sampled(&self) -> Sampled {
        let mut s = Sampled {
            dim: self.dim,
            ..Sampled::default()
        };
        for (&(input, class), r) in self.keys.iter().zip(&self.reservoirs) {
            let w = r.weight();
            for i in 0..r.len() {
                s.rows.extend_from_slice(r.row(i));
                s.weight.push(w);
                s.input.push(input);
                s.class.push(class);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservoir_keeps_a_uniform_sample_in_fixed_memory() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut r = Reservoir::new(1_000, 1);
        for i in 0..100_000 {
            r.offer(&[i as f32], &mut rng);
        }
        assert_eq!((r.len(), r.seen()), (1_000, 100_000));
        assert_eq!(r.weight(), 100.0);
        // A uniform sample of 0..100,000 has a mean near 50,000 (sd of the mean ~ 913).
        let mean: f64 = (0..r.len()).map(|i| f64::from(r.row(i)[0])).sum::<f64>() / 1_000.0;
        assert!((mean - 50_000.0).abs() < 4_000.0, "{mean}");
    }

    #[test]
    fn strata_weights_add_up_to_their_rows_and_overflow_is_counted() {
        let mut s = Strata::new(10, 2, 5, 1, 1);
        for i in 0..25 {
            s.offer(0, 0, &[i as f32]);
        }
        for i in 0..4 {
            s.offer(1, 0, &[i as f32]);
        }
        s.offer(2, 0, &[0.0]);
        let d = s.sampled();
        assert_eq!(d.len(), 14);
        let total: f64 = d.weight.iter().sum();
        assert!((total - 29.0).abs() < 1e-9);
        assert_eq!(s.unsampled, 1);
        assert_eq!(s.pooled().seen(), 30);
    }
}
