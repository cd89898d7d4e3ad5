//! The exploration as Markdown (`explore.md`): the same sections as the HTML page, tables only.

use super::tables::{self as t, short};
use crate::explore::Exploration;
use crate::report::tables::Table;

fn push_table(out: &mut String, table: &Table) {
    if table.rows.is_empty() {
        out.push_str("(none)\n");
        return;
    }
    out.push_str(&format!("| {} |\n", table.header.join(" | ")));
    out.push_str(&format!(
        "|{}\n",
        table
            .header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
            .collect::<String>()
    ));
    for row in &table.rows {
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
}

fn section(out: &mut String, title: &str, intro: &str, table: &Table) {
    out.push_str(&format!("\n## {title}\n\n"));
    if !intro.is_empty() {
        out.push_str(intro);
        out.push_str("\n\n");
    }
    push_table(out, table);
}

/// Renders the exploration as Markdown.
pub fn explore_markdown(e: &Exploration) -> String {
    let mut out = format!("# Data exploration\n\n{}\n", t::intro(e));
    section(&mut out, "Inputs", super::INPUTS_INTRO, &t::inputs(e));
    section(
        &mut out,
        "Labels",
        "Flows per label (the detailed label where the input gives one).",
        &t::labels(e),
    );
    section(
        &mut out,
        "Per input and class",
        "",
        &t::per_input_classes(e),
    );
    out.push_str("\n## Every input together, per class\n");
    for (title, pick) in super::BREAKDOWNS {
        out.push('\n');
        push_table(&mut out, &t::breakdown(e, title, pick));
    }
    out.push('\n');
    push_table(&mut out, &t::top_per_class(e, 8));
    section(
        &mut out,
        "Features that separate benign from malicious",
        super::SEPARATION_INTRO,
        &t::separation(e, 20),
    );
    out.push_str("\n## Distributions by class\n\n");
    out.push_str(super::DISTRIBUTIONS_INTRO);
    out.push('\n');
    for d in &e.distributions {
        out.push_str(&format!(
            "\n### {} (KS {:.3})\n\n",
            d.separation.feature, d.separation.ks
        ));
        push_table(&mut out, &t::quantiles(d));
    }
    section(
        &mut out,
        "Constant and duplicate features",
        super::REDUNDANT_INTRO,
        &t::redundant(e),
    );
    if let Some(pairs) = t::top_pairs(e, 15) {
        section(
            &mut out,
            "Most correlated features",
            &super::correlation_intro(e),
            &pairs,
        );
    }
    if let Some(s) = t::shift(e) {
        section(&mut out, "How the inputs differ", super::SHIFT_INTRO, &s);
    }
    section(
        &mut out,
        "Top talkers per class",
        super::HOSTS_INTRO,
        &t::talkers(e),
    );
    out.push_str("\n## Label checks\n\n");
    out.push_str(super::CHECKS_INTRO);
    out.push_str("\n\n");
    push_table(&mut out, &t::findings(e));
    for (i, f) in e.checks.findings.iter().enumerate() {
        out.push_str(&format!(
            "\n### {}. {}: {}\n\n",
            i + 1,
            f.check,
            short(&f.input)
        ));
        out.push_str(&format!("{}.\n\n", f.summary));
        for ev in &f.evidence {
            out.push_str(&format!("- {ev}\n"));
        }
        match (t::rule_json(f), &f.no_proposal) {
            (Some(json), _) => {
                out.push_str(&format!(
                    "\nProposed audit rule ({} flows):\n\n```json\n{json}\n```\n",
                    crate::report::count(f.flows)
                ));
            }
            (None, Some(why)) => out.push_str(&format!("\nNo rule proposed: {why}.\n")),
            (None, None) => {}
        }
    }
    for p in &e.checks.partial {
        out.push_str(&format!("\nPartial: {p}.\n"));
    }
    if !e.label_audit.is_empty() {
        out.push_str("\n## Label audit applied\n\n");
        for a in &e.label_audit {
            out.push_str(&format!("- {}\n", a.describe()));
        }
    }
    if !e.failed_inputs.is_empty() {
        out.push_str("\n## Inputs not read\n\n");
        for (name, why) in &e.failed_inputs {
            out.push_str(&format!("- {name}: {why}\n"));
        }
    }
    out
}
