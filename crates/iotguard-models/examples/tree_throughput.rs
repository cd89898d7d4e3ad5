//! Trains the tree models on 1M × 20 seeded synthetic rows and prints training time, test
//! accuracy and AUC, prediction throughput (batch and one row at a time) and TreeSHAP throughput,
//! for comparison with `/work/shared/CRATES.md`.
//!
//! Run with `cargo run --release -p iotguard-models --example tree_throughput [rows] [gbdt,depth6,forest,forest_leaf10,iforest]`.

// An example reports on stdout.
#![allow(clippy::print_stdout)]

use iotguard_models::{
    Dataset, GradientBoostingParams, IsolationForestParams, RandomForestParams, Scorer,
};
use rand::{Rng, SeedableRng};
use std::time::Instant;

const FEATURES: usize = 20;

/// Rows of 20 features (uniform, normal-ish and heavy-tailed) labelled by a nonlinear rule,
/// with labels drawn from the rule's probability (so the best possible accuracy is about 0.92).
fn synthetic(n: usize, seed: u64) -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut features = Vec::with_capacity(n * FEATURES);
    let mut target = Vec::with_capacity(n);
    for _ in 0..n {
        let mut x = [0f32; FEATURES];
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
        feature_names: (0..FEATURES).map(|i| format!("f{i}")).collect(),
        features,
        target,
        ..Dataset::default()
    }
}

/// Returns the area under the ROC curve (ties get the average rank).
fn auc(scores: &[f32], target: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut i) = (0.0f64, 0);
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg * idx[i..=j].iter().filter(|&&k| target[k]).count() as f64;
        i = j + 1;
    }
    let pos = target.iter().filter(|&&t| t).count() as f64;
    let neg = target.len() as f64 - pos;
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

fn report(name: &str, m: &dyn Scorer, train_s: f64, test: &Dataset, shap_rows: usize) {
    if std::env::var_os("TRAIN_ONLY").is_some() {
        println!("{name:<28} train {train_s:7.2} s");
        return;
    }
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
        auc(&scores, &test.target),
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
    let data = synthetic(n, 42);
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
