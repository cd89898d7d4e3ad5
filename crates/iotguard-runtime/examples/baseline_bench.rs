//! Measures baselines learned without labels, for BENCHMARKS.md ("Baselines learned without
//! labels"); `bench/baseline_bench.py` runs it and the Python peers on the same rows.
//!
//! Builds the labeled dataset of the inputs once (the extractor `train` and `detect` use, a
//! fresh one per capture), optionally writes it to Parquet (`--export`, the rows the peers
//! read), then for three protocols fits iotguard's baselines (`iotguard_models::baseline`,
//! exactly what `train --unlabeled` does: threshold at most 1 % of the training rows) and
//! scores held-out rows:
//!
//! - `benign-captures`: learn on every capture without a malicious flow, test each other one.
//! - `first-half-benign`: per capture with both classes, learn on the first half (by time) of
//!   its benign flows, test every flow from that time on (labels only pick the learning rows).
//! - `first-half-all`: the same cut, learning on every flow before it, attacks included (the
//!   Kitsune workflow: no labels at all).
//!
//! Prints one JSON document: per protocol, the cut times and training captures (so the peers
//! use the same rows) and per kind and tested capture the PR-AUC, recall, false-alert rate and
//! rows, and the seconds to fit.
//!
//! Kinds: the isolation forest, the autoencoder, and an isolation forest per `service.*`
//! group (`train --unlabeled --group-by service`).
//!
//! Usage: `baseline_bench [--export FILE] [--far RATE] INPUTS...`

// An example reports on stdout.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use iotguard_features::FeatureConfig;
use iotguard_models::baseline::{train_baseline, train_grouped_baseline};
use iotguard_models::lab::ModelKind;
use iotguard_models::metrics::{average_precision, BinaryMetrics};
use iotguard_models::{Dataset, Scorer};
use iotguard_runtime::batch::BatchConfig;
use iotguard_runtime::dataset::build_dataset;
use iotguard_runtime::input;
use serde_json::{json, Value};

/// One learning set and the captures tested against it.
struct Fold {
    train: Vec<usize>,
    /// (capture, rows)
    tests: Vec<(String, Vec<usize>)>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (mut export, mut far) = (None, 0.01);
    let mut paths = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--export" => export = args.next().map(PathBuf::from),
            "--far" => far = args.next().ok_or("--far RATE")?.parse()?,
            _ => paths.push(PathBuf::from(a)),
        }
    }
    let inputs = input::expand(&paths)?.inputs;
    let batch = BatchConfig {
        threads: 2,
        ..BatchConfig::default()
    };
    let built = build_dataset(
        &inputs,
        &batch,
        &FeatureConfig::default(),
        &Arc::new(AtomicU64::new(0)),
        &mut |_| {},
    )?;
    let d = &built.dataset;
    if let Some(path) = &export {
        let file = std::fs::File::create(path)?;
        let mut w = iotguard_runtime::parquet::write_dataset(std::io::BufWriter::new(file), d)?;
        std::io::Write::flush(&mut w)?;
    }
    let n_groups = d.group_names.len();
    let rows_of = |g: usize| -> Vec<usize> {
        (0..d.n_rows())
            .filter(|&i| d.group[i] as usize == g)
            .collect()
    };
    let has_malicious = |g: usize| rows_of(g).iter().any(|&i| d.target[i]);
    let name = |g: usize| d.group_names[g].clone();

    let mut protocols: Vec<(&str, Value, Vec<Fold>)> = Vec::new();
    // Benign captures: one model, every other capture tested.
    let benign_groups: Vec<usize> = (0..n_groups)
        .filter(|&g| !rows_of(g).is_empty() && !has_malicious(g))
        .collect();
    let fold = Fold {
        train: benign_groups.iter().flat_map(|&g| rows_of(g)).collect(),
        tests: (0..n_groups)
            .filter(|&g| has_malicious(g))
            .map(|g| (name(g), rows_of(g)))
            .collect(),
    };
    protocols.push((
        "benign-captures",
        json!({ "train_captures": benign_groups.iter().map(|&g| name(g)).collect::<Vec<_>>() }),
        vec![fold],
    ));
    // First half of each capture's benign flows.
    let mut cuts = BTreeMap::new();
    for g in (0..n_groups).filter(|&g| has_malicious(g)) {
        let mut benign: Vec<f64> = rows_of(g)
            .iter()
            .filter(|&&i| !d.target[i])
            .map(|&i| d.time[i])
            .collect();
        benign.sort_by(f64::total_cmp);
        if benign.len() >= 20 {
            cuts.insert(g, benign[benign.len() / 2]);
        }
    }
    for (proto, benign_only) in [("first-half-benign", true), ("first-half-all", false)] {
        let folds = cuts
            .iter()
            .map(|(&g, &cut)| {
                let rows = rows_of(g);
                Fold {
                    train: rows
                        .iter()
                        .copied()
                        .filter(|&i| d.time[i] < cut && (!benign_only || !d.target[i]))
                        .collect(),
                    tests: vec![(
                        name(g),
                        rows.into_iter().filter(|&i| d.time[i] >= cut).collect(),
                    )],
                }
            })
            .collect();
        let cut_names: BTreeMap<String, f64> = cuts.iter().map(|(&g, &c)| (name(g), c)).collect();
        protocols.push((proto, json!({ "cuts": cut_names }), folds));
    }

    let mut out = serde_json::Map::new();
    for (proto, setup, folds) in protocols {
        let mut kinds = serde_json::Map::new();
        for (label, kind, group_by) in [
            ("iforest", ModelKind::Iforest, None),
            ("autoencoder", ModelKind::Autoencoder, None),
            ("iforest-by-service", ModelKind::Iforest, Some("service")),
        ] {
            let mut per = serde_json::Map::new();
            let mut fit_secs = 0.0;
            for fold in &folds {
                let mut train = d.subset(&fold.train);
                train.target = vec![false; train.n_rows()];
                let t0 = std::time::Instant::now();
                let (trained, summary) = match group_by {
                    None => train_baseline(kind, &train, far, 1)?,
                    Some(family) => train_grouped_baseline(kind, &train, family, far, 1)?,
                };
                fit_secs += t0.elapsed().as_secs_f64();
                for (capture, rows) in &fold.tests {
                    let test: Dataset = d.subset(rows);
                    let scores = trained.model.score_batch(&test.features, test.n_features());
                    let m = BinaryMetrics::compute(&scores, &test.target, summary.threshold);
                    per.insert(
                        capture.clone(),
                        json!({
                            "train_rows": train.n_rows(),
                            "rows": test.n_rows(),
                            "malicious": test.target.iter().filter(|t| **t).count(),
                            "pr_auc": average_precision(&scores, &test.target),
                            "recall": m.recall,
                            "false_alert_rate": m.false_alert_rate,
                            "precision": m.precision,
                        }),
                    );
                }
            }
            eprintln!("{proto} {label}: fitted in {fit_secs:.1} s");
            kinds.insert(
                label.to_string(),
                json!({ "captures": per, "fit_secs": fit_secs }),
            );
        }
        out.insert(
            proto.to_string(),
            json!({ "setup": setup, "results": kinds }),
        );
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "rows": d.n_rows(),
            "features": d.n_features(),
            "target_far": far,
            "protocols": out,
        }))?
    );
    Ok(())
}
