//! The multiclass section of `iotguard compare --multiclass`: which detailed label (attack type,
//! or benign) a flow carries, predicted by the one-vs-rest forest of
//! [`iotguard_models::multiclass`], evaluated by k-fold cross-validation stratified on the
//! detailed class, as a serialisable report and its Markdown.
//!
//! Leave-one-capture-out, the protocol of the binary comparison, cannot measure this: most
//! attack types occur in one capture only, so the capture held out would hold types the model
//! never saw. Stratified folds keep every type on both sides, and in exchange flows of the same
//! hosts and sessions too; the Markdown says so beside the numbers.

use iotguard_models::metrics::MulticlassMetrics;
use iotguard_models::multiclass::{cross_validate, MulticlassEval, MulticlassParams};
use iotguard_models::Dataset;
use serde::Serialize;

use crate::error::{Error, Result};

/// Folds of the multiclass cross-validation.
pub const MULTICLASS_FOLDS: usize = 5;

/// One detailed class and how many rows carry it.
#[derive(Clone, Debug, Serialize)]
pub struct ClassCount {
    /// The detailed label.
    pub name: String,
    /// Rows with it.
    pub rows: u64,
}

/// The multiclass evaluation of one dataset.
#[derive(Clone, Debug, Serialize)]
pub struct MulticlassReport {
    /// How the rows were split, in words.
    pub protocol: String,
    /// Rows evaluated.
    pub rows: u64,
    /// The detailed classes, by class index.
    pub classes: Vec<ClassCount>,
    /// The model's hyperparameters.
    pub params: MulticlassParams,
    /// The pooled out-of-fold metrics, the majority baseline, timings.
    pub eval: MulticlassEval,
}

/// Evaluates the one-vs-rest multiclass model on `d`'s detailed classes with
/// [`MULTICLASS_FOLDS`]-fold stratified cross-validation.
pub fn multiclass_report(d: &Dataset, seed: u64) -> Result<MulticlassReport> {
    let params = MulticlassParams::default().seed(seed);
    let eval = cross_validate(d, MULTICLASS_FOLDS, &params, seed).map_err(Error::Model)?;
    let mut rows = vec![0u64; d.class_names.len()];
    for &c in &d.class {
        if let Some(n) = rows.get_mut(c as usize) {
            *n += 1;
        }
    }
    Ok(MulticlassReport {
        protocol: format!(
            "{MULTICLASS_FOLDS}-fold cross-validation stratified on the detailed label, over the flows of every input pooled"
        ),
        rows: d.n_rows() as u64,
        classes: d
            .class_names
            .iter()
            .zip(rows)
            .map(|(name, rows)| ClassCount {
                name: name.clone(),
                rows,
            })
            .collect(),
        params,
        eval,
    })
}

/// The section's two paragraphs: what was evaluated and how, then accuracy and macro F1 beside
/// the majority baseline.
pub(crate) fn paragraphs(r: &MulticlassReport) -> [String; 2] {
    let e = &r.eval;
    [
        format!(
            "{} flows, {} detailed labels; one random forest per label against the rest ({} trees each, balanced class weights), {}. Random folds share hosts and sessions between training and test flows, so this measures telling attack types apart within known traffic, not transfer to a new capture. Training {:.2} s over all folds; {:.0} flows classified per second.",
            r.rows,
            r.classes.len(),
            r.params.forest.n_trees,
            r.protocol,
            e.train_secs,
            e.predict_rows_per_sec
        ),
        format!(
            "Accuracy {}, macro F1 {} (always the most common label: accuracy {}, macro F1 {}).",
            f3(e.metrics.accuracy),
            f3(e.metrics.macro_f1),
            f3(e.baseline.accuracy),
            f3(e.baseline.macro_f1)
        ),
    ]
}

/// The per-label table: header and rows (label, flows, precision, recall, F1, ROC-AUC, PR-AUC).
pub(crate) fn per_class_table(r: &MulticlassReport) -> (Vec<String>, Vec<Vec<String>>) {
    let header = [
        "label",
        "flows",
        "precision",
        "recall",
        "F1",
        "ROC-AUC",
        "PR-AUC",
    ]
    .map(String::from)
    .to_vec();
    let rows = r
        .eval
        .metrics
        .per_class
        .iter()
        .map(|c| {
            let m = &c.metrics;
            vec![
                label(&c.name, c.class),
                c.support.to_string(),
                f3(m.precision),
                f3(m.recall),
                f3(m.f1),
                f3(m.roc_auc),
                f3(m.pr_auc),
            ]
        })
        .collect();
    (header, rows)
}

/// The confusion matrix: rows are actual labels, columns predicted ones.
pub(crate) fn confusion_table(m: &MulticlassMetrics) -> (Vec<String>, Vec<Vec<String>>) {
    let k = m.confusion.n_classes;
    let names: Vec<String> = (0..k)
        .map(|c| {
            let name = m.per_class.get(c).and_then(|p| p.name.clone());
            label(&name, c as u32)
        })
        .collect();
    let mut header = vec!["actual \\ predicted".to_string()];
    header.extend(names.iter().cloned());
    let rows = names
        .iter()
        .enumerate()
        .map(|(a, name)| {
            let mut row = vec![name.clone()];
            row.extend((0..k).map(|p| m.confusion.get(a, p).to_string()));
            row
        })
        .collect();
    (header, rows)
}

/// The section's title.
pub(crate) const TITLE: &str = "Multiclass: the detailed label";

/// The sentence before the confusion matrix.
pub(crate) const CONFUSION_INTRO: &str =
    "Confusion matrix (rows: actual label, columns: predicted):";

/// Returns the report as a Markdown section: per-class metrics, the baseline, the confusion
/// matrix.
pub fn render_markdown(r: &MulticlassReport) -> String {
    let [what, accuracy] = paragraphs(r);
    let mut out = format!("\n## {TITLE}\n\n{what}\n\n{accuracy}\n\n");
    let (header, rows) = per_class_table(r);
    push_markdown_table(&mut out, &header, &rows);
    out.push_str(&format!("\n{CONFUSION_INTRO}\n\n"));
    let (header, rows) = confusion_table(&r.eval.metrics);
    push_markdown_table(&mut out, &header, &rows);
    out
}

fn push_markdown_table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    out.push_str(&format!("|{}\n", "---|".repeat(header.len())));
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
}

fn f3(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{x:.3}"))
}

/// A class's name for a table (its index when it has none); `|` would break the table.
fn label(name: &Option<String>, class: u32) -> String {
    name.as_deref()
        .map_or_else(|| format!("class {class}"), |n| n.replace('|', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchConfig;
    use crate::dataset::{build_dataset, BENIGN_CLASS};
    use crate::input::Input;
    use iotguard_features::FeatureConfig;

    #[test]
    fn real_captures_every_flow_classified_once() {
        let Some(dir) = iotguard_testkit::shared_data("multiclass_report") else {
            return;
        };
        let inputs = vec![
            Input::File(dir.join("iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled")),
            Input::File(dir.join("iot23/CTU-IoT-Malware-Capture-42-1.conn.log.labeled")),
        ];
        let built = build_dataset(
            &inputs,
            &BatchConfig::default(),
            &FeatureConfig::default(),
            &Default::default(),
            &mut |_| {},
        )
        .unwrap();
        let r = multiclass_report(&built.dataset, 1).unwrap();
        // The data README's counts: 44-1 has benign 211, C&C 14, C&C-FileDownload 11, DDoS 1;
        // 42-1 benign 4,420, FileDownload 3, C&C-FileDownload 3.
        let count = |name: &str| r.classes.iter().find(|c| c.name == name).unwrap().rows;
        assert_eq!(r.rows, 237 + 4_426);
        assert_eq!(count(BENIGN_CLASS), 211 + 4_420);
        assert_eq!(count("C&C"), 14);
        assert_eq!(count("C&C-FileDownload"), 14);
        assert_eq!(count("DDoS"), 1);
        assert_eq!(count("FileDownload"), 3);
        let m = &r.eval.metrics;
        assert_eq!(m.confusion.total(), r.rows);
        for c in &m.per_class {
            assert_eq!(c.support, count(c.name.as_deref().unwrap()));
        }
        // The majority baseline is always benign.
        assert_eq!(
            r.eval.baseline.accuracy,
            Some((211.0 + 4_420.0) / (237.0 + 4_426.0))
        );
        let md = render_markdown(&r);
        assert!(md.contains("## Multiclass: the detailed label"), "{md}");
        assert!(md.contains("| C&C-FileDownload | 14 |"), "{md}");
        assert_eq!(md.matches("\n| ").count(), 2 * r.classes.len() + 2);
    }
}
