//! Feature distributions by class: which features separate benign from malicious flows most
//! (weighted Kolmogorov–Smirnov distance on the sampled rows), their quantiles per class and
//! per detailed label, and benign/malicious histograms; plus the features that never vary.
//!
//! Constant features are found exactly over every labeled row (streaming minimum, maximum and
//! missing count); everything else is computed on the stratified samples, each row weighted by
//! the rows it stands for, so a class with a million flows and one with a hundred are both
//! described.

use serde::Serialize;

use super::sample::Sampled;

/// Exact per-feature extremes and missing counts over every labeled row.
#[derive(Clone, Debug)]
pub(crate) struct ColumnStats {
    min: Vec<f32>,
    max: Vec<f32>,
    missing: Vec<u64>,
    rows: u64,
}

impl ColumnStats {
    pub(crate) fn new(dim: usize) -> Self {
        ColumnStats {
            min: vec![f32::INFINITY; dim],
            max: vec![f32::NEG_INFINITY; dim],
            missing: vec![0; dim],
            rows: 0,
        }
    }

    pub(crate) fn add(&mut self, row: &[f32]) {
        self.rows += 1;
        for (f, &v) in row.iter().enumerate() {
            if v.is_nan() {
                self.missing[f] += 1;
            } else {
                self.min[f] = self.min[f].min(v);
                self.max[f] = self.max[f].max(v);
            }
        }
    }

    /// Features with one value on every row (or missing on every row), with that value.
    pub(crate) fn constant(&self, names: &[String]) -> Vec<ConstantFeature> {
        (0..names.len())
            .filter(|&f| {
                self.rows > 0
                    && (self.missing[f] == self.rows
                        || (self.missing[f] == 0 && self.min[f] == self.max[f]))
            })
            .map(|f| ConstantFeature {
                feature: names[f].clone(),
                value: (self.missing[f] == 0).then_some(f64::from(self.min[f])),
            })
            .collect()
    }

    /// Whether feature `f` varies over the rows.
    pub(crate) fn varies(&self, f: usize) -> bool {
        !(self.missing[f] == self.rows || (self.missing[f] == 0 && self.min[f] == self.max[f]))
    }
}

/// A feature that never varies over the labeled rows.
#[derive(Clone, Debug, Serialize)]
pub struct ConstantFeature {
    /// Its name.
    pub feature: String,
    /// Its value on every row; `None` when it is missing on every row.
    pub value: Option<f64>,
}

/// How well one feature separates benign from malicious rows.
#[derive(Clone, Debug, Serialize)]
pub struct Separation {
    /// The feature.
    pub feature: String,
    /// The largest gap between the two classes' distribution functions (0 = same, 1 = disjoint),
    /// the share of missing values compared as a value of its own.
    pub ks: f64,
    /// Median over benign rows (`None` when every sampled one is missing).
    pub benign_median: Option<f64>,
    /// Median over malicious rows.
    pub malicious_median: Option<f64>,
}

/// One class's distribution of one feature.
#[derive(Clone, Debug, Serialize)]
pub struct ClassQuantiles {
    /// The class: `Benign`, `Malicious` (every attack), or a detailed label.
    pub class: String,
    /// Flows of the class the sample stands for.
    pub flows: u64,
    /// The 5th, 25th, 50th, 75th and 95th percentiles of the present values.
    pub quantiles: Option<[f64; 5]>,
    /// The share of rows where the feature is missing.
    pub missing_share: f64,
}

/// A histogram of one feature for benign and malicious rows, on shared bins.
#[derive(Clone, Debug, Serialize)]
pub struct Histogram {
    /// The bins' edges (`bins + 1` values); values outside fall in the end bins.
    pub edges: Vec<f64>,
    /// Share of benign rows (with a value) per bin.
    pub benign: Vec<f64>,
    /// Share of malicious rows (with a value) per bin.
    pub malicious: Vec<f64>,
}

/// One plotted feature: its separation, class quantiles and histogram.
#[derive(Clone, Debug, Serialize)]
pub struct Distribution {
    /// The feature and how well it separates.
    pub separation: Separation,
    /// Quantiles for `Benign`, `Malicious` and each detailed label (most flows first).
    pub classes: Vec<ClassQuantiles>,
    /// Benign and malicious histograms.
    pub histogram: Histogram,
}

const HIST_BINS: usize = 24;

/// Returns the weighted quantiles `qs` of `(value, weight)` pairs (any order).
pub(crate) fn weighted_quantiles(values: &mut [(f32, f64)], qs: &[f64]) -> Option<Vec<f64>> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = values.iter().map(|v| v.1).sum();
    let mut out = Vec::with_capacity(qs.len());
    let (mut acc, mut i) = (0.0, 0);
    for &q in qs {
        let target = q * total;
        while i < values.len() - 1 && acc + values[i].1 < target {
            acc += values[i].1;
            i += 1;
        }
        out.push(f64::from(values[i].0));
    }
    Some(out)
}

/// Weighted KS distance between two samples of present values, with the missing shares
/// compared too: the larger of the two gaps.
fn ks(a: &[(f32, f64)], a_missing: f64, b: &[(f32, f64)], b_missing: f64) -> f64 {
    let (wa, wb): (f64, f64) = (a.iter().map(|v| v.1).sum(), b.iter().map(|v| v.1).sum());
    let missing_gap = {
        let sa = a_missing / (wa + a_missing).max(f64::MIN_POSITIVE);
        let sb = b_missing / (wb + b_missing).max(f64::MIN_POSITIVE);
        (sa - sb).abs()
    };
    if wa == 0.0 || wb == 0.0 {
        return missing_gap;
    }
    // Distribution functions of the present values, scaled by the present share so the gap is
    // in shares of all rows.
    let sa = wa / (wa + a_missing);
    let sb = wb / (wb + b_missing);
    let (mut i, mut j, mut ca, mut cb, mut gap) = (0, 0, 0.0, 0.0, 0f64);
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.0.min(y.0),
            (Some(x), None) => x.0,
            (None, Some(y)) => y.0,
            (None, None) => break,
        };
        while i < a.len() && a[i].0 == v {
            ca += a[i].1;
            i += 1;
        }
        while j < b.len() && b[j].0 == v {
            cb += b[j].1;
            j += 1;
        }
        gap = gap.max((ca / wa * sa - cb / wb * sb).abs());
    }
    gap.max(missing_gap)
}

/// The sampled values of feature `f` for the rows `keep` accepts, and their missing weight.
fn column(s: &Sampled, f: usize, keep: impl Fn(usize) -> bool) -> (Vec<(f32, f64)>, f64) {
    let mut present = Vec::new();
    let mut missing = 0.0;
    for i in (0..s.len()).filter(|&i| keep(i)) {
        let v = s.value(i, f);
        if v.is_nan() {
            missing += s.weight[i];
        } else {
            present.push((v, s.weight[i]));
        }
    }
    present.sort_by(|a, b| a.0.total_cmp(&b.0));
    (present, missing)
}

/// Ranks the varying features by separation, most separating first.
pub(crate) fn separation(
    s: &Sampled,
    names: &[String],
    varies: &dyn Fn(usize) -> bool,
    malicious: &[bool],
) -> Vec<Separation> {
    let mut out: Vec<Separation> = (0..names.len())
        .filter(|&f| varies(f))
        .map(|f| {
            let (mut b, bm) = column(s, f, |i| !malicious[s.class[i] as usize]);
            let (mut m, mm) = column(s, f, |i| malicious[s.class[i] as usize]);
            let gap = ks(&b, bm, &m, mm);
            let med = |v: &mut Vec<(f32, f64)>| weighted_quantiles(v, &[0.5]).map(|q| q[0]);
            Separation {
                feature: names[f].clone(),
                ks: gap,
                benign_median: med(&mut b),
                malicious_median: med(&mut m),
            }
        })
        .collect();
    out.sort_by(|a, b| b.ks.total_cmp(&a.ks).then(a.feature.cmp(&b.feature)));
    out
}

/// The distributions of `feature` (index `f`): quantiles for benign, malicious and each class in
/// `order`, and the benign/malicious histogram.
pub(crate) fn distribution(
    s: &Sampled,
    f: usize,
    sep: Separation,
    class_names: &[String],
    malicious: &[bool],
    order: &[usize],
) -> Distribution {
    let quantiles = |name: &str, keep: &dyn Fn(usize) -> bool| {
        let (mut v, missing) = column(s, f, keep);
        let present: f64 = v.iter().map(|x| x.1).sum();
        let total = present + missing;
        ClassQuantiles {
            class: name.to_string(),
            flows: total.round() as u64,
            quantiles: weighted_quantiles(&mut v, &[0.05, 0.25, 0.5, 0.75, 0.95])
                .map(|q| [q[0], q[1], q[2], q[3], q[4]]),
            missing_share: if total > 0.0 { missing / total } else { 0.0 },
        }
    };
    let mut classes = vec![
        quantiles("Benign", &|i| !malicious[s.class[i] as usize]),
        quantiles("Malicious", &|i| malicious[s.class[i] as usize]),
    ];
    for &c in order.iter().filter(|&&c| malicious[c]) {
        classes.push(quantiles(&class_names[c], &|i| s.class[i] as usize == c));
    }
    let (b, _) = column(s, f, |i| !malicious[s.class[i] as usize]);
    let (m, _) = column(s, f, |i| malicious[s.class[i] as usize]);
    Distribution {
        separation: sep,
        classes,
        histogram: histogram(&b, &m),
    }
}

/// Shared bins from the 0.5th to the 99.5th percentile of both classes together.
fn histogram(b: &[(f32, f64)], m: &[(f32, f64)]) -> Histogram {
    let mut both: Vec<(f32, f64)> = b.iter().chain(m).copied().collect();
    let (lo, hi) = match weighted_quantiles(&mut both, &[0.005, 0.995]) {
        Some(q) if q[1] > q[0] => (q[0], q[1]),
        Some(q) => (q[0] - 0.5, q[0] + 0.5),
        None => (0.0, 1.0),
    };
    let edges: Vec<f64> = (0..=HIST_BINS)
        .map(|k| lo + (hi - lo) * k as f64 / HIST_BINS as f64)
        .collect();
    let shares = |v: &[(f32, f64)]| {
        let mut h = vec![0.0; HIST_BINS];
        let total: f64 = v.iter().map(|x| x.1).sum();
        for &(x, w) in v {
            let k = (((f64::from(x) - lo) / (hi - lo)) * HIST_BINS as f64).floor();
            h[(k.max(0.0) as usize).min(HIST_BINS - 1)] += w;
        }
        if total > 0.0 {
            h.iter_mut().for_each(|x| *x /= total);
        }
        h
    };
    Histogram {
        edges,
        benign: shares(b),
        malicious: shares(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_quantiles_and_ks() {
        let mut v: Vec<(f32, f64)> = (1..=100).map(|i| (i as f32, 1.0)).collect();
        assert_eq!(
            weighted_quantiles(&mut v, &[0.05, 0.5, 0.95]).unwrap(),
            vec![5.0, 50.0, 95.0]
        );
        // A weight counts as that many rows.
        let mut w = vec![(1.0, 9.0), (2.0, 1.0)];
        assert_eq!(
            weighted_quantiles(&mut w, &[0.5, 0.95]).unwrap(),
            [1.0, 2.0]
        );
        let a: Vec<(f32, f64)> = (0..10).map(|i| (i as f32, 1.0)).collect();
        let b: Vec<(f32, f64)> = (10..20).map(|i| (i as f32, 1.0)).collect();
        assert_eq!(ks(&a, 0.0, &b, 0.0), 1.0);
        assert_eq!(ks(&a, 0.0, &a, 0.0), 0.0);
        // Same present values, but half of one side missing: the missing shares differ by 0.5.
        assert!((ks(&a, 0.0, &a, 10.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn constant_features_are_found_exactly() {
        let mut c = ColumnStats::new(3);
        c.add(&[1.0, f32::NAN, 2.0]);
        c.add(&[1.0, f32::NAN, 3.0]);
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let k = c.constant(&names);
        assert_eq!(k.len(), 2);
        assert_eq!((k[0].feature.as_str(), k[0].value), ("a", Some(1.0)));
        assert_eq!((k[1].feature.as_str(), k[1].value), ("b", None));
        assert!(c.varies(2) && !c.varies(0));
    }
}
