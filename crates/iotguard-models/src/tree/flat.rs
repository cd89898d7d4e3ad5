//! [`FlatTrees`]: trees laid out for scoring one row at a time, used by the random forest.
//!
//! A forest grown to purity has deep trees of thousands of nodes, and scoring a row walks each
//! tree from its root to a leaf: the cost is the memory the walk touches. Here every tree is
//! renumbered in depth-first order (a node's left child is the next node, so only the right
//! child's index is stored), each node is 12 bytes (threshold, feature with the missing-value
//! flag, right child), a leaf keeps its value inline (its `f64` bits in place of threshold and
//! child), and all trees sit in one contiguous array. A row reaches the same leaf as in the
//! [`Tree`] it was built from, and [`FlatTrees::sum`] adds the leaf values in the same order
//! with the same operations as the per-tree walk, so the scores are bit-identical.

use super::Tree;

/// The feature field of a leaf.
const LEAF: u32 = u32::MAX;
/// The bit of the feature field that sends missing values left.
const DEFAULT_LEFT: u32 = 1 << 31;

/// One node: a split, or a leaf holding its value's bits in `threshold` and `right`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct FlatNode {
    /// The split's threshold (a leaf: the value's low 32 bits).
    threshold: f32,
    /// The feature split on, with [`DEFAULT_LEFT`]; [`LEAF`] for a leaf.
    feature: u32,
    /// The right child's index in the whole array (a leaf: the value's high 32 bits).
    right: u32,
}

/// Trees in one depth-first array of 12-byte nodes (see the module docs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlatTrees {
    nodes: Vec<FlatNode>,
    /// Each tree's root in `nodes`.
    roots: Vec<u32>,
}

impl FlatTrees {
    /// Lays out `trees`.
    ///
    /// # Panics
    ///
    /// Panics if the trees have more than `u32::MAX - 1` nodes in all or split on a feature
    /// index of 2³¹ or more (no model this project trains comes near either).
    pub fn new(trees: &[Tree]) -> FlatTrees {
        let total: usize = trees.iter().map(|t| t.nodes.len()).sum();
        assert!(total < LEAF as usize, "too many nodes to lay out");
        let mut out = FlatTrees {
            nodes: Vec::with_capacity(total),
            roots: Vec::with_capacity(trees.len()),
        };
        let mut stack = Vec::new();
        for t in trees {
            out.roots.push(out.nodes.len() as u32);
            // (node in `t`, index of the parent's node whose `right` it fills, if any)
            stack.push((0usize, None::<usize>));
            while let Some((i, parent)) = stack.pop() {
                let at = out.nodes.len();
                if let Some(p) = parent {
                    out.nodes[p].right = at as u32;
                }
                let n = &t.nodes[i];
                if n.is_leaf() {
                    let bits = t.value[i].to_bits();
                    out.nodes.push(FlatNode {
                        threshold: f32::from_bits(bits as u32),
                        feature: LEAF,
                        right: (bits >> 32) as u32,
                    });
                } else {
                    assert!(n.feature < DEFAULT_LEFT, "feature index too large");
                    let flag = if n.default_left { DEFAULT_LEFT } else { 0 };
                    out.nodes.push(FlatNode {
                        threshold: n.threshold,
                        feature: n.feature | flag,
                        right: 0,
                    });
                    // The left child is laid out next: pushed last, popped first.
                    stack.push((n.right as usize, Some(at)));
                    stack.push((n.left as usize, None));
                }
            }
        }
        out
    }

    /// Returns the number of trees.
    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// Returns the value of the leaf `row` reaches in tree `tree`.
    #[inline]
    pub fn predict(&self, tree: usize, row: &[f32]) -> f64 {
        let mut i = self.roots[tree] as usize;
        loop {
            let n = self.nodes[i];
            if n.feature == LEAF {
                let bits = u64::from(n.threshold.to_bits()) | (u64::from(n.right) << 32);
                return f64::from_bits(bits);
            }
            let v = row[(n.feature & !DEFAULT_LEFT) as usize];
            let left = v <= n.threshold || (v.is_nan() && n.feature & DEFAULT_LEFT != 0);
            i = if left { i + 1 } else { n.right as usize };
        }
    }

    /// Returns `Σ scale · tree(row)` over the trees in order, summed as
    /// `f += scale * value` from `0.0` (the forest's score, bit for bit).
    ///
    /// The trees are walked 16 at a time (`GROUP`) in lockstep, each step branch-free (a leaf
    /// stays where it is), until every walk of the group stands on a leaf: the independent
    /// walks overlap in the CPU instead of each waiting on its own mispredicted branches and
    /// memory loads. The leaf values are then added in tree order.
    #[inline]
    pub fn sum(&self, row: &[f32], scale: f64) -> f64 {
        let mut f = 0.0;
        let mut at = [0usize; GROUP];
        for roots in self.roots.chunks(GROUP) {
            let at = &mut at[..roots.len()];
            for (a, &r) in at.iter_mut().zip(roots) {
                *a = r as usize;
            }
            loop {
                let mut done = true;
                for a in at.iter_mut() {
                    let n = self.nodes[*a];
                    let leaf = n.feature == LEAF;
                    // A leaf reads feature 0 (or NaN from an empty row) and goes nowhere.
                    let feature = if leaf {
                        0
                    } else {
                        (n.feature & !DEFAULT_LEFT) as usize
                    };
                    let v = row.get(feature).copied().unwrap_or(f32::NAN);
                    let left = (v <= n.threshold) | (v.is_nan() & (n.feature & DEFAULT_LEFT != 0));
                    let next = if left { *a + 1 } else { n.right as usize };
                    *a = if leaf { *a } else { next };
                    done &= leaf;
                }
                if done {
                    break;
                }
            }
            for &a in at.iter() {
                let n = self.nodes[a];
                let bits = u64::from(n.threshold.to_bits()) | (u64::from(n.right) << 32);
                f += scale * f64::from_bits(bits);
            }
        }
        f
    }
}

/// Trees walked together by [`FlatTrees::sum`].
const GROUP: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::RandomForestParams;
    use crate::tree::testdata::random_data;
    use crate::tree::DecisionTreeParams;

    /// The flat layout gives every row the same leaf value, bit for bit, as the per-tree walk,
    /// on deep forest trees, shallow boosted-like trees and rows with missing values.
    #[test]
    fn flat_trees_score_bit_identically_to_the_per_tree_walk() {
        let train = random_data(4_000, 8, 11, 0.05);
        let test = random_data(5_000, 8, 12, 0.0);
        let forest = RandomForestParams::default()
            .n_trees(30)
            .seed(3)
            .fit(&train)
            .unwrap();
        let shallow = DecisionTreeParams::default()
            .max_depth(Some(4))
            .fit(&train)
            .unwrap();
        for trees in [&forest.trees[..], std::slice::from_ref(&shallow.tree)] {
            let flat = FlatTrees::new(trees);
            assert_eq!(flat.n_trees(), trees.len());
            assert_eq!(
                flat.nodes.len(),
                trees.iter().map(|t| t.nodes.len()).sum::<usize>()
            );
            let scale = 1.0 / trees.len() as f64;
            for r in 0..test.n_rows() {
                let mut row = test.row(r).to_vec();
                if r % 4 == 1 {
                    row[r % 8] = f32::NAN;
                }
                if r % 9 == 2 {
                    row[(r + 3) % 8] = f32::NAN;
                }
                let mut want = 0.0;
                for (i, t) in trees.iter().enumerate() {
                    assert_eq!(flat.predict(i, &row).to_bits(), t.predict(&row).to_bits());
                    want += scale * t.predict(&row);
                }
                assert_eq!(flat.sum(&row, scale).to_bits(), want.to_bits());
            }
        }
    }
}
