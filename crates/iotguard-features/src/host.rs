//! A bounded table of per-host state for one role (originators or responders).
//!
//! The hosts are held in an [`Lru`] (capped, least recently used and idle hosts evicted; see
//! there), which keeps each host's clock (its largest `ts`) and the `ts` of its first flow. The
//! per-horizon states live in a flat vector beside it (one [`HorizonState`] per horizon per
//! slot), reused with the slot after eviction, so a warm table allocates nothing.
//!
//! SipHash (the map's keyed hash) costs about 5 % of extraction time (perf, release), too
//! little to trade the flooding resistance for a faster unkeyed hash.

use std::net::IpAddr;

use crate::lru::Lru;
use crate::window::{Horizon, HorizonState, Obs, HORIZON_STATS};

/// Per-host state for one role.
#[derive(Debug)]
pub(crate) struct HostTable {
    /// Per host: the `ts` of its first flow. Distinct-count epochs start there, so no feature
    /// depends on the absolute time.
    hosts: Lru<IpAddr, i64>,
    /// `horizons.len()` states per slot of `hosts`.
    states: Vec<HorizonState>,
    horizons: Vec<Horizon>,
}

/// The features written per role: `gap_s`, then [`HORIZON_STATS`] per horizon.
pub(crate) fn role_len(horizons: usize) -> usize {
    1 + horizons * HORIZON_STATS.len()
}

impl HostTable {
    pub(crate) fn new(horizons: Vec<Horizon>, max_hosts: usize, idle_ns: i64) -> HostTable {
        HostTable {
            hosts: Lru::new(max_hosts, idle_ns),
            states: Vec::new(),
            horizons,
        }
    }

    /// Number of hosts held.
    pub(crate) fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Number of slots allocated (never more than `max_hosts`).
    pub(crate) fn capacity_used(&self) -> usize {
        self.hosts.slots()
    }

    /// Forgets every host, keeping the allocations.
    pub(crate) fn clear(&mut self) {
        self.hosts.clear();
        self.states.clear();
    }

    /// Drops the least recently used hosts idle for longer than the timeout at time `now`.
    pub(crate) fn evict_idle(&mut self, now: i64) {
        self.hosts.evict_idle(now);
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
        let (s, before) = self.hosts.touch_slot(key, ts);
        let base = s as usize * nh;
        if self.states.len() < base + nh {
            // A new slot (slots are numbered in order of allocation).
            self.states
                .extend(self.horizons.iter().map(|h| HorizonState::fresh(h, 0)));
        }
        let (gap, dt, now) = match before {
            Some(clock) => {
                let now = clock.max(ts);
                let gap = ts.saturating_sub(clock).max(0) as f64 * 1e-9;
                (Some(gap), now.saturating_sub(clock), now)
            }
            None => {
                *self.hosts.val_mut(s) = ts;
                for (st, h) in self.states[base..base + nh].iter_mut().zip(&self.horizons) {
                    *st = HorizonState::fresh(h, 0);
                }
                (None, 0, ts)
            }
        };

        let obs = Obs { gap, ..obs };
        // Time since the host's first flow: the sketches' epoch clock.
        let age = now.saturating_sub(*self.hosts.val_mut(s));
        out[0] = gap.map_or(f32::NAN, |g| g as f32);
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

    /// The hosts, most recently used first.
    fn order(t: &HostTable) -> Vec<u32> {
        t.hosts
            .keys_by_use()
            .into_iter()
            .map(|k| match k {
                IpAddr::V4(a) => u32::from(a),
                IpAddr::V6(_) => unreachable!(),
            })
            .collect()
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
