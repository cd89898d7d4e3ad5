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
}

/// Bin updates (rows × features) per histogram chunk: big enough that a chunk outweighs handing
/// it to a thread and adding its buffer, small enough that large nodes use every thread.
const CHUNK_WORK: usize = 1 << 19;

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
            pool: Vec::new(),
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
            let (lh, rh) = match leaf.hist {
                Some(mut large) => {
                    let left_small = mid - leaf.start <= leaf.end - mid;
                    let (s0, s1) = if left_small {
                        (leaf.start, mid)
                    } else {
                        (mid, leaf.end)
                    };
                    let small = self.build_hist(&rows[s0..s1], self.features);
                    for (a, b) in large.iter_mut().zip(&small) {
                        *a = a.sub(b);
                    }
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
            if let Some(h) = hist {
                self.pool.push(h);
            }
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
        let hist = match hist {
            Some(h) => h,
            None => self.build_hist(rows, feats),
        };
        let mut best: Option<Split> = None;
        for &f in feats {
            let fb = self.data.feature(f);
            let o = self.data.hist_offset(f);
            let h = &hist[o..o + fb.n_bins()];
            let nan = h[fb.n_value_bins()];
            let bins = h[..fb.n_value_bins()]
                .iter()
                .enumerate()
                .filter(|(_, s)| s.n > 0)
                .map(|(b, s)| (b as u8, *s));
            self.scan(f, bins, nan, &total, &mut best);
        }
        q.split = best;
        if p.subtract {
            q.hist = Some(hist);
        } else {
            self.pool.push(hist);
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
            self.scan(f, merged.iter().copied(), nan, total, &mut best);
        }
        best
    }

    /// Returns a zeroed histogram buffer from the pool (or a new one).
    fn take_hist(&mut self) -> Vec<BinStat> {
        match self.pool.pop() {
            Some(mut h) => {
                h.fill(BinStat::default());
                h
            }
            None => vec![BinStat::default(); self.data.hist_len()],
        }
    }

    /// Builds the histogram of `feats` over `rows` (other features' bins are not meaningful),
    /// row-wise over the sparse rows or column-wise (see the `hist` module): row-wise when the
    /// rows' uncommon bins are fewer than half of `feats`.
    fn build_hist(&mut self, rows: &[u32], feats: &[usize]) -> Vec<BinStat> {
        let sparse = self
            .data
            .sparse_per_row()
            .is_some_and(|k| k * 2.0 <= feats.len() as f64);
        if sparse {
            return self.build_hist_sparse(rows);
        }
        let mut hist = self.take_hist();
        // Gradients in the node's row order (contiguous reads); the root's rows are all rows in
        // order, so it reads them in place.
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
        hist::fill_cols(
            self.data,
            g,
            h,
            rows,
            feats,
            &mut hist,
            self.params.n_threads,
        );
        hist
    }

    /// Builds a histogram row-wise from the sparse rows: rows in chunks of a fixed size, each
    /// chunk into its own buffer, chunks spread over the threads, then the buffers added in chunk
    /// order and the most frequent bins filled in.
    fn build_hist_sparse(&mut self, rows: &[u32]) -> Vec<BinStat> {
        let per_row = self.data.sparse_per_row().unwrap_or(1.0).max(1.0) as usize;
        let chunk = (CHUNK_WORK / per_row).max(256);
        let n_chunks = rows.len().div_ceil(chunk).max(1);
        let mut bufs: Vec<Vec<BinStat>> = (0..n_chunks).map(|_| self.take_hist()).collect();
        let mut totals = vec![BinStat::default(); n_chunks];
        let (data, g, h) = (self.data, self.g, self.h);
        let fill = |rows: &[u32], out: &mut [BinStat], total: &mut BinStat| {
            *total = hist::fill_rows_sparse(data, g, h, rows, out);
        };
        let threads = self.params.n_threads.clamp(1, n_chunks);
        if threads == 1 {
            for ((rs, buf), t) in rows.chunks(chunk).zip(bufs.iter_mut()).zip(&mut totals) {
                fill(rs, buf, t);
            }
        } else {
            let per = n_chunks.div_ceil(threads);
            std::thread::scope(|s| {
                let fill = &fill;
                let n_runs = n_chunks.div_ceil(per);
                for (i, ((rs, bs), ts)) in rows
                    .chunks(chunk * per)
                    .zip(bufs.chunks_mut(per))
                    .zip(totals.chunks_mut(per))
                    .enumerate()
                {
                    let work = move || {
                        for ((r, b), t) in rs.chunks(chunk).zip(bs.iter_mut()).zip(ts) {
                            fill(r, b, t);
                        }
                    };
                    // The calling thread takes the last run rather than waiting idle.
                    if i + 1 == n_runs {
                        work();
                    } else {
                        s.spawn(work);
                    }
                }
            });
        }
        let mut bufs = bufs.into_iter();
        let mut hist = bufs.next().expect("at least one chunk");
        let mut total = totals[0];
        for (b, t) in bufs.zip(&totals[1..]) {
            for (a, x) in hist.iter_mut().zip(&b) {
                a.add(x);
            }
            total.add(t);
            self.pool.push(b);
        }
        hist::fill_default_bins(self.data, &total, &mut hist);
        hist
    }
}

/// Rows a node must have before its partition runs on several threads.
const PARALLEL_PARTITION: usize = 1 << 16;

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
    let pieces: Vec<(usize, Vec<u32>)> = std::thread::scope(|s| {
        let handles: Vec<_> = rows
            .chunks_mut(per)
            .map(|piece| {
                s.spawn(move || {
                    let mut right = Vec::new();
                    let left = partition_piece(piece, col, goes_left, &mut right);
                    right.truncate(piece.len() - left);
                    (left, right)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("partition threads do not panic"))
            .collect()
    });
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
