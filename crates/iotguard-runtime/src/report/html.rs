//! The HTML report (`report.html`): one self-contained page, the tables of the Markdown report
//! and every plot as inline SVG. No scripts, no external styles, fonts or images: it opens
//! offline, and can be mailed or archived as one file.

use super::tables::{self, Table};
use super::{heatmaps, plots, PlotError};
use crate::lab::CompareReport;
use crate::multiclass::{self, MulticlassReport};

/// The ids of the plots every page has, in page order.
pub const PLOT_IDS: [&str; 6] = ["roc", "pr", "confusion", "per-class", "speed", "importance"];

/// Renders the comparison as one self-contained HTML page with inline SVG plots, with the
/// multiclass section (`compare --multiclass`) when given.
///
/// The per-class plot is left out when the rows carry no detailed classes.
pub fn html(r: &CompareReport, multiclass: Option<&MulticlassReport>) -> Result<String, PlotError> {
    let title = tables::title(r);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p>{}</p>\n",
        escape(&title),
        style(),
        escape(&title),
        escape(&tables::protocol(r))
    );
    let summary = tables::summary(r);
    push_marked_table(&mut out, &summary, &tables::summary_best(r, &summary));
    out.push_str("<p class=\"note\">Bold: the best model in each column (the majority-class row is not ranked).</p>\n");
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
    figure(&mut out, "importance", &heatmaps::importance(r)?);
    if let Some(m) = multiclass {
        multiclass_section(&mut out, m);
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

/// The light style of every report page.
const LIGHT: &str =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;background:#fff}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}\
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}\
th{background:#f3f3f3}\
figure{margin:1.5em 0}\
svg{max-width:100%;height:auto}\
pre{background:#f6f6f6;padding:8px;overflow-x:auto}\
td.best{background:#e6f0fa}\
p.note{font-size:13px;color:#555}";

/// The dark variant's rules (selector, declarations). The plots are drawn dark-on-white; in
/// dark mode they are inverted with their hues kept (blue stays blue, red stays red), so one
/// SVG serves both.
const DARK: [(&str, &str); 8] = [
    ("body", "color:#d8dee6;background:#0f1419"),
    ("th,td", "border-color:#2a3542"),
    ("th", "background:#182029"),
    ("pre", "background:#182029"),
    ("a", "color:#7ab8ff"),
    ("td.best", "background:#1d3550"),
    ("p.note", "color:#9aa7b4"),
    ("svg", "filter:invert(0.92) hue-rotate(180deg)"),
];

/// The style of every report page: light by default, dark where the reader's system prefers
/// it, and dark always under `<html class="dark">` (what the dashboard asks for with
/// [`dark_variant`], so the report matches its dark page).
pub(crate) fn style() -> String {
    let mut out = String::from(LIGHT);
    out.push_str("@media (prefers-color-scheme: dark){");
    for (selector, rules) in DARK {
        out.push_str(&format!("{selector}{{{rules}}}"));
    }
    out.push('}');
    for (selector, rules) in DARK {
        let scoped: Vec<String> = selector
            .split(',')
            .map(|s| format!("html.dark {s}"))
            .collect();
        out.push_str(&format!("{}{{{rules}}}", scoped.join(",")));
    }
    out
}

/// Returns a report page (this module's or the exploration's) in its dark variant: the
/// same page with `class="dark"` on its root element.
pub fn dark_variant(page: &str) -> String {
    page.replacen("<html lang=\"en\">", "<html lang=\"en\" class=\"dark\">", 1)
}

/// The multiclass section: its paragraphs, the per-label table and the confusion matrix.
fn multiclass_section(out: &mut String, m: &MulticlassReport) {
    out.push_str(&format!("<h2>{}</h2>\n", escape(multiclass::TITLE)));
    for p in multiclass::paragraphs(m) {
        out.push_str(&format!("<p>{}</p>\n", escape(&p)));
    }
    let (header, rows) = multiclass::per_class_table(m);
    push_table(out, &Table { header, rows });
    out.push_str(&format!("<p>{}</p>\n", escape(multiclass::CONFUSION_INTRO)));
    let (header, rows) = multiclass::confusion_table(&m.eval.metrics);
    push_table(out, &Table { header, rows });
}

pub(crate) fn figure(out: &mut String, id: &str, svg: &str) {
    out.push_str(&format!("<figure id=\"{id}\">\n{svg}\n</figure>\n"));
}

pub(crate) fn push_table(out: &mut String, t: &Table) {
    push_marked_table(out, t, &[]);
}

/// A table whose cells marked `true` (by row, then column; missing marks are `false`) are
/// bold, with the class `best`.
fn push_marked_table(out: &mut String, t: &Table, marks: &[Vec<bool>]) {
    out.push_str("<table>\n<tr>");
    for h in &t.header {
        out.push_str(&format!("<th>{}</th>", escape(h)));
    }
    out.push_str("</tr>\n");
    for (i, row) in t.rows.iter().enumerate() {
        out.push_str("<tr>");
        for (j, c) in row.iter().enumerate() {
            if marks
                .get(i)
                .and_then(|m| m.get(j))
                .copied()
                .unwrap_or(false)
            {
                out.push_str(&format!("<td class=\"best\"><b>{}</b></td>", escape(c)));
            } else {
                out.push_str(&format!("<td>{}</td>", escape(c)));
            }
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
