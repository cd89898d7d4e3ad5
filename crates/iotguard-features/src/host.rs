//! A bounded table of per-host state for one role (originators or responders).
//!
//! The table maps an address to a slot; slots live in flat vectors (one [`HorizonState`] per
//! horizon per slot) and are reused after eviction, so a warm table allocates nothing. Slots
//! form an intrusive doubly linked list in order of last use:
//!
//! - **Capacity eviction**: a new host in a full table takes the slot of the least recently used
//!   host (the list's tail).
//! - **Idle eviction**: before each flow, tail hosts whose clock is more than `idle_ns` behind
//!   the flow's `ts` are dropped. The list is ordered by arrival, which equals event-time order up
//!   to Zeek's end-time write order, so this is a cheap, slightly conservative idle scan.
//!
//! Eviction follows the list, never the hash map's iteration order, so the map's random hash
//! seed (SipHash, which also keeps attacker-chosen addresses from degrading the table) has no
//! influence on any feature value. SipHash costs about 5 % of extraction time (perf, release), too
//! little to trade the flooding resistance for a faster unkeyed hash.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::window::{Horizon, HorizonState, Obs, HORIZON_STATS};

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Slot {
    key: IpAddr,
    prev: u32,
    next: u32,
    /// The host's clock: the largest `ts` seen for it (ns).
    clock: i64,
    /// The `ts` of the host's first flow: distinct-count epochs start here, so no feature
    /// depends on the absolute time.
    origin: i64,
}

/// Per-host state for one role.
#[derive(Debug)]
pub(crate) struct HostTable {
    index: HashMap<IpAddr, u32>,
    slots: Vec<Slot>,
    states: Vec<HorizonState>,
    horizons: Vec<Horizon>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    max_hosts: usize,
    idle_ns: i64,
}

/// The features written per role: `gap_s`, then [`HORIZON_STATS`] per horizon.
pub(crate) fn role_len(horizons: usize) -> usize {
    1 + horizons * HORIZON_STATS.len()
}

impl HostTable {
    pub(crate) fn new(horizons: Vec<Horizon>, max_hosts: usize, idle_ns: i64) -> HostTable {
        HostTable {
            index: HashMap::new(),
            slots: Vec::new(),
            states: Vec::new(),
            horizons,
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            max_hosts,
            idle_ns,
        }
    }

    /// Number of hosts held.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Number of slots allocated (never more than `max_hosts`).
    pub(crate) fn capacity_used(&self) -> usize {
        self.slots.len()
    }

    fn unlink(&mut self, s: u32) {
        let Slot { prev, next, .. } = self.slots[s as usize];
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
    }

    fn push_front(&mut self, s: u32) {
        self.slots[s as usize].prev = NIL;
        self.slots[s as usize].next = self.head;
        if self.head != NIL {
            self.slots[self.head as usize].prev = s;
        }
        self.head = s;
        if self.tail == NIL {
            self.tail = s;
        }
    }

    fn remove_tail(&mut self) -> u32 {
        let s = self.tail;
        self.unlink(s);
        self.index.remove(&self.slots[s as usize].key);
        s
    }

    /// Forgets every host, keeping the allocations.
    pub(crate) fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.states.clear();
        self.free.clear();
        self.head = NIL;
        self.tail = NIL;
    }

    /// Drops the least recently used hosts idle for longer than the timeout at time `now`.
    pub(crate) fn evict_idle(&mut self, now: i64) {
        let limit = now.saturating_sub(self.idle_ns);
        while self.tail != NIL && self.slots[self.tail as usize].clock < limit {
            let s = self.remove_tail();
            self.free.push(s);
        }
    }

    /// Adds one flow at `ts` to the host's state (creating it if new), then writes the role's
    /// features as of the host's clock (update-then-read) into `out`.
    pub(crate) fn update_and_read(
        &mut self,
        key: IpAddr,
        ts: i64,
        obs: Obs,
        peer: Option<u64>,
        port: Option<u64>,
        out: &mut [f32],
    ) {
        let nh = self.horizons.len();
        let (s, gap, dt, now) = match self.index.get(&key) {
            Some(&s) => {
                let clock = self.slots[s as usize].clock;
                let now = clock.max(ts);
                let gap = ts.saturating_sub(clock).max(0) as f64 * 1e-9;
                self.unlink(s);
                self.slots[s as usize].clock = now;
                (s, Some(gap), now.saturating_sub(clock), now)
            }
            None => {
                let s = if let Some(s) = self.free.pop() {
                    s
                } else if self.slots.len() < self.max_hosts {
                    self.slots.push(Slot {
                        key,
                        prev: NIL,
                        next: NIL,
                        clock: ts,
                        origin: ts,
                    });
                    self.states
                        .extend(self.horizons.iter().map(|h| HorizonState::fresh(h, 0)));
                    (self.slots.len() - 1) as u32
                } else {
                    self.remove_tail()
                };
                self.slots[s as usize].key = key;
                self.slots[s as usize].clock = ts;
                self.slots[s as usize].origin = ts;
                let base = s as usize * nh;
                for (st, h) in self.states[base..base + nh].iter_mut().zip(&self.horizons) {
                    *st = HorizonState::fresh(h, 0);
                }
                self.index.insert(key, s);
                (s, None, 0, ts)
            }
        };
        self.push_front(s);

        let obs = Obs { gap, ..obs };
        // Time since the host's first flow: the sketches' epoch clock.
        let age = now.saturating_sub(self.slots[s as usize].origin);
        out[0] = gap.map_or(f32::NAN, |g| g as f32);
        let base = s as usize * nh;
        let states = &mut self.states[base..base + nh];
        let stride = HORIZON_STATS.len();
        for ((st, h), o) in states
            .iter_mut()
            .zip(&self.horizons)
            .zip(out[1..].chunks_exact_mut(stride))
        {
            st.update(h, dt, age, &obs, peer, port);
            st.read(h, age, o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn obs() -> Obs {
        Obs {
            bytes: None,
            pkts: None,
            failed: 0.0,
            gap: None,
        }
    }

    fn table(max: usize, idle_s: i64) -> HostTable {
        HostTable::new(vec![Horizon::new(1.0)], max, idle_s * 1_000_000_000)
    }

    fn touch(t: &mut HostTable, host: u32, ts: i64) {
        let mut out = vec![0f32; role_len(1)];
        t.update_and_read(
            IpAddr::V4(Ipv4Addr::from(host)),
            ts,
            obs(),
            None,
            None,
            &mut out,
        );
    }

    /// The order of the linked list, head first.
    fn order(t: &HostTable) -> Vec<u32> {
        let mut v = Vec::new();
        let mut s = t.head;
        while s != NIL {
            match t.slots[s as usize].key {
                IpAddr::V4(a) => v.push(u32::from(a)),
                IpAddr::V6(_) => unreachable!(),
            }
            s = t.slots[s as usize].next;
        }
        v
    }

    proptest! {
        /// Model check against a plain most-recent-first vector with the same eviction rules.
        #[test]
        fn lru_and_idle_eviction_match_a_naive_model(
            ops in prop::collection::vec((0u32..12, -2i64..4), 1..300),
            max in 1usize..8,
        ) {
            let mut t = table(max, 5);
            let mut model: Vec<(u32, i64)> = Vec::new(); // (host, clock), most recent first
            let mut ts = 0i64;
            for (host, dt) in ops {
                ts += dt * 1_000_000_000;
                t.evict_idle(ts);
                while model.last().is_some_and(|&(_, c)| c < ts - 5_000_000_000) {
                    model.pop();
                }
                touch(&mut t, host, ts);
                let clock = match model.iter().position(|&(h, _)| h == host) {
                    Some(i) => model.remove(i).1.max(ts),
                    None => {
                        if model.len() == max {
                            model.pop();
                        }
                        ts
                    }
                };
                model.insert(0, (host, clock));
                prop_assert_eq!(order(&t), model.iter().map(|m| m.0).collect::<Vec<_>>());
                prop_assert_eq!(t.len(), model.len());
                prop_assert!(t.capacity_used() <= max);
            }
        }
    }

    #[test]
    fn gap_is_time_since_previous_flow_and_never_negative() {
        let mut t = table(4, 100);
        let mut out = vec![0f32; role_len(1)];
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        t.update_and_read(a, 5_000_000_000, obs(), None, None, &mut out);
        assert!(out[0].is_nan());
        t.update_and_read(a, 7_000_000_000, obs(), None, None, &mut out);
        assert_eq!(out[0], 2.0);
        t.update_and_read(a, 6_000_000_000, obs(), None, None, &mut out);
        assert_eq!(out[0], 0.0);
    }
}
