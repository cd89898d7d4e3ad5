//! The baseline beside (or instead of) the supervised model: learned on the first part of the
//! stream (`detect --learn-for`, as Kitsune does) or loaded from a file (`detect --baseline`).
//!
//! While learning, every flow updates the per-host state as always and its feature row is kept
//! (past `max_rows`, a seeded reservoir sample keeps an even sample of them, so memory stays
//! bounded); once the first `Flows(n)` flows were seen, or a flow arrives `Duration(secs)` of
//! event time after the first, the baseline is fitted ([`iotguard_runtime::lab::baseline_file`])
//! and scores every later flow. Flows seen while learning are **counted** (`LearnStatus`), go on
//! to the archive and the live feed, and are scored by the supervised model when there is one;
//! without one they are not scored (score NaN, no alert), and the run says so.

use iotguard_features::{FeatureConfig, FeatureSchema};
use iotguard_flow::Timestamp;
use iotguard_models::lab::ModelKind;
use iotguard_models::persist::ModelFile;
use iotguard_models::Dataset;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::ActiveModel;

/// When learning ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LearnUntil {
    /// After this many flows.
    Flows(u64),
    /// At the first flow this many seconds of event time after the first flow.
    Secs(f64),
}

impl std::str::FromStr for LearnUntil {
    type Err = String;

    /// Parses `5000` (flows), `5000flows`, or a duration: `90s`, `10m`, `1h`, `2d`.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || {
            format!(
                "{s:?} is neither a flow count (5000, 5000flows) nor a duration (90s, 10m, 1h, 2d)"
            )
        };
        if let Some(n) = t
            .strip_suffix("flows")
            .or(Some(t).filter(|t| t.bytes().all(|b| b.is_ascii_digit())))
        {
            let n: u64 = n.trim().parse().map_err(|_| bad())?;
            return if n == 0 {
                Err("learning needs at least one flow".into())
            } else {
                Ok(LearnUntil::Flows(n))
            };
        }
        let (num, unit) = t.split_at(t.len().saturating_sub(1));
        let scale = match unit {
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3_600.0,
            "d" => 86_400.0,
            _ => return Err(bad()),
        };
        let v: f64 = num.trim().parse().map_err(|_| bad())?;
        if v.is_finite() && v > 0.0 {
            Ok(LearnUntil::Secs(v * scale))
        } else {
            Err(bad())
        }
    }
}

/// How a detector learns its baseline.
#[derive(Clone, Debug)]
pub struct LearnConfig {
    /// When learning ends.
    pub until: LearnUntil,
    /// The baseline's kind (iforest or autoencoder).
    pub kind: ModelKind,
    /// The share of the learned flows the baseline may alert on.
    pub target_far: f64,
    /// Rows kept at most (a reservoir sample past it).
    pub max_rows: usize,
    /// Seed for the model and the reservoir.
    pub seed: u64,
}

impl LearnConfig {
    /// Learning until `until` with an isolation forest, 1 % false alerts, at most 1,000,000 rows.
    pub fn new(until: LearnUntil) -> LearnConfig {
        LearnConfig {
            until,
            kind: ModelKind::Iforest,
            target_far: iotguard_models::baseline::DEFAULT_TARGET_FAR,
            max_rows: 1_000_000,
            seed: 1,
        }
    }
}

/// What learning did, for the run's summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LearnStatus {
    /// Flows seen while learning (all counted here; none lost).
    pub flows: u64,
    /// Rows the baseline was fitted on (fewer than `flows` past `max_rows`).
    pub rows: u64,
    /// Event time of the first and last learned flow (RFC 3339 in JSON).
    #[serde(serialize_with = "rfc3339_opt")]
    pub from: Option<Timestamp>,
    /// See `from`.
    #[serde(serialize_with = "rfc3339_opt")]
    pub to: Option<Timestamp>,
    /// Whether learning has ended (the condition was met, or the input ended first).
    pub done: bool,
    /// Whether the input ended before the learning condition was met.
    pub input_ended_first: bool,
    /// The learned baseline's threshold, once fitted.
    pub threshold: Option<f32>,
    /// Why no baseline could be fitted, if so.
    pub error: Option<String>,
    /// Whether learned flows were scored (by the supervised model) or not (no model yet).
    pub learned_flows_scored: bool,
}

fn rfc3339_opt<S: serde::Serializer>(
    t: &Option<Timestamp>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&crate::time::rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// Gathers the rows of the learning phase.
pub(crate) struct Learner {
    pub(crate) config: LearnConfig,
    rows: Vec<f32>,
    dim: usize,
    rng: u64,
    pub(crate) status: LearnStatus,
}

impl Learner {
    pub(crate) fn new(config: LearnConfig, dim: usize, scored: bool) -> Learner {
        Learner {
            rng: config.seed ^ 0x9e37_79b9_7f4a_7c15,
            config,
            rows: Vec::new(),
            dim,
            status: LearnStatus {
                learned_flows_scored: scored,
                ..LearnStatus::default()
            },
        }
    }

    /// Returns whether a flow at `ts` still belongs to the learning phase.
    pub(crate) fn wants(&self, ts: Timestamp) -> bool {
        match self.config.until {
            LearnUntil::Flows(n) => self.status.flows < n,
            LearnUntil::Secs(s) => self
                .status
                .from
                .is_none_or(|first| ts.as_secs_f64() - first.as_secs_f64() < s),
        }
    }

    /// Keeps one learned flow's row (reservoir sampling past `max_rows`).
    pub(crate) fn push(&mut self, row: &[f32], ts: Timestamp) {
        let st = &mut self.status;
        st.flows += 1;
        st.from = Some(st.from.map_or(ts, |t| t.min(ts)));
        st.to = Some(st.to.map_or(ts, |t| t.max(ts)));
        let kept = self.rows.len() / self.dim.max(1);
        if kept < self.config.max_rows {
            self.rows.extend_from_slice(row);
            return;
        }
        // Algorithm R: the i-th flow replaces a kept row with probability max_rows / i.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let j = (self.rng % st.flows) as usize;
        if j < self.config.max_rows {
            self.rows[j * self.dim..(j + 1) * self.dim].copy_from_slice(row);
        }
    }

    /// Fits the baseline on the rows kept; records the outcome in the status.
    pub(crate) fn fit(
        &mut self,
        schema: &FeatureSchema,
        features: &FeatureConfig,
    ) -> Result<(ModelFile, ActiveModel)> {
        self.status.done = true;
        let n = self.rows.len() / self.dim.max(1);
        self.status.rows = n as u64;
        let data = Dataset {
            feature_names: schema.names.clone(),
            features: std::mem::take(&mut self.rows),
            target: vec![false; n],
            group_names: vec!["learned".to_string()],
            group: vec![0; n],
            ..Dataset::default()
        };
        let params = iotguard_runtime::lab::BaselineParams::new(
            self.config.kind,
            self.config.target_far,
            self.config.seed,
        );
        let fitted = iotguard_runtime::lab::baseline_file(&params, &data, schema, features)
            .and_then(|(file, _)| {
                let mut bytes = Vec::new();
                file.save(&mut bytes)
                    .map_err(iotguard_runtime::Error::Model)?;
                let loaded =
                    iotguard_runtime::lab::load_model_from("learned baseline", &bytes[..])?;
                Ok((file, loaded))
            });
        match fitted {
            Ok((file, loaded)) => {
                self.status.threshold = Some(loaded.threshold.value);
                let mut active = ActiveModel::new(loaded, None);
                active.info.name = format!("iotguard-baseline-{}", self.config.kind);
                Ok((file, active))
            }
            Err(e) => {
                self.status.error = Some(e.to_string());
                Err(Error::Model(format!("learning the baseline: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learn_until_parses_counts_and_durations() {
        let p = |s: &str| s.parse::<LearnUntil>();
        assert_eq!(p("5000"), Ok(LearnUntil::Flows(5_000)));
        assert_eq!(p("200flows"), Ok(LearnUntil::Flows(200)));
        assert_eq!(p("90s"), Ok(LearnUntil::Secs(90.0)));
        assert_eq!(p("10m"), Ok(LearnUntil::Secs(600.0)));
        assert_eq!(p("1.5h"), Ok(LearnUntil::Secs(5_400.0)));
        assert_eq!(p("2d"), Ok(LearnUntil::Secs(172_800.0)));
        assert_eq!(p("0"), Err("learning needs at least one flow".into()));
        assert!(p("10x").unwrap_err().contains("neither a flow count"));
        assert!(p("-5m").is_err());
    }

    #[test]
    fn the_reservoir_keeps_max_rows_and_counts_every_flow() {
        let mut c = LearnConfig::new(LearnUntil::Flows(1_000));
        c.max_rows = 10;
        let mut l = Learner::new(c, 2, false);
        for i in 0..1_000u32 {
            assert!(l.wants(Timestamp::from_secs_nanos(i64::from(i), 0)));
            l.push(
                &[i as f32, 0.0],
                Timestamp::from_secs_nanos(i64::from(i), 0),
            );
        }
        assert!(!l.wants(Timestamp::from_secs_nanos(1_000, 0)));
        assert_eq!(l.status.flows, 1_000);
        assert_eq!(l.rows.len(), 20);
        // Not the first ten: later flows replaced most of them.
        assert!(l.rows.iter().step_by(2).filter(|v| **v >= 10.0).count() >= 8);
        let mut t = Learner::new(LearnConfig::new(LearnUntil::Secs(60.0)), 1, true);
        t.push(&[0.0], Timestamp::from_secs_nanos(100, 0));
        assert!(t.wants(Timestamp::from_secs_nanos(159, 0)));
        assert!(!t.wants(Timestamp::from_secs_nanos(160, 0)));
    }
}
