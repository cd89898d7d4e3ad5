//! The exploration as one self-contained HTML page (`explore.html`): the Markdown report's
//! tables with the plots inline as SVG; no scripts, no external references; dark or light by
//! the reader's preference.

use super::tables::{self as t, short};
use super::{plots, BREAKDOWNS};
use crate::explore::Exploration;
use crate::report::html::{escape, figure, push_table, style};
use crate::report::PlotError;

/// The ids of the figures every page with labeled rows has; one `distribution-<n>` figure per
/// plotted feature (n from 1) follows the distributions heading, and `shift` is there when two
/// inputs or more have labeled rows.
pub const EXPLORE_PLOT_IDS: [&str; 2] = ["correlation", "distribution-1"];

fn h2(out: &mut String, title: &str, intro: &str) {
    out.push_str(&format!("<h2>{}</h2>\n", escape(title)));
    if !intro.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", escape(intro)));
    }
}

/// Renders the exploration as one HTML page.
pub fn explore_html(e: &Exploration) -> Result<String, PlotError> {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"color-scheme\" content=\"light dark\">\n<title>Data exploration</title>\n<style>{}</style>\n</head>\n<body>\n<h1>Data exploration</h1>\n<p>{}</p>\n",
        style(),
        escape(&t::intro(e))
    );
    out.push_str("<nav><p><a href=\"#inputs\">Inputs</a> · <a href=\"#separation\">Separating features</a> · <a href=\"#distributions\">Distributions</a> · <a href=\"#correlation-section\">Correlation</a> · <a href=\"#shift-section\">Shift</a> · <a href=\"#hosts\">Hosts</a> · <a href=\"#checks\">Label checks</a></p></nav>\n");
    out.push_str("<section id=\"inputs\">\n");
    h2(&mut out, "Inputs", super::INPUTS_INTRO);
    push_table(&mut out, &t::inputs(e));
    h2(
        &mut out,
        "Labels",
        "Flows per label (the detailed label where the input gives one).",
    );
    push_table(&mut out, &t::labels(e));
    h2(&mut out, "Every input together, per class", "");
    for (title, pick) in BREAKDOWNS {
        push_table(&mut out, &t::breakdown(e, title, pick));
    }
    push_table(&mut out, &t::top_per_class(e, 8));
    out.push_str("<details><summary>Per input and class</summary>\n");
    push_table(&mut out, &t::per_input_classes(e));
    out.push_str("</details>\n</section>\n<section id=\"separation\">\n");
    h2(
        &mut out,
        "Features that separate benign from malicious",
        super::SEPARATION_INTRO,
    );
    push_table(&mut out, &t::separation(e, 20));
    out.push_str("</section>\n<section id=\"distributions\">\n");
    h2(
        &mut out,
        "Distributions by class",
        super::DISTRIBUTIONS_INTRO,
    );
    for (i, d) in e.distributions.iter().enumerate() {
        figure(
            &mut out,
            &format!("distribution-{}", i + 1),
            &plots::distribution(d)?,
        );
        out.push_str(&format!(
            "<details><summary>{} quantiles</summary>\n",
            escape(&d.separation.feature)
        ));
        push_table(&mut out, &t::quantiles(d));
        out.push_str("</details>\n");
    }
    out.push_str("</section>\n<section id=\"correlation-section\">\n");
    h2(&mut out, "Correlation", &super::correlation_intro(e));
    if let Some(c) = &e.correlation {
        figure(&mut out, "correlation", &plots::correlation(c)?);
    }
    if let Some(pairs) = t::top_pairs(e, 15) {
        push_table(&mut out, &pairs);
    }
    h2(
        &mut out,
        "Constant and duplicate features",
        super::REDUNDANT_INTRO,
    );
    push_table(&mut out, &t::redundant(e));
    out.push_str("</section>\n<section id=\"shift-section\">\n");
    if let (Some(s), Some(table)) = (&e.shift, t::shift(e)) {
        h2(&mut out, "How the inputs differ", super::SHIFT_INTRO);
        figure(&mut out, "shift", &plots::shift(s, 20)?);
        push_table(&mut out, &table);
    }
    out.push_str("</section>\n<section id=\"hosts\">\n");
    h2(&mut out, "Top talkers per class", super::HOSTS_INTRO);
    push_table(&mut out, &t::talkers(e));
    out.push_str("</section>\n<section id=\"checks\">\n");
    h2(&mut out, "Label checks", super::CHECKS_INTRO);
    push_table(&mut out, &t::findings(e));
    for (i, f) in e.checks.findings.iter().enumerate() {
        out.push_str(&format!(
            "<h3 id=\"finding-{}\">{}. {}: {}</h3>\n<p>{}.</p>\n<ul>\n",
            i + 1,
            i + 1,
            escape(&f.check),
            escape(short(&f.input)),
            escape(&f.summary)
        ));
        for ev in &f.evidence {
            out.push_str(&format!("<li>{}</li>\n", escape(ev)));
        }
        out.push_str("</ul>\n");
        match (t::rule_json(f), &f.no_proposal) {
            (Some(json), _) => out.push_str(&format!(
                "<p>Proposed audit rule ({} flows):</p>\n<pre>{}</pre>\n",
                crate::report::count(f.flows),
                escape(&json)
            )),
            (None, Some(why)) => {
                out.push_str(&format!("<p>No rule proposed: {}.</p>\n", escape(why)))
            }
            (None, None) => {}
        }
    }
    for p in &e.checks.partial {
        out.push_str(&format!("<p>Partial: {}.</p>\n", escape(p)));
    }
    if !e.label_audit.is_empty() {
        out.push_str("<h2>Label audit applied</h2>\n<ul>\n");
        for a in &e.label_audit {
            out.push_str(&format!("<li>{}</li>\n", escape(&a.describe())));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    if !e.failed_inputs.is_empty() {
        out.push_str("<h2>Inputs not read</h2>\n<ul>\n");
        for (name, why) in &e.failed_inputs {
            out.push_str(&format!("<li>{}: {}</li>\n", escape(name), escape(why)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body>\n</html>\n");
    Ok(out)
}
