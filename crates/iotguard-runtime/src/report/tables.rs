//! The report's text and tables, built once from a [`CompareReport`] and laid out by both the
//! Markdown and the HTML renderers.

use iotguard_models::metrics::{BinaryMetrics, ClassDetection};

use super::{count, metric, per_sec, percent};
use crate::lab::{CompareReport, FeatureSet, ModelResult, Split};

/// A table of text cells.
pub(super) struct Table {
    /// Column titles.
    pub(super) header: Vec<String>,
    /// Rows of cells, as many as columns.
    pub(super) rows: Vec<Vec<String>>,
}

/// The name of the baseline row.
pub(super) const BASELINE: &str = "majority class";

/// Returns the report's title.
pub(super) fn title(r: &CompareReport) -> String {
    let split = match r.split {
        Split::Loco => "leave one capture out".to_string(),
        Split::Kfold { folds } => format!("stratified {folds}-fold"),
        Split::Time { folds } => format!("time-ordered, {folds} folds"),
        Split::Family => "each attack type held out".to_string(),
    };
    format!("Model comparison, {split}")
}

/// Returns the paragraph saying what was evaluated and how.
pub(super) fn protocol(r: &CompareReport) -> String {
    let untested = r.labeled_rows - r.rows;
    format!(
        "{} labeled flows ({} malicious) tested from {} captures{}, {} features per flow ({}); {} Background/Unknown and {} unlabeled flows left out.{} {} Each model's threshold is chosen on a held-out fifth of its own training flows only. Metrics pool every tested flow, each at its own fold model's threshold; the majority-class row predicts each fold's majority training class.",
        count(r.rows),
        count(r.malicious),
        r.labeled_inputs,
        if untested > 0 {
            format!(" ({} more flows only trained on)", count(untested))
        } else {
            String::new()
        },
        r.features,
        match r.feature_set {
            FeatureSet::All => "per flow and per host",
            FeatureSet::Flow => "per flow only",
        },
        count(r.excluded_other),
        count(r.excluded_unlabeled),
        r.label_audit
            .iter()
            .map(|a| format!(" Label audit: {}.", a.describe()))
            .collect::<String>(),
        r.split.describe(),
    )
}

fn strings<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}

/// Returns the summary table: one row per model under the baseline.
pub(super) fn summary(r: &CompareReport) -> Table {
    let row = |name: &str, m: &BinaryMetrics, speed: [String; 3]| {
        let mut cells = vec![
            name.to_string(),
            metric(m.precision),
            metric(m.recall),
            metric(m.f1),
            metric(m.false_alert_rate),
            metric(m.mcc),
            metric(m.balanced_accuracy),
            metric(m.pr_auc),
            metric(m.roc_auc),
        ];
        cells.extend(speed);
        cells
    };
    let mut rows = vec![row(
        BASELINE,
        &r.baseline.pooled,
        ["–".into(), "–".into(), "–".into()],
    )];
    for m in &r.models {
        rows.push(row(
            m.kind.name(),
            &m.pooled,
            [
                format!("{:.2}", m.train_secs),
                per_sec(m.predict_rows_per_sec),
                per_sec(m.predict_single_rows_per_sec),
            ],
        ));
    }
    Table {
        header: strings([
            "model",
            "precision",
            "recall",
            "F1",
            "false-alert rate",
            "MCC",
            "balanced accuracy",
            "PR-AUC",
            "ROC-AUC",
            "train s (all folds)",
            "predict rows/s (batch)",
            "predict rows/s (one at a time)",
        ]),
        rows,
    }
}

/// Marks, for [`summary`]'s cells, the best model per column (the baseline row is never
/// marked): the highest precision, recall, F1, MCC, balanced accuracy, PR-AUC, ROC-AUC and
/// throughputs, the lowest false-alert rate and training time. Cells that print the same as
/// the best are marked too (ties).
pub(super) fn summary_best(r: &CompareReport, t: &Table) -> Vec<Vec<bool>> {
    type Value = fn(&ModelResult) -> Option<f64>;
    let columns: [(usize, Value, bool); 11] = [
        (1, |m| m.pooled.precision, true),
        (2, |m| m.pooled.recall, true),
        (3, |m| m.pooled.f1, true),
        (4, |m| m.pooled.false_alert_rate, false),
        (5, |m| m.pooled.mcc, true),
        (6, |m| m.pooled.balanced_accuracy, true),
        (7, |m| m.pooled.pr_auc, true),
        (8, |m| m.pooled.roc_auc, true),
        (9, |m| Some(m.train_secs), false),
        (10, |m| Some(m.predict_rows_per_sec), true),
        (11, |m| Some(m.predict_single_rows_per_sec), true),
    ];
    let mut marks = vec![vec![false; t.header.len()]; t.rows.len()];
    for (col, value, higher) in columns {
        let best = r
            .models
            .iter()
            .enumerate()
            .filter_map(|(i, m)| value(m).filter(|v| v.is_finite()).map(|v| (i, v)))
            .reduce(|a, b| {
                let better = if higher { b.1 > a.1 } else { b.1 < a.1 };
                if better {
                    b
                } else {
                    a
                }
            });
        if let Some((i, _)) = best {
            // Model i is table row i + 1 (the baseline is row 0).
            let text = &t.rows[i + 1][col];
            for (row, cells) in t.rows.iter().enumerate().skip(1) {
                marks[row][col] = &cells[col] == text;
            }
        }
    }
    marks
}

/// Returns the pooled confusion counts per model.
pub(super) fn confusion(r: &CompareReport) -> Table {
    let row = |name: &str, m: &BinaryMetrics| {
        vec![
            name.to_string(),
            count(m.tp),
            count(m.fn_),
            count(m.fp),
            count(m.tn),
        ]
    };
    let mut rows = vec![row(BASELINE, &r.baseline.pooled)];
    rows.extend(r.models.iter().map(|m| row(m.kind.name(), &m.pooled)));
    Table {
        header: strings([
            "model",
            "malicious flagged (TP)",
            "malicious missed (FN)",
            "benign flagged (FP)",
            "benign passed (TN)",
        ]),
        rows,
    }
}

/// Returns the share of each detailed class's flows flagged, per model: recall for attack
/// classes, the false-alert rate for `Benign`.
pub(super) fn per_class(r: &CompareReport) -> Table {
    let mut header = strings(["class", "flows", BASELINE]);
    header.extend(r.models.iter().map(|m| m.kind.name().to_string()));
    let rate = |v: &[ClassDetection], c: usize| percent(v.get(c).and_then(|d| d.rate));
    let rows = class_order(r)
        .into_iter()
        .map(|c| {
            let n = r.baseline.per_class.get(c).map_or(0, |d| d.n);
            let mut cells = vec![r.class_names[c].clone(), count(n)];
            cells.push(rate(&r.baseline.per_class, c));
            cells.extend(r.models.iter().map(|m| rate(&m.per_class, c)));
            cells
        })
        .collect();
    Table { header, rows }
}

/// Returns the tested classes, most flows first (`Benign`'s place included), ties by name.
pub(super) fn class_order(r: &CompareReport) -> Vec<usize> {
    let n = |c: usize| r.baseline.per_class.get(c).map_or(0, |d| d.n);
    let mut order: Vec<usize> = (0..r.class_names.len()).filter(|&c| n(c) > 0).collect();
    order.sort_by(|&a, &b| {
        n(b).cmp(&n(a))
            .then(r.class_names[a].cmp(&r.class_names[b]))
    });
    order
}

/// Returns F1 per fold and model, with each fold's size.
pub(super) fn per_fold(r: &CompareReport) -> Table {
    let mut header = strings(["fold", "flows", "malicious"]);
    header.extend(r.models.iter().map(|m| format!("{} F1", m.kind.name())));
    let rows = r
        .folds
        .iter()
        .enumerate()
        .map(|(f, name)| {
            let size = r.models.first().and_then(|m| m.per_fold.get(f));
            let mut cells = vec![
                short(name).to_string(),
                size.map_or("–".into(), |s| count(s.metrics.n)),
                size.map_or("–".into(), |s| count(s.metrics.tp + s.metrics.fn_)),
            ];
            cells.extend(
                r.models
                    .iter()
                    .map(|m| metric(m.per_fold.get(f).and_then(|x| x.metrics.f1))),
            );
            cells
        })
        .collect();
    Table { header, rows }
}

/// The sentence introducing the held-out-type table.
pub(super) const HELD_OUT_INTRO: &str = "Each attack type tested by models that never trained on it, against the fold's benign share (never trained on either). PR-AUC ranks the fold's test flows by score; recall and the false-alert rate are at the threshold each fold model chose on its own training flows.";

/// For the family split: per held-out attack type and model, PR-AUC, recall at the chosen
/// threshold and the false-alert rate on the fold's benign flows; `None` for other splits.
pub(super) fn held_out_types(r: &CompareReport) -> Option<Table> {
    if r.split != Split::Family {
        return None;
    }
    let mut header = strings(["held-out type", "flows", "benign"]);
    for m in &r.models {
        let k = m.kind.name();
        header.extend([
            format!("{k} PR-AUC"),
            format!("{k} recall"),
            format!("{k} false-alert rate"),
        ]);
    }
    let rows = r
        .folds
        .iter()
        .enumerate()
        .map(|(f, name)| {
            let size = r.models.first().and_then(|m| m.per_fold.get(f));
            let mut cells = vec![
                name.clone(),
                size.map_or("–".into(), |s| count(s.metrics.tp + s.metrics.fn_)),
                size.map_or("–".into(), |s| count(s.metrics.tn + s.metrics.fp)),
            ];
            for m in &r.models {
                let x = m.per_fold.get(f).map(|x| &x.metrics);
                cells.extend([
                    metric(x.and_then(|x| x.pr_auc)),
                    metric(x.and_then(|x| x.recall)),
                    metric(x.and_then(|x| x.false_alert_rate)),
                ]);
            }
            cells
        })
        .collect();
    Some(Table { header, rows })
}

/// The sentence introducing the tuning table.
pub(super) const TUNING_INTRO: &str = "With `--tune`, each fold's hyperparameters were chosen among a fixed grid on that fold's training captures only: each training capture held out in turn, every setting trained on the others, and the setting with the best Matthews correlation over those inner held-out flows kept. The tested capture played no part in the choice.";

/// Returns, for the models whose folds were tuned, each fold's chosen setting and its inner
/// result; `None` when nothing was tuned.
pub(super) fn tuning(r: &CompareReport) -> Option<Table> {
    let mut rows = Vec::new();
    for m in &r.models {
        for (f, name) in m.per_fold.iter().zip(&r.folds) {
            let Some(t) = &f.tuned else { continue };
            let Some(chosen) = t.scores.iter().find(|s| s.setting == t.chosen) else {
                continue;
            };
            let mcc = |m: &BinaryMetrics| m.mcc.unwrap_or(f64::NEG_INFINITY);
            let runner_up = t
                .scores
                .iter()
                .filter(|s| s.setting != t.chosen)
                .max_by(|a, b| mcc(&a.inner).total_cmp(&mcc(&b.inner)));
            rows.push(vec![
                m.kind.name().to_string(),
                short(name).to_string(),
                f.setting.clone(),
                metric(chosen.inner.mcc),
                metric(chosen.inner.f1),
                metric(chosen.inner.false_alert_rate),
                runner_up.map_or("–".into(), |s| {
                    format!("{} ({})", s.name, metric(s.inner.mcc))
                }),
                metric(f.metrics.f1),
            ]);
        }
    }
    (!rows.is_empty()).then(|| Table {
        header: strings([
            "model",
            "tested capture",
            "chosen setting",
            "inner MCC",
            "inner F1",
            "inner false-alert rate",
            "next best (inner MCC)",
            "F1 on the tested capture",
        ]),
        rows,
    })
}

/// Returns a fold's name without the folders of its input's path.
fn short(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// Returns a model's most important features.
pub(super) fn importance(m: &ModelResult) -> Table {
    Table {
        header: strings(["rank", "feature", "mean |contribution|"]),
        rows: m
            .importance
            .top
            .iter()
            .enumerate()
            .map(|(i, f)| {
                vec![
                    (i + 1).to_string(),
                    f.feature.clone(),
                    format!("{:.4}", f.mean_abs),
                ]
            })
            .collect(),
    }
}

/// Returns the sentence introducing the importance rankings.
pub(super) fn importance_intro(r: &CompareReport) -> String {
    format!(
        "Global importance: the mean absolute contribution of each feature to the model's raw output (log-odds or margin for the classifiers, the anomaly score for the isolation forest) over up to {} test flows per model, sampled evenly from every fold, from `Scorer::explain`: exact TreeSHAP for the tree models, coefficient × standardised value for the linear ones.",
        count(r.importance_rows as u64)
    )
}
