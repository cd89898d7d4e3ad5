//! Seeded synthetic datasets with known rules, for the tree models' tests.

use crate::dataset::Dataset;
use crate::model::Scorer;
use rand::{Rng, SeedableRng};

/// Returns `n` rows of `m` uniform features in [0, 1) labelled by a nonlinear rule
/// (`x0 > 0.5 && x1 > 0.3 || x2 + x3 > 1.4`, features past 4 are noise), with label noise.
pub(crate) fn random_data(n: usize, m: usize, seed: u64, noise: f64) -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut features = Vec::with_capacity(n * m);
    let mut target = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f32> = (0..m).map(|_| rng.random::<f32>()).collect();
        let x = |i: usize| row.get(i).copied().unwrap_or(0.0);
        let mut t = (x(0) > 0.5 && x(1) > 0.3) || x(2) + x(3) > 1.4;
        if rng.random::<f64>() < noise {
            t = !t;
        }
        features.extend_from_slice(&row);
        target.push(t);
    }
    Dataset {
        feature_names: (0..m).map(|i| format!("f{i}")).collect(),
        features,
        target,
        ..Dataset::default()
    }
}

/// Returns `n` rows of 4 features labelled by `(x0 > 0) xor (x1 > 0)` (x2, x3 are noise).
pub(crate) fn xor_data(n: usize, seed: u64, noise: f64) -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut features = Vec::with_capacity(n * 4);
    let mut target = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f32> = (0..4).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
        let mut t = (row[0] > 0.0) != (row[1] > 0.0);
        if rng.random::<f64>() < noise {
            t = !t;
        }
        features.extend_from_slice(&row);
        target.push(t);
    }
    Dataset {
        feature_names: (0..4).map(|i| format!("f{i}")).collect(),
        features,
        target,
        ..Dataset::default()
    }
}

/// Returns the share of rows whose score is on the right side of 0.5.
pub(crate) fn accuracy(m: &dyn Scorer, d: &Dataset) -> f64 {
    let scores = m.score_batch(&d.features, d.n_features());
    let ok = scores
        .iter()
        .zip(&d.target)
        .filter(|(s, t)| (**s > 0.5) == **t)
        .count();
    ok as f64 / d.n_rows() as f64
}
