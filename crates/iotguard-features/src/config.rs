//! The extractor's configuration and its validation.

use iotguard_flow::NativeFamily;

use crate::context::ContextGroup;
use serde::{Deserialize, Serialize};

/// How the per-host context is computed.
///
/// `horizons_secs` changes the feature names (and so the schema fingerprint); `max_hosts` and
/// `idle_timeout_secs` only bound memory and leave the names alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureConfig {
    /// Half-lives of the damped statistics, in seconds of event time, one set of host features
    /// each. A flow `Δt` seconds old weighs `2^(-Δt/h)`. Default `[1, 10, 60, 600]`.
    pub horizons_secs: Vec<f64>,
    /// Most hosts kept per role table (originators and responders each); when full, the least
    /// recently seen host is evicted. Each host costs about `90 + 128 × horizons` bytes (about
    /// 600 B with four horizons: 120 MB per table at the default cap). Default 200 000.
    pub max_hosts: usize,
    /// A host not seen for this many seconds of event time (behind the current flow's `ts`) is
    /// dropped; a host that comes back starts from fresh state. Default 3600.
    pub idle_timeout_secs: f64,
    /// The dataset family whose own columns are added (`native.*` features, after the common
    /// set): `bot-iot` (Argus statistics) or `ton-iot` (dns/ssl/http/weird fields). `None`
    /// (default): the common Zeek-like set only. Changes the names (and the fingerprint), so a
    /// model records it and inputs without those columns are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native: Option<NativeFamily>,
    /// The optional network-context groups added after the host context (`pair`, `dst`,
    /// `port`, `service`; see [`ContextGroup`]), in schema order whatever the order given.
    /// Changes the names (and the fingerprint). The pair and destination tables hold at most
    /// `max_hosts` entries each, the port table at most 4096. A configuration written without
    /// this field (every model file from before these groups) has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextGroup>,
}

/// The context groups of [`FeatureConfig::default`]: all four. Measured by leave-one-capture-out
/// over ../shared/data with ablation (BENCHMARKS.md, "Features for the families the forest
/// missed"): together they cut the default rule's pooled false-alert rate from 11.7 % to 7.1 %
/// (labels audited) at about the same recall (0.948 → 0.945). Their first version counted a
/// pair's and a destination's flows and age from the first flow, which grew with the length of
/// the stream (the drift monitor flagged them on a simulated stream before any change); they are
/// bounded now ([`CONTEXT_HORIZON_SECS`](crate::CONTEXT_HORIZON_SECS)). `--context none` gives the
/// 181 features of the set before.
pub const DEFAULT_CONTEXT: &[ContextGroup] = &ContextGroup::ALL;

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            horizons_secs: vec![1.0, 10.0, 60.0, 600.0],
            max_hosts: 200_000,
            idle_timeout_secs: 3600.0,
            native: None,
            context: DEFAULT_CONTEXT.to_vec(),
        }
    }
}

/// A configuration the extractor cannot run with.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// No horizon was given.
    #[error("horizons_secs is empty")]
    NoHorizons,
    /// A horizon is not between a millisecond and 1e9 seconds.
    #[error("horizon {0} s is not in 0.001..=1e9")]
    BadHorizon(f64),
    /// Two horizons give the same feature names.
    #[error("horizons {0} s and {1} s have the same name")]
    DuplicateHorizon(f64, f64),
    /// `max_hosts` is zero or too large.
    #[error("max_hosts {0} is not in 1..=4294967294")]
    BadMaxHosts(usize),
    /// `idle_timeout_secs` is not a positive finite number.
    #[error("idle_timeout_secs {0} is not a positive finite number")]
    BadIdleTimeout(f64),
}

impl FeatureConfig {
    /// Checks the configuration; [`FeatureExtractor::try_new`](crate::FeatureExtractor::try_new)
    /// calls it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.horizons_secs.is_empty() {
            return Err(ConfigError::NoHorizons);
        }
        for (i, &h) in self.horizons_secs.iter().enumerate() {
            if !(1e-3..=1e9).contains(&h) {
                return Err(ConfigError::BadHorizon(h));
            }
            for &g in &self.horizons_secs[..i] {
                if horizon_label(g) == horizon_label(h) {
                    return Err(ConfigError::DuplicateHorizon(g, h));
                }
            }
        }
        if self.max_hosts == 0 || self.max_hosts >= u32::MAX as usize {
            return Err(ConfigError::BadMaxHosts(self.max_hosts));
        }
        if !(self.idle_timeout_secs.is_finite() && self.idle_timeout_secs > 0.0) {
            return Err(ConfigError::BadIdleTimeout(self.idle_timeout_secs));
        }
        Ok(())
    }
}

/// Names a horizon for feature names: `500ms`, `1s`, `10s`, `1m`, `10m`, `1h`, `2p5s`.
pub(crate) fn horizon_label(secs: f64) -> String {
    let ms = secs * 1000.0;
    if ms.fract() == 0.0 && ms < 1e15 {
        let ms = ms as u64;
        if ms % 3_600_000 == 0 {
            format!("{}h", ms / 3_600_000)
        } else if ms % 60_000 == 0 {
            format!("{}m", ms / 60_000)
        } else if ms % 1000 == 0 {
            format!("{}s", ms / 1000)
        } else if ms < 1000 {
            format!("{ms}ms")
        } else {
            format!("{}s", format!("{secs}").replace('.', "p"))
        }
    } else {
        format!(
            "{}s",
            format!("{secs:.6}").trim_end_matches('0').replace('.', "p")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let l: Vec<String> = [0.5, 1.0, 10.0, 60.0, 600.0, 3600.0, 2.5, 90.0, 0.0015]
            .iter()
            .map(|&s| horizon_label(s))
            .collect();
        assert_eq!(
            l,
            ["500ms", "1s", "10s", "1m", "10m", "1h", "2p5s", "90s", "0p0015s"]
        );
    }

    #[test]
    fn default_is_valid_and_bad_configs_are_refused() {
        FeatureConfig::default().validate().unwrap();
        let bad = |f: fn(&mut FeatureConfig)| {
            let mut c = FeatureConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert_eq!(bad(|c| c.horizons_secs.clear()), ConfigError::NoHorizons);
        assert!(matches!(
            bad(|c| c.horizons_secs.push(f64::NAN)),
            ConfigError::BadHorizon(_)
        ));
        assert!(matches!(
            bad(|c| c.horizons_secs.push(0.0)),
            ConfigError::BadHorizon(_)
        ));
        assert!(matches!(
            bad(|c| c.horizons_secs.push(10.0)),
            ConfigError::DuplicateHorizon(..)
        ));
        assert!(matches!(
            bad(|c| c.max_hosts = 0),
            ConfigError::BadMaxHosts(0)
        ));
        assert!(matches!(
            bad(|c| c.idle_timeout_secs = -1.0),
            ConfigError::BadIdleTimeout(_)
        ));
    }

    #[test]
    fn serde_round_trip_and_defaults() {
        let c: FeatureConfig = serde_json::from_str(r#"{"max_hosts": 5}"#).unwrap();
        assert_eq!(c.max_hosts, 5);
        assert_eq!(c.horizons_secs, FeatureConfig::default().horizons_secs);
        let back: FeatureConfig =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(serde_json::from_str::<FeatureConfig>(r#"{"max_host": 5}"#).is_err());
    }
}
