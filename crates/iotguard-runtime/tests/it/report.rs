//! The `compare` report on a small deterministic dataset: the Markdown against a golden file,
//! the HTML page self-contained with one plot per expected figure, and what each split tests.

use iotguard_models::lab::ModelKind;
use iotguard_models::Dataset;
use iotguard_runtime::lab::{
    compare_dataset, Choice, CompareConfig, CompareReport, FeatureSet, Split,
};
use iotguard_runtime::report;

/// Three captures of 240 flows: benign, DDoS (high rate, small packets) and C&C (periodic,
/// port 6667), with a noise feature. Values come from a fixed linear congruential sequence, so
/// the dataset is the same on every machine.
fn dataset() -> Dataset {
    let mut state = 12345u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64) as f32
    };
    let mut d = Dataset {
        feature_names: vec![
            "orig_host.rate_10s".into(),
            "bytes_per_pkt".into(),
            "resp_port.6667".into(),
            "noise".into(),
        ],
        class_names: vec!["Benign".into(), "DDoS".into(), "C&C".into()],
        group_names: vec![
            "capture-a.log".into(),
            "capture-b.log".into(),
            "capture-c.log".into(),
        ],
        ..Dataset::default()
    };
    for g in 0..3u32 {
        for i in 0..240u32 {
            // Capture a holds no C&C and capture c no DDoS, so some folds test a family
            // their model hardly saw.
            let class = match (g, i % 8) {
                (_, 0..=4) => 0,
                (0, _) | (1, 5) => 1,
                _ => 2,
            };
            let (rate, size, port) = match class {
                0 => (
                    next() * 2.0,
                    200.0 + next() * 600.0,
                    f32::from(next() < 0.02),
                ),
                1 => (1.5 + next() * 3.0, 60.0 + next() * 40.0, 0.0),
                _ => (next() * 1.5, 120.0 + next() * 80.0, f32::from(next() < 0.9)),
            };
            d.features.extend_from_slice(&[rate, size, port, next()]);
            d.target.push(class != 0);
            d.class.push(class);
            d.group.push(g);
            d.time.push(f64::from(i) + f64::from(g) * 0.5);
        }
    }
    d
}

fn run(split: Split, kinds: &[ModelKind]) -> CompareReport {
    let config = CompareConfig {
        kinds: kinds.to_vec(),
        split,
        feature_set: FeatureSet::All,
        seed: 7,
        hyperparameters: Choice::Default,
    };
    let mut r = compare_dataset(&config, &dataset()).unwrap();
    // Speeds are measured, so they differ run to run: fix them for the golden file.
    for (i, m) in r.models.iter_mut().enumerate() {
        m.train_secs = 0.25 * (i + 1) as f64;
        m.predict_rows_per_sec = 1_000_000.0 / (i + 1) as f64;
        m.predict_single_rows_per_sec = 500_000.0 / (i + 1) as f64;
    }
    r
}

const KINDS: [ModelKind; 4] = [
    ModelKind::Logreg,
    ModelKind::Tree,
    ModelKind::Forest,
    ModelKind::Iforest,
];

#[test]
fn markdown_report_matches_golden() {
    let r = run(Split::Loco, &KINDS);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    iotguard_testkit::assert_golden("report/compare_loco.md", &report::markdown(&r));
}

#[test]
fn html_report_is_self_contained_with_every_plot() {
    let r = run(Split::Loco, &KINDS);
    let html = report::html(&r, None).unwrap();
    for banned in [
        "src=", "href=", "<script", "<link", "<img", "url(", "@import",
    ] {
        assert!(!html.contains(banned), "the page holds {banned}");
    }
    // The only URL is the SVG namespace, which browsers never fetch.
    let urls = html.matches("http://").count() + html.matches("https://").count();
    assert_eq!(
        urls,
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );
    let ids: Vec<String> = report::PLOT_IDS.iter().map(|s| s.to_string()).collect();
    assert_eq!(html.matches("<svg").count(), ids.len());
    assert_eq!(html.matches("</svg>").count(), ids.len());
    for id in &ids {
        let at = html
            .find(&format!("<figure id=\"{id}\">\n<svg"))
            .unwrap_or_else(|| panic!("no plot {id}"));
        let svg = &html[at..at + html[at..].find("</svg>").unwrap()];
        // Every plot draws text and shapes, not an empty frame.
        assert!(svg.contains("<text"), "{id} has no text");
        assert!(
            svg.contains("<rect") || svg.contains("<polyline"),
            "{id} draws nothing"
        );
    }
    // The class name with an ampersand is escaped in tables and plots alike.
    assert!(html.contains("C&amp;C") && !html.contains("C&C"));
    // The curves' legends are in a panel of their own, right of the plotting area (x ≥ 740),
    // one entry per model plus the chance line and the operating point.
    for id in ["roc", "pr"] {
        let at = html.find(&format!("<figure id=\"{id}\">")).unwrap();
        let svg = &html[at..at + html[at..].find("</svg>").unwrap()];
        assert!(svg.contains("width=\"970\""), "{id}");
        for name in KINDS.iter().map(|k| k.name()).chain(["operating point"]) {
            let text = svg
                .find(&format!(">\n{name}\n</text>"))
                .unwrap_or_else(|| panic!("{id}: no legend entry {name}"));
            let tag = &svg[svg[..text].rfind("<text").unwrap()..text];
            let x: i32 = tag
                .split("x=\"")
                .nth(1)
                .and_then(|v| v.split('"').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{id}: {tag}"));
            assert!(
                x >= 740,
                "{id}: legend entry {name} at x={x}, over the curves"
            );
        }
    }
    // One importance chart for every model, its columns the models.
    let at = html.find("<figure id=\"importance\">").unwrap();
    let svg = &html[at..at + html[at..].find("</svg>").unwrap()];
    for k in &KINDS {
        assert!(
            svg.contains(&format!(">\n{}\n</text>", k.name())),
            "{}",
            k.name()
        );
    }
    // The best model per summary column is marked: at least one cell in each of the 11
    // ranked columns, never in the baseline row.
    let summary = &html[..html.find("</table>").unwrap()];
    let marked = summary.matches("<td class=\"best\">").count();
    assert!((11..=11 * KINDS.len()).contains(&marked), "{marked}");
    let baseline_row = summary
        .lines()
        .find(|l| l.starts_with("<tr><td>majority class</td>"))
        .unwrap();
    assert!(!baseline_row.contains("best"));
    // The dark variant is the same page, dark at its root.
    let dark = report::dark_variant(&html);
    assert!(dark.starts_with("<!DOCTYPE html>\n<html lang=\"en\" class=\"dark\">"));
    assert_eq!(dark.len(), html.len() + " class=\"dark\"".len());
    assert!(html.contains("html.dark body{color:#d8dee6;background:#0f1419}"));
}

#[test]
fn html_report_marks_the_best_value_in_each_summary_column() {
    let r = run(Split::Loco, &KINDS);
    let html = report::html(&r, None).unwrap();
    let summary = &html[..html.find("</table>").unwrap()];
    let rows: Vec<Vec<(bool, String)>> = summary
        .lines()
        .filter(|l| l.starts_with("<tr><td>"))
        .map(|l| {
            l.trim_start_matches("<tr>")
                .trim_end_matches("</tr>")
                .split("</td>")
                .filter(|c| !c.is_empty())
                .map(|c| {
                    let best = c.starts_with("<td class=\"best\">");
                    let text = c
                        .trim_start_matches("<td class=\"best\"><b>")
                        .trim_start_matches("<td>")
                        .trim_end_matches("</b>");
                    (best, text.to_string())
                })
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 1 + KINDS.len());
    // Recall (column 2): the marked cells hold the largest value among the models.
    let recall: Vec<f64> = rows[1..].iter().map(|r| r[2].1.parse().unwrap()).collect();
    let best = recall.iter().copied().fold(f64::MIN, f64::max);
    for (row, v) in rows[1..].iter().zip(&recall) {
        assert_eq!(row[2].0, *v == best, "{:?}", row[2]);
    }
    // The false-alert rate (column 4): the smallest.
    let far: Vec<f64> = rows[1..].iter().map(|r| r[4].1.parse().unwrap()).collect();
    let least = far.iter().copied().fold(f64::MAX, f64::min);
    for (row, v) in rows[1..].iter().zip(&far) {
        assert_eq!(row[4].0, *v == least, "{:?}", row[4]);
    }
}

#[test]
fn splits_test_each_row_at_most_once() {
    let kinds = [ModelKind::Logreg];
    let loco = run(Split::Loco, &kinds);
    let kfold = run(Split::Kfold { folds: 4 }, &kinds);
    let time = run(Split::Time { folds: 3 }, &kinds);
    let tested = |r: &CompareReport| {
        let p = &r.models[0].pooled;
        p.tp + p.fp + p.tn + p.fn_
    };
    assert_eq!((loco.rows, tested(&loco), loco.folds.len()), (720, 720, 3));
    assert_eq!(
        (kfold.rows, tested(&kfold), kfold.folds.len()),
        (720, 720, 4)
    );
    // Time: each capture's first quarter (60 flows) only trains.
    assert_eq!((time.rows, tested(&time), time.folds.len()), (540, 540, 3));
    assert_eq!(time.labeled_rows, 720);
    let fold_rows: u64 = time.models[0].per_fold.iter().map(|f| f.metrics.n).sum();
    assert_eq!(fold_rows, 540);
    assert_eq!(time.baseline.pooled.n, 540);
}

#[test]
fn family_split_holds_out_each_attack_type_and_reports_it() {
    let r = run(
        Split::Family,
        &[ModelKind::Logreg, ModelKind::Forest, ModelKind::Iforest],
    );
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    // 450 benign flows dealt into two shares of 225; DDoS 120 flows, C&C 150.
    assert_eq!(r.folds, ["DDoS", "C&C"]);
    assert_eq!((r.rows, r.malicious), (720, 270));
    for m in &r.models {
        let sizes: Vec<(u64, u64)> = m
            .per_fold
            .iter()
            .map(|f| (f.metrics.n, f.metrics.tp + f.metrics.fn_))
            .collect();
        assert_eq!(sizes, [(345, 120), (375, 150)], "{}", m.kind.name());
    }
    let md = report::markdown(&r);
    let section = md
        .split("## Per held-out attack type")
        .nth(1)
        .expect("the held-out section");
    let rows: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("| DDoS |") || l.starts_with("| C&C |"))
        .collect();
    // Columns: flows, benign, then PR-AUC, recall, false-alert rate of logreg, forest and
    // iforest. The classifiers rank the unseen type well (PR-AUC) yet flag none of it at the
    // threshold they chose on the types they knew; the isolation forest flags most C&C.
    assert_eq!(
        rows[..2],
        [
            "| DDoS | 120 | 225 | 1.000 | 1.000 | 0.000 | 1.000 | 0.000 | 0.000 | 0.910 | 0.000 | 0.009 |",
            "| C&C | 150 | 225 | 0.970 | 0.000 | 0.000 | 0.645 | 0.000 | 0.000 | 0.973 | 0.907 | 0.031 |",
        ]
    );
    let html = report::html(&r, None).unwrap();
    assert!(html.contains("<h2>Per held-out attack type</h2>"));
    // Other splits have no such section.
    assert!(
        !report::markdown(&run(Split::Loco, &[ModelKind::Logreg])).contains("held-out attack type")
    );
}

#[test]
fn tuned_folds_choose_on_their_training_captures_only_and_the_report_says_what() {
    let config = CompareConfig {
        kinds: vec![ModelKind::Gbdt, ModelKind::Logreg],
        split: Split::Loco,
        feature_set: FeatureSet::All,
        seed: 7,
        hyperparameters: Choice::Tune,
    };
    let r = compare_dataset(&config, &dataset()).unwrap();
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let gbdt = &r.models[0];
    assert_eq!(gbdt.per_fold.len(), 3);
    for fold in &gbdt.per_fold {
        let t = fold.tuned.as_ref().expect("gbdt folds are tuned");
        // Two training captures, each held out once; every inner held-out flow is one of
        // the 480 training flows, never the 240 of the tested capture.
        assert_eq!((t.inner_folds, t.skipped_folds), (2, 0));
        assert_eq!(t.scores.len(), 6);
        for s in &t.scores {
            assert_eq!(s.inner.n, 480, "{}", s.name);
        }
        let chosen = t.scores.iter().find(|s| s.setting == t.chosen).unwrap();
        assert_eq!(fold.setting, chosen.name);
        assert!(t
            .scores
            .iter()
            .all(|s| s.inner.mcc.unwrap_or(-1.0) <= chosen.inner.mcc.unwrap_or(-1.0)));
    }
    assert!(gbdt.tune_secs > 0.0);
    let logreg = &r.models[1];
    for fold in &logreg.per_fold {
        assert_eq!(fold.setting, "default");
        assert!(fold.tuned.as_ref().unwrap().scores.is_empty());
    }
    let md = report::markdown(&r);
    let section = md
        .split("## Hyperparameters chosen out of sample")
        .nth(1)
        .expect("the tuning section");
    let rows: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("| gbdt |"))
        .collect();
    assert_eq!(rows.len(), 3, "{section}");
    assert!(
        rows[0].starts_with("| gbdt | capture-a.log | "),
        "{}",
        rows[0]
    );
    assert!(!md.contains("| logreg | capture-a.log"));
}
