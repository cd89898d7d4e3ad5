//! The histogram-based tree grower shared by gradient boosting, the decision tree and the forest.
//!
//! The grower fits a regression tree to per-row sums `g` and weights `h`: a node's value is
//! `G / (H + λ)` and a split's gain is `½ [G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)]`.
//! Boosting passes the negative gradient and the hessian of the log loss (XGBoost's second-order
//! gain). The classification trees pass `g = w·y`, `h = w` and `λ = 0`: the node value is then
//! the weighted fraction of malicious rows and the gain is half the weighted Gini impurity
//! decrease (for 0/1 targets `Σw·2p(1−p) = 2(H − G²/H)`), so CART with Gini is the same code.
//!
//! Growth is best-first (leaf-wise, as LightGBM) under `max_leaves` and `max_depth`. Missing
//! values have their own bin; each split tries them on both sides and keeps the better. When
//! `subtract` is on, only the smaller child's histogram is built and the larger one's is the
//! parent's minus it. Histograms are built over features split between threads; each feature's
//! histogram is summed by one thread in row order, so results do not depend on the thread count.

use super::{Node, Tree};
use crate::binned::BinnedDataset;
use rand::Rng;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Sums over a set of rows.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BinStat {
    pub(crate) g: f64,
    pub(crate) h: f64,
    pub(crate) n: u32,
}

impl BinStat {
    fn add(&mut self, o: &BinStat) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }
    fn sub(&self, o: &BinStat) -> BinStat {
        BinStat {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }
}

/// Growth limits and regularisation.
#[derive(Clone, Debug)]
pub(crate) struct GrowParams {
    pub(crate) max_depth: usize,
    pub(crate) max_leaves: usize,
    pub(crate) min_samples_leaf: u32,
    pub(crate) min_child_weight: f64,
    pub(crate) lambda: f64,
    pub(crate) min_split_gain: f64,
    /// Features tried per node (random forest's `max_features`); `None` tries all allowed ones.
    pub(crate) features_per_node: Option<usize>,
    pub(crate) subtract: bool,
    pub(crate) n_threads: usize,
}

/// A tree grown on binned data, with what boosting needs to update its training predictions.
pub(crate) struct Grown {
    pub(crate) tree: Tree,
    /// Per node, the split bin (for routing binned rows).
    pub(crate) split_bin: Vec<u8>,
    /// The rows, permuted so each leaf's rows are contiguous.
    pub(crate) rows: Vec<u32>,
    /// Per leaf: node index and its range in `rows`.
    pub(crate) leaves: Vec<(usize, usize, usize)>,
}

#[derive(Clone, Copy, Debug)]
struct Split {
    feature: usize,
    bin: u8,
    default_left: bool,
    gain: f64,
    left: BinStat,
    right: BinStat,
}

struct Pending {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    split: Option<Split>,
    hist: Option<Vec<BinStat>>,
}

/// Heap key: highest gain first, then lowest node index (deterministic ties).
struct Key(f64, usize);
impl PartialEq for Key {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Key {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0).then(o.1.cmp(&self.1))
    }
}

/// Nodes at most this big find splits by sorting their rows instead of building histograms.
const SMALL_NODE: usize = 48;

/// Grows one tree.
pub(crate) struct Grower<'a, R> {
    data: &'a BinnedDataset,
    g: &'a [f32],
    h: &'a [f32],
    /// Features this tree may use, ascending.
    features: &'a [usize],
    params: &'a GrowParams,
    rng: &'a mut R,
}

impl<'a, R: Rng> Grower<'a, R> {
    /// Prepares to grow on `data` with per-row `g` and `h` over the allowed `features`.
    pub(crate) fn new(
        data: &'a BinnedDataset,
        g: &'a [f32],
        h: &'a [f32],
        features: &'a [usize],
        params: &'a GrowParams,
        rng: &'a mut R,
    ) -> Self {
        Grower {
            data,
            g,
            h,
            features,
            params,
            rng,
        }
    }

    /// Grows a tree over `rows` (ascending row indices).
    pub(crate) fn grow(mut self, mut rows: Vec<u32>) -> Grown {
        let p = self.params;
        let mut total = BinStat::default();
        for &r in &rows {
            total.g += f64::from(self.g[r as usize]);
            total.h += f64::from(self.h[r as usize]);
        }
        total.n = rows.len() as u32;
        let mut nodes = vec![Node::leaf(0)];
        let mut value = vec![self.leaf_value(&total)];
        let mut cover = vec![total.h];
        let mut split_bin = vec![0u8];
        let mut leaves = Vec::new();
        let mut scratch = Vec::new();
        let mut heap = BinaryHeap::new();
        let mut pending: Vec<Option<Pending>> = Vec::new();
        let root = self.evaluate(&rows, 0, rows.len(), 0, total, 0, None);
        self.push(root, &mut heap, &mut pending, &mut leaves);
        let mut n_leaves = 1;
        while n_leaves < p.max_leaves {
            let Some((_, idx)) = heap.pop() else {
                break;
            };
            let leaf = pending[idx].take().expect("pending leaf");
            let split = leaf.split.expect("pending leaves have splits");
            let fb = self.data.feature(split.feature);
            let nan_bin = fb.nan_bin();
            let col = self.data.column(split.feature);
            // Stable, branch-free partition: every row is written to both the next left slot (in
            // place) and the next right slot (scratch); only the matching cursor advances.
            let len = leaf.end - leaf.start;
            scratch.clear();
            scratch.resize(len + 1, 0);
            let mut w = leaf.start;
            let mut k = 0;
            let thr = split.bin;
            let dl = split.default_left;
            for i in leaf.start..leaf.end {
                let r = rows[i];
                let b = col[r as usize];
                let left = (b <= thr && b != nan_bin) | (b == nan_bin && dl);
                rows[w] = r;
                scratch[k] = r;
                w += usize::from(left);
                k += usize::from(!left);
            }
            rows[w..leaf.end].copy_from_slice(&scratch[..k]);
            let mid = w;
            let (l, r) = (nodes.len(), nodes.len() + 1);
            nodes[leaf.node] = Node {
                feature: split.feature as u32,
                threshold: fb.threshold(split.bin),
                left: l as u32,
                right: r as u32,
                default_left: split.default_left,
            };
            split_bin[leaf.node] = split.bin;
            for s in [&split.left, &split.right] {
                nodes.push(Node::leaf(nodes.len()));
                value.push(self.leaf_value(s));
                cover.push(s.h);
                split_bin.push(0);
            }
            n_leaves += 1;
            let depth = leaf.depth + 1;
            let (lh, rh) = match leaf.hist {
                Some(parent) => {
                    let left_small = mid - leaf.start <= leaf.end - mid;
                    let (s0, s1) = if left_small {
                        (leaf.start, mid)
                    } else {
                        (mid, leaf.end)
                    };
                    let small = self.build_hist(&rows[s0..s1], self.features);
                    let large: Vec<BinStat> =
                        parent.iter().zip(&small).map(|(a, b)| a.sub(b)).collect();
                    if left_small {
                        (Some(small), Some(large))
                    } else {
                        (Some(large), Some(small))
                    }
                }
                None => (None, None),
            };
            let lp = self.evaluate(&rows, leaf.start, mid, depth, split.left, l, lh);
            self.push(lp, &mut heap, &mut pending, &mut leaves);
            let rp = self.evaluate(&rows, mid, leaf.end, depth, split.right, r, rh);
            self.push(rp, &mut heap, &mut pending, &mut leaves);
        }
        for q in pending.into_iter().flatten() {
            leaves.push((q.node, q.start, q.end));
        }
        leaves.sort_unstable();
        Grown {
            tree: Tree::new(nodes, value, cover),
            split_bin,
            rows,
            leaves,
        }
    }

    fn push(
        &self,
        q: Pending,
        heap: &mut BinaryHeap<(Key, usize)>,
        pending: &mut Vec<Option<Pending>>,
        leaves: &mut Vec<(usize, usize, usize)>,
    ) {
        match q.split {
            Some(s) => {
                heap.push((Key(s.gain, q.node), pending.len()));
                pending.push(Some(q));
            }
            None => leaves.push((q.node, q.start, q.end)),
        }
    }

    fn leaf_value(&self, s: &BinStat) -> f64 {
        let d = s.h + self.params.lambda;
        if d > 0.0 {
            s.g / d
        } else {
            0.0
        }
    }

    fn score(&self, s: &BinStat) -> f64 {
        s.g * s.g / (s.h + self.params.lambda)
    }

    /// Finds a node's best split (and keeps its histogram when subtracting).
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &mut self,
        rows: &[u32],
        start: usize,
        end: usize,
        depth: usize,
        total: BinStat,
        node: usize,
        hist: Option<Vec<BinStat>>,
    ) -> Pending {
        let p = self.params;
        let n = end - start;
        let splittable = depth < p.max_depth
            && n >= 2 * p.min_samples_leaf as usize
            && total.h >= 2.0 * p.min_child_weight
            && n >= 2;
        let mut q = Pending {
            node,
            start,
            end,
            depth,
            split: None,
            hist: None,
        };
        if !splittable {
            return q;
        }
        let rows = &rows[start..end];
        let feats: Vec<usize> = match p.features_per_node {
            Some(k) if k < self.features.len() => {
                let mut f = self.features.to_vec();
                for i in 0..k {
                    let j = self.rng.random_range(i..f.len());
                    f.swap(i, j);
                }
                f.truncate(k);
                f.sort_unstable();
                f
            }
            _ => self.features.to_vec(),
        };
        if !p.subtract && n <= SMALL_NODE {
            q.split = self.best_split_small(rows, &feats, &total);
            return q;
        }
        let hist = hist.unwrap_or_else(|| self.build_hist(rows, &feats));
        if splittable {
            let mut best: Option<Split> = None;
            for (k, &f) in feats.iter().enumerate() {
                let fb = self.data.feature(f);
                let h = &hist[k * 256..(k + 1) * 256];
                let nan = h[fb.nan_bin() as usize];
                let bins = h[..fb.n_value_bins()]
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.n > 0)
                    .map(|(b, s)| (b as u8, *s));
                self.scan(f, bins, nan, &total, &mut best);
            }
            q.split = best;
        }
        if p.subtract {
            q.hist = Some(hist);
        }
        q
    }

    /// Scans one feature's non-empty value bins (ascending) for the best split.
    fn scan(
        &self,
        feature: usize,
        bins: impl Iterator<Item = (u8, BinStat)> + Clone,
        nan: BinStat,
        total: &BinStat,
        best: &mut Option<Split>,
    ) {
        let p = self.params;
        let parent = self.score(total);
        for nan_left in [false, true] {
            if nan_left && nan.n == 0 {
                break;
            }
            let mut acc = if nan_left { nan } else { BinStat::default() };
            for (b, s) in bins.clone() {
                acc.add(&s);
                let right = total.sub(&acc);
                if acc.n < p.min_samples_leaf
                    || right.n < p.min_samples_leaf
                    || acc.h < p.min_child_weight
                    || right.h < p.min_child_weight
                {
                    continue;
                }
                let gain = 0.5 * (self.score(&acc) + self.score(&right) - parent);
                if gain > p.min_split_gain && best.is_none_or(|s| gain > s.gain) {
                    let default_left = if nan.n > 0 {
                        nan_left
                    } else {
                        acc.h >= right.h
                    };
                    *best = Some(Split {
                        feature,
                        bin: b,
                        default_left,
                        gain,
                        left: acc,
                        right,
                    });
                }
            }
        }
    }

    /// Finds the best split of a small node by sorting its rows' bins per feature.
    fn best_split_small(&self, rows: &[u32], feats: &[usize], total: &BinStat) -> Option<Split> {
        let mut best = None;
        let mut entries: Vec<(u8, BinStat)> = Vec::with_capacity(rows.len());
        for &f in feats {
            let col = self.data.column(f);
            let nan_bin = self.data.feature(f).nan_bin();
            entries.clear();
            let mut nan = BinStat::default();
            for &r in rows {
                let s = BinStat {
                    g: f64::from(self.g[r as usize]),
                    h: f64::from(self.h[r as usize]),
                    n: 1,
                };
                let b = col[r as usize];
                if b == nan_bin {
                    nan.add(&s);
                } else {
                    entries.push((b, s));
                }
            }
            entries.sort_by_key(|e| e.0);
            // Merge equal bins so splits fall only between distinct bins.
            let mut merged: Vec<(u8, BinStat)> = Vec::with_capacity(entries.len());
            for (b, s) in &entries {
                match merged.last_mut() {
                    Some((lb, ls)) if lb == b => ls.add(s),
                    _ => merged.push((*b, *s)),
                }
            }
            self.scan(f, merged.iter().copied(), nan, total, &mut best);
        }
        best
    }

    /// Builds the histograms of `feats` over `rows`: 256 bins for each feature in `feats` order
    /// (so a `u8` bin indexes one without checks), features split between threads.
    fn build_hist(&self, rows: &[u32], feats: &[usize]) -> Vec<BinStat> {
        let mut hist = vec![BinStat::default(); feats.len() * 256];
        // Gradients in the node's row order (contiguous reads below); the root's rows are all rows
        // in order, so it reads them in place.
        let gathered;
        let (g, h): (&[f32], &[f32]) = if rows.len() == self.g.len() {
            (self.g, self.h)
        } else {
            gathered = (
                rows.iter()
                    .map(|&r| self.g[r as usize])
                    .collect::<Vec<f32>>(),
                rows.iter()
                    .map(|&r| self.h[r as usize])
                    .collect::<Vec<f32>>(),
            );
            (&gathered.0, &gathered.1)
        };
        let threads = self.params.n_threads.min(feats.len()).max(1);
        let data = self.data;
        let fill = |fs: &[usize], out: &mut [BinStat]| {
            // Four features per pass over the rows: the row index and gradients are read once and
            // the four histogram updates are independent, which keeps the CPU busy.
            let views = out
                .chunks_exact_mut(256)
                .map(|c| <&mut [BinStat; 256]>::try_from(c).expect("256 bins"));
            let mut fi = fs.iter().copied();
            let mut vi = views;
            while let Some(f0) = fi.next() {
                let o0 = vi.next().expect("one view per feature");
                let c0 = data.column(f0);
                if let (Some(f1), Some(f2), Some(f3)) = (fi.next(), fi.next(), fi.next()) {
                    let (o1, o2, o3) = (vi.next().unwrap(), vi.next().unwrap(), vi.next().unwrap());
                    let (c1, c2, c3) = (data.column(f1), data.column(f2), data.column(f3));
                    for ((&r, &gi), &hi) in rows.iter().zip(g).zip(h) {
                        let r = r as usize;
                        let (gi, hi) = (f64::from(gi), f64::from(hi));
                        for (o, c) in [
                            (&mut *o0, c0),
                            (&mut *o1, c1),
                            (&mut *o2, c2),
                            (&mut *o3, c3),
                        ] {
                            let s = &mut o[c[r] as usize];
                            s.g += gi;
                            s.h += hi;
                            s.n += 1;
                        }
                    }
                } else {
                    // Fewer than four left: the iterators are exhausted together, redo singly.
                    let left: Vec<usize> = fs[fs.len() - fs.len() % 4..].to_vec();
                    let _ = f0;
                    let mut outs = vec![o0];
                    outs.extend(vi.by_ref());
                    for (f, o) in left.into_iter().zip(outs) {
                        let c = data.column(f);
                        for ((&r, &gi), &hi) in rows.iter().zip(g).zip(h) {
                            let s = &mut o[c[r as usize] as usize];
                            s.g += f64::from(gi);
                            s.h += f64::from(hi);
                            s.n += 1;
                        }
                    }
                    break;
                }
            }
        };
        if threads == 1 || rows.len() * feats.len() < 200_000 {
            fill(feats, &mut hist);
            return hist;
        }
        // Hand each thread a run of whole groups of four features and their histograms.
        let per = feats.len().div_ceil(threads).div_ceil(4) * 4;
        std::thread::scope(|s| {
            for (chunk, out) in feats.chunks(per).zip(hist.chunks_mut(per * 256)) {
                let fill = &fill;
                s.spawn(move || fill(chunk, out));
            }
        });
        hist
    }
}
