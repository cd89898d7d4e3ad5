//! Trains the tree models on 1M × 20 seeded synthetic rows (`synthetic::benchmark_rows`) and prints training time, test
//! accuracy and AUC, prediction throughput (batch and one row at a time) and TreeSHAP throughput,
//! for comparison with `/work/shared/CRATES.md`.
//!
//! Run with `cargo run --release -p iotguard-models --example tree_throughput [rows] [gbdt,depth6,forest,forest_leaf10,iforest]`.

// An example reports on stdout.
#![allow(clippy::print_stdout)]

use iotguard_models::metrics::roc_auc;
use iotguard_models::synthetic::{benchmark_rows, BENCHMARK_FEATURES as FEATURES};
use iotguard_models::{
    Dataset, GradientBoostingParams, IsolationForestParams, RandomForestParams, Scorer,
};
use std::time::Instant;

fn report(name: &str, m: &dyn Scorer, train_s: f64, test: &Dataset, shap_rows: usize) {
    if std::env::var_os("TRAIN_ONLY").is_some() {
        println!("{name:<28} train {train_s:7.2} s");
        return;
    }
    let shap_rows = shap_rows.min(test.n_rows());
    let t = Instant::now();
    let scores = m.score_batch(&test.features, FEATURES);
    let batch = test.n_rows() as f64 / t.elapsed().as_secs_f64();
    let one_n = test.n_rows().min(100_000);
    let t = Instant::now();
    let mut sink = 0f32;
    for i in 0..one_n {
        sink += m.score(test.row(i));
    }
    let one = one_n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut worst = 0f64;
    for i in 0..shap_rows {
        let e = m.explain(test.row(i));
        let s: f64 = e.contributions.iter().map(|c| c.contribution).sum();
        worst = worst.max((e.base + s - e.raw).abs());
    }
    let shap = shap_rows as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let all =
        iotguard_models::shap::explain_batch(m, &test.features[..shap_rows * FEATURES], FEATURES);
    let shap_all = all.len() as f64 / t.elapsed().as_secs_f64();
    let acc = scores
        .iter()
        .zip(&test.target)
        .filter(|(s, t)| (**s > 0.5) == **t)
        .count() as f64
        / test.n_rows() as f64;
    println!(
        "{name:<28} train {train_s:7.2} s  acc {acc:.4}  AUC {:.4}  batch {:>6.0} k rows/s  \
         one-at-a-time {:>6.0} k rows/s  TreeSHAP {:>8.1} rows/s, {:>8.1} on all cores (max additivity error {worst:.1e})  [{sink:.0}]",
        roc_auc(&scores, &test.target).unwrap_or(f64::NAN),
        batch / 1e3,
        one / 1e3,
        shap,
        shap_all,
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let only = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "gbdt,depth6,forest,forest_leaf10,iforest".into());
    let run = |name: &str| only.split(',').any(|o| o == name);
    let t = Instant::now();
    let data = benchmark_rows(n, 42);
    let cut = n * 4 / 5;
    let train = data.subset(&(0..cut).collect::<Vec<_>>());
    let test = data.subset(&(cut..n).collect::<Vec<_>>());
    let threads = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!(
        "{n} rows x {FEATURES} features ({:.1} s to generate), {} train / {} test, {threads} threads, positives {:.1} %",
        t.elapsed().as_secs_f64(),
        train.n_rows(),
        test.n_rows(),
        100.0 * data.target.iter().filter(|&&t| t).count() as f64 / n as f64
    );

    if run("gbdt") {
        let t = Instant::now();
        let gbdt = GradientBoostingParams::default()
            .n_rounds(100)
            .max_leaves(63)
            .learning_rate(0.1)
            .seed(1)
            .fit(&train)
            .expect("gbdt trains");
        report(
            "GBDT 100 x 63 leaves",
            &gbdt,
            t.elapsed().as_secs_f64(),
            &test,
            5_000,
        );
    }

    if run("depth6") {
        let t = Instant::now();
        let gbdt = GradientBoostingParams::default()
            .n_rounds(100)
            .max_depth(Some(6))
            .max_leaves(64)
            .learning_rate(0.1)
            .seed(1)
            .fit(&train)
            .expect("gbdt trains");
        report(
            "GBDT 100 x depth 6",
            &gbdt,
            t.elapsed().as_secs_f64(),
            &test,
            5_000,
        );
    }

    if run("forest") {
        let t = Instant::now();
        let forest = RandomForestParams::default()
            .n_trees(100)
            .seed(1)
            .fit(&train)
            .expect("forest trains");
        let secs = t.elapsed().as_secs_f64();
        let leaves: usize = forest.trees.iter().map(|t| t.n_leaves()).sum();
        println!("  forest: {} leaves per tree on average", leaves / 100);
        report("RandomForest 100 (full)", &forest, secs, &test, 3);
    }
    if run("forest_leaf10") {
        // Leaves of at least 10 rows: a far smaller forest, faster to score, on noisy labels as
        // accurate or better.
        let t = Instant::now();
        let forest = RandomForestParams::default()
            .n_trees(100)
            .min_samples_leaf(10)
            .seed(1)
            .fit(&train)
            .expect("forest trains");
        let secs = t.elapsed().as_secs_f64();
        let leaves: usize = forest.trees.iter().map(|t| t.n_leaves()).sum();
        println!("  forest: {} leaves per tree on average", leaves / 100);
        report("RandomForest 100 (leaf>=10)", &forest, secs, &test, 4);
    }
    if run("iforest") {
        let t = Instant::now();
        let iso = IsolationForestParams::default()
            .seed(1)
            .fit(&train)
            .expect("isolation forest fits");
        report(
            "IsolationForest 100 x 256",
            &iso,
            t.elapsed().as_secs_f64(),
            &test,
            5_000,
        );
    }
}
