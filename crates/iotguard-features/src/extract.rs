//! The extractor: per-flow features plus originator and responder context, streaming or batch
//! through the same code.
//!
//! **Update, then read.** Each flow first updates its hosts' state, then the vector is read from
//! that state, so a flow's host features include the flow itself (as Kitsune's AfterImage does).
//! This suits detection: the first flows of a scan or flood already move the rate and distinct
//! counts, and the gap that just elapsed enters the inter-arrival statistics that expose beacons.
//! Nothing leaks: the only new input is the flow's own per-flow data, already in the vector.

use std::net::IpAddr;

use iotguard_flow::{FlowRecord, NativeFamily, Protocol};

use crate::config::{horizon_label, ConfigError, FeatureConfig};
use crate::context::Context;
use crate::flow::{self, FLOW_LEN};
use crate::host::{role_len, HostTable};
use crate::schema::{FeatureSchema, SCHEMA_VERSION};
use crate::window::{hash_addr, mix64, Horizon, Obs, HORIZON_STATS};

/// Turns flows into feature vectors, keeping per-host state between calls.
///
/// The same flows in the same order always give bit-identical vectors, whether they go through
/// [`extract`](FeatureExtractor::extract) one at a time or [`extract_all`](FeatureExtractor::extract_all).
#[derive(Debug)]
pub struct FeatureExtractor {
    config: FeatureConfig,
    schema: FeatureSchema,
    orig: HostTable,
    resp: HostTable,
    /// The optional network-context groups (`pair.*`, `dst.*`, `port.*`, `service_port.*`).
    context: Context,
    /// How many `native.*` values end the vector (0 for the common set).
    native_width: usize,
}

impl FeatureExtractor {
    /// Builds an extractor.
    ///
    /// # Panics
    ///
    /// Panics if the configuration is invalid (see [`FeatureConfig::validate`]); use
    /// [`try_new`](FeatureExtractor::try_new) for configurations from users.
    pub fn new(config: FeatureConfig) -> Self {
        match Self::try_new(config) {
            Ok(x) => x,
            Err(e) => panic!("invalid feature config: {e}"),
        }
    }

    /// Builds an extractor, or says why the configuration is invalid.
    pub fn try_new(config: FeatureConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let horizons: Vec<Horizon> = config
            .horizons_secs
            .iter()
            .map(|&h| Horizon::new(h))
            .collect();
        let idle_ns = (config.idle_timeout_secs * 1e9).min(i64::MAX as f64) as i64;
        let mut names = Vec::new();
        flow::names(&mut names);
        for role in ["orig_host", "resp_host"] {
            names.push(format!("{role}.gap_s"));
            for &h in &config.horizons_secs {
                let label = horizon_label(h);
                names.extend(HORIZON_STATS.iter().map(|s| format!("{role}.{s}_{label}")));
            }
        }
        Context::names(&config.context, &mut names);
        let context = Context::new(&config.context, config.max_hosts, idle_ns);
        let native_width = config.native.map_or(0, NativeFamily::width);
        if let Some(family) = config.native {
            names.extend(family.feature_names());
        }
        let schema = FeatureSchema {
            version: SCHEMA_VERSION,
            names,
        };
        debug_assert_eq!(
            schema.len(),
            FLOW_LEN + 2 * role_len(horizons.len()) + context.width() + native_width
        );
        Ok(FeatureExtractor {
            orig: HostTable::new(horizons.clone(), config.max_hosts, idle_ns),
            resp: HostTable::new(horizons, config.max_hosts, idle_ns),
            context,
            config,
            schema,
            native_width,
        })
    }

    /// Whether `rec` lacks the native columns this extractor's schema needs (always false for
    /// the common set): such a record's `native.*` features would all be missing, so readers of
    /// labeled data refuse the input instead (see [`FeatureExtractor::native_requirement`]).
    pub fn lacks_native(&self, rec: &FlowRecord) -> bool {
        self.config
            .native
            .is_some_and(|f| rec.native.as_ref().map(|n| n.family) != Some(f))
    }

    /// Says which input columns the native set needs, for refusals; `None` for the common set.
    pub fn native_requirement(&self) -> Option<String> {
        self.config.native.map(|f| {
            format!(
                "the {f} native features need the input columns {}",
                f.column_names().collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// Returns the names and version of the vectors this extractor writes.
    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    /// Returns the configuration.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// Returns the vector length.
    pub fn dim(&self) -> usize {
        self.schema.len()
    }

    /// Returns how many originating and responding hosts are tracked.
    pub fn host_counts(&self) -> (usize, usize) {
        (self.orig.len(), self.resp.len())
    }

    /// Returns how many host slots each table has allocated (at most `max_hosts` each).
    pub fn host_slots(&self) -> (usize, usize) {
        (self.orig.capacity_used(), self.resp.capacity_used())
    }

    /// Returns how many entries the context tables hold: pairs, destinations, ports.
    pub fn context_counts(&self) -> [usize; 3] {
        self.context.lens()
    }

    /// Returns how many slots the context tables have allocated: pairs and destinations at most
    /// `max_hosts` each, ports at most [`MAX_PORTS`](crate::MAX_PORTS).
    pub fn context_slots(&self) -> [usize; 3] {
        self.context.slots()
    }

    /// Forgets every host (keeping the allocated tables), as a new extractor would start.
    ///
    /// Use one extractor, or a reset, per capture: captures with unrelated clocks must not share
    /// host state.
    pub fn reset(&mut self) {
        self.orig.clear();
        self.resp.clear();
        self.context.clear();
    }

    /// Updates the state with `rec` and writes its feature vector into `out`.
    ///
    /// Every element of `out` is written. A missing originator (responder) address makes the
    /// `orig_host.*` (`resp_host.*`) features `NaN` and leaves that table alone. A flow with no
    /// time ([`FlowRecord::untimed`]) has every per-host feature `NaN` (missing): windows over an
    /// invented clock would mean nothing.
    ///
    /// # Panics
    ///
    /// Panics if `out.len()` differs from [`dim`](FeatureExtractor::dim).
    pub fn extract(&mut self, rec: &FlowRecord, out: &mut [f32]) {
        assert_eq!(out.len(), self.schema.len(), "feature buffer length");
        let (out, native_part) = out.split_at_mut(out.len() - self.native_width);
        match rec.native.as_deref() {
            Some(n) if Some(n.family) == self.config.native => {
                native_part.copy_from_slice(&n.values)
            }
            _ => native_part.fill(f32::NAN),
        }
        let (out, context_part) = out.split_at_mut(out.len() - self.context.width());
        self.context
            .update_and_read(rec, !rec.untimed, context_part);
        let (flow_part, host_part) = out.split_at_mut(FLOW_LEN);
        flow::write(rec, flow_part);
        if rec.untimed {
            host_part.fill(f32::NAN);
            return;
        }
        let (orig_part, resp_part) = host_part.split_at_mut(host_part.len() / 2);

        let ts = rec.ts.as_nanos();
        // Idle hosts are judged against this flow's `ts`, not the largest seen: one record with a
        // corrupt far-future `ts` then evicts the tables once instead of every host that follows.
        self.orig.evict_idle(ts);
        self.resp.evict_idle(ts);

        let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some((a.unwrap_or(0).saturating_add(b.unwrap_or(0)) as f64).ln_1p()),
        };
        let obs = Obs {
            bytes: sum(rec.orig_bytes, rec.resp_bytes),
            pkts: sum(rec.orig_pkts, rec.resp_pkts),
            failed: if flow::is_failed(rec) { 1.0 } else { 0.0 },
            gap: None,
        };
        let port = rec
            .resp_p
            .filter(|_| rec.proto != Protocol::Icmp)
            .map(|p| mix64(u64::from(p) ^ 0x706f_7274));
        let peer_of = |a: Option<IpAddr>| a.map(hash_addr);

        match rec.orig_h {
            Some(h) => self
                .orig
                .update_and_read(h, ts, obs, peer_of(rec.resp_h), port, orig_part),
            None => orig_part.fill(f32::NAN),
        }
        match rec.resp_h {
            Some(h) => self
                .resp
                .update_and_read(h, ts, obs, peer_of(rec.orig_h), port, resp_part),
            None => resp_part.fill(f32::NAN),
        }
    }

    /// Extracts every flow in order, returning the vectors row-major (`n × dim`).
    ///
    /// This is [`extract`](FeatureExtractor::extract) in a loop: the batch and streaming paths are
    /// one code path.
    pub fn extract_all<'a>(&mut self, recs: impl IntoIterator<Item = &'a FlowRecord>) -> Vec<f32> {
        let dim = self.dim();
        let iter = recs.into_iter();
        let mut out = Vec::with_capacity(iter.size_hint().0 * dim);
        for rec in iter {
            let start = out.len();
            out.resize(start + dim, 0.0);
            self.extract(rec, &mut out[start..]);
        }
        out
    }
}
