//! Seeded synthetic datasets for the benchmarks and examples (in the spirit of scikit-learn's
//! `make_classification`): the same rows on every machine, so timings from different programs
//! (our examples, the Python peers reading them from Parquet) are on the same data.

use rand::{Rng, SeedableRng};

use crate::dataset::Dataset;

/// Features per row of [`benchmark_rows`].
pub const BENCHMARK_FEATURES: usize = 20;

/// Returns `n` rows of 20 features (uniform, normal-ish and heavy-tailed) labelled by a nonlinear
/// rule, with labels drawn from the rule's probability (so the best possible accuracy is about
/// 0.92). No groups, classes or times.
pub fn benchmark_rows(n: usize, seed: u64) -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut features = Vec::with_capacity(n * BENCHMARK_FEATURES);
    let mut target = Vec::with_capacity(n);
    for _ in 0..n {
        let mut x = [0f32; BENCHMARK_FEATURES];
        for (j, v) in x.iter_mut().enumerate() {
            let u: f32 = rng.random();
            *v = match j % 3 {
                0 => u,
                1 => (0..4).map(|_| rng.random::<f32>()).sum::<f32>() - 2.0,
                _ => -(1.0 - u).ln(),
            };
        }
        let z = 3.0 * (x[0] - 0.5) * (x[1] + 0.3) + 2.0 * (x[2] - 1.0).tanh()
            - 2.5 * ((x[3] - 0.5) * 6.0).sin().abs()
            + 1.5 * x[4] * x[5]
            + if x[6] > 0.7 && x[7] < 0.0 { 2.0 } else { 0.0 }
            + 1.0;
        let p = 1.0 / (1.0 + (-3.0 * z).exp());
        target.push(rng.random::<f32>() < p);
        features.extend_from_slice(&x);
    }
    Dataset {
        feature_names: (0..BENCHMARK_FEATURES).map(|i| format!("f{i}")).collect(),
        features,
        target,
        ..Dataset::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benchmark_rows_are_whole_seeded_and_mixed() {
        let d = benchmark_rows(1_000, 42);
        d.validate().unwrap();
        assert_eq!((d.n_rows(), d.n_features()), (1_000, 20));
        assert_eq!(d, benchmark_rows(1_000, 42));
        assert_ne!(d.features, benchmark_rows(1_000, 43).features);
        let malicious = d.target.iter().filter(|t| **t).count();
        assert!((200..800).contains(&malicious), "{malicious}");
    }
}
