//! Cross-validation splits: stratified k-fold, leave-one-group-out (one group per capture file)
//! and time-ordered splits (train on the past, test on the future).
//!
//! Every function returns row indices, sorted ascending within each side of a fold, and never
//! puts a row on both sides. Random row splits of network captures leak (same hosts, same
//! sessions in train and test); prefer [`leave_one_group_out`] or [`time_ordered`] for the
//! numbers you report and keep [`stratified_kfold`] for tuning within the training captures.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One train/test split, as row indices sorted ascending.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    /// Rows to train on.
    pub train: Vec<usize>,
    /// Rows to evaluate on.
    pub test: Vec<usize>,
}

/// Returns the fold whose test rows are those with `in_test[i]`.
fn fold_from_mask(in_test: &[bool]) -> Fold {
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (i, &t) in in_test.iter().enumerate() {
        if t {
            test.push(i);
        } else {
            train.push(i);
        }
    }
    Fold { train, test }
}

/// Returns `k` folds stratified on the binary target: each fold's test side holds each class's
/// rows to within one of an equal share, and the folds' test sides partition the rows.
///
/// Deterministic for a given `seed`. Errors if `k < 2` or `k` exceeds the number of rows.
pub fn stratified_kfold(target: &[bool], k: usize, seed: u64) -> Result<Vec<Fold>> {
    let labels: Vec<u32> = target.iter().map(|&t| u32::from(t)).collect();
    stratified_kfold_labels(&labels, k, seed)
}

/// Returns `k` folds stratified on arbitrary class labels (see [`stratified_kfold`]).
pub fn stratified_kfold_labels(labels: &[u32], k: usize, seed: u64) -> Result<Vec<Fold>> {
    let n = labels.len();
    if k < 2 || k > n {
        return Err(Error::InvalidParams(format!(
            "stratified k-fold needs 2 <= k <= rows, got k = {k} for {n} rows"
        )));
    }
    let mut by_class: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, &c) in labels.iter().enumerate() {
        by_class.entry(c).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut fold_of = vec![0usize; n];
    // Dealing each class round-robin keeps every class within ±1 per fold; starting each class
    // where the previous one stopped keeps the fold sizes within ±1 as well.
    let mut offset = 0;
    for rows in by_class.values_mut() {
        rows.shuffle(&mut rng);
        for (j, &i) in rows.iter().enumerate() {
            fold_of[i] = (offset + j) % k;
        }
        offset = (offset + rows.len()) % k;
    }
    Ok((0..k)
        .map(|f| fold_from_mask(&fold_of.iter().map(|&g| g == f).collect::<Vec<_>>()))
        .collect())
}

/// Returns one fold per distinct group (in ascending group order), testing on that group's
/// rows and training on all others: leave-one-capture-out when groups are capture files.
///
/// Errors with fewer than two distinct groups.
pub fn leave_one_group_out(groups: &[u32]) -> Result<Vec<Fold>> {
    let distinct: std::collections::BTreeSet<u32> = groups.iter().copied().collect();
    if distinct.len() < 2 {
        return Err(Error::InvalidData(format!(
            "leave-one-group-out needs at least 2 groups, got {}",
            distinct.len()
        )));
    }
    Ok(distinct
        .into_iter()
        .map(|g| fold_from_mask(&groups.iter().map(|&x| x == g).collect::<Vec<_>>()))
        .collect())
}

/// Returns the distinct groups in ascending order: the held-out group of each
/// [`leave_one_group_out`] fold, fold by fold.
pub fn distinct_groups(groups: &[u32]) -> Vec<u32> {
    let set: std::collections::BTreeSet<u32> = groups.iter().copied().collect();
    set.into_iter().collect()
}

/// Returns up to `n_splits` expanding-window folds over event time: rows are ordered by time and
/// cut into `n_splits + 1` blocks of near-equal size; fold `i` trains on blocks `0..=i` and tests
/// on block `i + 1` (scikit-learn's `TimeSeriesSplit`).
///
/// Every training row is strictly earlier than every test row of its fold: a block boundary
/// that would split rows of equal time moves forward past them, and folds left with an empty
/// side are dropped. Errors if `n_splits` is 0, a time is not finite, or no fold remains.
pub fn time_ordered(times: &[f64], n_splits: usize) -> Result<Vec<Fold>> {
    time_ordered_by_group(times, &vec![0; times.len()], n_splits)
}

/// Returns up to `n_splits` expanding-window folds cut in each group's own time order: each
/// group's rows (a capture's flows) are cut into `n_splits + 1` blocks as in [`time_ordered`],
/// and fold `i` trains on blocks `0..=i` of every group and tests on block `i + 1` of every
/// group.
///
/// Within a group, every training row is strictly earlier than every test row of its fold.
/// Groups are not compared with each other: captures recorded on different days each keep their
/// own past and future. A group too short or with too few distinct times for a cut adds nothing
/// to that fold's test side; folds left with an empty side are dropped. Errors if `n_splits` is
/// 0, a time is not finite, the slices differ in length, or no fold remains.
pub fn time_ordered_by_group(times: &[f64], groups: &[u32], n_splits: usize) -> Result<Vec<Fold>> {
    if n_splits == 0 {
        return Err(Error::InvalidParams(
            "time-ordered split needs n_splits >= 1".into(),
        ));
    }
    if times.len() != groups.len() {
        return Err(Error::InvalidData(format!(
            "{} times for {} group values",
            times.len(),
            groups.len()
        )));
    }
    if let Some(i) = times.iter().position(|t| !t.is_finite()) {
        return Err(Error::InvalidData(format!("time of row {i} is not finite")));
    }
    // The block of every row: 0 is never tested; fold `i` tests block `i + 1`.
    let mut block = vec![0usize; times.len()];
    for g in distinct_groups(groups) {
        let mut order: Vec<usize> = (0..times.len()).filter(|&i| groups[i] == g).collect();
        order.sort_by(|&a, &b| times[a].total_cmp(&times[b]).then(a.cmp(&b)));
        for (b, w) in block_bounds(&order, times, n_splits).windows(2).enumerate() {
            // Rows with nothing of their group before them stay in block 0 (never tested).
            if w[0] == 0 {
                continue;
            }
            for &i in &order[w[0]..w[1]] {
                block[i] = b + 1;
            }
        }
    }
    let folds: Vec<Fold> = (1..=n_splits)
        .filter_map(|b| {
            let test: Vec<usize> = (0..block.len()).filter(|&i| block[i] == b).collect();
            let train: Vec<usize> = (0..block.len()).filter(|&i| block[i] < b).collect();
            (!train.is_empty() && !test.is_empty()).then_some(Fold { train, test })
        })
        .collect();
    if folds.is_empty() {
        return Err(Error::InvalidData(
            "time-ordered split: too few distinct times for any fold".into(),
        ));
    }
    Ok(folds)
}

/// Returns the `n_splits + 1` sorted positions where blocks `1..=n_splits` start, then the end:
/// block `b` is `order[bounds[b - 1]..bounds[b]]`. A boundary that would split rows of equal time
/// moves forward past them, so it may meet the next one (an empty block). A block starting at 0
/// (a group shorter than the number of blocks) has nothing before it.
fn block_bounds(order: &[usize], times: &[f64], n_splits: usize) -> Vec<usize> {
    let n = order.len();
    let blocks = n_splits + 1;
    let mut bounds: Vec<usize> = Vec::with_capacity(blocks);
    for b in 1..blocks {
        let mut p = (b * n / blocks).max(bounds.last().copied().unwrap_or(0));
        while p > 0 && p < n && times[order[p]] == times[order[p - 1]] {
            p += 1;
        }
        bounds.push(p);
    }
    bounds.push(n);
    bounds
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn assert_disjoint_sorted(f: &Fold, n: usize) {
        let mut seen = vec![false; n];
        for &i in f.train.iter().chain(&f.test) {
            assert!(!seen[i], "row {i} on both sides");
            seen[i] = true;
        }
        assert!(f.train.windows(2).all(|w| w[0] < w[1]));
        assert!(f.test.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn small_cases() {
        let groups = [2, 0, 2, 1];
        let folds = leave_one_group_out(&groups).unwrap();
        assert_eq!(distinct_groups(&groups), vec![0, 1, 2]);
        assert_eq!(folds[0].test, vec![1]);
        assert_eq!(folds[2].test, vec![0, 2]);
        assert!(leave_one_group_out(&[3, 3]).is_err());
        assert!(stratified_kfold(&[true, false], 3, 0).is_err());
        let t = time_ordered(&[5.0, 1.0, 2.0, 4.0, 3.0, 6.0], 2).unwrap();
        assert_eq!(t[0].train, vec![1, 2]);
        assert_eq!(t[0].test, vec![3, 4]);
        assert_eq!(t[1].test, vec![0, 5]);
        assert!(time_ordered(&[1.0; 5], 2).is_err());
        assert!(time_ordered(&[1.0, f64::NAN], 1).is_err());
    }

    #[test]
    fn time_by_group_cuts_each_capture_in_its_own_time() {
        // Group 0 runs at times 100..106, group 1 at 1..4: each is cut on its own clock, so
        // group 1's later half is tested although it is earlier than all of group 0.
        let times = [105.0, 1.0, 100.0, 2.0, 101.0, 3.0, 102.0, 4.0, 103.0, 104.0];
        let groups = [0, 1, 0, 1, 0, 1, 0, 1, 0, 0];
        let f = time_ordered_by_group(&times, &groups, 1).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].train, vec![1, 2, 3, 4, 6]);
        assert_eq!(f[0].test, vec![0, 5, 7, 8, 9]);
        let f = time_ordered_by_group(&times, &groups, 2).unwrap();
        assert_eq!(f[0].train, vec![1, 2, 4]);
        assert_eq!(f[0].test, vec![3, 6, 8]);
        assert_eq!(f[1].train, vec![1, 2, 3, 4, 6, 8]);
        assert_eq!(f[1].test, vec![0, 5, 7, 9]);
        assert!(time_ordered_by_group(&times, &groups[..3], 1).is_err());
        assert!(time_ordered_by_group(&times, &groups, 0).is_err());
    }

    #[test]
    fn same_seed_same_folds() {
        let y: Vec<bool> = (0..100).map(|i| i % 7 == 0).collect();
        assert_eq!(
            stratified_kfold(&y, 5, 9).unwrap(),
            stratified_kfold(&y, 5, 9).unwrap()
        );
        assert_ne!(
            stratified_kfold(&y, 5, 9).unwrap(),
            stratified_kfold(&y, 5, 10).unwrap()
        );
    }

    proptest! {
        #[test]
        fn stratified_partitions_and_balances(
            labels in prop::collection::vec(0u32..4, 2..200),
            k in 2usize..8,
            seed in any::<u64>(),
        ) {
            prop_assume!(k <= labels.len());
            let n = labels.len();
            let folds = stratified_kfold_labels(&labels, k, seed).unwrap();
            prop_assert_eq!(folds.len(), k);
            let mut covered = vec![0; n];
            for f in &folds {
                assert_disjoint_sorted(f, n);
                prop_assert_eq!(f.train.len() + f.test.len(), n);
                for &i in &f.test { covered[i] += 1; }
            }
            prop_assert!(covered.iter().all(|&c| c == 1));
            for c in 0..4 {
                let per: Vec<usize> = folds.iter()
                    .map(|f| f.test.iter().filter(|&&i| labels[i] == c).count()).collect();
                prop_assert!(per.iter().max().unwrap() - per.iter().min().unwrap() <= 1);
            }
            let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
            prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
        }

        #[test]
        fn groups_never_straddle(groups in prop::collection::vec(0u32..6, 1..150)) {
            let n = groups.len();
            let Ok(folds) = leave_one_group_out(&groups) else {
                prop_assert!(groups.iter().all(|&g| g == groups[0]));
                return Ok(());
            };
            let mut covered = vec![0; n];
            for f in &folds {
                assert_disjoint_sorted(f, n);
                prop_assert_eq!(f.train.len() + f.test.len(), n);
                let g = groups[f.test[0]];
                prop_assert!(f.test.iter().all(|&i| groups[i] == g));
                prop_assert!(f.train.iter().all(|&i| groups[i] != g));
                for &i in &f.test { covered[i] += 1; }
            }
            prop_assert!(covered.iter().all(|&c| c == 1));
        }

        #[test]
        fn time_folds_look_only_forward(
            times in prop::collection::vec(0u8..30, 2..150),
            n_splits in 1usize..6,
        ) {
            let t: Vec<f64> = times.iter().map(|&x| f64::from(x)).collect();
            let Ok(folds) = time_ordered(&t, n_splits) else { return Ok(()); };
            prop_assert!(folds.len() <= n_splits);
            let mut tested = vec![0; t.len()];
            for f in &folds {
                assert_disjoint_sorted(f, t.len());
                prop_assert!(!f.train.is_empty() && !f.test.is_empty());
                let last_train = f.train.iter().map(|&i| t[i]).fold(f64::MIN, f64::max);
                let first_test = f.test.iter().map(|&i| t[i]).fold(f64::MAX, f64::min);
                prop_assert!(last_train < first_test);
                for &i in &f.test { tested[i] += 1; }
            }
            prop_assert!(tested.iter().all(|&c| c <= 1));
        }

        #[test]
        fn time_by_group_never_trains_on_a_later_flow_of_a_capture(
            rows in prop::collection::vec((0u8..20, 0u32..4), 2..200),
            n_splits in 1usize..6,
        ) {
            let t: Vec<f64> = rows.iter().map(|&(x, _)| f64::from(x)).collect();
            let g: Vec<u32> = rows.iter().map(|&(_, g)| g).collect();
            let Ok(folds) = time_ordered_by_group(&t, &g, n_splits) else { return Ok(()); };
            prop_assert!(folds.len() <= n_splits);
            let mut tested = vec![0; t.len()];
            for f in &folds {
                assert_disjoint_sorted(f, t.len());
                prop_assert!(!f.train.is_empty() && !f.test.is_empty());
                for &i in &f.test {
                    tested[i] += 1;
                    // Every training row of the same capture is strictly earlier.
                    for j in (0..t.len()).filter(|&j| g[j] == g[i]) {
                        if f.train.binary_search(&j).is_ok() {
                            prop_assert!(t[j] < t[i]);
                        }
                    }
                }
            }
            prop_assert!(tested.iter().all(|&c| c <= 1));
        }
    }
}
