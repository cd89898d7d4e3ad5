//! Which open connection has been idle longest, in logarithmic time: what a full connection
//! table evicts.
//!
//! A scan of the whole table for its oldest entry costs a million steps at the default cap of
//! a million connections, and a flood of new connections (a SYN flood from spoofed sources)
//! asks for one at every packet once the table is full: the meter would fall a thousand times
//! behind the wire. The queue is a min-heap of (last activity, serial, key) kept lazily: an
//! entry records a connection's last activity when it was pushed, and a connection active
//! since is pushed again, with its new time, when its stale entry reaches the top. Entries of
//! connections that have ended are dropped when they reach the top (the serial tells a new
//! connection of the same key from the one that ended), and the heap is rebuilt from the table
//! when such entries outnumber the live ones.
//!
//! Invariant: every connection in the table has an entry whose time is at most its last
//! activity, so the first entry popped whose time equals its connection's last activity is
//! the connection with the least (last activity, serial), the one a full scan would choose.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A connection's last activity (nanoseconds) and serial, as the table holds them now.
pub(crate) type Activity = (i64, u64);

/// Open connections ordered by last activity; see the module's documentation.
#[derive(Debug)]
pub(crate) struct IdleQueue<K> {
    heap: BinaryHeap<Reverse<(i64, u64, K)>>,
}

impl<K: Ord + Copy> IdleQueue<K> {
    /// A queue over the connections given as (key, last activity, serial).
    pub(crate) fn build(conns: impl Iterator<Item = (K, Activity)>) -> Self {
        let heap = conns
            .map(|(key, (last, serial))| Reverse((last, serial, key)))
            .collect();
        IdleQueue { heap }
    }

    /// A new connection (or one whose entry was lost): must be called for every connection
    /// added to the table while the queue exists.
    pub(crate) fn push(&mut self, key: K, (last, serial): Activity) {
        self.heap.push(Reverse((last, serial, key)));
    }

    /// Entries held, live or not.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// The key of the connection idle longest (least last activity, then least serial), or
    /// `None` if no connection is left; `current` gives a key's connection as the table holds
    /// it now. The entry is removed: the caller removes the connection.
    pub(crate) fn pop_oldest(&mut self, current: impl Fn(&K) -> Option<Activity>) -> Option<K> {
        while let Some(Reverse((last, serial, key))) = self.heap.pop() {
            match current(&key) {
                // Ended, or the key now belongs to a newer connection (which has its own entry).
                None => continue,
                Some((_, now_serial)) if now_serial != serial => continue,
                Some((now_last, _)) if now_last > last => {
                    self.heap.push(Reverse((now_last, serial, key)))
                }
                Some(_) => return Some(key),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_oldest_is_by_last_activity_then_serial() {
        let table: HashMap<u8, Activity> = [(1, (30, 0)), (2, (10, 1)), (3, (10, 2)), (4, (20, 3))]
            .into_iter()
            .collect();
        let mut q = IdleQueue::build(table.iter().map(|(k, a)| (*k, *a)));
        assert_eq!(q.pop_oldest(|k| table.get(k).copied()), Some(2));
        assert_eq!(q.pop_oldest(|k| table.get(k).copied()), Some(3));
        assert_eq!(q.pop_oldest(|k| table.get(k).copied()), Some(4));
        assert_eq!(q.pop_oldest(|k| table.get(k).copied()), Some(1));
        assert_eq!(q.pop_oldest(|k| table.get(k).copied()), None);
    }

    #[test]
    fn a_connection_active_since_its_entry_is_pushed_back_with_its_new_time() {
        let mut table: HashMap<u8, Activity> = [(1, (10, 0)), (2, (20, 1))].into_iter().collect();
        let mut q = IdleQueue::build(table.iter().map(|(k, a)| (*k, *a)));
        table.insert(1, (30, 0));
        assert_eq!(q.pop_oldest(|k| table.get(k).copied()), Some(2));
        table.remove(&2);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_oldest(|k| table.get(k).copied()), Some(1));
    }

    #[test]
    fn a_key_reused_by_a_newer_connection_is_not_taken_for_the_old_one() {
        let mut table: HashMap<u8, Activity> = [(1, (10, 0)), (2, (20, 1))].into_iter().collect();
        let mut q = IdleQueue::build(table.iter().map(|(k, a)| (*k, *a)));
        // Connection 0 of key 1 ended; key 1 opened again as connection 2, after key 2.
        table.insert(1, (25, 2));
        q.push(1, (25, 2));
        assert_eq!(q.pop_oldest(|k| table.get(k).copied()), Some(2));
        table.remove(&2);
        assert_eq!(q.pop_oldest(|k| table.get(k).copied()), Some(1));
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// A packet of this key at the next instant (opens the connection if it is not open).
        Packet(u8),
        /// The connection of this key ends (a timeout).
        End(u8),
        /// The table is full: evict the oldest.
        Evict,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..16).prop_map(Op::Packet),
            1 => (0u8..16).prop_map(Op::End),
            2 => Just(Op::Evict),
        ]
    }

    proptest! {
        /// Against a full scan of the table, as the meter did before: the same connection
        /// every time, whatever packets, timeouts and evictions came before. Time advances by
        /// 0 or 1 per packet, so equal times (ties broken by serial) happen.
        #[test]
        fn evicts_what_a_full_scan_chooses(ops in proptest::collection::vec((op(), any::<bool>()), 0..300)) {
            let mut table: HashMap<u8, Activity> = HashMap::new();
            let mut q = IdleQueue::build(std::iter::empty());
            let (mut now, mut serial) = (0i64, 0u64);
            for (op, tick) in ops {
                match op {
                    Op::Packet(k) => {
                        now += i64::from(tick);
                        match table.get_mut(&k) {
                            Some(a) => a.0 = now,
                            None => {
                                table.insert(k, (now, serial));
                                q.push(k, (now, serial));
                                serial += 1;
                            }
                        }
                    }
                    Op::End(k) => {
                        table.remove(&k);
                    }
                    Op::Evict => {
                        let scan = table.iter().min_by_key(|(_, a)| **a).map(|(k, _)| *k);
                        let popped = q.pop_oldest(|k| table.get(k).copied());
                        prop_assert_eq!(popped, scan);
                        if let Some(k) = popped {
                            table.remove(&k);
                        }
                    }
                }
            }
        }
    }
}
