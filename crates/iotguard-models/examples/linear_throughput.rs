//! Times logistic regression and the linear SVM on 1,000,000 × 20 synthetic rows (80/20 split),
//! the shape `CRATES.md` measured scikit-learn and the Rust crates on: train seconds on all
//! cores and on one, test AUC, and prediction rows per second in a batch and one row at a time.
//!
//! Run: `cargo run --release -p iotguard-models --example linear_throughput [DUMP_PREFIX]`.
//! With `DUMP_PREFIX`, the data are also written as `DUMP_PREFIX.x.f32` (row-major little-endian
//! `f32`) and `DUMP_PREFIX.y.u8` for `linear_throughput_sklearn.py`, which times scikit-learn on
//! the very same rows.
//! The data are synthetic (features on mixed scales and offsets, 5 % missing values, labels drawn
//! from a logistic model of half the features), so accuracy is not comparable with CRATES.md's
//! figures; times are.

// A timing program reports on stdout.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use iotguard_models::linear::{LinearSvmParams, LogisticRegressionParams};
use iotguard_models::metrics::BinaryMetrics;
use iotguard_models::scale::Standardizer;
use iotguard_models::{Dataset, Scorer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ROWS: usize = 1_000_000;
const FEATURES: usize = 20;

fn synthetic(seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut features = Vec::with_capacity(ROWS * FEATURES);
    let mut target = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        let mut raw = -0.5;
        for j in 0..FEATURES {
            let u: f64 = rng.random::<f64>() * 2.0 - 1.0;
            let scale = 10f64.powi(j as i32 % 5 - 2);
            if j % 2 == 0 {
                raw += u * if j % 4 == 0 { 1.5 } else { -1.0 };
            }
            let x = if rng.random::<f64>() < 0.05 {
                f32::NAN
            } else {
                (u * scale + 100.0 * j as f64) as f32
            };
            features.push(x);
        }
        target.push(rng.random::<f64>() < 1.0 / (1.0 + (-raw).exp()));
    }
    Dataset {
        feature_names: (0..FEATURES).map(|j| format!("f{j}")).collect(),
        features,
        target,
        ..Dataset::default()
    }
}

/// Returns the fastest of `REPEATS` timings of `f` (the machine is shared: the minimum is the
/// least disturbed run) and the last result.
fn fastest<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..REPEATS {
        let t = Instant::now();
        last = Some(black_box(f()));
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, last.expect("REPEATS >= 1"))
}

const REPEATS: usize = 3;

fn report(name: &str, model: &dyn Scorer, test: &Dataset) {
    let n = test.n_rows() as f64;
    let (batch, scores) = fastest(|| model.score_batch(&test.features, FEATURES));
    let (single, _) = fastest(|| {
        (0..test.n_rows())
            .map(|i| model.score(black_box(test.row(i))))
            .sum::<f32>()
    });
    let (explain, _) = fastest(|| {
        (0..test.n_rows())
            .map(|i| model.explain(black_box(test.row(i))).raw)
            .sum::<f64>()
    });
    let m = BinaryMetrics::compute(&scores, &test.target, 0.5);
    let accuracy = (m.tp + m.tn) as f64 / m.n as f64;
    println!(
        "{name}: accuracy {accuracy:.3}, ROC-AUC {:.3}; predict batch {:.1} M rows/s, \
         one row at a time {:.1} M rows/s, explain {:.2} M rows/s",
        m.roc_auc.unwrap_or(f64::NAN),
        n / batch / 1e6,
        n / single / 1e6,
        n / explain / 1e6,
    );
}

fn main() {
    let t = Instant::now();
    let data = synthetic(1);
    println!(
        "generated {ROWS} x {FEATURES} rows in {:.2} s; {} threads available; best of {REPEATS} runs",
        t.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if let Some(prefix) = std::env::args().nth(1) {
        let x: Vec<u8> = data.features.iter().flat_map(|v| v.to_le_bytes()).collect();
        let y: Vec<u8> = data.target.iter().map(|&t| u8::from(t)).collect();
        std::fs::write(format!("{prefix}.x.f32"), x).expect("writing features");
        std::fs::write(format!("{prefix}.y.u8"), y).expect("writing targets");
        println!("wrote {prefix}.x.f32 and {prefix}.y.u8");
    }
    let split = ROWS * 8 / 10;
    let train = data.subset(&(0..split).collect::<Vec<_>>());
    let test = data.subset(&(split..ROWS).collect::<Vec<_>>());

    let (secs, st) = fastest(|| Standardizer::fit(&train.features, FEATURES).expect("fit"));
    let (secs_t, _) = fastest(|| st.transform(&train.features));
    println!("standardising alone: fit {secs:.3} s, transform {secs_t:.3} s");
    for threads in [None, Some(1)] {
        let params = match threads {
            None => LogisticRegressionParams::new(),
            Some(t) => LogisticRegressionParams::new().n_threads(t),
        };
        let (secs, model) = fastest(|| params.fit(&train).expect("training"));
        let info = model.fit_info();
        println!(
            "logreg train ({}): {secs:.2} s, {} iterations, {} passes, converged {}, max |grad| {:.1e}",
            threads.map_or("all cores".to_string(), |t| format!("{t} thread")),
            info.n_iter,
            info.n_eval,
            info.converged,
            info.grad_inf
        );
        if threads.is_none() {
            report("logreg", &model, &test);
        }
    }
    let (secs, svm) = fastest(|| LinearSvmParams::new().fit(&train).expect("training"));
    let info = svm.fit_info();
    println!(
        "linear SVM train (all cores): {secs:.2} s, {} iterations, {} passes, converged {}",
        info.n_iter, info.n_eval, info.converged
    );
    report("linear SVM", &svm, &test);
}
