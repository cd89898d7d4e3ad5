//! Measures the autoencoder against CRATES.md's candle and burn figures (a 20-16-8-16-20
//! autoencoder on 640 k rows: training time for 1 and 5 epochs, reconstruction-error AUC, batch
//! and one-row-at-a-time scoring), then the autoencoder iotguard trains on real flows (181
//! features, 32-8-32) and the soft-voting ensemble (scoring and explaining one row at a time).
//!
//! Run with `cargo run --release -p iotguard-models --example autoencoder_throughput`.

// An example reports on stdout.
#![allow(clippy::print_stdout)]

use iotguard_models::metrics::roc_auc;
use iotguard_models::{AutoencoderParams, Dataset, EnsembleParams, Scorer};
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::Instant;

/// `n` rows of `d` features: benign rows (target false) are noisy mixtures of four latent
/// factors (the same mixture for every seed); one row in ten is malicious, with a quarter of its
/// features redrawn independently (a similar marginal spread, broken relations).
fn synthetic(n: usize, d: usize, seed: u64) -> Dataset {
    let mut mixing = rand_chacha::ChaCha8Rng::seed_from_u64(1_000 + d as u64);
    let mix: Vec<[f32; 4]> = (0..d)
        .map(|_| std::array::from_fn(|_| mixing.random::<f32>() * 2.0 - 1.0))
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut features = Vec::with_capacity(n * d);
    let mut target = Vec::with_capacity(n);
    for i in 0..n {
        let latent: [f32; 4] = std::array::from_fn(|_| rng.random::<f32>() * 2.0 - 1.0);
        let malicious = i % 10 == 0;
        for w in &mix {
            let clean: f32 = w.iter().zip(&latent).map(|(a, b)| a * b).sum();
            let x = if malicious && rng.random::<f32>() < 0.25 {
                rng.random::<f32>() * 2.0 - 1.0
            } else {
                clean
            };
            features.push(x + 0.05 * (rng.random::<f32>() - 0.5));
        }
        target.push(malicious);
    }
    Dataset {
        feature_names: (0..d).map(|i| format!("f{i}")).collect(),
        features,
        target,
        ..Dataset::default()
    }
}

fn benign(d: &Dataset) -> Dataset {
    let rows: Vec<usize> = (0..d.n_rows()).filter(|&i| !d.target[i]).collect();
    d.subset(&rows)
}

/// Returns (batch rows/s, one-row-at-a-time rows/s, AUC) of a model on `test`.
fn rates(m: &dyn Scorer, test: &Dataset, one_rows: usize) -> (f64, f64, f64) {
    let t = Instant::now();
    let scores = m.score_batch(&test.features, test.n_features());
    let batch = test.n_rows() as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut sink = 0f32;
    for i in 0..one_rows {
        sink += m.score(black_box(test.row(i % test.n_rows())));
    }
    black_box(sink);
    let one = one_rows as f64 / t.elapsed().as_secs_f64();
    (
        batch,
        one,
        roc_auc(&scores, &test.target).unwrap_or(f64::NAN),
    )
}

fn main() {
    // CRATES.md's setting: 20 features, 16-8 encoder, 640 k training rows.
    let train = benign(&synthetic(711_111, 20, 1));
    let test = synthetic(200_000, 20, 2);
    println!(
        "synthetic: {} benign training rows x 20, {} test rows",
        train.n_rows(),
        test.n_rows()
    );
    for epochs in [1, 5] {
        let p = AutoencoderParams::default()
            .hidden(vec![16, 8])
            .batch_size(256)
            .epochs(epochs)
            .seed(1);
        let t = Instant::now();
        let ae = p.fit(&train).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let (batch, one, auc) = rates(&ae, &test, 200_000);
        println!(
            "autoencoder 20-16-8-16-20, {epochs} epoch(s): train {secs:.2} s, AUC {auc:.3}, batch {batch:.0} rows/s, one row at a time {one:.0} rows/s"
        );
    }

    // The shape iotguard trains on flows: 181 features, 32-8 encoder, default params.
    let train = benign(&synthetic(40_000, 181, 3));
    let test = synthetic(20_000, 181, 4);
    let t = Instant::now();
    let ae = AutoencoderParams::default().seed(1).fit(&train).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let (batch, one, auc) = rates(&ae, &test, 100_000);
    let t = Instant::now();
    for i in 0..20_000 {
        black_box(ae.explain(black_box(test.row(i))));
    }
    let explain = 20_000.0 / t.elapsed().as_secs_f64();
    println!(
        "autoencoder 181-32-8-32-181, 10 epochs on {} rows: train {secs:.2} s, AUC {auc:.3}, batch {batch:.0} rows/s, one row at a time {one:.0} rows/s, explain {explain:.0} rows/s",
        train.n_rows()
    );

    // The ensemble on the same shape (a supervised task: the malicious rows are the positives).
    let train = synthetic(40_000, 181, 5);
    let t = Instant::now();
    let ens = EnsembleParams::default().seed(1).fit(&train).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let (batch, one, auc) = rates(&ens, &test, 20_000);
    let t = Instant::now();
    let n_explain = 1_000;
    for i in 0..n_explain {
        black_box(ens.explain(black_box(test.row(i))));
    }
    let explain = n_explain as f64 / t.elapsed().as_secs_f64();
    println!(
        "ensemble (logreg + depth-16 forest + gbdt) on 40,000 x 181: train {secs:.2} s, AUC {auc:.3}, batch {batch:.0} rows/s, one row at a time {one:.0} rows/s, explain {explain:.1} rows/s"
    );
}
