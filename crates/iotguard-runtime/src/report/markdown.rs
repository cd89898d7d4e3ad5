//! The Markdown report (`report.md`): the protocol, the summary table under the baseline, then
//! confusion counts, detection per class, per-fold F1 and the top features of each model.

use super::tables::{self, Table};
use crate::lab::CompareReport;

/// Renders the comparison as Markdown.
pub fn markdown(r: &CompareReport) -> String {
    let mut out = format!("# {}\n\n{}\n\n", tables::title(r), tables::protocol(r));
    push_table(&mut out, &tables::summary(r));
    section(
        &mut out,
        "Confusion counts (pooled)",
        "",
        &tables::confusion(r),
    );
    if !r.class_names.is_empty() {
        section(
            &mut out,
            "Detection per class",
            "Share of each detailed class's tested flows flagged: recall for attack classes, the false-alert rate for Benign.",
            &tables::per_class(r),
        );
    }
    if let Some(t) = tables::held_out_types(r) {
        section(
            &mut out,
            "Per held-out attack type",
            tables::HELD_OUT_INTRO,
            &t,
        );
    }
    section(&mut out, "Per fold", "", &tables::per_fold(r));
    if let Some(t) = tables::tuning(r) {
        section(
            &mut out,
            "Hyperparameters chosen out of sample",
            tables::TUNING_INTRO,
            &t,
        );
    }
    out.push_str(&format!(
        "\n## Top features\n\n{}\n",
        tables::importance_intro(r)
    ));
    for m in &r.models {
        out.push_str(&format!(
            "\n### {} ({} flows explained)\n\n",
            m.kind.name(),
            super::count(m.importance.rows)
        ));
        push_table(&mut out, &tables::importance(m));
    }
    if !r.failures.is_empty() {
        out.push_str("\n## Not evaluated\n\n");
        for (kind, why) in &r.failures {
            out.push_str(&format!("- {kind}: {why}\n"));
        }
    }
    out.push_str("\n## Captures\n\n");
    for (i, name) in r.inputs.iter().enumerate() {
        out.push_str(&format!("{}. {name}\n", i + 1));
    }
    out
}

fn section(out: &mut String, title: &str, intro: &str, table: &Table) {
    out.push_str(&format!("\n## {title}\n\n"));
    if !intro.is_empty() {
        out.push_str(intro);
        out.push_str("\n\n");
    }
    push_table(out, table);
}

fn push_table(out: &mut String, t: &Table) {
    let line = |cells: &[String]| {
        let escaped: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
        format!("| {} |\n", escaped.join(" | "))
    };
    out.push_str(&line(&t.header));
    out.push_str(&format!("|{}\n", "---|".repeat(t.header.len())));
    for row in &t.rows {
        out.push_str(&line(row));
    }
}
