//! A capped map with least-recently-used and idle eviction: the one table behind the per-host
//! context ([`HostTable`](crate::host::HostTable)) and the network-context tables
//! ([`Context`](crate::context::Context)).
//!
//! Entries live in a flat vector of slots, reused after eviction, so a warm table allocates
//! nothing; the slots form an intrusive doubly linked list in order of last use:
//!
//! - **Capacity eviction**: a new key in a full table takes the slot of the least recently used
//!   key (the list's tail).
//! - **Idle eviction** ([`Lru::evict_idle`]): tail entries whose clock (the largest `ts` seen for
//!   them) is more than `idle_ns` behind `now` are dropped. The list is ordered by arrival, which
//!   equals event-time order up to Zeek's end-time write order, so this is a cheap, slightly
//!   conservative idle scan. A key that a late flow moved ahead of fresher keys can outlive
//!   the scan; [`Lru::touch_slot`] forgets it when it is next used, so no caller ever sees a
//!   key idle for longer than `idle_ns` (a gap is at most the timeout).
//!
//! Eviction follows the list, never the hash map's iteration order, so the map's random hash
//! seed (SipHash, which also keeps attacker-chosen keys from degrading the table) has no
//! influence on any value. A slot's number is stable while its key is held: callers may keep
//! per-slot data of their own in a parallel vector (the host table's per-horizon states).

use std::collections::HashMap;
use std::hash::Hash;

const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Entry<K, V> {
    key: K,
    prev: u32,
    next: u32,
    /// The largest `ts` seen for the entry (ns).
    clock: i64,
    val: V,
}

/// A capped map with least-recently-used and idle eviction (see the module docs).
#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    index: HashMap<K, u32>,
    entries: Vec<Entry<K, V>>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    cap: usize,
    idle_ns: i64,
}

impl<K: Hash + Eq + Copy, V: Default> Lru<K, V> {
    /// An empty table holding at most `cap` keys (at least 1), forgetting keys idle for longer
    /// than `idle_ns`.
    pub(crate) fn new(cap: usize, idle_ns: i64) -> Self {
        Lru {
            index: HashMap::new(),
            entries: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            cap: cap.max(1),
            idle_ns,
        }
    }

    /// Number of keys held.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Number of slots allocated (never more than the cap).
    pub(crate) fn slots(&self) -> usize {
        self.entries.len()
    }

    /// Forgets every key, keeping the allocations.
    pub(crate) fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
        self.free.clear();
        self.head = NIL;
        self.tail = NIL;
    }

    fn unlink(&mut self, s: u32) {
        let (prev, next) = (self.entries[s as usize].prev, self.entries[s as usize].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
    }

    fn push_front(&mut self, s: u32) {
        self.entries[s as usize].prev = NIL;
        self.entries[s as usize].next = self.head;
        if self.head != NIL {
            self.entries[self.head as usize].prev = s;
        }
        self.head = s;
        if self.tail == NIL {
            self.tail = s;
        }
    }

    fn remove_tail(&mut self) -> u32 {
        let s = self.tail;
        self.unlink(s);
        let key = self.entries[s as usize].key;
        self.index.remove(&key);
        s
    }

    /// Drops the least recently used keys idle for longer than the timeout at time `now`.
    pub(crate) fn evict_idle(&mut self, now: i64) {
        let limit = now.saturating_sub(self.idle_ns);
        while self.tail != NIL && self.entries[self.tail as usize].clock < limit {
            let s = self.remove_tail();
            self.free.push(s);
        }
    }

    /// Marks `key` used at `ts` (a new key gets a slot, evicting the least recently used key
    /// if the table is full, and a default value). Returns its slot and its clock before this
    /// use (`None` if new); its clock moves to `max(clock, ts)`.
    pub(crate) fn touch_slot(&mut self, key: K, ts: i64) -> (u32, Option<i64>) {
        let (s, before) = match self.index.get(&key) {
            Some(&s) => {
                self.unlink(s);
                let e = &mut self.entries[s as usize];
                if e.clock < ts.saturating_sub(self.idle_ns) {
                    // Idle past the timeout but not yet dropped: a late flow touched a key
                    // after a fresher one, so it sits ahead of the tail that `evict_idle`
                    // scans. It is forgotten now, as the scan would have.
                    e.clock = ts;
                    e.val = V::default();
                    (s, None)
                } else {
                    let before = e.clock;
                    e.clock = e.clock.max(ts);
                    (s, Some(before))
                }
            }
            None => {
                let s = if let Some(s) = self.free.pop() {
                    s
                } else if self.entries.len() < self.cap {
                    self.entries.push(Entry {
                        key,
                        prev: NIL,
                        next: NIL,
                        clock: ts,
                        val: V::default(),
                    });
                    (self.entries.len() - 1) as u32
                } else {
                    self.remove_tail()
                };
                let e = &mut self.entries[s as usize];
                e.key = key;
                e.clock = ts;
                e.val = V::default();
                self.index.insert(key, s);
                (s, None)
            }
        };
        self.push_front(s);
        (s, before)
    }

    /// [`touch_slot`](Lru::touch_slot), returning the key's value instead of its slot.
    pub(crate) fn touch(&mut self, key: K, ts: i64) -> (&mut V, Option<i64>) {
        let (s, before) = self.touch_slot(key, ts);
        (&mut self.entries[s as usize].val, before)
    }

    /// The value in slot `s` (a slot returned by [`touch_slot`](Lru::touch_slot)).
    pub(crate) fn val_mut(&mut self, s: u32) -> &mut V {
        &mut self.entries[s as usize].val
    }

    /// The keys held, most recently used first.
    #[cfg(test)]
    pub(crate) fn keys_by_use(&self) -> Vec<K> {
        let mut v = Vec::new();
        let mut s = self.head;
        while s != NIL {
            v.push(self.entries[s as usize].key);
            s = self.entries[s as usize].next;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Model check against a plain most-recent-first vector with the same eviction rules.
        #[test]
        fn lru_and_idle_eviction_match_a_naive_model(
            ops in prop::collection::vec((0u32..12, -2i64..4), 1..300),
            max in 1usize..8,
        ) {
            let mut t: Lru<u32, ()> = Lru::new(max, 5_000_000_000);
            let mut model: Vec<(u32, i64)> = Vec::new(); // (key, clock), most recent first
            let mut ts = 0i64;
            for (key, dt) in ops {
                ts += dt * 1_000_000_000;
                t.evict_idle(ts);
                while model.last().is_some_and(|&(_, c)| c < ts - 5_000_000_000) {
                    model.pop();
                }
                let (_, before) = t.touch_slot(key, ts);
                let clock = match model.iter().position(|&(k, _)| k == key) {
                    Some(i) => {
                        let c = model.remove(i).1;
                        if c < ts - 5_000_000_000 {
                            // Idle past the timeout, missed by the tail scan: forgotten.
                            prop_assert_eq!(before, None);
                            ts
                        } else {
                            prop_assert_eq!(before, Some(c));
                            c.max(ts)
                        }
                    }
                    None => {
                        prop_assert_eq!(before, None);
                        if model.len() == max {
                            model.pop();
                        }
                        ts
                    }
                };
                model.insert(0, (key, clock));
                prop_assert_eq!(t.keys_by_use(), model.iter().map(|m| m.0).collect::<Vec<_>>());
                prop_assert_eq!(t.len(), model.len());
                prop_assert!(t.slots() <= max);
            }
        }
    }

    #[test]
    fn a_key_a_late_flow_moved_ahead_of_fresher_keys_is_still_forgotten_when_idle() {
        let mut t: Lru<u8, u32> = Lru::new(8, 10);
        *t.touch(1, 100).0 = 1;
        *t.touch(2, 95).0 = 2; // late: at the head, but older than key 1
        t.evict_idle(106); // the tail (key 1, clock 100) is fresh, so the scan stops there
        assert_eq!(t.keys_by_use(), [2, 1]);
        // Key 2 is 11 units idle with a timeout of 10: forgotten, with a fresh value.
        let (v, before) = t.touch(2, 106);
        assert_eq!((*v, before), (0, None));
        // Key 1 is 6 units idle: kept.
        let (v, before) = t.touch(1, 106);
        assert_eq!((*v, before), (1, Some(100)));
    }

    #[test]
    fn a_new_key_gets_a_fresh_value_in_a_reused_slot() {
        let mut t: Lru<u8, u32> = Lru::new(1, 10);
        *t.touch(1, 0).0 = 7;
        assert_eq!(*t.touch(1, 5).0, 7);
        let (s, before) = t.touch_slot(2, 6);
        assert_eq!((s, before), (0, None));
        assert_eq!(*t.val_mut(s), 0);
        assert_eq!(t.keys_by_use(), [2]);
    }
}
