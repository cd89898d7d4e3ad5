//! How the inputs differ: per feature, the population stability index (PSI) of each input
//! against all the others together, on the stratified samples (weighted).
//!
//! Bins are the deciles of every sampled row (ties merged), plus one bin for missing values.
//! PSI = Σ (p − q) ln(p / q) over bins, shares floored at 10⁻⁴. Conventional reading: below 0.1
//! little shift, 0.1–0.25 moderate, above 0.25 major. A model tested on an input whose features
//! shifted far from its training inputs (leave one capture out) meets values it never saw.

use serde::Serialize;

use super::distributions::weighted_quantiles;
use super::sample::Sampled;

/// PSI above which a shift is called major.
pub const MAJOR: f64 = 0.25;
/// PSI above which a shift is called moderate.
pub const MODERATE: f64 = 0.1;
const FLOOR: f64 = 1e-4;

/// Per-feature PSI of each input against the others.
#[derive(Clone, Debug, Serialize)]
pub struct Shift {
    /// The inputs compared (those with labeled rows).
    pub inputs: Vec<String>,
    /// The features, most shifted first (largest PSI over inputs).
    pub features: Vec<String>,
    /// PSI, `inputs × features`.
    pub psi: Vec<Vec<f64>>,
    /// Per input: how many features shifted moderately and majorly, and the most shifted.
    pub per_input: Vec<InputShift>,
}

/// One input's shift from the others.
#[derive(Clone, Debug, Serialize)]
pub struct InputShift {
    /// The input.
    pub input: String,
    /// Features with PSI above [`MAJOR`].
    pub major: usize,
    /// Features with PSI in ([`MODERATE`], [`MAJOR`]].
    pub moderate: usize,
    /// The five most shifted features and their PSI.
    pub top: Vec<(String, f64)>,
}

fn psi(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .map(|(&a, &b)| {
            let (a, b) = (a.max(FLOOR), b.max(FLOOR));
            (a - b) * (a / b).ln()
        })
        .sum()
}

/// Computes the shift of each input with sampled rows over the features `keep`.
pub(crate) fn shift(
    s: &Sampled,
    names: &[String],
    keep: &[usize],
    inputs: &[String],
) -> Option<Shift> {
    let mut present: Vec<u32> = s.input.clone();
    present.sort_unstable();
    present.dedup();
    if present.len() < 2 {
        return None;
    }
    // psi[input][feature]
    let mut table = vec![vec![0.0; keep.len()]; present.len()];
    for (k, &f) in keep.iter().enumerate() {
        let mut values: Vec<(f32, f64)> = (0..s.len())
            .map(|i| (s.value(i, f), s.weight[i]))
            .filter(|v| !v.0.is_nan())
            .collect();
        let qs: Vec<f64> = (1..10).map(|d| f64::from(d) / 10.0).collect();
        let mut edges = weighted_quantiles(&mut values, &qs).unwrap_or_default();
        edges.dedup();
        let bins = edges.len() + 2; // the last bin holds missing values
        let bin = |v: f32| -> usize {
            if v.is_nan() {
                bins - 1
            } else {
                edges.partition_point(|&e| e < f64::from(v))
            }
        };
        let mut mass = vec![vec![0.0; bins]; present.len()];
        for i in 0..s.len() {
            let which = present.binary_search(&s.input[i]).unwrap_or(0);
            mass[which][bin(s.value(i, f))] += s.weight[i];
        }
        let total: Vec<f64> = (0..bins).map(|b| mass.iter().map(|m| m[b]).sum()).collect();
        for (g, m) in mass.iter().enumerate() {
            let own: f64 = m.iter().sum();
            let rest: f64 = total.iter().sum::<f64>() - own;
            if own <= 0.0 || rest <= 0.0 {
                continue;
            }
            let p: Vec<f64> = m.iter().map(|x| x / own).collect();
            let q: Vec<f64> = (0..bins).map(|b| (total[b] - m[b]) / rest).collect();
            table[g][k] = (psi(&p, &q) * 10_000.0).round() / 10_000.0;
        }
    }
    let max_of = |k: usize| table.iter().map(|r| r[k]).fold(0.0, f64::max);
    let mut order: Vec<usize> = (0..keep.len()).collect();
    order.sort_by(|&a, &b| max_of(b).total_cmp(&max_of(a)).then(a.cmp(&b)));
    let per_input = present
        .iter()
        .zip(&table)
        .map(|(&g, row)| {
            let mut top: Vec<(String, f64)> = keep
                .iter()
                .zip(row)
                .map(|(&f, &v)| (names[f].clone(), v))
                .collect();
            top.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            top.truncate(5);
            InputShift {
                input: inputs[g as usize].clone(),
                major: row.iter().filter(|&&v| v > MAJOR).count(),
                moderate: row.iter().filter(|&&v| v > MODERATE && v <= MAJOR).count(),
                top,
            }
        })
        .collect();
    Some(Shift {
        inputs: present
            .iter()
            .map(|&g| inputs[g as usize].clone())
            .collect(),
        features: order.iter().map(|&k| names[keep[k]].clone()).collect(),
        psi: table
            .iter()
            .map(|row| order.iter().map(|&k| row[k]).collect())
            .collect(),
        per_input,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_is_zero_for_equal_shares_and_grows_with_shift() {
        assert_eq!(psi(&[0.5, 0.5], &[0.5, 0.5]), 0.0);
        let small = psi(&[0.55, 0.45], &[0.5, 0.5]);
        let large = psi(&[0.9, 0.1], &[0.1, 0.9]);
        assert!(
            small > 0.0 && small < MODERATE && large > MAJOR,
            "{small} {large}"
        );
    }

    #[test]
    fn an_input_whose_values_moved_shifts_majorly() {
        let mut s = Sampled {
            dim: 2,
            ..Sampled::default()
        };
        for i in 0..200 {
            let g = (i % 2) as u32;
            // Feature 0: the same in both inputs; feature 1: input 1 is 100 higher.
            s.rows
                .extend_from_slice(&[(i / 2) as f32, (i / 2) as f32 + 100.0 * g as f32]);
            s.weight.push(1.0);
            s.input.push(g);
            s.class.push(0);
        }
        let names = vec!["same".to_string(), "moved".to_string()];
        let inputs = vec!["a".to_string(), "b".to_string()];
        let sh = shift(&s, &names, &[0, 1], &inputs).unwrap();
        assert_eq!(sh.features[0], "moved");
        assert!(
            sh.psi[0][0] > MAJOR && sh.psi[0][1] < MODERATE,
            "{:?}",
            sh.psi
        );
        assert_eq!(sh.per_input[1].major, 1);
    }
}
