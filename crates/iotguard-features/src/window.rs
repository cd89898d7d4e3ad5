//! Damped incremental statistics over event time (Kitsune's AfterImage `incStat`) and a bounded
//! distinct-count sketch, for one host at one horizon.
//!
//! **Decay.** At horizon `h` (seconds) an observation `Δt` seconds old weighs `2^(-Δt/h)`: `h`
//! is the half-life (Kitsune's `λ = 1/h`). The sums are decayed lazily, on the host's next
//! update. The decayed count `w` of flows in an exponentially damped window of mean length
//! `h / ln 2` gives the rate `w · ln 2 / h` flows per second (exact for a steady stream).
//!
//! **Time going backwards.** Zeek writes flows when they end, so a host's next flow can start
//! before its previous one. The host's clock is the largest `ts` seen for it: a flow with an
//! earlier `ts` is counted at that clock (`Δt` taken as 0, no decay), and its inter-arrival gap
//! is 0.
//!
//! **Distinct peers and ports.** Per horizon, two 64-bit linear-counting bitmaps for the current
//! and the previous epoch of length `h` (epochs count from the host's first flow, so no value
//! depends on absolute time).
//! The estimate is `n(cur) + (1 − f) · (n(cur ∪ prev) − n(cur))`, `f` being the fraction of the
//! current epoch elapsed (the sliding-window counter of rate limiters), with linear counting
//! `n = m · ln(m / empty)`; it saturates at `64 · ln 64 ≈ 266` distinct values per window. 32
//! bytes per horizon, no allocation, deterministic (a fixed hash, not a seeded one).

use std::net::IpAddr;

/// The constants of one horizon.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Horizon {
    /// Half-life in seconds.
    pub(crate) secs: f64,
    inv_secs: f64,
    /// Distinct-count epoch length in nanoseconds.
    epoch_ns: i64,
}

impl Horizon {
    pub(crate) fn new(secs: f64) -> Horizon {
        Horizon {
            secs,
            inv_secs: 1.0 / secs,
            epoch_ns: ((secs * 1e9).round() as i64).max(1),
        }
    }

    /// Returns `2^(-Δt/h)` for `dt_ns` nanoseconds; 1 for `Δt <= 0`.
    #[inline]
    pub(crate) fn decay(&self, dt_ns: i64) -> f64 {
        if dt_ns <= 0 {
            1.0
        } else {
            (-(dt_ns as f64 * 1e-9) * self.inv_secs).exp2()
        }
    }

    #[inline]
    fn epoch(&self, t_ns: i64) -> i64 {
        t_ns.div_euclid(self.epoch_ns)
    }
}

/// What one flow adds to a host's statistics.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Obs {
    /// `ln(1 + payload bytes)` both ways, if any byte count is set.
    pub(crate) bytes: Option<f64>,
    /// `ln(1 + packets)` both ways, if any packet count is set.
    pub(crate) pkts: Option<f64>,
    /// 1 for a failed or refused connection, else 0.
    pub(crate) failed: f64,
    /// Seconds since the host's previous flow (None for its first).
    pub(crate) gap: Option<f64>,
}

/// Damped sums of a weighted sample: weight, Σx, Σx².
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Moments {
    pub(crate) w: f64,
    pub(crate) s1: f64,
    pub(crate) s2: f64,
}

impl Moments {
    #[inline]
    fn scale(&mut self, f: f64) {
        self.w *= f;
        self.s1 *= f;
        self.s2 *= f;
    }

    #[inline]
    fn add(&mut self, x: f64) {
        self.w += 1.0;
        self.s1 += x;
        self.s2 += x * x;
    }

    /// Weighted mean, `NaN` with no weight.
    #[inline]
    pub(crate) fn mean(&self) -> f64 {
        if self.w > 0.0 {
            self.s1 / self.w
        } else {
            f64::NAN
        }
    }

    /// Weighted population standard deviation, `NaN` with no weight.
    #[inline]
    pub(crate) fn std(&self) -> f64 {
        if self.w > 0.0 {
            let m = self.s1 / self.w;
            // Cancellation can make the difference slightly negative: clamp to 0.
            (self.s2 / self.w - m * m).max(0.0).sqrt()
        } else {
            f64::NAN
        }
    }
}

/// A host's damped statistics at one horizon.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Damped {
    /// Decayed flow count.
    pub(crate) w: f64,
    /// Decayed count of failed flows.
    pub(crate) failed: f64,
    pub(crate) bytes: Moments,
    pub(crate) pkts: Moments,
    /// Inter-arrival gaps (seconds).
    pub(crate) gaps: Moments,
}

impl Damped {
    /// Decays the sums by `f` and adds one flow.
    #[inline]
    pub(crate) fn update(&mut self, f: f64, obs: &Obs) {
        self.w = self.w * f + 1.0;
        self.failed = self.failed * f + obs.failed;
        self.bytes.scale(f);
        self.pkts.scale(f);
        self.gaps.scale(f);
        if let Some(b) = obs.bytes {
            self.bytes.add(b);
        }
        if let Some(p) = obs.pkts {
            self.pkts.add(p);
        }
        if let Some(g) = obs.gap {
            self.gaps.add(g);
        }
    }
}

/// A distinct-count sketch over the current and the previous epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Distinct {
    cur: u64,
    prev: u64,
}

const SKETCH_BITS: f64 = 64.0;

/// Linear counting estimates by number of set bits (a full map saturates at `64 · ln 64`).
static LINEAR_COUNT: std::sync::LazyLock<[f64; 65]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|set| {
        let empty = SKETCH_BITS - set as f64;
        SKETCH_BITS * (SKETCH_BITS / empty.max(1.0)).ln()
    })
});

/// Linear counting over a 64-bit map.
#[inline]
fn linear_count(bits: u64) -> f64 {
    LINEAR_COUNT[bits.count_ones() as usize]
}

impl Distinct {
    #[inline]
    fn insert(&mut self, hash: u64) {
        self.cur |= 1u64 << (hash >> 58);
    }

    #[inline]
    fn rotate(&mut self, steps: i64) {
        if steps == 1 {
            self.prev = self.cur;
            self.cur = 0;
        } else if steps > 1 {
            *self = Distinct::default();
        }
    }

    #[inline]
    fn estimate(&self, frac: f64) -> f64 {
        let cur = linear_count(self.cur);
        let all = linear_count(self.cur | self.prev);
        cur + (1.0 - frac) * (all - cur)
    }
}

/// A host's state at one horizon: damped statistics and distinct peers and ports.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct HorizonState {
    pub(crate) damped: Damped,
    epoch: i64,
    peers: Distinct,
    ports: Distinct,
}

/// The values read from a [`HorizonState`], in schema order (see [`HORIZON_STATS`]).
pub(crate) const HORIZON_STATS: [&str; 10] = [
    "rate",
    "bytes_mean",
    "bytes_std",
    "pkts_mean",
    "pkts_std",
    "failed_share",
    "gap_mean",
    "gap_cv",
    "peers",
    "ports",
];

impl HorizonState {
    /// A fresh state at host clock `now`.
    pub(crate) fn fresh(h: &Horizon, now: i64) -> HorizonState {
        HorizonState {
            epoch: h.epoch(now),
            ..HorizonState::default()
        }
    }

    /// Advances the state by `dt_ns` to host clock `now` and adds one flow.
    #[inline]
    pub(crate) fn update(
        &mut self,
        h: &Horizon,
        dt_ns: i64,
        now: i64,
        obs: &Obs,
        peer: Option<u64>,
        port: Option<u64>,
    ) {
        self.damped.update(h.decay(dt_ns), obs);
        let e = h.epoch(now);
        self.peers.rotate(e - self.epoch);
        self.ports.rotate(e - self.epoch);
        self.epoch = self.epoch.max(e);
        if let Some(p) = peer {
            self.peers.insert(p);
        }
        if let Some(p) = port {
            self.ports.insert(p);
        }
    }

    /// Writes the [`HORIZON_STATS`] at host clock `now` (the clock of the last update).
    #[inline]
    pub(crate) fn read(&self, h: &Horizon, now: i64, out: &mut [f32]) {
        let d = &self.damped;
        let gap_mean = d.gaps.mean();
        let frac = (now - self.epoch * h.epoch_ns) as f64 / h.epoch_ns as f64;
        let vals = [
            d.w * std::f64::consts::LN_2 / h.secs,
            d.bytes.mean(),
            d.bytes.std(),
            d.pkts.mean(),
            d.pkts.std(),
            d.failed / d.w,
            gap_mean,
            if gap_mean > 0.0 {
                d.gaps.std() / gap_mean
            } else {
                f64::NAN
            },
            self.peers.estimate(frac.clamp(0.0, 1.0)),
            self.ports.estimate(frac.clamp(0.0, 1.0)),
        ];
        for (o, v) in out.iter_mut().zip(vals) {
            *o = v as f32;
        }
    }
}

/// A fixed 64-bit mix (splitmix64's finalizer): deterministic, unlike the table's seeded hash.
#[inline]
pub(crate) fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Hashes an address for the distinct-peer sketch.
#[inline]
pub(crate) fn hash_addr(a: IpAddr) -> u64 {
    match a {
        IpAddr::V4(v4) => mix64(u64::from(u32::from(v4))),
        IpAddr::V6(v6) => {
            let x = u128::from(v6);
            mix64((x as u64) ^ mix64((x >> 64) as u64 ^ 0x6))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The naive reference: keep every observation, recompute the weighted sums at the end.
    fn naive(h: f64, obs: &[(i64, f64)]) -> (f64, f64, f64) {
        let now = obs.iter().map(|o| o.0).max().unwrap();
        let (mut w, mut s1, mut s2) = (0.0, 0.0, 0.0);
        // Weight = 2^-(clock at the end − clock when added), where the clock never goes back.
        let mut clock = i64::MIN;
        let mut clocks = Vec::new();
        for &(t, _) in obs {
            clock = clock.max(t);
            clocks.push(clock);
        }
        for (&(_, x), &c) in obs.iter().zip(&clocks) {
            let wt = (-((now - c) as f64 * 1e-9) / h).exp2();
            w += wt;
            s1 += wt * x;
            s2 += wt * x * x;
        }
        (w, s1, s2)
    }

    proptest! {
        #[test]
        fn damped_sums_match_naive_recomputation(
            h in prop::sample::select(vec![0.5, 1.0, 10.0, 600.0]),
            steps in prop::collection::vec((-2_000_000_000i64..5_000_000_000, 0.0f64..20.0), 1..200),
        ) {
            let hz = Horizon::new(h);
            let mut t = 1_000_000_000_000i64;
            let mut clock = i64::MIN;
            let mut st: Option<HorizonState> = None;
            let mut obs = Vec::new();
            for (dt, x) in steps {
                t += dt;
                let o = Obs { bytes: Some(x), pkts: None, failed: 0.0, gap: None };
                match &mut st {
                    None => {
                        clock = t;
                        let mut s = HorizonState::fresh(&hz, t);
                        s.update(&hz, 0, t, &o, None, None);
                        st = Some(s);
                    }
                    Some(s) => {
                        let now = clock.max(t);
                        s.update(&hz, now - clock, now, &o, None, None);
                        clock = now;
                    }
                }
                obs.push((t, x));
            }
            let (w, s1, s2) = naive(h, &obs);
            let d = st.unwrap().damped;
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + b.abs());
            prop_assert!(close(d.w, w), "w {} vs {}", d.w, w);
            prop_assert!(close(d.bytes.w, w));
            prop_assert!(close(d.bytes.s1, s1), "s1 {} vs {}", d.bytes.s1, s1);
            prop_assert!(close(d.bytes.s2, s2), "s2 {} vs {}", d.bytes.s2, s2);
        }

        #[test]
        fn distinct_estimate_tracks_small_exact_counts(n in 1u64..40) {
            let hz = Horizon::new(10.0);
            let mut s = HorizonState::fresh(&hz, 0);
            let o = Obs { bytes: None, pkts: None, failed: 0.0, gap: None };
            for i in 0..n {
                s.update(&hz, 0, 0, &o, Some(mix64(i)), None);
            }
            let mut out = [0f32; 10];
            s.read(&hz, 0, &mut out);
            let est = f64::from(out[8]);
            // Linear counting over 64 bits: about 10 % standard error up to 40 values.
            prop_assert!((est - n as f64).abs() <= 0.35 * n as f64 + 1.0, "{est} for {n}");
        }
    }

    #[test]
    fn moments_without_samples_are_nan() {
        let m = Moments::default();
        assert!(m.mean().is_nan() && m.std().is_nan());
        let mut d = Damped::default();
        let o = Obs {
            bytes: None,
            pkts: Some(1.0),
            failed: 0.0,
            gap: None,
        };
        d.update(1.0, &o);
        assert!(d.bytes.mean().is_nan() && d.bytes.std().is_nan());
        assert_eq!(d.pkts.std(), 0.0);
    }

    #[test]
    fn state_size_is_as_documented() {
        // FeatureConfig::max_hosts documents 128 bytes per host and horizon.
        assert_eq!(std::mem::size_of::<HorizonState>(), 128);
    }

    #[test]
    fn steady_stream_rate_is_its_frequency() {
        let hz = Horizon::new(10.0);
        let mut s = HorizonState::fresh(&hz, 0);
        let o = Obs {
            bytes: None,
            pkts: None,
            failed: 1.0,
            gap: Some(0.1),
        };
        let step = 100_000_000; // 10 flows per second
        for i in 0..2000i64 {
            s.update(&hz, if i == 0 { 0 } else { step }, i * step, &o, None, None);
        }
        let mut out = [0f32; 10];
        s.read(&hz, 1999 * step, &mut out);
        assert!((out[0] - 10.0).abs() < 0.5, "rate {}", out[0]);
        assert_eq!(out[5], 1.0);
        assert!((out[6] - 0.1).abs() < 1e-6);
        assert!(out[7] < 1e-3);
    }

    #[test]
    fn distinct_forgets_after_two_epochs() {
        let hz = Horizon::new(1.0);
        let mut s = HorizonState::fresh(&hz, 0);
        let o = Obs {
            bytes: None,
            pkts: None,
            failed: 0.0,
            gap: None,
        };
        for i in 0..20 {
            s.update(&hz, 0, 0, &o, Some(mix64(i)), None);
        }
        s.update(
            &hz,
            3_000_000_000,
            3_000_000_000,
            &o,
            Some(mix64(999)),
            None,
        );
        let mut out = [0f32; 10];
        s.read(&hz, 3_000_000_000, &mut out);
        assert_eq!(out[8], linear_count(1) as f32);
    }
}
