//! The HTML report (`report.html`): one self-contained page, the tables of the Markdown report
//! and every plot as inline SVG. No scripts, no external styles, fonts or images: it opens
//! offline, and can be mailed or archived as one file.

use super::tables::{self, Table};
use super::{heatmaps, plots, PlotError};
use crate::lab::CompareReport;

/// The ids of the plots every page has, in page order; one `importance-<model>` plot per
/// evaluated model follows them.
pub const PLOT_IDS: [&str; 5] = ["roc", "pr", "confusion", "per-class", "speed"];

/// Renders the comparison as one self-contained HTML page with inline SVG plots.
///
/// The per-class plot is left out when the rows carry no detailed classes.
pub fn html(r: &CompareReport) -> Result<String, PlotError> {
    let title = tables::title(r);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p>{}</p>\n",
        escape(&title),
        escape(&title),
        escape(&tables::protocol(r))
    );
    push_table(&mut out, &tables::summary(r));
    out.push_str("<h2>Curves</h2>\n<p>Each model's scores pooled over its fold models; the dot is the operating point at the chosen thresholds.</p>\n");
    figure(&mut out, "roc", &plots::roc(r)?);
    figure(&mut out, "pr", &plots::pr(r)?);
    out.push_str("<h2>Confusion counts (pooled)</h2>\n");
    figure(&mut out, "confusion", &heatmaps::confusion(r)?);
    push_table(&mut out, &tables::confusion(r));
    if !r.class_names.is_empty() {
        out.push_str("<h2>Detection per class</h2>\n<p>Share of each detailed class's tested flows flagged: recall for attack classes, the false-alert rate for Benign.</p>\n");
        figure(&mut out, "per-class", &heatmaps::per_class(r)?);
        push_table(&mut out, &tables::per_class(r));
    }
    out.push_str("<h2>Training time and prediction throughput</h2>\n<p>Measured in this run, on this machine: training summed over folds; batch scoring over every test flow; one-at-a-time scoring over up to 5,000 test flows per fold.</p>\n");
    figure(&mut out, "speed", &plots::speed(r)?);
    if let Some(t) = tables::held_out_types(r) {
        out.push_str(&format!(
            "<h2>Per held-out attack type</h2>\n<p>{}</p>\n",
            escape(tables::HELD_OUT_INTRO)
        ));
        push_table(&mut out, &t);
    }
    out.push_str("<h2>Per fold</h2>\n");
    push_table(&mut out, &tables::per_fold(r));
    if let Some(t) = tables::tuning(r) {
        out.push_str(&format!(
            "<h2>Hyperparameters chosen out of sample</h2>\n<p>{}</p>\n",
            escape(tables::TUNING_INTRO)
        ));
        push_table(&mut out, &t);
    }
    out.push_str(&format!(
        "<h2>Top features</h2>\n<p>{}</p>\n",
        escape(&tables::importance_intro(r))
    ));
    for (i, m) in r.models.iter().enumerate() {
        figure(
            &mut out,
            &format!("importance-{}", m.kind.name()),
            &plots::importance(m, i)?,
        );
    }
    if !r.failures.is_empty() {
        out.push_str("<h2>Not evaluated</h2>\n<ul>\n");
        for (kind, why) in &r.failures {
            out.push_str(&format!("<li>{}: {}</li>\n", escape(kind), escape(why)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2>Captures</h2>\n<ol>\n");
    for name in &r.inputs {
        out.push_str(&format!("<li>{}</li>\n", escape(name)));
    }
    out.push_str("</ol>\n</body>\n</html>\n");
    Ok(out)
}

/// The style of every report page: light by default, dark where the reader's system prefers
/// it. The plots are drawn dark-on-white; in dark mode they are inverted with their hues kept
/// (blue stays blue, red stays red), so one SVG serves both.
pub(crate) const STYLE: &str =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;background:#fff}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}\
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}\
th{background:#f3f3f3}\
figure{margin:1.5em 0}\
svg{max-width:100%;height:auto}\
pre{background:#f6f6f6;padding:8px;overflow-x:auto}\
@media (prefers-color-scheme: dark){body{color:#d8dee6;background:#0f1419}\
th,td{border-color:#2a3542}th{background:#182029}pre{background:#182029}a{color:#7ab8ff}\
svg{filter:invert(0.92) hue-rotate(180deg)}}";

pub(crate) fn figure(out: &mut String, id: &str, svg: &str) {
    out.push_str(&format!("<figure id=\"{id}\">\n{svg}\n</figure>\n"));
}

pub(crate) fn push_table(out: &mut String, t: &Table) {
    out.push_str("<table>\n<tr>");
    for h in &t.header {
        out.push_str(&format!("<th>{}</th>", escape(h)));
    }
    out.push_str("</tr>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for c in row {
            out.push_str(&format!("<td>{}</td>", escape(c)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}
