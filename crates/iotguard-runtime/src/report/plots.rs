//! The report's charts as SVG text, drawn with plotters' SVG backend: ROC and precision-recall
//! curves (their legends in a panel to the right, never over a curve), training time and
//! prediction throughput.
//!
//! Text is left to the SVG viewer (plotters' SVG backend writes `<text>` elements and estimates
//! their size without a font library), so no font is needed to draw and nothing is fetched to
//! view.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{per_sec, plot_error, PlotError};
use crate::lab::{CompareReport, ModelResult};

/// Tableau 10: distinct colours for up to ten models.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Returns model `i`'s colour.
pub(super) fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The font every chart uses.
pub(super) const FONT: &str = "sans-serif";

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Formats a bar's value for its label.
type Format = dyn Fn(f64) -> String;

/// Width of a curve chart, and of the legend panel to its right.
const CURVE_W: u32 = 740;
const LEGEND_W: u32 = 230;

/// Draws a curve chart's legend in its own panel: the chance line, one line per model in its
/// colour, and the operating-point dot.
fn side_legend(
    area: &Area<'_>,
    r: &CompareReport,
    chance: String,
) -> Result<(), Box<dyn std::error::Error>> {
    let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut entries = vec![(chance, BLACK.mix(0.3), 1)];
    entries.extend(
        r.models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.kind.name().to_string(), colour(i).to_rgba(), 2)),
    );
    let row = |i: usize| 60 + 24 * i as i32;
    for (i, (label, c, width)) in entries.iter().enumerate() {
        area.draw(&PathElement::new(
            [(8, row(i)), (32, row(i))],
            c.stroke_width(*width),
        ))?;
        area.draw(&Text::new(label.clone(), (40, row(i)), style.clone()))?;
    }
    let y = row(entries.len()) + 8;
    area.draw(&Circle::new((20, y), 5, BLACK.mix(0.6).filled()))?;
    area.draw(&Text::new(
        "operating point".to_string(),
        (40, y),
        style.clone(),
    ))?;
    Ok(())
}

/// Returns the ROC curves of every model on one chart, the false-alert rate on a log scale
/// (what matters for an IDS is the left end), each model's operating point marked.
pub(super) fn roc(r: &CompareReport) -> Result<String, PlotError> {
    let draw = || -> Result<String, Box<dyn std::error::Error>> {
        let benign = (r.rows - r.malicious).max(1) as f64;
        // The lowest false-alert rate shown: the power of ten at or below one false alert.
        let lo = 10f64.powf(-benign.log10().ceil()).clamp(1e-6, 1e-2);
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (CURVE_W + LEGEND_W, 520)).into_drawing_area();
            root.fill(&WHITE)?;
            let (plot, side) = root.split_horizontally(CURVE_W);
            let mut chart = ChartBuilder::on(&plot)
                .caption("ROC curves (pooled test flows)", (FONT, 20))
                .margin(16)
                .x_label_area_size(48)
                .y_label_area_size(56)
                .build_cartesian_2d((lo..1.0).log_scale(), 0f64..1.0)?;
            chart
                .configure_mesh()
                .light_line_style(BLACK.mix(0.05))
                .x_desc("false-alert rate (share of benign flows flagged, log scale)")
                .y_desc("recall (share of malicious flows flagged)")
                .x_label_formatter(&|x| format!("{x:.0e}"))
                .draw()?;
            let chance: Vec<(f64, f64)> = (0..=60)
                .map(|i| {
                    let x = lo * (1.0 / lo).powf(f64::from(i) / 60.0);
                    (x, x)
                })
                .collect();
            chart.draw_series(LineSeries::new(chance, BLACK.mix(0.3).stroke_width(1)))?;
            for (i, m) in r.models.iter().enumerate() {
                let c = colour(i);
                let points = log_x_segments(&m.roc, lo);
                chart.draw_series(LineSeries::new(points, c.stroke_width(2)))?;
                if let (Some(x), Some(y)) = (m.pooled.false_alert_rate, m.pooled.recall) {
                    chart.draw_series([Circle::new((x.max(lo), y), 5, c.filled())])?;
                }
            }
            side_legend(&side, r, "chance".into())?;
            root.present()?;
        }
        Ok(svg)
    };
    draw().map_err(|e| plot_error("ROC", e))
}

/// Returns the ROC points for a log-x chart: a straight ROC segment (a group of tied scores) is
/// a curve on a log axis, so long segments get intermediate points; x below `lo` is drawn at
/// `lo`.
fn log_x_segments(points: &[[f64; 2]], lo: f64) -> Vec<(f64, f64)> {
    const STEPS: usize = 24;
    let mut out = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        if let Some(q) = i.checked_sub(1).map(|j| points[j]) {
            let (from, to) = (q[0].max(lo), p[0].max(lo));
            if to > from * 1.5 {
                for k in 1..STEPS {
                    let x = from * (to / from).powf(k as f64 / STEPS as f64);
                    let y = q[1] + (p[1] - q[1]) * (x - q[0]).max(0.0) / (p[0] - q[0]);
                    out.push((x, y));
                }
            }
        }
        out.push((p[0].max(lo), p[1]));
    }
    out
}

/// Returns the precision-recall curves of every model on one chart, each model's operating
/// point marked, the malicious share as the chance line.
pub(super) fn pr(r: &CompareReport) -> Result<String, PlotError> {
    let draw = || -> Result<String, Box<dyn std::error::Error>> {
        let prevalence = r.malicious as f64 / r.rows.max(1) as f64;
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (CURVE_W + LEGEND_W, 520)).into_drawing_area();
            root.fill(&WHITE)?;
            let (plot, side) = root.split_horizontally(CURVE_W);
            let mut chart = ChartBuilder::on(&plot)
                .caption("Precision-recall curves (pooled test flows)", (FONT, 20))
                .margin(16)
                .x_label_area_size(48)
                .y_label_area_size(56)
                .build_cartesian_2d(0f64..1.0, 0f64..1.02)?;
            chart
                .configure_mesh()
                .light_line_style(BLACK.mix(0.05))
                .x_desc("recall (share of malicious flows flagged)")
                .y_desc("precision (share of alerts that are malicious)")
                .draw()?;
            chart.draw_series(LineSeries::new(
                [(0.0, prevalence), (1.0, prevalence)],
                BLACK.mix(0.3).stroke_width(1),
            ))?;
            for (i, m) in r.models.iter().enumerate() {
                let c = colour(i);
                let points = m.pr.iter().map(|p| (p[0], p[1]));
                chart.draw_series(LineSeries::new(points, c.stroke_width(2)))?;
                if let (Some(x), Some(y)) = (m.pooled.recall, m.pooled.precision) {
                    chart.draw_series([Circle::new((x, y), 5, c.filled())])?;
                }
            }
            side_legend(
                &side,
                r,
                format!("chance ({:.1} % malicious)", 100.0 * prevalence),
            )?;
            root.present()?;
        }
        Ok(svg)
    };
    draw().map_err(|e| plot_error("precision-recall", e))
}

/// Returns three bar panels: training time, batch and one-at-a-time prediction throughput.
pub(super) fn speed(r: &CompareReport) -> Result<String, PlotError> {
    let draw = || -> Result<String, Box<dyn std::error::Error>> {
        let panel = 70 + 26 * r.models.len().max(1) as u32;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (760, 3 * panel)).into_drawing_area();
            root.fill(&WHITE)?;
            let panels = root.split_evenly((3, 1));
            let bars = |f: fn(&ModelResult) -> f64| -> Vec<(String, f64)> {
                r.models
                    .iter()
                    .map(|m| (m.kind.name().to_string(), f(m)))
                    .collect()
            };
            let seconds = |v: f64| format!("{v:.2} s");
            let rates = |v: f64| format!("{} rows/s", per_sec(v));
            let (train, batch, single) = (
                bars(|m| m.train_secs),
                bars(|m| m.predict_rows_per_sec),
                bars(|m| m.predict_single_rows_per_sec),
            );
            let titles = [
                "training time, all folds (s, log scale)",
                "prediction throughput, batches (rows/s, log scale)",
                "prediction throughput, one row at a time (rows/s, log scale)",
            ];
            let values = [
                (&train, &seconds as &Format),
                (&batch, &rates),
                (&single, &rates),
            ];
            for ((area, title), (values, fmt)) in panels.iter().zip(titles).zip(values) {
                hbars(area, title, values, fmt, colour(0), 90)?;
            }
            root.present()?;
        }
        Ok(svg)
    };
    draw().map_err(|e| plot_error("speed", e))
}

/// Draws labeled horizontal bars (the first on top, lengths on a log scale) with their values
/// at the bar ends.
fn hbars(
    area: &Area<'_>,
    title: &str,
    bars: &[(String, f64)],
    value: &Format,
    colour: RGBColor,
    label_width: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let n = bars.len().max(1) as f64;
    let values: Vec<f64> = bars.iter().map(|b| b.1).filter(|v| *v > 0.0).collect();
    let max = values.iter().copied().fold(0.0, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, (FONT, 16))
        .margin(10)
        .margin_right(30)
        .x_label_area_size(30)
        .y_label_area_size(label_width);
    let name_style =
        TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    let value_style =
        TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    // The bar of row i spans y in [n - i - 0.8, n - i - 0.2]: the first bar on top.
    let y = |i: usize| n - i as f64 - 0.5;
    // Chart coordinates are the backend's; text drawn on `area` is relative to its corner.
    let (bx, by) = area.get_base_pixel();
    let (lo, hi) = if values.is_empty() {
        (0.1, 10.0)
    } else {
        (
            10f64.powf(min.log10().floor()),
            10f64.powf((max * 8.0).log10().ceil()),
        )
    };
    let mut chart = builder.build_cartesian_2d((lo..hi).log_scale(), 0f64..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(BLACK.mix(0.03))
        .y_labels(0)
        .x_label_formatter(&|x| format!("{x:.0e}"))
        .draw()?;
    for (i, (name, v)) in bars.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(lo, y(i)));
        area.draw(&Text::new(
            name.clone(),
            (px - bx - 6, py - by),
            name_style.clone(),
        ))?;
        if *v > 0.0 {
            chart.draw_series([Rectangle::new(
                [(lo, y(i) - 0.3), (*v, y(i) + 0.3)],
                colour.filled(),
            )])?;
        }
        let (vx, vy) = chart.backend_coord(&(v.max(lo), y(i)));
        area.draw(&Text::new(
            value(*v),
            (vx - bx + 4, vy - by),
            value_style.clone(),
        ))?;
    }
    Ok(())
}
