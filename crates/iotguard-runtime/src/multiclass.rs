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

/// Returns the report as a Markdown section: per-class metrics, the baseline, the confusion
/// matrix.
pub fn render_markdown(r: &MulticlassReport) -> String {
    let f = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |x| format!("{x:.3}"));
    let e = &r.eval;
    let mut out = format!(
        "\n## Multiclass: the detailed label\n\n{} flows, {} detailed labels; one random forest per label against the rest ({} trees each, balanced class weights), {}. Random folds share hosts and sessions between training and test flows, so this measures telling attack types apart within known traffic, not transfer to a new capture. Training {:.2} s over all folds; {:.0} flows classified per second.\n\n",
        r.rows,
        r.classes.len(),
        r.params.forest.n_trees,
        r.protocol,
        e.train_secs,
        e.predict_rows_per_sec
    );
    out.push_str(&format!(
        "Accuracy {}, macro F1 {} (always the most common label: accuracy {}, macro F1 {}).\n\n",
        f(e.metrics.accuracy),
        f(e.metrics.macro_f1),
        f(e.baseline.accuracy),
        f(e.baseline.macro_f1)
    ));
    out.push_str("| label | flows | precision | recall | F1 | ROC-AUC | PR-AUC |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for c in &e.metrics.per_class {
        let m = &c.metrics;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            label(&c.name, c.class),
            c.support,
            f(m.precision),
            f(m.recall),
            f(m.f1),
            f(m.roc_auc),
            f(m.pr_auc)
        ));
    }
    out.push_str(&confusion_markdown(&e.metrics));
    out
}

/// The confusion matrix as a Markdown table: rows are actual labels, columns predicted ones.
fn confusion_markdown(m: &MulticlassMetrics) -> String {
    let k = m.confusion.n_classes;
    let names: Vec<String> = (0..k)
        .map(|c| {
            let name = m.per_class.get(c).and_then(|p| p.name.clone());
            label(&name, c as u32)
        })
        .collect();
    let mut out = String::from("\nConfusion matrix (rows: actual label, columns: predicted):\n\n");
    out.push_str(&format!(
        "| actual \\ predicted | {} |\n",
        names.join(" | ")
    ));
    out.push_str(&format!("|---|{}\n", "---|".repeat(k)));
    for (a, name) in names.iter().enumerate() {
        let counts: Vec<String> = (0..k).map(|p| m.confusion.get(a, p).to_string()).collect();
        out.push_str(&format!("| {name} | {} |\n", counts.join(" | ")));
    }
    out
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
