//! Exact TreeSHAP (Lundberg, Erion & Lee 2018, Algorithm 2): Shapley values of a tree's output in
//! polynomial time, with "path-dependent" expectations (a feature outside the coalition is
//! integrated out by following both children weighted by their training cover).
//!
//! The values are exact for that value function: `E[f] + Σ φ_i = f(x)` to rounding, where
//! `E[f]` is the cover-weighted mean leaf value. Ensembles sum (boosting) or average (forest)
//! per-tree values, which keeps additivity. Cost per tree is `O(L·D²)` for `L` leaves and depth
//! `D`; the path buffer is reused across trees.

use crate::model::{Contribution, Explanation};
use crate::tree::Tree;
use crate::Scorer;

#[derive(Clone, Copy, Debug, Default)]
struct PathElem {
    feature: i64,
    zero: f64,
    one: f64,
    weight: f64,
}

/// Reusable scratch space for TreeSHAP.
#[derive(Debug, Default)]
pub struct ShapBuffer {
    path: Vec<PathElem>,
}

/// Adds `tree`'s exact SHAP values for `row`, times `scale`, to `phi` (one slot per feature).
pub fn tree_shap(tree: &Tree, row: &[f32], scale: f64, phi: &mut [f64], buf: &mut ShapBuffer) {
    let depth = tree.depth();
    let need = (depth + 2) * (depth + 3) / 2;
    if buf.path.len() < need {
        buf.path.resize(need, PathElem::default());
    }
    let mut ctx = Ctx {
        tree,
        row,
        scale,
        phi,
        path: &mut buf.path,
    };
    ctx.recurse(0, 0, 0, 1.0, 1.0, -1);
}

struct Ctx<'a> {
    tree: &'a Tree,
    row: &'a [f32],
    scale: f64,
    phi: &'a mut [f64],
    path: &'a mut [PathElem],
}

impl Ctx<'_> {
    /// Visits `node` with the parent's path at `parent_off`, `depth` unique features long.
    fn recurse(
        &mut self,
        node: usize,
        parent_off: usize,
        depth: usize,
        zero: f64,
        one: f64,
        feature: i64,
    ) {
        // This level's path lives right after the parent's `depth + 1` elements (Algorithm 2's
        // layout: one copy per level, so unwinding here never disturbs the parent).
        let off = parent_off + depth + 1;
        self.path
            .copy_within(parent_off..parent_off + depth + 1, off);
        let path = &mut self.path[off..];
        extend(path, depth, zero, one, feature);
        let n = &self.tree.nodes[node];
        if n.is_leaf() {
            let v = self.tree.value[node] * self.scale;
            for i in 1..=depth {
                let w = unwound_sum(path, depth, i);
                let e = path[i];
                self.phi[e.feature as usize] += w * (e.one - e.zero) * v;
            }
            return;
        }
        let hot = n.next(self.row);
        let cold = if hot == n.left as usize {
            n.right as usize
        } else {
            n.left as usize
        };
        let cover = self.tree.cover[node];
        let (hot_zero, cold_zero) = if cover > 0.0 {
            (self.tree.cover[hot] / cover, self.tree.cover[cold] / cover)
        } else {
            (0.5, 0.5)
        };
        let split = i64::from(n.feature);
        let mut in_zero = 1.0;
        let mut in_one = 1.0;
        let mut d = depth;
        if let Some(k) = (1..=depth).find(|&k| path[k].feature == split) {
            in_zero = path[k].zero;
            in_one = path[k].one;
            unwind(path, depth, k);
            d -= 1;
        }
        self.recurse(hot, off, d + 1, hot_zero * in_zero, in_one, split);
        self.recurse(cold, off, d + 1, cold_zero * in_zero, 0.0, split);
    }
}

fn extend(path: &mut [PathElem], d: usize, zero: f64, one: f64, feature: i64) {
    path[d] = PathElem {
        feature,
        zero,
        one,
        weight: if d == 0 { 1.0 } else { 0.0 },
    };
    let inv_df = 1.0 / (d + 1) as f64;
    let (one, zero) = (one * inv_df, zero * inv_df);
    for i in (0..d).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64;
        path[i].weight = zero * path[i].weight * (d - i) as f64;
    }
}

fn unwind(path: &mut [PathElem], d: usize, k: usize) {
    let one = path[k].one;
    let zero = path[k].zero;
    let df = (d + 1) as f64;
    let mut next = path[d].weight;
    for i in (0..d).rev() {
        if one != 0.0 {
            let tmp = path[i].weight;
            path[i].weight = next * df / ((i + 1) as f64 * one);
            next = tmp - path[i].weight * zero * (d - i) as f64 / df;
        } else {
            path[i].weight = path[i].weight * df / (zero * (d - i) as f64);
        }
    }
    for i in k..d {
        path[i].feature = path[i + 1].feature;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

/// Returns the total permutation weight of the path with element `k` unwound (without
/// modifying it). The hot loop of TreeSHAP: its loop-carried chain uses multiplications only,
/// the divisions are off the chain.
fn unwound_sum(path: &[PathElem], d: usize, k: usize) -> f64 {
    let one = path[k].one;
    let zero = path[k].zero;
    let df = (d + 1) as f64;
    let mut total = 0.0;
    if one != 0.0 {
        let inv_one = 1.0 / one;
        let zero_df = zero / df;
        let mut next = path[d].weight;
        for i in (0..d).rev() {
            let tmp = next * inv_one * (df / (i + 1) as f64);
            total += tmp;
            next = path[i].weight - tmp * zero_df * (d - i) as f64;
        }
    } else if zero != 0.0 {
        let c = df / zero;
        for i in (0..d).rev() {
            total += path[i].weight * c / (d - i) as f64;
        }
    }
    total
}

/// Explains `offset + scale · Σ trees` at `row` exactly: `raw`, `base` (the expected raw output)
/// and one contribution per feature, with `base + Σ contributions = raw` to rounding.
pub fn explain_trees(trees: &[Tree], scale: f64, offset: f64, row: &[f32]) -> Explanation {
    let mut phi = vec![0.0; row.len()];
    let mut buf = ShapBuffer::default();
    let mut raw = offset;
    let mut base = offset;
    for t in trees {
        tree_shap(t, row, scale, &mut phi, &mut buf);
        raw += scale * t.predict(row);
        base += scale * t.expected_value();
    }
    Explanation {
        raw,
        base,
        contributions: phi
            .into_iter()
            .enumerate()
            .map(|(feature, contribution)| Contribution {
                feature,
                value: row[feature],
                contribution,
            })
            .collect(),
    }
}

/// Explains many rows (row-major, `n_features` wide) with any model, split between all cores.
///
/// The explanations are the model's own (`Scorer::explain`), in row order, and do not depend on
/// the number of cores.
pub fn explain_batch(model: &dyn Scorer, rows: &[f32], n_features: usize) -> Vec<Explanation> {
    let n = rows.len() / n_features.max(1);
    let threads = crate::binned::n_threads(0).min(n.max(1));
    let per = n.div_ceil(threads).max(1);
    let mut out: Vec<Vec<Explanation>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = rows
            .chunks(per * n_features.max(1))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .chunks_exact(n_features.max(1))
                        .map(|r| model.explain(r))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        out = handles
            .into_iter()
            .map(|h| h.join().expect("explain does not panic"))
            .collect();
    });
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{DecisionTreeParams, Node};

    /// `E[f(x) | x_S]` with path-dependent expectations: features in `s` follow `row`, others
    /// average both children by cover.
    fn cond_exp(t: &Tree, i: usize, row: &[f32], s: u32) -> f64 {
        let n = &t.nodes[i];
        if n.is_leaf() {
            return t.value[i];
        }
        if s & (1 << n.feature) != 0 {
            cond_exp(t, n.next(row), row, s)
        } else {
            let (l, r) = (n.left as usize, n.right as usize);
            (t.cover[l] * cond_exp(t, l, row, s) + t.cover[r] * cond_exp(t, r, row, s)) / t.cover[i]
        }
    }

    fn brute_force(t: &Tree, row: &[f32]) -> Vec<f64> {
        let m = row.len();
        let fact = |k: usize| (1..=k).product::<usize>() as f64;
        let mut phi = vec![0.0; m];
        for (i, p) in phi.iter_mut().enumerate() {
            for s in 0u32..(1 << m) {
                if s & (1 << i) != 0 {
                    continue;
                }
                let k = s.count_ones() as usize;
                let w = fact(k) * fact(m - k - 1) / fact(m);
                *p += w * (cond_exp(t, 0, row, s | (1 << i)) - cond_exp(t, 0, row, s));
            }
        }
        phi
    }

    #[test]
    fn matches_brute_force_shapley_values_on_a_small_tree() {
        let d = crate::tree::testdata::random_data(3000, 6, 11, 0.1);
        let m = DecisionTreeParams::default()
            .max_depth(Some(7))
            .min_samples_leaf(5)
            .fit(&d)
            .unwrap();
        // Reuse of features along a path is what makes TreeSHAP subtle: make sure it happens.
        assert!(m.tree.depth() >= 6);
        for r in 0..50 {
            let mut row = d.row(r).to_vec();
            if r % 5 == 0 {
                row[r % 6] = f32::NAN;
            }
            let mut phi = vec![0.0; 6];
            tree_shap(&m.tree, &row, 1.0, &mut phi, &mut ShapBuffer::default());
            let bf = brute_force(&m.tree, &row);
            for (a, b) in phi.iter().zip(&bf) {
                assert!((a - b).abs() < 1e-9, "{phi:?} vs {bf:?}");
            }
            let e = m.explain(&row);
            let sum: f64 = e.contributions.iter().map(|c| c.contribution).sum();
            assert!((e.base + sum - e.raw).abs() < 1e-9);
            assert!((e.raw - f64::from(m.score(&row))).abs() < 1e-6);
        }
    }

    #[test]
    fn batch_explanations_match_single_ones() {
        let d = crate::tree::testdata::random_data(500, 4, 3, 0.1);
        let m = DecisionTreeParams::default().fit(&d).unwrap();
        let batch = explain_batch(&m, &d.features, 4);
        assert_eq!(batch.len(), 500);
        for (i, e) in batch.iter().enumerate().step_by(37) {
            assert_eq!(*e, m.explain(d.row(i)));
        }
    }

    #[test]
    fn single_split_by_hand() {
        // x0 <= 0.5 ? 0 : 1, covers 3 and 1: E = 0.25; for x0 = 1, φ0 = 0.75.
        let t = Tree::new(
            vec![
                Node {
                    feature: 0,
                    threshold: 0.5,
                    left: 1,
                    right: 2,
                    default_left: true,
                },
                Node::leaf(1),
                Node::leaf(2),
            ],
            vec![0.25, 0.0, 1.0],
            vec![4.0, 3.0, 1.0],
        );
        let e = explain_trees(&[t], 1.0, 0.0, &[1.0, 7.0]);
        assert!((e.base - 0.25).abs() < 1e-12);
        assert!((e.contributions[0].contribution - 0.75).abs() < 1e-12);
        assert_eq!(e.contributions[1].contribution, 0.0);
    }
}
