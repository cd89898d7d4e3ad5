//! Bounded heavy-hitter counting (Misra–Gries), for "top hosts" over inputs of any size.
//!
//! Exact while fewer than `capacity` distinct keys have been seen; past that, each count is a
//! lower bound that is off by at most `n / capacity` (n = items counted), so real heavy hitters
//! are always kept. Memory stays at `capacity` entries whatever the input (a scan touching
//! millions of addresses included).

use std::collections::HashMap;
use std::hash::Hash;

/// Counts the most frequent keys in bounded memory.
#[derive(Clone, Debug)]
pub struct TopK<K> {
    counts: HashMap<K, u64>,
    capacity: usize,
    exact: bool,
}

impl<K: Hash + Eq + Clone + Ord> TopK<K> {
    /// Keeps at most `capacity` keys. Nothing is allocated before the first key: `inspect`
    /// keeps one table per input, and reserving room up front cost ~140 KB per table (871 MB
    /// for 20,000 tiny files).
    pub fn new(capacity: usize) -> Self {
        TopK {
            counts: HashMap::new(),
            capacity: capacity.max(1),
            exact: true,
        }
    }

    /// Counts one occurrence of `key`.
    pub fn add(&mut self, key: &K) {
        self.add_n(key, 1);
    }

    /// Counts `n` occurrences of `key`.
    pub fn add_n(&mut self, key: &K, mut n: u64) {
        if let Some(c) = self.counts.get_mut(key) {
            *c += n;
            return;
        }
        while n > 0 {
            if self.counts.len() < self.capacity {
                self.counts.insert(key.clone(), n);
                return;
            }
            // Full: the new key and every kept key lose the smallest count; zeros are dropped.
            self.exact = false;
            let m = self.counts.values().copied().min().unwrap_or(0).min(n);
            n -= m;
            self.counts.retain(|_, c| {
                *c -= m;
                *c > 0
            });
        }
    }

    /// Adds another table's counts to this one.
    pub fn merge(&mut self, other: &TopK<K>) {
        for (k, c) in &other.counts {
            self.add_n(k, *c);
        }
        self.exact &= other.exact;
    }

    /// Returns true while every count is exact.
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// Returns the `n` largest counts, largest first (ties by key, for stable output).
    pub fn top(&self, n: usize) -> Vec<(K, u64)> {
        let mut v: Vec<(K, u64)> = self.counts.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_table_holds_no_memory_and_a_small_one_little() {
        let mut t: TopK<u32> = TopK::new(10_000);
        assert_eq!(t.counts.capacity(), 0);
        for k in 0..3 {
            t.add(&k);
        }
        assert!(t.counts.capacity() < 16, "{}", t.counts.capacity());
    }

    #[test]
    fn exact_when_small() {
        let mut t = TopK::new(10);
        for k in [1, 2, 2, 3, 3, 3] {
            t.add(&k);
        }
        assert!(t.is_exact());
        assert_eq!(t.top(2), vec![(3, 3), (2, 2)]);
    }

    #[test]
    fn keeps_heavy_hitters_in_bounded_memory() {
        let mut t = TopK::new(100);
        for i in 0..100_000u32 {
            t.add(&if i % 7 == 0 { 7 } else { 1_000 + i });
        }
        assert!(!t.is_exact());
        assert!(t.counts.len() <= 100);
        let top = t.top(1);
        assert_eq!(top[0].0, 7);
        // 14,286 real occurrences; the lower bound is within n / capacity of it.
        assert!(top[0].1 >= 14_286 - 1_000 && top[0].1 <= 14_286, "{top:?}");
    }
}
