//! Training rows kept in bounded memory whatever the input size: a stratified, de-duplicating
//! sample built one row at a time.
//!
//! [`RowSampler`] takes rows as they are extracted. A stratum is (group, target, class): for
//! flows, (capture, benign or malicious, detailed label). While at most
//! [`SampleConfig::max_rows`] rows have come, every row is kept as it came, so a
//! [`RowSampler::finish`] then gives exactly the dataset that pushing every row would
//! (same rows, same order): a model trained on it is the one trained without a budget.
//!
//! Past the budget, sampling starts:
//!
//! - **Duplicates are folded.** A row whose features are bit for bit those of a kept row of its
//!   stratum (a 128-bit hash of its bytes and its stratum) is not stored again: it is counted
//!   in [`StratumCount::folded`] against the kept row, **not weighted** into the fit. Ten
//!   million identical scan flows are one row, so they crowd out neither the scan's other
//!   rows nor the other strata; weighting them would give them back the pull in the fit and
//!   in the threshold that the sample takes away. A duplicate of a row already sampled away
//!   is counted as sampled away (only kept rows are remembered).
//! - **The budget is shared by water-filling over distinct rows**: every stratum gets an equal
//!   share, a stratum with fewer distinct rows than its share keeps them all and the rest is
//!   shared again among the others; the remainder of the division goes one row each to the
//!   strata seen first. Those are [`allocate`]'s quotas.
//! - **Which rows a stratum keeps** is fixed by a seeded rank of the row's hash: its quota of
//!   distinct rows with the lowest ranks (bottom-k sampling). The ranks do not depend on the
//!   order rows come in, so the sample is a function of the seed and of the set of distinct
//!   rows per stratum. While reading, a stratum is cut back to one row above its current
//!   share whenever the rows kept pass the budget by an eighth (the shares only shrink as rows
//!   come, so nothing a later cut would keep is ever dropped); [`RowSampler::finish`] cuts
//!   to the exact quotas.
//!
//! Nothing is dropped in silence: per stratum, `seen = kept + folded + sampled_away`. Kept rows
//! keep the order (and time) of their first occurrence. Memory: at most `max_rows` plus an
//! eighth (plus one per stratum) rows of features, and for each kept row past the budget its
//! hash, rank and duplicate count.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;

/// How many rows to keep and the seed of the sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleConfig {
    /// At most this many rows are kept (at least 1).
    pub max_rows: usize,
    /// Seeds the ranks that choose which distinct rows a stratum keeps.
    pub seed: u64,
}

/// One stratum's rows: seen, kept, folded into kept rows, sampled away.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StratumCount {
    /// The group (capture) name.
    pub group: String,
    /// Whether the stratum's rows are malicious.
    pub malicious: bool,
    /// The detailed class name.
    pub class: String,
    /// Rows pushed.
    pub seen: u64,
    /// Rows kept (distinct).
    pub kept: u64,
    /// Rows identical to a kept row, counted and not stored (not weighted either).
    pub folded: u64,
    /// Rows neither kept nor folded: `seen - kept - folded`.
    pub sampled_away: u64,
}

/// What the sample holds and what it left out, per stratum and in total.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplingReport {
    /// The row budget ([`SampleConfig::max_rows`]); `None` when none was set.
    pub max_rows: Option<u64>,
    /// The seed of the ranks.
    pub seed: u64,
    /// Whether the budget was passed (rows then folded or sampled away); `false`: every row kept.
    pub sampled: bool,
    /// Rows pushed.
    pub seen: u64,
    /// Rows kept.
    pub kept: u64,
    /// Rows folded into identical kept rows.
    pub folded: u64,
    /// Rows sampled away.
    pub sampled_away: u64,
    /// Per stratum, in the order strata were first seen.
    pub strata: Vec<StratumCount>,
}

/// The rows kept, in first-seen order, and per row what sampling needs.
#[derive(Default)]
struct Rows {
    features: Vec<f32>,
    target: Vec<bool>,
    class: Vec<u32>,
    group: Vec<u32>,
    time: Vec<f64>,
    stratum: Vec<u32>,
    /// Past the budget only (else empty): the row's hash and its duplicates folded.
    hash: Vec<u128>,
    dups: Vec<u64>,
}

impl Rows {
    fn len(&self) -> usize {
        self.target.len()
    }

    /// Keeps the rows whose `keep` is true, in order.
    fn retain(&mut self, keep: &[bool], n_features: usize) {
        let mut w = 0;
        for (r, &kept) in keep.iter().enumerate() {
            if !kept {
                continue;
            }
            if w != r {
                self.features
                    .copy_within(r * n_features..(r + 1) * n_features, w * n_features);
                self.target[w] = self.target[r];
                self.class[w] = self.class[r];
                self.group[w] = self.group[r];
                self.time[w] = self.time[r];
                self.stratum[w] = self.stratum[r];
                if !self.hash.is_empty() {
                    self.hash[w] = self.hash[r];
                    self.dups[w] = self.dups[r];
                }
            }
            w += 1;
        }
        self.features.truncate(w * n_features);
        self.target.truncate(w);
        self.class.truncate(w);
        self.group.truncate(w);
        self.time.truncate(w);
        self.stratum.truncate(w);
        self.hash.truncate(w.min(self.hash.len()));
        self.dups.truncate(w.min(self.dups.len()));
    }
}

struct Stratum {
    group: u32,
    malicious: bool,
    class: u32,
    seen: u64,
    /// Distinct rows counted past the budget (exact for a stratum never cut; see the module
    /// docs for why the allocation is exact anyway).
    distinct: u64,
    /// The highest rank kept since the stratum was last cut: a new row ranked above is
    /// sampled away at once.
    cut: Option<(u64, u128)>,
}

/// Rows in, a bounded stratified sample out (see the module docs).
pub struct RowSampler {
    config: SampleConfig,
    n_features: usize,
    rows: Rows,
    strata: Vec<Stratum>,
    stratum_of: HashMap<(u32, bool, u32), u32>,
    /// Past the budget: kept rows by hash.
    index: Option<HashMap<u128, u32>>,
}

impl RowSampler {
    /// A sampler of rows of `n_features` values.
    ///
    /// # Panics
    ///
    /// Panics if `config.max_rows` is 0 (callers validate the budget).
    pub fn new(config: SampleConfig, n_features: usize) -> Self {
        assert!(config.max_rows > 0, "a row budget of at least one row");
        RowSampler {
            config,
            n_features,
            rows: Rows::default(),
            strata: Vec::new(),
            stratum_of: HashMap::new(),
            index: None,
        }
    }

    /// Takes one row (its features, target, class, group and time).
    pub fn push(&mut self, row: &[f32], malicious: bool, class: u32, group: u32, time: f64) {
        debug_assert_eq!(row.len(), self.n_features);
        let next = self.strata.len() as u32;
        let s = *self
            .stratum_of
            .entry((group, malicious, class))
            .or_insert(next);
        if s == next {
            self.strata.push(Stratum {
                group,
                malicious,
                class,
                seen: 0,
                distinct: 0,
                cut: None,
            });
        }
        self.strata[s as usize].seen += 1;
        if self.index.is_none() {
            self.append(row, malicious, class, group, time, s);
            if self.rows.len() > self.config.max_rows {
                self.start_sampling();
            }
            return;
        }
        let h = row_hash(row, s);
        if let Some(&i) = self.index.as_ref().and_then(|index| index.get(&h)) {
            self.rows.dups[i as usize] += 1;
            return;
        }
        let stratum = &mut self.strata[s as usize];
        stratum.distinct += 1;
        if stratum
            .cut
            .is_some_and(|cut| rank(h, self.config.seed) > cut)
        {
            return;
        }
        let at = self.rows.len() as u32;
        if let Some(index) = &mut self.index {
            index.insert(h, at);
        }
        self.append(row, malicious, class, group, time, s);
        self.rows.hash.push(h);
        self.rows.dups.push(0);
        if self.rows.len() >= self.config.max_rows.saturating_add(self.slack()) {
            self.cut(false);
        }
    }

    /// Rows kept beyond the budget before the strata are cut back: an eighth of it, plus one
    /// per stratum (the shares while reading are one row above the exact ones).
    fn slack(&self) -> usize {
        self.config.max_rows / 8 + self.strata.len() + 1
    }

    fn append(&mut self, row: &[f32], malicious: bool, class: u32, group: u32, time: f64, s: u32) {
        let r = &mut self.rows;
        r.features.extend_from_slice(row);
        r.target.push(malicious);
        r.class.push(class);
        r.group.push(group);
        r.time.push(time);
        r.stratum.push(s);
    }

    /// The budget is passed: fold the duplicates among the rows kept so far, count each
    /// stratum's distinct rows, and cut.
    fn start_sampling(&mut self) {
        let n = self.rows.len();
        let mut index: HashMap<u128, u32> = HashMap::with_capacity(n);
        let mut keep = vec![true; n];
        let mut hashes = Vec::with_capacity(n);
        let mut dups = vec![0u64; n];
        let mut kept = 0u32;
        for (i, keep) in keep.iter_mut().enumerate() {
            let s = self.rows.stratum[i];
            let h = row_hash(
                &self.rows.features[i * self.n_features..(i + 1) * self.n_features],
                s,
            );
            match index.get(&h) {
                Some(&first) => {
                    dups[first as usize] += 1;
                    *keep = false;
                }
                None => {
                    // Indexed by the row's position once the duplicates are out.
                    index.insert(h, kept);
                    hashes.push(h);
                    self.strata[s as usize].distinct += 1;
                    kept += 1;
                }
            }
        }
        self.rows.retain(&keep, self.n_features);
        dups.truncate(kept as usize);
        self.rows.hash = hashes;
        self.rows.dups = dups;
        self.index = Some(index);
        self.cut(false);
    }

    /// Cuts every stratum holding more rows than its quota back to its lowest-ranked rows.
    /// `exact`: the final quotas; else one row above the current share (see the module docs).
    fn cut(&mut self, exact: bool) {
        let counts: Vec<u64> = self.strata.iter().map(|s| s.distinct).collect();
        let quotas = allocate(self.config.max_rows as u64, &counts, exact);
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); self.strata.len()];
        for (i, &s) in self.rows.stratum.iter().enumerate() {
            members[s as usize].push(i as u32);
        }
        let seed = self.config.seed;
        let mut keep = vec![true; self.rows.len()];
        let mut any = false;
        for (s, rows) in members.iter_mut().enumerate() {
            let quota = quotas[s] as usize;
            if rows.len() <= quota {
                continue;
            }
            any = true;
            let hash = &self.rows.hash;
            let by_rank = |&i: &u32| rank(hash[i as usize], seed);
            if quota == 0 {
                for &i in rows.iter() {
                    keep[i as usize] = false;
                }
                self.strata[s].cut = Some((0, 0));
                continue;
            }
            rows.select_nth_unstable_by_key(quota - 1, by_rank);
            self.strata[s].cut = Some(by_rank(&rows[quota - 1]));
            for &i in &rows[quota..] {
                keep[i as usize] = false;
            }
        }
        if !any {
            return;
        }
        self.rows.retain(&keep, self.n_features);
        let index = self.index.get_or_insert_with(HashMap::new);
        index.clear();
        for (i, &h) in self.rows.hash.iter().enumerate() {
            index.insert(h, i as u32);
        }
    }

    /// The sample as a dataset, with `names`' feature, class and group names, and what it
    /// holds per stratum.
    pub fn finish(mut self, names: Dataset) -> (Dataset, SamplingReport) {
        let sampled = self.index.is_some();
        if sampled {
            self.cut(true);
        }
        let mut kept = vec![0u64; self.strata.len()];
        let mut folded = vec![0u64; self.strata.len()];
        for (i, &s) in self.rows.stratum.iter().enumerate() {
            kept[s as usize] += 1;
            folded[s as usize] += self.rows.dups.get(i).copied().unwrap_or(0);
        }
        let name = |names: &[String], i: u32| {
            names
                .get(i as usize)
                .cloned()
                .unwrap_or_else(|| i.to_string())
        };
        let strata: Vec<StratumCount> = self
            .strata
            .iter()
            .enumerate()
            .map(|(s, st)| StratumCount {
                group: name(&names.group_names, st.group),
                malicious: st.malicious,
                class: name(&names.class_names, st.class),
                seen: st.seen,
                kept: kept[s],
                folded: folded[s],
                sampled_away: st.seen - kept[s] - folded[s],
            })
            .collect();
        let sum = |f: fn(&StratumCount) -> u64| strata.iter().map(f).sum::<u64>();
        let report = SamplingReport {
            max_rows: Some(self.config.max_rows as u64),
            seed: self.config.seed,
            sampled,
            seen: sum(|s| s.seen),
            kept: sum(|s| s.kept),
            folded: sum(|s| s.folded),
            sampled_away: sum(|s| s.sampled_away),
            strata,
        };
        let mut r = self.rows;
        r.features.shrink_to_fit();
        let dataset = Dataset {
            features: r.features,
            target: r.target,
            class: r.class,
            group: r.group,
            time: r.time,
            ..names
        };
        (dataset, report)
    }
}

/// Each stratum's quota of `budget` rows given its count of distinct rows: water-filling (an
/// equal share; a stratum with fewer rows keeps them all and the rest is shared again). With
/// `exact`, the shares sum to `budget` (or to every row when they fit): the remainder goes one
/// row each to the first strata (by index) still above the share. Without, every stratum above
/// the share gets the share plus one, an upper bound of any later exact quota.
pub fn allocate(budget: u64, counts: &[u64], exact: bool) -> Vec<u64> {
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by_key(|&s| (counts[s], s));
    let mut quotas = counts.to_vec();
    let mut remaining = budget;
    for (k, &s) in order.iter().enumerate() {
        let left = (order.len() - k) as u64;
        let share = remaining / left;
        if counts[s] <= share {
            remaining -= counts[s];
            continue;
        }
        // Every stratum from here on is above the share.
        let mut above: Vec<usize> = order[k..].to_vec();
        above.sort_unstable();
        let extra = remaining % left;
        for (j, &t) in above.iter().enumerate() {
            quotas[t] = if exact {
                share + u64::from((j as u64) < extra)
            } else {
                (share + 1).min(counts[t])
            };
        }
        break;
    }
    quotas
}

/// A 128-bit hash of a row's bits and its stratum: two 64-bit multiply-rotate lanes with
/// different constants, each finished with SplitMix64's mixer.
fn row_hash(row: &[f32], stratum: u32) -> u128 {
    const K1: u64 = 0x9E37_79B9_7F4A_7C15;
    const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    let mut a = K1 ^ u64::from(stratum);
    let mut b = K2.wrapping_add(u64::from(stratum));
    let mut words = row.chunks_exact(2);
    for pair in &mut words {
        let w = u64::from(pair[0].to_bits()) | (u64::from(pair[1].to_bits()) << 32);
        a = (a.rotate_left(23) ^ w).wrapping_mul(K2);
        b = (b.rotate_left(29) ^ w.wrapping_add(K1)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    }
    if let [last] = words.remainder() {
        let w = u64::from(last.to_bits()) | (1 << 40);
        a = (a.rotate_left(23) ^ w).wrapping_mul(K2);
        b = (b.rotate_left(29) ^ w.wrapping_add(K1)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    }
    let n = row.len() as u64;
    (u128::from(mix(a ^ n)) << 64) | u128::from(mix(b.wrapping_add(n)))
}

/// A distinct row's seeded rank: lower ranks are kept first. Ties (of the 64-bit key) are
/// broken by the hash, so the order is total.
fn rank(h: u128, seed: u64) -> (u64, u128) {
    (mix((h as u64) ^ mix(seed ^ (h >> 64) as u64)), h)
}

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;
