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
//! parent's minus it, in the parent's buffer.
//!
//! A histogram is one flat array over every feature, each feature sized by its real bin count
//! ([`BinnedDataset::hist_offset`]); buffers are recycled through a pool. It is built row-wise
//! over sparse rows or column-wise (the `hist` module). Row-wise, rows are cut into chunks whose
//! size depends only on the data; each chunk is summed into its own buffer (chunks spread over
//! threads) and the buffers are added in chunk order. Column-wise, each feature is summed by one
//! thread in row order. Either way results do not depend on the thread count. Partitioning a
//! large node's rows between its children also runs on all threads.

use super::{hist, Node, Tree};
use crate::binned::BinnedDataset;
use rand::Rng;
use rayon::prelude::*;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ops::Range;

/// Sums over a set of rows.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BinStat {
    pub(crate) g: f64,
    pub(crate) h: f64,
    pub(crate) n: u32,
}

impl BinStat {
    pub(super) fn add(&mut self, o: &BinStat) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }
    pub(super) fn sub(&self, o: &BinStat) -> BinStat {
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
    /// Free histogram buffers, each `data.hist_len()` long.
    pool: Vec<Vec<BinStat>>,
    /// The feature blocks a node's histogram is split into on several threads: one per thread,
    /// of about equal work.
    blocks: Vec<Range<usize>>,
    /// All features, the one block on one thread.
    whole: Range<usize>,
}

/// Bin updates (rows × features) per chunk of a row-wise histogram, whose chunks are summed
/// separately and added in order. It no longer decides parallelism (feature blocks do); it is
/// kept as it was so sums, and so trained models, stay bit for bit what they were.
const CHUNK_WORK: usize = 1 << 19;

/// Work (bin updates plus histogram slots to scan) from which a node's histogram is filled and
/// scanned on several threads.
const PARALLEL_WORK: usize = 1 << 14;

/// Rows per piece when gathering a node's gradients on several threads.
const GATHER_CHUNK: usize = 1 << 13;

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
        let sparse = data
            .sparse_per_row()
            .is_some_and(|k| k * 2.0 <= features.len() as f64);
        let allowed = |f: usize| features.binary_search(&f).is_ok();
        let n_rows = data.n_rows().max(1);
        // Rough cost of a feature for a node of 1024 rows: bins filled plus bins scanned.
        let weight = |f: usize| {
            let fill = if sparse {
                data.uncommon_rows(f) * 1024 / n_rows
            } else if allowed(f) {
                1024
            } else {
                0
            };
            fill + if allowed(f) {
                data.feature(f).n_bins()
            } else {
                0
            }
        };
        let blocks = feature_blocks(data.n_features(), params.n_threads.max(1), weight);
        Grower {
            data,
            g,
            h,
            features,
            params,
            rng,
            pool: Vec::new(),
            blocks,
            whole: 0..data.n_features(),
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
        let mut scratch: Vec<u32> = Vec::new();
        let mut heap = BinaryHeap::new();
        let mut pending: Vec<Option<Pending>> = Vec::new();
        let root = self.evaluate(&rows, 0, rows.len(), 0, total, 0);
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
            let goes_left =
                |b: u8| (b <= split.bin && b != nan_bin) | (b == nan_bin && split.default_left);
            let mid = partition(
                &mut rows[leaf.start..leaf.end],
                col,
                goes_left,
                &mut scratch,
                p.n_threads,
            ) + leaf.start;
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
            let (want_l, want_r) = (
                self.splittable(mid - leaf.start, depth, &split.left),
                self.splittable(leaf.end - mid, depth, &split.right),
            );
            match leaf.hist {
                Some(mut large) => {
                    // Build the smaller child's histogram; the larger's is the parent's minus it.
                    let left_small = mid - leaf.start <= leaf.end - mid;
                    let (s0, s1, small_total, want_small, large_total, want_large) = if left_small {
                        (leaf.start, mid, split.left, want_l, split.right, want_r)
                    } else {
                        (mid, leaf.end, split.right, want_r, split.left, want_l)
                    };
                    let sibling = Some((&mut large[..], large_total, want_large));
                    let (small, best_small, best_large) = self.fill_and_scan(
                        &rows[s0..s1],
                        small_total,
                        want_small,
                        self.features,
                        sibling,
                    );
                    let (lh, rh, lb, rb) = if left_small {
                        (small, large, best_small, best_large)
                    } else {
                        (large, small, best_large, best_small)
                    };
                    for (node, s, e, best, hist) in
                        [(l, leaf.start, mid, lb, lh), (r, mid, leaf.end, rb, rh)]
                    {
                        let q = Pending {
                            node,
                            start: s,
                            end: e,
                            depth,
                            split: best,
                            hist: Some(hist),
                        };
                        self.push(q, &mut heap, &mut pending, &mut leaves);
                    }
                }
                None => {
                    let lp = self.evaluate(&rows, leaf.start, mid, depth, split.left, l);
                    self.push(lp, &mut heap, &mut pending, &mut leaves);
                    let rp = self.evaluate(&rows, mid, leaf.end, depth, split.right, r);
                    self.push(rp, &mut heap, &mut pending, &mut leaves);
                }
            }
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
        &mut self,
        mut q: Pending,
        heap: &mut BinaryHeap<(Key, usize)>,
        pending: &mut Vec<Option<Pending>>,
        leaves: &mut Vec<(usize, usize, usize)>,
    ) {
        match q.split {
            Some(s) => {
                heap.push((Key(s.gain, q.node), pending.len()));
                pending.push(Some(q));
            }
            None => {
                if let Some(h) = q.hist.take() {
                    self.pool.push(h);
                }
                leaves.push((q.node, q.start, q.end));
            }
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

    /// Whether a node of `n` rows at `depth` with sums `total` may be split.
    fn splittable(&self, n: usize, depth: usize, total: &BinStat) -> bool {
        let p = self.params;
        depth < p.max_depth
            && n >= 2 * p.min_samples_leaf as usize
            && total.h >= 2.0 * p.min_child_weight
            && n >= 2
    }

    /// Finds a node's best split from its own histogram, or by sorting when it is small and
    /// histograms are not subtracted (and keeps its histogram when subtracting).
    fn evaluate(
        &mut self,
        rows: &[u32],
        start: usize,
        end: usize,
        depth: usize,
        total: BinStat,
        node: usize,
    ) -> Pending {
        let p = self.params;
        let n = end - start;
        let mut q = Pending {
            node,
            start,
            end,
            depth,
            split: None,
            hist: None,
        };
        if !self.splittable(n, depth, &total) {
            return q;
        }
        let rows = &rows[start..end];
        let all: &'a [usize] = self.features;
        let subset: Vec<usize>;
        let feats: &[usize] = match p.features_per_node {
            Some(k) if k < all.len() => {
                subset = self.sample_features(rows, all, k);
                &subset
            }
            _ => all,
        };
        if !p.subtract && n <= SMALL_NODE {
            q.split = self.best_split_small(rows, feats, &total);
            return q;
        }
        let (hist, best, _) = self.fill_and_scan(rows, total, true, feats, None);
        q.split = best;
        if p.subtract {
            q.hist = Some(hist);
        } else {
            self.pool.push(hist);
        }
        q
    }

    /// Builds the histogram of a node's `rows` over `feats` and, when `want`, finds its best
    /// split (`total` is the node's sums). With `sibling` (the parent's histogram, the sibling's
    /// sums, whether to split it), the parent's histogram becomes the sibling's (parent minus
    /// this node) in place and the sibling's best split is found too. Returns the histogram and
    /// the two best splits.
    ///
    /// On several threads the features are cut into blocks (fixed per tree), each filled,
    /// subtracted and scanned by one worker; the blocks' best splits are compared in feature
    /// order, so the result is the one-thread result bit for bit.
    fn fill_and_scan(
        &mut self,
        rows: &[u32],
        total: BinStat,
        want: bool,
        feats: &[usize],
        sibling: Option<(&mut [BinStat], BinStat, bool)>,
    ) -> (Vec<BinStat>, Option<Split>, Option<Split>) {
        let data = self.data;
        // Zeroed block by block below, on the workers.
        let mut hist = self
            .pool
            .pop()
            .unwrap_or_else(|| vec![BinStat::default(); data.hist_len()]);
        // Row-wise over the sparse rows when their uncommon bins are fewer than half of `feats`.
        let sparse_per_row = data
            .sparse_per_row()
            .filter(|&k| k * 2.0 <= feats.len() as f64);
        let sparse = sparse_per_row.is_some();
        let per_row = sparse_per_row.map_or(feats.len(), |k| k.max(1.0) as usize);
        let parallel = self.params.n_threads > 1
            && rows.len() * per_row + data.hist_len() * 4 >= PARALLEL_WORK;
        let whole = std::slice::from_ref(&self.whole);
        let blocks: &[Range<usize>] = if parallel { &self.blocks } else { whole };
        // Column-wise filling reads gradients in the node's order; the root's rows are all rows
        // in order, so it reads them in place.
        let gathered;
        let (g, h): (&[f32], &[f32]) = if sparse || rows.len() == self.g.len() {
            (self.g, self.h)
        } else {
            gathered = gather(self.g, self.h, rows, parallel);
            (&gathered.0, &gathered.1)
        };
        // A node whose every feature is constant (identical rows, conflicting labels) has no
        // feature to scan: `per_row` is then 0.
        let chunk = (CHUNK_WORK / per_row.max(1)).max(256);
        let (sib_total, sib_want) = sibling.as_ref().map_or((total, false), |s| (s.1, s.2));
        let p = self.params;
        let run = |feats_in: Range<usize>, out: &mut [BinStat], sib: Option<&mut [BinStat]>| {
            out.fill(BinStat::default());
            let base = data.hist_offset(feats_in.start);
            let fs = &feats[feats.partition_point(|&f| f < feats_in.start)
                ..feats.partition_point(|&f| f < feats_in.end)];
            if sparse {
                hist::fill_sparse(data, g, h, rows, feats_in, chunk, out);
            } else {
                hist::fill_cols(data, g, h, rows, fs, out, base);
            }
            let best = want
                .then(|| scan_hist(p, data, fs, out, base, &total))
                .flatten();
            let sib_best = match sib {
                Some(parent) => {
                    for (a, b) in parent.iter_mut().zip(out.iter()) {
                        *a = a.sub(b);
                    }
                    sib_want
                        .then(|| scan_hist(p, data, fs, parent, base, &sib_total))
                        .flatten()
                }
                None => None,
            };
            (best, sib_best)
        };
        // Each block's part of the node's (and the parent's) histogram.
        let mut parts = Vec::with_capacity(blocks.len());
        let (mut rest, mut rest_sib) = (&mut hist[..], sibling.map(|s| s.0));
        for b in blocks {
            let len = data.hist_offset(b.end) - data.hist_offset(b.start);
            let (mine, r) = std::mem::take(&mut rest).split_at_mut(len);
            rest = r;
            let sib = match rest_sib.take() {
                Some(ps) => {
                    let (m, r) = ps.split_at_mut(len);
                    rest_sib = Some(r);
                    Some(m)
                }
                None => None,
            };
            parts.push((b.clone(), mine, sib));
        }
        let found: Vec<(Option<Split>, Option<Split>)> = if parts.len() > 1 {
            parts
                .into_par_iter()
                .map(|(b, out, sib)| run(b, out, sib))
                .collect()
        } else {
            parts
                .into_iter()
                .map(|(b, out, sib)| run(b, out, sib))
                .collect()
        };
        let (mut best, mut sib_best) = (None, None);
        for (a, b) in found {
            best = better(best, a);
            sib_best = better(sib_best, b);
        }
        (hist, best, sib_best)
    }

    /// Draws up to `k` of `all` that vary within `rows`, in random order (a random forest's
    /// features per node), as scikit-learn does: a feature constant in the node is skipped
    /// without counting towards `k`. Sampling `k` of all features instead turns deep nodes into
    /// leaves whenever the draw holds only columns that no longer vary there (most one-hot
    /// columns, deep in a tree), which left this forest's trees shallow and its scores coarse.
    fn sample_features(&mut self, rows: &[u32], all: &[usize], k: usize) -> Vec<usize> {
        let mut f = all.to_vec();
        let mut chosen = Vec::with_capacity(k);
        let mut i = 0;
        while i < f.len() && chosen.len() < k {
            let j = self.rng.random_range(i..f.len());
            f.swap(i, j);
            let col = self.data.column(f[i]);
            if let Some(&first) = rows.first() {
                let b = col[first as usize];
                if rows.iter().any(|&r| col[r as usize] != b) {
                    chosen.push(f[i]);
                }
            }
            i += 1;
        }
        chosen.sort_unstable();
        chosen
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
            scan(
                self.params,
                f,
                merged.iter().copied(),
                nan,
                total,
                &mut best,
            );
        }
        best
    }
}

/// Returns the first of `a` and `b` unless `b` has the strictly higher gain (the scan's rule,
/// so combining blocks in feature order gives the one-pass answer).
fn better(a: Option<Split>, b: Option<Split>) -> Option<Split> {
    match (a, b) {
        (Some(x), Some(y)) if y.gain > x.gain => Some(y),
        (None, y) => y,
        (x, _) => x,
    }
}

/// Splits features `0..n` into `parts` consecutive blocks of about equal `weight`.
fn feature_blocks(n: usize, parts: usize, weight: impl Fn(usize) -> usize) -> Vec<Range<usize>> {
    let total: usize = (0..n).map(&weight).sum();
    let mut blocks = Vec::with_capacity(parts);
    let (mut start, mut acc) = (0, 0);
    for f in 0..n {
        acc += weight(f);
        let k = blocks.len() + 1;
        if k < parts && acc * parts >= k * total && f + 1 < n {
            blocks.push(start..f + 1);
            start = f + 1;
        }
    }
    blocks.push(start..n);
    blocks
}

/// Returns a node's gradients in its rows' order.
fn gather(g: &[f32], h: &[f32], rows: &[u32], parallel: bool) -> (Vec<f32>, Vec<f32>) {
    let mut out = (vec![0f32; rows.len()], vec![0f32; rows.len()]);
    let copy = |(rs, (go, ho)): (&[u32], (&mut [f32], &mut [f32]))| {
        for ((&r, a), b) in rs.iter().zip(go).zip(ho) {
            *a = g[r as usize];
            *b = h[r as usize];
        }
    };
    if parallel {
        rows.par_chunks(GATHER_CHUNK)
            .zip(
                out.0
                    .par_chunks_mut(GATHER_CHUNK)
                    .zip(out.1.par_chunks_mut(GATHER_CHUNK)),
            )
            .for_each(copy);
    } else {
        copy((rows, (&mut out.0, &mut out.1)));
    }
    out
}

/// Scans features `feats` of the histogram part `hist` (which starts at slot `base`) for the
/// best split of a node with sums `total`.
fn scan_hist(
    p: &GrowParams,
    data: &BinnedDataset,
    feats: &[usize],
    hist: &[BinStat],
    base: usize,
    total: &BinStat,
) -> Option<Split> {
    let mut best = None;
    for &f in feats {
        let fb = data.feature(f);
        let o = data.hist_offset(f) - base;
        let h = &hist[o..o + fb.n_bins()];
        let nan = h[fb.n_value_bins()];
        let bins = h[..fb.n_value_bins()]
            .iter()
            .enumerate()
            .filter(|(_, s)| s.n > 0)
            .map(|(b, s)| (b as u8, *s));
        scan(p, f, bins, nan, total, &mut best);
    }
    best
}

/// `G² / (H + λ)`, a node's score.
fn score(p: &GrowParams, s: &BinStat) -> f64 {
    s.g * s.g / (s.h + p.lambda)
}

/// Scans one feature's non-empty value bins (ascending) for the best split.
fn scan(
    p: &GrowParams,
    feature: usize,
    bins: impl Iterator<Item = (u8, BinStat)> + Clone,
    nan: BinStat,
    total: &BinStat,
    best: &mut Option<Split>,
) {
    let parent = score(p, total);
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
            let gain = 0.5 * (score(p, &acc) + score(p, &right) - parent);
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

/// Rows a node must have before its partition runs on several threads.
const PARALLEL_PARTITION: usize = 1 << 12;

/// Stably partitions `rows` into those whose bin in `col` goes left, then the others; returns
/// how many go left. Large nodes are cut into one piece per thread, each partitioned on its own,
/// and the pieces' left and right parts joined in order: a stable partition is unique, so the
/// result does not depend on the thread count.
fn partition(
    rows: &mut [u32],
    col: &[u8],
    goes_left: impl Fn(u8) -> bool + Sync,
    scratch: &mut Vec<u32>,
    threads: usize,
) -> usize {
    if threads <= 1 || rows.len() < PARALLEL_PARTITION {
        return partition_piece(rows, col, &goes_left, scratch);
    }
    let per = rows.len().div_ceil(threads);
    let goes_left = &goes_left;
    let pieces: Vec<(usize, Vec<u32>)> = rows
        .par_chunks_mut(per)
        .map(|piece| {
            let mut right = Vec::new();
            let left = partition_piece(piece, col, goes_left, &mut right);
            right.truncate(piece.len() - left);
            (left, right)
        })
        .collect();
    // Each piece now starts with its left rows; gather them to the front, then the right rows.
    scratch.clear();
    let mut w = 0;
    let mut start = 0;
    for (left, right) in &pieces {
        rows.copy_within(start..start + left, w);
        w += left;
        start += left + right.len();
    }
    for (_, right) in &pieces {
        scratch.extend_from_slice(right);
    }
    rows[w..].copy_from_slice(scratch);
    w
}

/// Stable, branch-free partition of one piece: every row is written to both the next left slot
/// (in place) and the next right slot (`scratch`); only the matching cursor advances.
fn partition_piece(
    rows: &mut [u32],
    col: &[u8],
    goes_left: &impl Fn(u8) -> bool,
    scratch: &mut Vec<u32>,
) -> usize {
    scratch.clear();
    scratch.resize(rows.len() + 1, 0);
    let (mut w, mut k) = (0, 0);
    for i in 0..rows.len() {
        let r = rows[i];
        let left = goes_left(col[r as usize]);
        rows[w] = r;
        scratch[k] = r;
        w += usize::from(left);
        k += usize::from(!left);
    }
    rows[w..].copy_from_slice(&scratch[..k]);
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_blocks_are_consecutive_and_balanced() {
        let w = [5, 1, 1, 1, 1, 1, 0, 4, 0, 2];
        assert_eq!(feature_blocks(10, 1, |f| w[f]), vec![0..10]);
        assert_eq!(feature_blocks(10, 2, |f| w[f]), vec![0..4, 4..10]);
        assert_eq!(feature_blocks(10, 3, |f| w[f]), vec![0..2, 2..8, 8..10]);
        // More parts than features: one feature per block.
        assert_eq!(feature_blocks(2, 4, |_| 1), vec![0..1, 1..2]);
        assert_eq!(feature_blocks(3, 2, |_| 0), vec![0..1, 1..3]);
    }
}
