//! Attack typing: the mergeable tallies kept over alerting flows ([`Agg`]) and the rules that
//! name a pattern from them.
//!
//! Each rule looks at the right unit, never at a mixture of a source's unrelated flows:
//!
//! - a **scan** from fan-out: one port tried on [`SCAN_MIN_TARGETS`] hosts or more (horizontal),
//!   or one host tried on as many ports (vertical);
//! - a **flood** from the rate against one target host: at least [`FLOOD_MIN_FLOWS`] flows (one
//!   flow is never a flood), and 50 flows or more at 10/s or faster, or 1,000 packets or more
//!   per flow, or dozens of packets per flow pushed one way with next to nothing back;
//! - a **beacon** from one pair's (source, destination, port) periodicity: five gaps or more,
//!   a mean of a second or more and a coefficient of variation of 0.3 or less; or a pair coming
//!   back 20 times or more for ten minutes or more (bots reconnecting to a C&C server);
//! - **brute force**: 10 flows or more to one authentication service of one host, 0.05 to 30 s
//!   apart on average (faster is a flood of the service, slower a beacon);
//! - **exfiltration**: one pair delivering 10 MB or more, four times more than it received.

use iotguard_flow::{ConnState, FlowRecord, Timestamp};

/// Distinct hosts on one port (or ports on one host) that make a scan.
pub(crate) const SCAN_MIN_TARGETS: u32 = 16;
/// A pair with more flows than this is not swept into a scan (scans try each target once or
/// a few times; a pair with many flows is a conversation of its own).
pub(crate) const SCAN_PAIR_MAX_FLOWS: u64 = 3;
/// Fewest flows of a flood.
pub(crate) const FLOOD_MIN_FLOWS: u64 = 10;
/// A beacon incident stays open through silences of up to this many of its own periods.
pub(crate) const BEACON_IDLE_PERIODS: f64 = 2.0;

/// Ports of services people log in to (brute force targets).
const AUTH_PORTS: &[u16] = &[
    21, 22, 23, 2323, 3389, 5900, 110, 143, 445, 1433, 3306, 8291,
];
/// Service names of the same.
const AUTH_SERVICES: &[&str] = &["ssh", "ftp", "telnet", "rdp", "vnc", "smb", "mysql"];

/// Whether a flow failed: rejected, unanswered or reset.
pub(crate) fn failed(rec: &FlowRecord) -> bool {
    matches!(
        rec.conn_state,
        Some(
            ConnState::S0
                | ConnState::REJ
                | ConnState::RSTOS0
                | ConnState::RSTRH
                | ConnState::SH
                | ConnState::SHR
        )
    )
}

/// Counts over alerting flows that can be added to and merged (a pair's, a target's, an
/// incident's).
#[derive(Clone, Debug)]
pub(crate) struct Agg {
    pub(crate) flows: u64,
    pub(crate) failed: u64,
    pub(crate) orig_bytes: u64,
    pub(crate) resp_bytes: u64,
    pub(crate) orig_pkts: u64,
    pub(crate) resp_pkts: u64,
    /// Earliest flow start.
    pub(crate) first: Timestamp,
    /// Latest flow start.
    pub(crate) last: Timestamp,
    /// Latest flow end (start plus duration): the last moment the source was seen active.
    pub(crate) end: Timestamp,
    pub(crate) max_score: f32,
    pub(crate) sum_score: f64,
    /// Welford's running mean and sum of squares of start-to-start gaps, in seconds.
    pub(crate) gap_n: u64,
    pub(crate) gap_mean: f64,
    pub(crate) gap_m2: f64,
}

impl Agg {
    /// An empty tally starting at `ts`.
    pub(crate) fn new(ts: Timestamp) -> Agg {
        Agg {
            flows: 0,
            failed: 0,
            orig_bytes: 0,
            resp_bytes: 0,
            orig_pkts: 0,
            resp_pkts: 0,
            first: ts,
            last: ts,
            end: ts,
            max_score: f32::NEG_INFINITY,
            sum_score: 0.0,
            gap_n: 0,
            gap_mean: 0.0,
            gap_m2: 0.0,
        }
    }

    /// Adds one flow.
    #[inline]
    pub(crate) fn add(&mut self, rec: &FlowRecord, score: f32) {
        if self.flows > 0 && rec.ts >= self.last {
            let gap = rec.ts.as_nanos().saturating_sub(self.last.as_nanos()) as f64 / 1e9;
            self.gap_n += 1;
            let delta = gap - self.gap_mean;
            self.gap_mean += delta / self.gap_n as f64;
            self.gap_m2 += delta * (gap - self.gap_mean);
        }
        self.first = self.first.min(rec.ts);
        self.last = self.last.max(rec.ts);
        let dur_ns = rec.duration.map_or(0, |d| d.0.max(0));
        self.end = self
            .end
            .max(Timestamp(rec.ts.as_nanos().saturating_add(dur_ns)));
        self.flows += 1;
        self.max_score = self.max_score.max(score);
        self.sum_score += f64::from(score);
        if failed(rec) {
            self.failed += 1;
        }
        self.orig_bytes = self.orig_bytes.saturating_add(rec.orig_bytes.unwrap_or(0));
        self.resp_bytes = self.resp_bytes.saturating_add(rec.resp_bytes.unwrap_or(0));
        self.orig_pkts = self.orig_pkts.saturating_add(rec.orig_pkts.unwrap_or(0));
        self.resp_pkts = self.resp_pkts.saturating_add(rec.resp_pkts.unwrap_or(0));
    }

    /// Adds another tally's counts. Gap statistics are taken over only into an empty tally (an
    /// incident made of one pair keeps that pair's periodicity; mixtures have none).
    pub(crate) fn merge(&mut self, o: &Agg) {
        if self.flows == 0 {
            *self = o.clone();
            return;
        }
        self.flows += o.flows;
        self.failed += o.failed;
        self.orig_bytes = self.orig_bytes.saturating_add(o.orig_bytes);
        self.resp_bytes = self.resp_bytes.saturating_add(o.resp_bytes);
        self.orig_pkts = self.orig_pkts.saturating_add(o.orig_pkts);
        self.resp_pkts = self.resp_pkts.saturating_add(o.resp_pkts);
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        self.end = self.end.max(o.end);
        self.max_score = self.max_score.max(o.max_score);
        self.sum_score += o.sum_score;
    }

    /// Takes another tally's counts away (its flows moved to another incident). Times, the
    /// highest score and gap statistics stay.
    pub(crate) fn subtract(&mut self, o: &Agg) {
        self.flows = self.flows.saturating_sub(o.flows);
        self.failed = self.failed.saturating_sub(o.failed);
        self.orig_bytes = self.orig_bytes.saturating_sub(o.orig_bytes);
        self.resp_bytes = self.resp_bytes.saturating_sub(o.resp_bytes);
        self.orig_pkts = self.orig_pkts.saturating_sub(o.orig_pkts);
        self.resp_pkts = self.resp_pkts.saturating_sub(o.resp_pkts);
        self.sum_score = (self.sum_score - o.sum_score).max(0.0);
    }

    /// Seconds from the first to the last flow start.
    pub(crate) fn duration_secs(&self) -> f64 {
        self.last.as_nanos().saturating_sub(self.first.as_nanos()) as f64 / 1e9
    }

    /// Whether half the flows or more failed.
    pub(crate) fn mostly_failed(&self) -> bool {
        self.failed * 2 >= self.flows
    }

    /// Coefficient of variation of the gaps (NaN with no gap).
    pub(crate) fn gap_cv(&self) -> f64 {
        if self.gap_n == 0 || self.gap_mean <= 0.0 {
            return f64::NAN;
        }
        (self.gap_m2 / self.gap_n as f64).max(0.0).sqrt() / self.gap_mean
    }
}

/// Whether a port or service is one people log in to.
pub(crate) fn is_auth(port: Option<u16>, service: Option<&str>) -> bool {
    port.is_some_and(|p| AUTH_PORTS.contains(&p))
        || service.is_some_and(|s| s.split(',').any(|s| AUTH_SERVICES.contains(&s)))
}

/// Whether one pair's flows are a large outbound transfer.
pub(crate) fn is_exfiltration(pair: &Agg) -> bool {
    !pair.mostly_failed()
        && pair.orig_bytes >= 10_000_000
        && pair.orig_bytes >= 4 * pair.resp_bytes.max(1)
}

/// Mean gap (seconds) below which repeated connections to a login service are attempts, not
/// a beacon.
pub(crate) const BRUTE_MAX_GAP_SECS: f64 = 30.0;
/// Mean gap (seconds) below which connections to a login service come too fast for logins (20
/// per second and more): a flood of the service, not attempts on it.
pub(crate) const BRUTE_MIN_GAP_SECS: f64 = 0.05;

/// Whether one pair's flows are repeated attempts on an authentication service.
pub(crate) fn is_brute_force(pair: &Agg, port: Option<u16>, service: Option<&str>) -> bool {
    pair.flows >= 10
        && (BRUTE_MIN_GAP_SECS..BRUTE_MAX_GAP_SECS).contains(&pair.gap_mean)
        && is_auth(port, service)
}

/// Whether flows push dozens of packets one way with next to nothing back.
fn one_way_heavy(a: &Agg) -> bool {
    a.orig_pkts >= 10 * a.resp_pkts.max(1) && a.orig_pkts as f64 / a.flows.max(1) as f64 >= 10.0
}

/// Whether the flows against one target host are a flood.
pub(crate) fn is_flood(target: &Agg) -> bool {
    let n = target.flows;
    if n < FLOOD_MIN_FLOWS {
        return false;
    }
    let rate = n as f64 / target.duration_secs().max(1.0);
    let pkts_per_flow = target.orig_pkts as f64 / n as f64;
    // IoT-23's DDoS: `OTH` and `S0` flows pushing dozens of packets one way, nothing back.
    (n >= 50 && rate >= 10.0) || pkts_per_flow >= 1000.0 || one_way_heavy(target)
}

/// Whether one pair's flows recur like command and control (small flows: a pair pushing
/// dozens of packets one way is a flood; on a login service, attempts come faster than
/// [`BRUTE_MAX_GAP_SECS`]).
pub(crate) fn is_beacon(pair: &Agg, auth: bool) -> bool {
    if one_way_heavy(pair) {
        return false;
    }
    let min_gap = if auth { BRUTE_MAX_GAP_SECS } else { 1.0 };
    let regular = pair.gap_n >= 5 && pair.gap_mean >= min_gap && pair.gap_cv() <= 0.3;
    regular || (pair.flows >= 20 && pair.duration_secs() >= 600.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotguard_flow::{Interval, Protocol};

    fn flow(secs: f64, pkts: u64, back: u64) -> FlowRecord {
        FlowRecord {
            ts: Timestamp((secs * 1e9) as i64),
            proto: Protocol::Tcp,
            conn_state: Some(ConnState::OTH),
            orig_pkts: Some(pkts),
            resp_pkts: Some(back),
            duration: Some(Interval(2_000_000_000)),
            ..FlowRecord::default()
        }
    }

    #[test]
    fn one_flow_is_never_a_flood() {
        let mut a = Agg::new(Timestamp(0));
        a.add(&flow(0.0, 100_000, 0), 1.0);
        assert!(!is_flood(&a));
        for i in 1..10 {
            a.add(&flow(f64::from(i), 40, 0), 1.0);
        }
        assert_eq!(a.flows, 10);
        assert!(is_flood(&a));
    }

    #[test]
    fn tallies_merge_subtract_and_track_activity_end() {
        let mut a = Agg::new(Timestamp(0));
        a.add(&flow(0.0, 3, 3), 0.5);
        a.add(&flow(10.0, 3, 3), 0.9);
        assert_eq!(a.end, Timestamp(12_000_000_000));
        assert_eq!((a.gap_n, a.gap_mean), (1, 10.0));
        let mut b = Agg::new(Timestamp(0));
        b.merge(&a);
        assert_eq!((b.flows, b.gap_n), (2, 1));
        b.merge(&a);
        assert_eq!((b.flows, b.orig_pkts, b.gap_n), (4, 12, 1));
        b.subtract(&a);
        assert_eq!((b.flows, b.orig_pkts, b.max_score), (2, 6, 0.9));
    }

    #[test]
    fn beacons_from_periodicity_or_persistence() {
        let mut a = Agg::new(Timestamp(0));
        for i in 0..6 {
            a.add(&flow(f64::from(i) * 60.0, 3, 3), 1.0);
        }
        let mut fast = Agg::new(Timestamp(0));
        for i in 0..6 {
            fast.add(&flow(f64::from(i) * 3.0, 3, 3), 1.0);
        }
        assert!(is_beacon(&fast, false) && !is_beacon(&fast, true));
        let mut pushing = Agg::new(Timestamp(0));
        for i in 0..6 {
            pushing.add(&flow(f64::from(i) * 60.0, 40, 0), 1.0);
        }
        assert!(!is_beacon(&pushing, false));
        assert!(is_beacon(&a, false));
        assert!(is_beacon(&a, true));
        let mut irregular = Agg::new(Timestamp(0));
        for s in [0.0, 1.0, 50.0, 51.0, 300.0, 301.0] {
            irregular.add(&flow(s, 3, 3), 1.0);
        }
        assert!(!is_beacon(&irregular, false));
    }
}
