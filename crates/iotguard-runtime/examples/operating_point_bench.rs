//! Measures threshold rules by leave-one-capture-out, for BENCHMARKS.md ("Operating points
//! chosen out of capture").
//!
//! For each outer held-out capture: the training captures' out-of-capture scores are computed
//! once (`iotguard_models::ooc`, exactly what `iotguard train` does), the outer model is fitted
//! on every training row, and every candidate (objective, rule) picks a threshold from the
//! inner scores and is applied to the held-out capture. The old procedure (max F1 on a
//! stratified fifth of the training rows, `lab::train`) is the first row. Prints, per
//! candidate, the pooled precision, recall and false-alert rate and each capture's recall and
//! false-alert rate.
//!
//! Usage: `operating_point_bench [--label-audit FILE] [--model KIND] [--only SUBSTR]
//! [--train-filter SUBSTR] [--seed N] INPUTS...`. `--only` keeps the outer folds whose capture
//! name contains SUBSTR; `--train-filter` trains only on captures whose name contains SUBSTR.

// An example reports on stdout.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use iotguard_features::FeatureConfig;
use iotguard_models::lab::{self, ModelKind};
use iotguard_models::metrics::BinaryMetrics;
use iotguard_models::operating::{Objective, Rule};
use iotguard_models::tune::Setting;
use iotguard_models::{ooc, Scorer};
use iotguard_runtime::audit::LabelAudit;
use iotguard_runtime::batch::BatchConfig;
use iotguard_runtime::dataset::build_dataset;
use iotguard_runtime::input;

struct Candidate {
    name: String,
    objective: Option<(Objective, Rule)>,
    /// Per outer capture: (capture, scores, target, threshold).
    folds: Vec<(String, Vec<f32>, Vec<bool>, f32)>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (mut audit, mut kind, mut only, mut train_filter, mut seed) =
        (None, ModelKind::Forest, None, None, 1u64);
    let mut paths = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--label-audit" => audit = args.next().map(PathBuf::from),
            "--model" => kind = args.next().ok_or("--model KIND")?.parse()?,
            "--only" => only = args.next(),
            "--train-filter" => train_filter = args.next(),
            "--seed" => seed = args.next().ok_or("--seed N")?.parse()?,
            _ => paths.push(PathBuf::from(a)),
        }
    }
    let inputs = input::expand(&paths)?.inputs;
    let mut batch = BatchConfig {
        threads: 2,
        ..BatchConfig::default()
    };
    if let Some(p) = &audit {
        batch.label_audit = LabelAudit::load(p)?;
    }
    let mut rejected = 0u64;
    let built = build_dataset(
        &inputs,
        &batch,
        &FeatureConfig::default(),
        &Arc::new(AtomicU64::new(0)),
        &mut |_| rejected += 1,
    )?;
    let d = &built.dataset;
    println!(
        "# {} rows ({} malicious) from {} inputs, {rejected} rejected records, kind {kind}, audit {}",
        d.n_rows(),
        d.target.iter().filter(|t| **t).count(),
        inputs.len(),
        audit.as_ref().map_or("none".into(), |p| p.display().to_string())
    );
    let mut candidates = vec![Candidate {
        name: "old: max F1 on a fifth of the training rows".into(),
        objective: None,
        folds: Vec::new(),
    }];
    let objectives: Vec<Objective> = [
        "f1",
        "target-far:0.005",
        "target-far:0.01",
        "target-far:0.02",
        "target-far:0.05",
        "recall:0.9",
        "recall:0.95",
    ]
    .iter()
    .map(|s| s.parse())
    .collect::<Result<_, _>>()?;
    for rule in Rule::ALL {
        for &o in &objectives {
            candidates.push(Candidate {
                name: format!("{o} {}", rule.name()),
                objective: Some((o, rule)),
                folds: Vec::new(),
            });
        }
    }
    let started = std::time::Instant::now();
    let groups = iotguard_models::cv::distinct_groups(&d.group);
    for &g in &groups {
        let name = d.group_names[g as usize].clone();
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        let keep = |i: usize| {
            let n = &d.group_names[d.group[i] as usize];
            d.group[i] != g && train_filter.as_ref().is_none_or(|f| n.contains(f.as_str()))
        };
        let train_rows: Vec<usize> = (0..d.n_rows()).filter(|&i| keep(i)).collect();
        let test_rows: Vec<usize> = (0..d.n_rows()).filter(|&i| d.group[i] == g).collect();
        let (train, test) = (d.subset(&train_rows), d.subset(&test_rows));
        let old = lab::train(kind, &train, seed)?;
        let plan = ooc::plan(&train)?;
        let inner = ooc::scores(kind, &Setting::Default, &train, &plan, seed)?;
        let (model, _) = lab::fit(kind, &train, seed)?;
        let scores = model.score_batch(&test.features, test.n_features());
        let old_scores = old.model.score_batch(&test.features, test.n_features());
        for c in &mut candidates {
            let (s, t) = match c.objective {
                None => (old_scores.clone(), old.threshold.value),
                Some((o, r)) => {
                    let t = ooc::summarize(&train, &plan, &inner, o, r)
                        .map_or(f32::NAN, |x| x.threshold);
                    (scores.clone(), t)
                }
            };
            c.folds.push((name.clone(), s, test.target.clone(), t));
        }
        eprintln!(
            "{name}: {} training captures, {:.0} s so far; skipped {:?}",
            plan.names.len(),
            started.elapsed().as_secs_f64(),
            inner.skipped
        );
    }
    let fmt = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.3}"));
    let short = |n: &str| {
        let base = n.rsplit('/').next().unwrap_or(n);
        base.replace(".conn.log.labeled", "")
            .replace("CTU-IoT-Malware-Capture-", "")
            .replace("CTU-Honeypot-Capture-", "hp")
    };
    if let Some(c) = candidates.first() {
        let heads: Vec<String> = c.folds.iter().map(|f| short(&f.0)).collect();
        println!(
            "| rule | precision | recall | FAR | {} |",
            heads.join(" | ")
        );
        println!("|---|---|---|---|{}", "---|".repeat(heads.len()));
    }
    for c in &candidates {
        let (mut all_a, mut all_t) = (Vec::new(), Vec::new());
        let mut cells = Vec::new();
        for (_, s, t, thr) in &c.folds {
            let alerts: Vec<bool> = s.iter().map(|&x| x >= *thr).collect();
            let m = BinaryMetrics::from_predictions(&alerts, t, None);
            cells.push(format!(
                "{}/{} @{thr:.3}",
                fmt(m.recall),
                fmt(m.false_alert_rate)
            ));
            all_a.extend(alerts);
            all_t.extend_from_slice(t);
        }
        let m = BinaryMetrics::from_predictions(&all_a, &all_t, None);
        println!(
            "| {} | {} | {} | {} | {} |",
            c.name,
            fmt(m.precision),
            fmt(m.recall),
            fmt(m.false_alert_rate),
            cells.join(" | ")
        );
    }
    eprintln!("done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
