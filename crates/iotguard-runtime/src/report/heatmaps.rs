//! The report's heatmaps as SVG text: the pooled confusion matrix of every model (and the
//! baseline), and the share of each detailed class's flows each model flags.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::plots::FONT;
use super::tables::{class_order, BASELINE};
use super::{count, plot_error, PlotError};
use crate::lab::CompareReport;
use iotguard_models::metrics::{BinaryMetrics, ClassDetection};

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Returns a fill for a share in [0, 1]: white to `full`.
fn shade(share: f64, full: RGBColor) -> RGBColor {
    let s = share.clamp(0.0, 1.0);
    let mix = |c: u8| (255.0 - (255.0 - f64::from(c)) * s).round() as u8;
    RGBColor(mix(full.0), mix(full.1), mix(full.2))
}

/// Text on a cell: white on dark fills, black on light ones.
fn ink(share: f64) -> &'static RGBColor {
    if share > 0.55 {
        &WHITE
    } else {
        &BLACK
    }
}

/// Per-class heatmap geometry: cell width and height, header height.
const CELL_W: i32 = 96;
const CELL_H: i32 = 30;
const TOP: i32 = 70;

const GOOD: RGBColor = RGBColor(33, 102, 172);
const BAD: RGBColor = RGBColor(178, 24, 43);

fn text(
    s: impl Into<String>,
    at: (i32, i32),
    size: u32,
    colour: &'static RGBColor,
    h: HPos,
) -> Text<'static, (i32, i32), String> {
    let style = TextStyle::from((FONT, size).into_font())
        .color(colour)
        .pos(Pos::new(h, VPos::Center));
    Text::new(s.into(), at, style)
}

/// Returns one panel per model: actual class in rows, flagged or not in columns, each cell's
/// count and share of its row. Correct cells are shaded blue, mistakes red.
pub(super) fn confusion(r: &CompareReport) -> Result<String, PlotError> {
    let draw = || -> Result<String, Box<dyn std::error::Error>> {
        let mut panels: Vec<(&str, &BinaryMetrics)> = vec![(BASELINE, &r.baseline.pooled)];
        panels.extend(r.models.iter().map(|m| (m.kind.name(), &m.pooled)));
        let cols = panels.len().min(4);
        let rows = panels.len().div_ceil(cols);
        let (pw, ph) = (250u32, 220u32);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (pw * cols as u32, 40 + ph * rows as u32))
                .into_drawing_area();
            root.fill(&WHITE)?;
            root.draw(&text(
                "Confusion matrices (pooled test flows; share of each actual class)",
                ((pw * cols as u32 / 2) as i32, 20),
                18,
                &BLACK,
                HPos::Center,
            ))?;
            let body = root.margin(40, 0, 0, 0);
            for (area, (name, m)) in body.split_evenly((rows, cols)).iter().zip(&panels) {
                confusion_panel(area, name, m)?;
            }
            root.present()?;
        }
        Ok(svg)
    };
    draw().map_err(|e| plot_error("confusion matrices", e))
}

fn confusion_panel(
    area: &Area<'_>,
    name: &str,
    m: &BinaryMetrics,
) -> Result<(), Box<dyn std::error::Error>> {
    let (left, top, cell) = (82i32, 48i32, 76i32);
    area.draw(&text(name, (left + cell, 12), 15, &BLACK, HPos::Center))?;
    for (c, label) in ["flagged", "passed"].iter().enumerate() {
        area.draw(&text(
            *label,
            (left + cell * c as i32 + cell / 2, top - 12),
            12,
            &BLACK,
            HPos::Center,
        ))?;
    }
    // Rows: actual malicious (TP, FN), actual benign (FP, TN).
    let rows = [
        ("malicious", [m.tp, m.fn_], 0usize),
        ("benign", [m.fp, m.tn], 1usize),
    ];
    for (r, (label, counts, correct)) in rows.iter().enumerate() {
        let y0 = top + cell * r as i32;
        area.draw(&text(
            *label,
            (left - 8, y0 + cell / 2),
            12,
            &BLACK,
            HPos::Right,
        ))?;
        let total = counts[0] + counts[1];
        for (c, &n) in counts.iter().enumerate() {
            let share = if total > 0 {
                n as f64 / total as f64
            } else {
                0.0
            };
            let fill = shade(share, if c == *correct { GOOD } else { BAD });
            let x0 = left + cell * c as i32;
            area.draw(&Rectangle::new(
                [(x0, y0), (x0 + cell, y0 + cell)],
                fill.filled(),
            ))?;
            area.draw(&Rectangle::new(
                [(x0, y0), (x0 + cell, y0 + cell)],
                BLACK.mix(0.3),
            ))?;
            let (cx, cy) = (x0 + cell / 2, y0 + cell / 2);
            area.draw(&text(count(n), (cx, cy - 9), 14, ink(share), HPos::Center))?;
            let pct = if total > 0 {
                format!("{:.1} %", 100.0 * share)
            } else {
                "–".into()
            };
            area.draw(&text(pct, (cx, cy + 11), 11, ink(share), HPos::Center))?;
        }
    }
    Ok(())
}

/// Returns the share of each detailed class's tested flows each model flags: classes in rows
/// (most flows first), models in columns. Attack classes are shaded blue (recall: higher is
/// better), `Benign` red (its false-alert rate: higher is worse).
pub(super) fn per_class(r: &CompareReport) -> Result<String, PlotError> {
    let draw = || -> Result<String, Box<dyn std::error::Error>> {
        let classes = class_order(r);
        let mut columns: Vec<(&str, &[ClassDetection])> = vec![(BASELINE, &r.baseline.per_class)];
        columns.extend(
            r.models
                .iter()
                .map(|m| (m.kind.name(), m.per_class.as_slice())),
        );
        let labels: Vec<String> = classes
            .iter()
            .map(|&c| {
                let n = r.baseline.per_class.get(c).map_or(0, |d| d.n);
                format!("{} ({})", r.class_names[c], count(n))
            })
            .collect();
        let left = (labels.iter().map(String::len).max().unwrap_or(0) as i32 * 7 + 20).max(120);
        let (cw, ch, top) = (CELL_W, CELL_H, TOP);
        let width = (left + cw * columns.len() as i32 + 20) as u32;
        let height = (top + ch * classes.len().max(1) as i32 + 20) as u32;
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (width.max(520), height)).into_drawing_area();
            root.fill(&WHITE)?;
            draw_per_class(&root, r, &classes, &labels, &columns, left)?;
            root.present()?;
        }
        Ok(svg)
    };
    draw().map_err(|e| plot_error("detection per class", e))
}

/// The per-class heatmap's cells, with `left` pixels for the class names.
fn draw_per_class(
    a: &Area<'_>,
    r: &CompareReport,
    classes: &[usize],
    labels: &[String],
    columns: &[(&str, &[ClassDetection])],
    left: i32,
) -> Result<(), Box<dyn std::error::Error>> {
    let (cw, ch, top) = (CELL_W, CELL_H, TOP);
    a.draw(&text(
        "Share of each class's flows flagged (recall; false-alert rate for Benign)",
        (10, 18),
        16,
        &BLACK,
        HPos::Left,
    ))?;
    for (j, (name, _)) in columns.iter().enumerate() {
        a.draw(&text(
            *name,
            (left + cw * j as i32 + cw / 2, top - 14),
            13,
            &BLACK,
            HPos::Center,
        ))?;
    }
    for (i, (&c, label)) in classes.iter().zip(labels).enumerate() {
        let y0 = top + ch * i as i32;
        a.draw(&text(
            label.clone(),
            (left - 8, y0 + ch / 2),
            12,
            &BLACK,
            HPos::Right,
        ))?;
        let benign = r.class_names[c] == crate::dataset::BENIGN_CLASS;
        for (j, (_, detections)) in columns.iter().enumerate() {
            let rate = detections.get(c).and_then(|d| d.rate);
            let share = rate.unwrap_or(0.0);
            let fill = shade(share, if benign { BAD } else { GOOD });
            let x0 = left + cw * j as i32;
            a.draw(&Rectangle::new(
                [(x0, y0), (x0 + cw, y0 + ch)],
                fill.filled(),
            ))?;
            a.draw(&Rectangle::new(
                [(x0, y0), (x0 + cw, y0 + ch)],
                BLACK.mix(0.2),
            ))?;
            let label = rate.map_or("–".to_string(), |v| format!("{:.1} %", 100.0 * v));
            a.draw(&text(
                label,
                (x0 + cw / 2, y0 + ch / 2),
                12,
                ink(share),
                HPos::Center,
            ))?;
        }
    }
    Ok(())
}

/// The most features the combined importance chart shows.
pub(super) const IMPORTANCE_ROWS: usize = 20;

/// Returns every model's top features on one chart: features in rows (the union of the models'
/// top lists, by their mean relative importance, at most [`IMPORTANCE_ROWS`]), models in
/// columns, each cell the feature's mean |contribution| relative to that model's most important
/// feature (so models of different score scales compare); `–` where the feature is not in the
/// model's top list.
pub(super) fn importance(r: &CompareReport) -> Result<String, PlotError> {
    let draw = || -> Result<String, Box<dyn std::error::Error>> {
        let (features, shares) = importance_grid(r);
        let left = (features.iter().map(String::len).max().unwrap_or(0) as i32 * 7 + 20).max(120);
        let (cw, ch, top) = (CELL_W, CELL_H, TOP);
        let width = (left + cw * r.models.len() as i32 + 20) as u32;
        let height = (top + ch * features.len().max(1) as i32 + 20) as u32;
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (width.max(520), height)).into_drawing_area();
            root.fill(&WHITE)?;
            root.draw(&text(
                "Top features: mean |contribution|, relative to each model's first",
                (10, 18),
                16,
                &BLACK,
                HPos::Left,
            ))?;
            for (j, m) in r.models.iter().enumerate() {
                root.draw(&text(
                    m.kind.name(),
                    (left + cw * j as i32 + cw / 2, top - 14),
                    13,
                    &BLACK,
                    HPos::Center,
                ))?;
            }
            for (i, (name, row)) in features.iter().zip(&shares).enumerate() {
                let y0 = top + ch * i as i32;
                root.draw(&text(
                    name.clone(),
                    (left - 8, y0 + ch / 2),
                    12,
                    &BLACK,
                    HPos::Right,
                ))?;
                for (j, share) in row.iter().enumerate() {
                    let x0 = left + cw * j as i32;
                    let s = share.unwrap_or(0.0);
                    root.draw(&Rectangle::new(
                        [(x0, y0), (x0 + cw, y0 + ch)],
                        shade(s, GOOD).filled(),
                    ))?;
                    root.draw(&Rectangle::new(
                        [(x0, y0), (x0 + cw, y0 + ch)],
                        BLACK.mix(0.2),
                    ))?;
                    let label = share.map_or("–".to_string(), |v| format!("{v:.2}"));
                    root.draw(&text(
                        label,
                        (x0 + cw / 2, y0 + ch / 2),
                        12,
                        ink(s),
                        HPos::Center,
                    ))?;
                }
            }
            root.present()?;
        }
        Ok(svg)
    };
    draw().map_err(|e| plot_error("top features", e))
}

/// The combined importance chart's rows: feature names and, per model, the feature's mean
/// |contribution| over the model's largest (`None` when not in its top list).
pub(super) fn importance_grid(r: &CompareReport) -> (Vec<String>, Vec<Vec<Option<f64>>>) {
    let mut names: Vec<String> = Vec::new();
    for m in &r.models {
        for f in &m.importance.top {
            if !names.contains(&f.feature) {
                names.push(f.feature.clone());
            }
        }
    }
    let rows: Vec<Vec<Option<f64>>> = names
        .iter()
        .map(|name| {
            r.models
                .iter()
                .map(|m| {
                    let max = m
                        .importance
                        .top
                        .iter()
                        .map(|f| f.mean_abs)
                        .fold(0.0, f64::max);
                    m.importance
                        .top
                        .iter()
                        .find(|f| &f.feature == name)
                        .map(|f| if max > 0.0 { f.mean_abs / max } else { 0.0 })
                })
                .collect()
        })
        .collect();
    let mean = |row: &[Option<f64>]| {
        row.iter().map(|v| v.unwrap_or(0.0)).sum::<f64>() / row.len().max(1) as f64
    };
    let mut order: Vec<usize> = (0..names.len()).collect();
    // Stable: ties keep the first model's order.
    order.sort_by(|&a, &b| mean(&rows[b]).total_cmp(&mean(&rows[a])));
    order.truncate(IMPORTANCE_ROWS);
    (
        order.iter().map(|&i| names[i].clone()).collect(),
        order.iter().map(|&i| rows[i].clone()).collect(),
    )
}
