//! The exploration's plots as SVG text, drawn with plotters like the compare report's: each
//! feature's benign/malicious histogram and per-class quantile boxes, the clustered correlation
//! matrix, and the inputs' shift heatmap.

use plotters::coord::Shift as AreaShift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;

use super::tables::{fmt_value, short};
use crate::explore::{Correlation, Distribution, Shift};
use crate::report::plots::{colour, FONT};
use crate::report::{plot_error, PlotError};

type Area<'a> = DrawingArea<SVGBackend<'a>, AreaShift>;
type Draw = Result<(), Box<dyn std::error::Error>>;

const BENIGN: RGBColor = RGBColor(33, 102, 172);
const MALICIOUS: RGBColor = RGBColor(178, 24, 43);

fn text(
    s: impl Into<String>,
    at: (i32, i32),
    size: u32,
    h: HPos,
) -> Text<'static, (i32, i32), String> {
    let style = TextStyle::from((FONT, size).into_font())
        .color(&BLACK)
        .pos(Pos::new(h, VPos::Center));
    Text::new(s.into(), at, style)
}

/// One feature: histogram (left) and quantile boxes per class (right).
pub(super) fn distribution(d: &Distribution) -> Result<String, PlotError> {
    let rows = d.classes.len().max(2);
    let height = (60 + 24 * rows as u32).max(280);
    let draw = || -> Result<String, Box<dyn std::error::Error>> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (960, height)).into_drawing_area();
            root.fill(&WHITE)?;
            let (left, right) = root.split_horizontally(420);
            histogram(&left, d)?;
            boxes(&right, d)?;
            root.present()?;
        }
        Ok(svg)
    };
    draw().map_err(|e| plot_error(&format!("distribution of {}", d.separation.feature), e))
}

fn histogram(area: &Area<'_>, d: &Distribution) -> Draw {
    let h = &d.histogram;
    let (lo, hi) = (h.edges[0], *h.edges.last().unwrap_or(&1.0));
    let top = h
        .benign
        .iter()
        .chain(&h.malicious)
        .copied()
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{} (KS {:.3})", d.separation.feature, d.separation.ks),
            (FONT, 15),
        )
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(lo..hi, 0f64..top)?;
    chart
        .configure_mesh()
        .light_line_style(BLACK.mix(0.05))
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&|x| fmt_value(*x))
        .y_desc("share of the class")
        .draw()?;
    let w = (hi - lo) / h.benign.len().max(1) as f64;
    for (k, (&b, &m)) in h.benign.iter().zip(&h.malicious).enumerate() {
        let x0 = lo + w * k as f64;
        chart.draw_series([
            Rectangle::new([(x0, 0.0), (x0 + w * 0.5, b)], BENIGN.mix(0.8).filled()),
            Rectangle::new(
                [(x0 + w * 0.5, 0.0), (x0 + w, m)],
                MALICIOUS.mix(0.8).filled(),
            ),
        ])?;
    }
    chart
        .draw_series([Rectangle::new([(lo, 0.0), (lo, 0.0)], BENIGN.filled())])?
        .label("benign")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], BENIGN.filled()));
    chart
        .draw_series([Rectangle::new([(lo, 0.0), (lo, 0.0)], MALICIOUS.filled())])?
        .label("malicious")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], MALICIOUS.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 12))
        .draw()?;
    Ok(())
}

fn boxes(area: &Area<'_>, d: &Distribution) -> Draw {
    let present: Vec<[f64; 5]> = d.classes.iter().filter_map(|c| c.quantiles).collect();
    let lo = present.iter().map(|q| q[0]).fold(f64::INFINITY, f64::min);
    let hi = present
        .iter()
        .map(|q| q[4])
        .fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo {
        let pad = (hi - lo) * 0.05;
        (lo - pad, hi + pad)
    } else if lo.is_finite() {
        (lo - 0.5, lo + 0.5)
    } else {
        (0.0, 1.0)
    };
    let n = d.classes.len().max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "5th–95th percentile, quartiles and median per class",
            (FONT, 14),
        )
        .margin(10)
        .margin_right(20)
        .x_label_area_size(30)
        .y_label_area_size(190)
        .build_cartesian_2d(lo..hi, 0f64..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(BLACK.mix(0.05))
        .y_labels(0)
        .x_labels(6)
        .x_label_formatter(&|x| fmt_value(*x))
        .draw()?;
    let (bx, by) = area.get_base_pixel();
    for (i, c) in d.classes.iter().enumerate() {
        let y = n - i as f64 - 0.5;
        let colour = match i {
            0 => BENIGN,
            1 => MALICIOUS,
            k => crate::report::plots::colour(k + 1),
        };
        let (px, py) = chart.backend_coord(&(lo, y));
        let missing = if c.missing_share > 0.0 {
            format!(" ({:.0} % missing)", 100.0 * c.missing_share)
        } else {
            String::new()
        };
        area.draw(&text(
            format!("{}{missing}", c.class),
            (px - bx - 6, py - by),
            12,
            HPos::Right,
        ))?;
        let Some(q) = c.quantiles else { continue };
        chart.draw_series([
            PathElement::new([(q[0], y), (q[4], y)], colour.stroke_width(1)),
            PathElement::new([(q[0], y - 0.15), (q[0], y + 0.15)], colour.stroke_width(1)),
            PathElement::new([(q[4], y - 0.15), (q[4], y + 0.15)], colour.stroke_width(1)),
        ])?;
        chart.draw_series([Rectangle::new(
            [(q[1], y - 0.3), (q[3].max(q[1]), y + 0.3)],
            colour.mix(0.35).filled(),
        )])?;
        chart.draw_series([PathElement::new(
            [(q[2], y - 0.35), (q[2], y + 0.35)],
            BLACK.stroke_width(2),
        )])?;
    }
    Ok(())
}

/// A coefficient in [-1, 1] as a fill: blue (negative) through white to red (positive); grey
/// where undefined.
fn diverging(r: Option<f64>) -> RGBColor {
    let Some(r) = r else {
        return RGBColor(200, 200, 200);
    };
    let s = r.abs().clamp(0.0, 1.0);
    let full = if r >= 0.0 { MALICIOUS } else { BENIGN };
    let mix = |c: u8| (255.0 - (255.0 - f64::from(c)) * s).round() as u8;
    RGBColor(mix(full.0), mix(full.1), mix(full.2))
}

/// The clustered correlation matrix: Pearson below the diagonal, Spearman above.
pub(super) fn correlation(c: &Correlation) -> Result<String, PlotError> {
    let n = c.features.len();
    let cell: i32 = if n > 90 {
        7
    } else if n > 50 {
        10
    } else {
        16
    };
    let left = 240;
    let top = 50;
    let side = cell * n as i32;
    let draw = || -> Result<String, Box<dyn std::error::Error>> {
        let mut svg = String::new();
        {
            let width = (left + side + 150).max(640) as u32;
            let height = (top + side + 30) as u32;
            let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
            root.fill(&WHITE)?;
            root.draw(&text(
                format!(
                    "Feature correlation, clustered: Pearson below the diagonal, Spearman above ({} features, {} rows; columns in the same order as rows)",
                    n,
                    crate::report::count(c.rows)
                ),
                (10, 18),
                14,
                HPos::Left,
            ))?;
            for i in 0..n {
                let y0 = top + cell * i as i32;
                if cell >= 7 {
                    root.draw(&text(
                        c.features[i].clone(),
                        (left - 4, y0 + cell / 2),
                        (cell as u32 + 2).min(12),
                        HPos::Right,
                    ))?;
                }
                // Coefficients shaded in steps of 0.05; a run of equal shades is one rectangle
                // (the page stays small with a hundred features).
                let shade = |j: usize| {
                    let r = if j < i {
                        c.pearson[i][j]
                    } else {
                        c.spearman[i][j]
                    };
                    diverging(r.map(|r| (r * 20.0).round() / 20.0))
                };
                let mut j = 0;
                while j < n {
                    let fill = shade(j);
                    let mut end = j + 1;
                    while end < n && shade(end) == fill {
                        end += 1;
                    }
                    let (x0, x1) = (left + cell * j as i32, left + cell * end as i32);
                    root.draw(&Rectangle::new([(x0, y0), (x1, y0 + cell)], fill.filled()))?;
                    j = end;
                }
            }
            // The colour scale.
            let sx = left + side + 30;
            for k in 0..=20 {
                let r = 1.0 - f64::from(k) / 10.0;
                let y0 = top + k * 12;
                root.draw(&Rectangle::new(
                    [(sx, y0), (sx + 16, y0 + 12)],
                    diverging(Some(r)).filled(),
                ))?;
                if k % 5 == 0 {
                    root.draw(&text(format!("{r:+.1}"), (sx + 22, y0 + 6), 11, HPos::Left))?;
                }
            }
            root.present()?;
        }
        Ok(svg)
    };
    draw().map_err(|e| plot_error("correlation matrix", e))
}

/// PSI of each input (rows) for the most shifted features (columns).
pub(super) fn shift(s: &Shift, features: usize) -> Result<String, PlotError> {
    let k = s.features.len().min(features);
    let (cw, ch, left, top) = (34i32, 24i32, 330i32, 230i32);
    let draw = || -> Result<String, Box<dyn std::error::Error>> {
        let mut svg = String::new();
        {
            let width = (left + cw * k as i32 + 20).max(640) as u32;
            let height = (top + ch * s.inputs.len() as i32 + 20) as u32;
            let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
            root.fill(&WHITE)?;
            draw_shift(&root, s, k, (cw, ch, left, top))?;
            root.present()?;
        }
        Ok(svg)
    };
    draw().map_err(|e| plot_error("shift between inputs", e))
}

fn draw_shift(
    a: &Area<'_>,
    s: &Shift,
    k: usize,
    (cw, ch, left, top): (i32, i32, i32, i32),
) -> Draw {
    a.draw(&text(
        "PSI of each input against the others (most shifted features; darker = larger, > 0.25 major)",
        (10, 16),
        14,
        HPos::Left,
    ))?;
    let rotated = TextStyle::from((FONT, 11).into_font())
        .color(&BLACK)
        .transform(FontTransform::Rotate270)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (j, f) in s.features.iter().take(k).enumerate() {
        a.draw(&Text::new(
            f.clone(),
            (left + cw * j as i32 + cw / 2, top - 6),
            rotated.clone(),
        ))?;
    }
    for (i, input) in s.inputs.iter().enumerate() {
        let y0 = top + ch * i as i32;
        a.draw(&text(
            short(input).to_string(),
            (left - 6, y0 + ch / 2),
            11,
            HPos::Right,
        ))?;
        for j in 0..k {
            let v = s.psi[i][j];
            let share = (v / 1.0).clamp(0.0, 1.0);
            let c = colour(3);
            let mix = |x: u8| (255.0 - (255.0 - f64::from(x)) * share).round() as u8;
            let x0 = left + cw * j as i32;
            a.draw(&Rectangle::new(
                [(x0, y0), (x0 + cw, y0 + ch)],
                RGBColor(mix(c.0), mix(c.1), mix(c.2)).filled(),
            ))?;
            a.draw(&Rectangle::new(
                [(x0, y0), (x0 + cw, y0 + ch)],
                BLACK.mix(0.15),
            ))?;
            let label = if v >= 10.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            };
            let ink = if share > 0.55 { &WHITE } else { &BLACK };
            a.draw(&Text::new(
                label,
                (x0 + cw / 2, y0 + ch / 2),
                TextStyle::from((FONT, 10).into_font())
                    .color(ink)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            ))?;
        }
    }
    Ok(())
}
