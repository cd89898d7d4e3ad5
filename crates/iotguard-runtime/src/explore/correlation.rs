//! The features' correlation matrix (Pearson and Spearman) on the pooled sample, ordered by
//! average-linkage clustering so that related features sit together, and the features that
//! duplicate others.
//!
//! Missing values are left out pair by pair (each coefficient uses the rows where both features
//! are present). Spearman's coefficient is Pearson's on ranks (ties get their average rank),
//! each feature ranked over its present values.

use serde::Serialize;

use super::sample::Reservoir;

/// A correlation matrix of the features that vary, in clustered order.
#[derive(Clone, Debug, Serialize)]
pub struct Correlation {
    /// Rows of the sample the coefficients were computed on.
    pub rows: u64,
    /// The features, clustered order.
    pub features: Vec<String>,
    /// Pearson coefficients, `features × features` (`None` where undefined: fewer than three
    /// rows with both present, or one of them constant there).
    pub pearson: Vec<Vec<Option<f64>>>,
    /// Spearman coefficients, same layout.
    pub spearman: Vec<Vec<Option<f64>>>,
    /// Features that repeat another on the sample, each with the earlier feature in schema order.
    pub duplicates: Vec<Duplicate>,
}

/// A feature that carries the same information as another.
#[derive(Clone, Debug, Serialize)]
pub struct Duplicate {
    /// The feature.
    pub feature: String,
    /// The feature it repeats (earlier in the schema).
    pub of: String,
    /// `identical` (the same value on every sampled row) or `|r| ≥ 0.999` with the coefficient.
    pub how: String,
}

/// Pearson's coefficient over the rows where both columns are present.
fn pearson(a: &[f32], b: &[f32]) -> Option<f64> {
    let (mut n, mut sa, mut sb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        if !x.is_nan() && !y.is_nan() {
            n += 1.0;
            sa += f64::from(x);
            sb += f64::from(y);
        }
    }
    if n < 3.0 {
        return None;
    }
    let (ma, mb) = (sa / n, sb / n);
    let (mut sab, mut saa, mut sbb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        if !x.is_nan() && !y.is_nan() {
            let (dx, dy) = (f64::from(x) - ma, f64::from(y) - mb);
            sab += dx * dy;
            saa += dx * dx;
            sbb += dy * dy;
        }
    }
    if saa <= 0.0 || sbb <= 0.0 {
        return None;
    }
    Some((sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0))
}

/// The column standardised to mean 0 and variance 1, when it has no missing value, three rows
/// or more, and varies (a constant column has no coefficient).
fn standardised(col: &[f32]) -> Option<Vec<f64>> {
    if col.len() < 3 || col.iter().any(|v| v.is_nan()) {
        return None;
    }
    let n = col.len() as f64;
    let mean = col.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = col
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    if var <= 0.0 {
        return None;
    }
    let sd = var.sqrt();
    Some(col.iter().map(|&v| (f64::from(v) - mean) / sd).collect())
}

/// Ranks the present values (1-based, ties averaged); missing stays missing.
fn ranks(col: &[f32]) -> Vec<f32> {
    let mut idx: Vec<usize> = (0..col.len()).filter(|&i| !col[i].is_nan()).collect();
    idx.sort_by(|&i, &j| col[i].total_cmp(&col[j]));
    let mut out = vec![f32::NAN; col.len()];
    let mut k = 0;
    while k < idx.len() {
        let mut end = k + 1;
        while end < idx.len() && col[idx[end]] == col[idx[k]] {
            end += 1;
        }
        let rank = (k + end + 1) as f32 / 2.0;
        for &i in &idx[k..end] {
            out[i] = rank;
        }
        k = end;
    }
    out
}

/// Orders items so that each merge of average-linkage clustering (distance `1 - |r|`, missing
/// coefficients as distance 1) keeps its members adjacent.
pub(crate) fn cluster_order(corr: &[Vec<Option<f64>>]) -> Vec<usize> {
    let n = corr.len();
    let dist = |i: usize, j: usize| 1.0 - corr[i][j].map_or(0.0, f64::abs);
    // Each cluster: its members in order; distances between clusters kept in a matrix.
    let mut members: Vec<Option<Vec<usize>>> = (0..n).map(|i| Some(vec![i])).collect();
    let mut d: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| dist(i, j)).collect())
        .collect();
    for _ in 1..n {
        let mut best: Option<(f64, usize, usize)> = None;
        for i in 0..n {
            if members[i].is_none() {
                continue;
            }
            for j in i + 1..n {
                if members[j].is_some() && best.is_none_or(|(bd, _, _)| d[i][j] < bd) {
                    best = Some((d[i][j], i, j));
                }
            }
        }
        let Some((_, i, j)) = best else { break };
        let (a, b) = (
            members[i].take().unwrap_or_default(),
            members[j].take().unwrap_or_default(),
        );
        let (na, nb) = (a.len() as f64, b.len() as f64);
        for k in 0..n {
            if members[k].is_some() {
                let v = (d[i][k] * na + d[j][k] * nb) / (na + nb);
                d[i][k] = v;
                d[k][i] = v;
            }
        }
        members[i] = Some(a.into_iter().chain(b).collect());
    }
    members.into_iter().flatten().flatten().collect()
}

/// Computes the matrix over the features `keep` (schema indices) on the pooled sample.
pub(crate) fn correlation(sample: &Reservoir, names: &[String], keep: &[usize]) -> Correlation {
    let n = sample.len();
    let cols: Vec<Vec<f32>> = keep
        .iter()
        .map(|&f| (0..n).map(|i| sample.row(i)[f]).collect())
        .collect();
    let ranked: Vec<Vec<f32>> = cols.iter().map(|c| ranks(c)).collect();
    let matrix = |cols: &[Vec<f32>]| -> Vec<Vec<Option<f64>>> {
        // Columns with no missing value are standardised once: their coefficient is then one
        // dot product. Pairs with a missing value go through the pairwise-complete path.
        let z: Vec<Option<Vec<f64>>> = cols.iter().map(|c| standardised(c)).collect();
        let k = cols.len();
        let mut m = vec![vec![None; k]; k];
        for i in 0..k {
            m[i][i] = Some(1.0);
            for j in i + 1..k {
                let r = match (&z[i], &z[j]) {
                    (Some(a), Some(b)) => {
                        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                        Some((dot / a.len() as f64).clamp(-1.0, 1.0))
                    }
                    _ => pearson(&cols[i], &cols[j]),
                };
                m[i][j] = r;
                m[j][i] = r;
            }
        }
        m
    };
    let p = matrix(&cols);
    let s = matrix(&ranked);
    let mut duplicates = Vec::new();
    for j in 0..keep.len() {
        let first = (0..j).find_map(|i| {
            let same = cols[i]
                .iter()
                .zip(&cols[j])
                .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
            if same {
                return Some((i, "identical".to_string()));
            }
            p[i][j]
                .filter(|r| r.abs() >= 0.999)
                .map(|r| (i, format!("|r| ≥ 0.999 (r = {r:.4})")))
        });
        if let Some((i, how)) = first {
            duplicates.push(Duplicate {
                feature: names[keep[j]].clone(),
                of: names[keep[i]].clone(),
                how,
            });
        }
    }
    let order = cluster_order(&s);
    let round = |v: Option<f64>| v.map(|x| (x * 10_000.0).round() / 10_000.0);
    let pick = |m: &[Vec<Option<f64>>]| -> Vec<Vec<Option<f64>>> {
        order
            .iter()
            .map(|&i| order.iter().map(|&j| round(m[i][j])).collect())
            .collect()
    };
    Correlation {
        rows: n as u64,
        features: order.iter().map(|&i| names[keep[i]].clone()).collect(),
        pearson: pick(&p),
        spearman: pick(&s),
        duplicates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_spearman_and_ranks() {
        let a = [1.0, 2.0, 3.0, 4.0, f32::NAN];
        let b = [2.0, 4.0, 6.0, 8.0, 1.0];
        assert!((pearson(&a, &b).unwrap() - 1.0).abs() < 1e-12);
        let c = [1.0, 8.0, 27.0, 64.0, 0.0];
        assert!(pearson(&a, &c).unwrap() < 0.99);
        assert_eq!(ranks(&[3.0, 1.0, 3.0, f32::NAN])[..3], [2.5, 1.0, 2.5]);
        assert!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_none());
        // The standardised path gives the pairwise one's coefficient.
        let (x, y) = ([1.0, 2.0, 4.0, 7.0], [3.0, 1.0, 4.0, 1.5]);
        let (zx, zy) = (standardised(&x).unwrap(), standardised(&y).unwrap());
        let dot: f64 = zx.iter().zip(&zy).map(|(a, b)| a * b).sum::<f64>() / 4.0;
        assert!((dot - pearson(&x, &y).unwrap()).abs() < 1e-12);
        assert!(standardised(&[1.0, 1.0, 1.0]).is_none());
    }

    #[test]
    fn clustering_puts_correlated_features_together() {
        // 0 and 2 move together, 1 and 3 together, the two pairs unrelated.
        let r = |x: f64| Some(x);
        let m = vec![
            vec![r(1.0), r(0.0), r(0.95), r(0.1)],
            vec![r(0.0), r(1.0), r(0.05), r(-0.9)],
            vec![r(0.95), r(0.05), r(1.0), r(0.0)],
            vec![r(0.1), r(-0.9), r(0.0), r(1.0)],
        ];
        let order = cluster_order(&m);
        let pos = |i: usize| order.iter().position(|&x| x == i).unwrap() as i32;
        assert_eq!((pos(0) - pos(2)).abs(), 1, "{order:?}");
        assert_eq!((pos(1) - pos(3)).abs(), 1, "{order:?}");
    }
}
