//! Times iotguard's GBDT fit on a Parquet dataset, for `bench/gbdt_train_bench.py`, which runs
//! LightGBM and XGBoost on the same file in the same run.
//!
//! Usage:
//! - `gbdt_fit_bench synth ROWS OUT.parquet`: writes the 20-feature synthetic set of
//!   `crates/iotguard-models/examples/tree_throughput.rs` (`iotguard_models::synthetic::benchmark_rows`, same seed); its first
//!   80 % of rows are group `train`, the rest `test`.
//! - `gbdt_fit_bench fit FILE.parquet SETTING THREADS`: reads a dataset written by
//!   `iotguard compare --export-dataset` (or `synth`) and, for each fold, fits GBDT on the
//!   training rows and scores the held-out rows. Folds: with groups `train`/`test`, the one split
//!   train → test; else leave one group (capture) out. `SETTING` is `lab` (what `iotguard
//!   compare`/`train` fit: depth 6, 64 leaves, shrinkage 0.3, no minimum leaf size, balanced) or
//!   `default` (31 leaves, shrinkage 0.1, at least 20 rows per leaf, balanced). Only the `fit`
//!   call is timed. Prints one line `RESULT {json}`: total fit seconds, and F1 at 0.5 and ROC AUC
//!   over the pooled held-out rows.

// An example reports on stdout.
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::fs::File;
use std::time::Instant;

use arrow_array::{Array, BooleanArray, Float32Array, StringArray};
use iotguard_models::metrics::roc_auc;
use iotguard_models::{ClassWeight, Dataset, GradientBoostingParams, Scorer};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The synthetic rows of `tree_throughput.rs`, the first 80 % in group `train`, the rest `test`.
fn synthetic(n: usize, seed: u64) -> Dataset {
    let cut = n * 4 / 5;
    Dataset {
        group: (0..n).map(|i| u32::from(i >= cut)).collect(),
        group_names: vec!["train".into(), "test".into()],
        ..iotguard_models::synthetic::benchmark_rows(n, seed)
    }
}

/// Reads a dataset Parquet file: `group`, `target`, then every `Float32` column as a feature
/// (null = missing). A row without a group or a target is an error, not a guess.
fn read(path: &str) -> Result<Dataset, Box<dyn Error>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(
        File::open(path).map_err(|e| format!("opening {path}: {e}"))?,
    )?
    .build()?;
    let mut d = Dataset::default();
    let mut columns: Vec<Vec<f32>> = Vec::new();
    for batch in reader {
        let batch = batch?;
        let schema = batch.schema();
        if d.feature_names.is_empty() {
            d.feature_names = schema
                .fields()
                .iter()
                .filter(|f| !["group", "target", "class", "time"].contains(&f.name().as_str()))
                .map(|f| f.name().clone())
                .collect();
            columns = vec![Vec::new(); d.feature_names.len()];
        }
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| format!("{path}: no column `{name}`"))
        };
        let groups = col("group")?
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or("group is not a string column")?;
        for g in groups.iter() {
            let g = g.ok_or_else(|| format!("{path}: a row has no group"))?;
            let id = match d.group_names.iter().position(|n| n == g) {
                Some(i) => i,
                None => {
                    d.group_names.push(g.to_string());
                    d.group_names.len() - 1
                }
            };
            d.group.push(id as u32);
        }
        let target = col("target")?
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or("target is not a boolean column")?;
        for t in target.iter() {
            d.target
                .push(t.ok_or_else(|| format!("{path}: a row has no target"))?);
        }
        for (name, out) in d.feature_names.iter().zip(&mut columns) {
            let c = col(name)?
                .as_any()
                .downcast_ref::<Float32Array>()
                .ok_or_else(|| format!("{name} is not a Float32 column"))?;
            out.extend((0..c.len()).map(|i| if c.is_null(i) { f32::NAN } else { c.value(i) }));
        }
    }
    let n = d.target.len();
    d.features = (0..n)
        .flat_map(|r| columns.iter().map(move |c| c[r]))
        .collect();
    Ok(d)
}

fn params(setting: &str, threads: usize) -> Result<GradientBoostingParams, Box<dyn Error>> {
    let base = GradientBoostingParams {
        class_weight: ClassWeight::Balanced,
        n_threads: threads,
        seed: 1,
        ..GradientBoostingParams::default()
    };
    Ok(match setting {
        // As `iotguard_models::lab::fit` for `ModelKind::Gbdt`.
        "lab" => GradientBoostingParams {
            max_depth: Some(6),
            max_leaves: 64,
            learning_rate: 0.3,
            min_samples_leaf: 1,
            ..base
        },
        "default" => base,
        other => return Err(format!("unknown setting `{other}` (lab or default)").into()),
    })
}

fn fit(path: &str, setting: &str, threads: usize) -> Result<(), Box<dyn Error>> {
    let data = read(path)?;
    let p = params(setting, threads)?;
    let folds: Vec<u32> = match data.group_names.iter().position(|g| g == "test") {
        Some(test) => vec![test as u32],
        None => (0..data.group_names.len() as u32).collect(),
    };
    let (mut scores, mut target) = (Vec::new(), Vec::new());
    let mut fit_s = 0.0;
    let mut train_rows = 0;
    for &g in &folds {
        let train: Vec<usize> = (0..data.n_rows()).filter(|&i| data.group[i] != g).collect();
        let test: Vec<usize> = (0..data.n_rows()).filter(|&i| data.group[i] == g).collect();
        let (tr, te) = (data.subset(&train), data.subset(&test));
        let t = Instant::now();
        let model = p.clone().fit(&tr)?;
        fit_s += t.elapsed().as_secs_f64();
        train_rows += tr.n_rows();
        scores.extend(model.score_batch(&te.features, te.n_features()));
        target.extend_from_slice(&te.target);
    }
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (&s, &t) in scores.iter().zip(&target) {
        match (s >= 0.5, t) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            _ => {}
        }
    }
    let f1 = 2.0 * tp as f64 / (2 * tp + fp + fn_).max(1) as f64;
    println!(
        "RESULT {{\"fit_s\": {fit_s:.4}, \"folds\": {}, \"train_rows\": {train_rows}, \"f1\": {f1:.6}, \"auc\": {:.6}, \"features\": {}}}",
        folds.len(),
        roc_auc(&scores, &target).unwrap_or(f64::NAN),
        data.n_features()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage =
        "usage: gbdt_fit_bench synth ROWS OUT.parquet | fit FILE.parquet lab|default THREADS";
    match args.get(1).map(String::as_str) {
        Some("synth") if args.len() == 4 => {
            let n: usize = args[2].parse()?;
            let file = std::io::BufWriter::new(File::create(&args[3])?);
            iotguard_runtime::parquet::write_dataset(file, &synthetic(n, 42))?;
            Ok(())
        }
        Some("fit") if args.len() == 5 => fit(&args[2], &args[3], args[4].parse()?),
        _ => Err(usage.into()),
    }
}
