//! The `compare` report rendered for people: Markdown (`report.md`) and one self-contained HTML
//! page with inline SVG plots (`report.html`). Both are built from the same tables
//! (`tables.rs`); the JSON report is the [`CompareReport`](crate::lab::CompareReport) itself.
//! The `explore` report (`explore/`) is laid out the same way, with the same style and plots.
//!
//! Rendering is pure: it takes a report and returns text, so the CLI decides where it goes.

mod explore;
mod heatmaps;
mod html;
mod markdown;
mod plots;
mod tables;

pub use explore::{explore_html, explore_markdown, EXPLORE_PLOT_IDS};
pub use html::{dark_variant, html, PLOT_IDS};
pub use markdown::markdown;

/// Drawing a plot failed (plotters reported an error while writing SVG text).
#[derive(Debug, thiserror::Error)]
#[error("drawing the {plot} plot: {reason}")]
pub struct PlotError {
    /// The plot being drawn.
    pub plot: String,
    /// plotters' message.
    pub reason: String,
}

/// Returns the [`PlotError`] of a plotters error while drawing `plot`.
pub(crate) fn plot_error(plot: &str, e: impl std::fmt::Display) -> PlotError {
    PlotError {
        plot: plot.to_string(),
        reason: e.to_string(),
    }
}

/// Formats an optional metric with three decimals, `–` when undefined.
fn metric(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{x:.3}"))
}

/// Formats a rate as a percentage with one decimal, `–` when undefined.
fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{:.1} %", 100.0 * x))
}

/// Formats a count with thousands separators (`12,345`).
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats a rate per second with three significant digits and thousands separators.
fn per_sec(v: f64) -> String {
    if !v.is_finite() || v <= 0.0 {
        return "–".to_string();
    }
    let digits = v.log10().floor() as i32 + 1;
    let scale = 10f64.powi((digits - 3).max(0));
    count(((v / scale).round() * scale) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(per_sec(1_234_567.8), "1,230,000");
        assert_eq!(per_sec(12.34), "12");
        assert_eq!(per_sec(0.0), "–");
        assert_eq!(metric(Some(0.12345)), "0.123");
        assert_eq!(metric(None), "–");
        assert_eq!(percent(Some(0.0123)), "1.2 %");
    }
}
