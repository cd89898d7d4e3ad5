//! Measures the network-context feature groups (issue 12 item 4) by leave-one-capture-out, with
//! ablation, for BENCHMARKS.md ("Features for the families the forest missed").
//!
//! The flows are read once with every context group on (`pair`, `dst`, `port`, `service`); each
//! variant keeps the columns an extractor configured with its groups writes (the groups are
//! independent of each other and of the rest, so the columns are the same values). For each
//! variant and each outer held-out capture, exactly as `iotguard train` does: the training
//! captures' out-of-capture scores (`iotguard_models::ooc`), the model fitted on every training
//! row, and each candidate (objective, rule) choosing its threshold from the out-of-capture
//! scores, applied to the held-out capture. The first candidate is the default
//! (`lab::DEFAULT_OBJECTIVE`, `lab::DEFAULT_RULE`).
//!
//! Prints per variant: pooled precision, recall and false-alert rate per candidate; the default
//! candidate's recall / false-alert rate per capture; its recall per attack family (detailed
//! label, pooled over the folds); and, as a diagnostic only, the lowest pooled false-alert rate
//! any single threshold on the pooled held-out scores gives at recall ≥ 0.9 (not a rule: the
//! held-out labels choose it).
//!
//! Usage: `feature_ablation [--label-audit FILE] [--model KIND] [--seed N]
//! [--variants baseline,pair,dst,port,service,all] INPUTS...`; a variant is `baseline`, `all`,
//! or groups joined by `+` (`pair+port`), optionally followed by `-NAME` for each feature left
//! out (`all-local_orig-local_resp`). `--augment PATH` (repeatable) adds training-only inputs
//! (`iotguard train --augment`): in every fit, inner and outer, and never held out;
//! `--augment-sim N` adds `train`'s default simulated clean network of N flows (seeded by
//! `--seed`) the same way (default `train`'s, 20,000; 0 for none). `--export FILE` writes the first
//! variant's matrix as Parquet (`compare --export-dataset`'s layout) and the training-only
//! groups' names beside it (`FILE` with extension `train_only.json`), for
//! `bench/loco_peers.py`.

// An example reports on stdout.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use iotguard_features::{ContextGroup, FeatureConfig};
use iotguard_models::lab::{self, ModelKind};
use iotguard_models::metrics::BinaryMetrics;
use iotguard_models::operating::{Objective, Rule};
use iotguard_models::tune::Setting;
use iotguard_models::{ooc, Scorer};
use iotguard_runtime::audit::LabelAudit;
use iotguard_runtime::augment::SimulatedClean;
use iotguard_runtime::batch::BatchConfig;
use iotguard_runtime::dataset::build_dataset;
use iotguard_runtime::input;

/// One held-out capture under one candidate: (capture, scores, target, class, threshold).
type Fold = (String, Vec<f32>, Vec<bool>, Vec<u32>, f32);

fn parse_variant(v: &str) -> Result<Vec<ContextGroup>, String> {
    match v {
        "baseline" => Ok(Vec::new()),
        "all" => Ok(ContextGroup::ALL.to_vec()),
        _ => v.split('+').map(str::parse).collect(),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (mut audit, mut kind, mut seed) = (None, ModelKind::Forest, 1u64);
    let mut variants = "baseline,pair,dst,port,service,all".to_string();
    let (mut paths, mut augment) = (Vec::new(), Vec::new());
    let mut augment_sim = SimulatedClean::DEFAULT_FLOWS;
    let mut export: Option<PathBuf> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--label-audit" => audit = args.next().map(PathBuf::from),
            "--model" => kind = args.next().ok_or("--model KIND")?.parse()?,
            "--seed" => seed = args.next().ok_or("--seed N")?.parse()?,
            "--variants" => variants = args.next().ok_or("--variants LIST")?,
            "--augment" => augment.push(PathBuf::from(args.next().ok_or("--augment PATH")?)),
            "--augment-sim" => augment_sim = args.next().ok_or("--augment-sim N")?.parse()?,
            "--export" => export = args.next().map(PathBuf::from),
            _ => paths.push(PathBuf::from(a)),
        }
    }
    let mut inputs = input::expand(&paths)?.inputs;
    let n_held = inputs.len() as u32;
    inputs.extend(input::expand(&augment)?.inputs);
    if augment_sim > 0 {
        inputs.push(input::Input::Simulated(SimulatedClean::new(
            augment_sim,
            seed,
        )));
    }
    let train_only: Vec<u32> = (n_held..inputs.len() as u32).collect();
    let mut batch = BatchConfig {
        threads: 2,
        ..BatchConfig::default()
    };
    if let Some(p) = &audit {
        batch.label_audit = LabelAudit::load(p)?;
    }
    let config = FeatureConfig {
        context: ContextGroup::ALL.to_vec(),
        ..FeatureConfig::default()
    };
    let mut rejected = 0u64;
    let built = build_dataset(
        &inputs,
        &batch,
        &config,
        &Arc::new(AtomicU64::new(0)),
        &mut |_| rejected += 1,
    )?;
    let full = &built.dataset;
    println!(
        "# {} rows ({} malicious) from {} inputs ({} training-only), {rejected} rejected records, kind {kind}, seed {seed}, audit {}",
        full.n_rows(),
        full.target.iter().filter(|t| **t).count(),
        inputs.len(),
        train_only.len(),
        audit.as_ref().map_or("none".into(), |p| p.display().to_string())
    );
    let mut candidates: Vec<(Objective, Rule)> = vec![(lab::DEFAULT_OBJECTIVE, lab::DEFAULT_RULE)];
    for (o, r) in [
        ("target-far:0.005", Rule::Median),
        ("target-far:0.01", Rule::Median),
        ("recall:0.9", Rule::Median),
        ("f1", Rule::Balanced),
    ] {
        candidates.push((o.parse()?, r));
    }
    let group_of = |name: &str| {
        ContextGroup::ALL
            .into_iter()
            .find(|g| g.feature_names().contains(&name))
    };
    let started = std::time::Instant::now();
    let short = |n: &str| {
        let base = n.rsplit('/').next().unwrap_or(n);
        base.replace(".conn.log.labeled", "")
            .replace("CTU-IoT-Malware-Capture-", "")
            .replace("CTU-Honeypot-Capture-", "hp")
            .replace("CTU-Malware-Capture-Botnet-", "")
            .replace("CTU-Normal-", "Normal-")
    };
    let fmt = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.3}"));
    for variant in variants.split(',') {
        // `GROUPS-name-name`: the groups' columns without the named ones.
        let mut parts = variant.split('-');
        let groups = parse_variant(parts.next().unwrap_or_default())?;
        let dropped: Vec<&str> = parts.collect();
        if let Some(n) = dropped
            .iter()
            .find(|n| !full.feature_names.iter().any(|f| f == *n))
        {
            return Err(format!("variant {variant}: no feature {n}").into());
        }
        let columns: Vec<usize> = full
            .feature_names
            .iter()
            .enumerate()
            .filter(|(_, n)| group_of(n).is_none_or(|g| groups.contains(&g)))
            .filter(|(_, n)| !dropped.contains(&n.as_str()))
            .map(|(i, _)| i)
            .collect();
        let d = full.select_features(&columns);
        if let Some(path) = export.take() {
            // The first variant's matrix, for the Python peers (bench/loco_peers.py): the
            // training-only groups are those named `simulated-clean:...` or given by --augment.
            let f = std::io::BufWriter::new(std::fs::File::create(&path)?);
            iotguard_runtime::parquet::write_dataset(f, &d)?;
            let only: Vec<&str> = train_only
                .iter()
                .map(|&g| d.group_names[g as usize].as_str())
                .collect();
            std::fs::write(
                path.with_extension("train_only.json"),
                serde_json::to_string(&only)?,
            )?;
            eprintln!("{variant}: wrote {}", path.display());
        }
        // Per candidate, per fold.
        let mut folds: Vec<Vec<Fold>> = vec![Vec::new(); candidates.len()];
        for &g in iotguard_models::cv::distinct_groups(&d.group)
            .iter()
            .filter(|g| !train_only.contains(g))
        {
            let name = d.group_names[g as usize].clone();
            let train_rows: Vec<usize> = (0..d.n_rows()).filter(|&i| d.group[i] != g).collect();
            let test_rows: Vec<usize> = (0..d.n_rows()).filter(|&i| d.group[i] == g).collect();
            let (train, test) = (d.subset(&train_rows), d.subset(&test_rows));
            let plan = ooc::plan_with(&train, &train_only)?;
            let inner = ooc::scores(kind, &Setting::Default, &train, &plan, seed)?;
            let (model, _) = lab::fit(kind, &train, seed)?;
            let scores = model.score_batch(&test.features, test.n_features());
            for (c, &(o, r)) in candidates.iter().enumerate() {
                let t =
                    ooc::summarize(&train, &plan, &inner, o, r).map_or(f32::NAN, |x| x.threshold);
                folds[c].push((
                    name.clone(),
                    scores.clone(),
                    test.target.clone(),
                    test.class.clone(),
                    t,
                ));
            }
            eprintln!(
                "{variant} {}: {:.0} s so far",
                short(&name),
                started.elapsed().as_secs_f64()
            );
        }
        println!("\n## variant {variant} ({} features)\n", d.n_features());
        println!("| rule | precision | recall | FAR | alerts on benign |");
        println!("|---|---|---|---|---|");
        for (c, (o, r)) in candidates.iter().enumerate() {
            let (mut a, mut t) = (Vec::new(), Vec::new());
            for (_, s, y, _, thr) in &folds[c] {
                a.extend(s.iter().map(|&x| x >= *thr));
                t.extend_from_slice(y);
            }
            let m = BinaryMetrics::from_predictions(&a, &t, None);
            println!(
                "| {o} {} | {} | {} | {} | {} |",
                r.name(),
                fmt(m.precision),
                fmt(m.recall),
                fmt(m.false_alert_rate),
                m.fp
            );
        }
        // The default candidate per capture and per family.
        let mut cells = Vec::new();
        let mut family: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let (mut all_s, mut all_t) = (Vec::new(), Vec::new());
        for (name, s, y, class, thr) in &folds[0] {
            let a: Vec<bool> = s.iter().map(|&x| x >= *thr).collect();
            let m = BinaryMetrics::from_predictions(&a, y, None);
            cells.push(format!(
                "{} {}/{} @{thr:.3}",
                short(name),
                fmt(m.recall),
                fmt(m.false_alert_rate)
            ));
            for ((&flag, &mal), &c) in a.iter().zip(y).zip(class) {
                if mal {
                    let e = family.entry(d.class_names[c as usize].clone()).or_default();
                    e.0 += 1;
                    e.1 += u64::from(flag);
                }
            }
            all_s.extend_from_slice(s);
            all_t.extend_from_slice(y);
        }
        println!(
            "\ndefault per capture (recall/FAR @threshold): {}",
            cells.join("; ")
        );
        println!(
            "default per family (recall, flagged/flows): {}",
            family
                .iter()
                .map(|(k, (n, f))| format!("{k} {:.3} ({f}/{n})", *f as f64 / *n as f64))
                .collect::<Vec<_>>()
                .join("; ")
        );
        // Diagnostic: the best single threshold on the pooled held-out scores.
        let mut order: Vec<usize> = (0..all_s.len()).collect();
        order.sort_by(|&i, &j| all_s[j].total_cmp(&all_s[i]));
        let pos = all_t.iter().filter(|t| **t).count() as f64;
        let neg = all_t.len() as f64 - pos;
        let (mut tp, mut fp) = (0.0, 0.0);
        let mut best = None;
        for (k, &i) in order.iter().enumerate() {
            if all_t[i] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            let last = k + 1 == order.len() || all_s[order[k + 1]] != all_s[i];
            if last && tp / pos >= 0.9 {
                best = Some((all_s[i], tp / pos, fp / neg));
                break;
            }
        }
        if let Some((t, r, f)) = best {
            println!(
                "diagnostic (held-out labels choose it): one threshold {t:.3} on the pooled held-out scores gives recall {r:.3} at FAR {f:.4}"
            );
        }
        eprintln!("{variant} done, {:.0} s", started.elapsed().as_secs_f64());
    }
    Ok(())
}
