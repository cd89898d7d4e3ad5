//! Grading an incident: its [`AttackType`] inferred from the pattern of its flows, its 0–100 risk
//! score and its [`Severity`].
//!
//! The risk score adds up four things a person would weigh, then scales by asset criticality:
//!
//! - **model strength**: how far the incident's highest score is past the threshold, `s` in
//!   `[0, 1]` (`(score − t) / (1 − t)` for probabilities, 1 when a threshold of 1 is reached,
//!   `score / t − 1` capped at 1 for detectors whose scores are not probabilities); it gives
//!   `30 + 30 s` points;
//! - **persistence**: alerting flows (`log10(n) / 3`, capped at 1) and how long the incident has
//!   lasted (`duration / 10 min`, capped at 1), half each, for up to 15 points;
//! - **attack type**: scans 5, brute force and floods 10, beacons (C&C) and large outbound
//!   transfers 15, an unclassified anomaly 0;
//! - **asset criticality** of the most critical address involved (configured by CIDR): the sum
//!   is multiplied by 0.7 (low), 1.0 (normal), 1.25 (high) or 1.5 (critical) and capped at 100.
//!
//! Severity bands on the risk score: info below 30, low below 50, medium below 70, high below 85,
//! critical from 85.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::Criticality;

/// How urgent an alert is, from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth recording, no action needed.
    Info,
    /// Look when convenient.
    Low,
    /// Look today.
    Medium,
    /// Look now.
    High,
    /// Act now.
    Critical,
}

impl Severity {
    /// Every severity, from least to most.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// Returns the severity band of a 0–100 risk score.
    pub fn from_risk(risk: f64) -> Severity {
        if risk >= 85.0 {
            Severity::Critical
        } else if risk >= 70.0 {
            Severity::High
        } else if risk >= 50.0 {
            Severity::Medium
        } else if risk >= 30.0 {
            Severity::Low
        } else {
            Severity::Info
        }
    }

    /// Returns the lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Returns the numeric `event.severity` ECS expects, on Elastic Security's scale
    /// (low 21, medium 47, high 73, critical 99; info 1).
    pub fn ecs_number(self) -> u8 {
        match self {
            Severity::Info => 1,
            Severity::Low => 21,
            Severity::Medium => 47,
            Severity::High => 73,
            Severity::Critical => 99,
        }
    }

    /// Returns the severity's rank, 0 (info) to 4 (critical), as stored in SQLite.
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// Returns the severity of a rank (out-of-range ranks are critical).
    pub fn from_rank(rank: u8) -> Severity {
        Severity::ALL[usize::from(rank.min(4))]
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown severity `{s}`; one of: info, low, medium, high, critical")
            })
    }
}

/// What an incident looks like, inferred from its flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackType {
    /// One source probing many hosts on few ports.
    HorizontalScan,
    /// One source probing many ports of few hosts.
    VerticalScan,
    /// Many connections or packets at a high rate to few hosts.
    Flood,
    /// Repeated attempts on one authentication service (telnet, SSH, FTP, RDP, VNC, HTTP login).
    BruteForce,
    /// Connections at regular intervals (or again and again for ten minutes or more) to the
    /// same peer: command and control.
    Beacon,
    /// A large outbound transfer, far more sent than received.
    Exfiltration,
    /// Anomalous flows matching none of the patterns above.
    Anomaly,
}

impl AttackType {
    /// Every attack type, in declaration order.
    pub const ALL: [AttackType; 7] = [
        AttackType::HorizontalScan,
        AttackType::VerticalScan,
        AttackType::Flood,
        AttackType::BruteForce,
        AttackType::Beacon,
        AttackType::Exfiltration,
        AttackType::Anomaly,
    ];

    /// Returns the snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttackType::HorizontalScan => "horizontal_scan",
            AttackType::VerticalScan => "vertical_scan",
            AttackType::Flood => "flood",
            AttackType::BruteForce => "brute_force",
            AttackType::Beacon => "beacon",
            AttackType::Exfiltration => "exfiltration",
            AttackType::Anomaly => "anomaly",
        }
    }

    /// Returns a short description for people.
    pub fn describe(self) -> &'static str {
        match self {
            AttackType::HorizontalScan => "horizontal scan",
            AttackType::VerticalScan => "vertical (port) scan",
            AttackType::Flood => "flood",
            AttackType::BruteForce => "brute force on one service",
            AttackType::Beacon => "beaconing (command and control)",
            AttackType::Exfiltration => "large outbound transfer",
            AttackType::Anomaly => "anomalous traffic",
        }
    }

    /// Risk points the pattern adds.
    fn points(self) -> f64 {
        match self {
            AttackType::Anomaly => 0.0,
            AttackType::HorizontalScan | AttackType::VerticalScan => 5.0,
            AttackType::BruteForce | AttackType::Flood => 10.0,
            AttackType::Beacon | AttackType::Exfiltration => 15.0,
        }
    }
}

impl FromStr for AttackType {
    type Err = String;

    /// Parses the snake_case name (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttackType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = AttackType::ALL.iter().map(|t| t.as_str()).collect();
                format!("unknown attack type `{s}`; one of: {}", names.join(", "))
            })
    }
}

impl fmt::Display for AttackType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the risk score is computed from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RiskInputs {
    /// The incident's highest model score.
    pub(crate) max_score: f32,
    /// The threshold it was compared with.
    pub(crate) threshold: f32,
    /// Alerting flows in the incident.
    pub(crate) flows: u64,
    /// Seconds from the first to the last alerting flow.
    pub(crate) duration_secs: f64,
    /// The inferred pattern.
    pub(crate) attack: AttackType,
    /// The most critical asset involved.
    pub(crate) criticality: Criticality,
}

/// Returns how far a score is past its threshold, in `[0, 1]`.
pub(crate) fn model_strength(score: f32, threshold: f32) -> f64 {
    let (s, t) = (f64::from(score), f64::from(threshold));
    if !s.is_finite() || !t.is_finite() {
        return 0.0;
    }
    let v = if t >= 1.0 && s <= 1.0 {
        // A probability threshold of 1 (pure tree leaves): reaching it is the strongest verdict.
        if s >= t {
            1.0
        } else {
            0.0
        }
    } else if s <= 1.0 {
        (s - t) / (1.0 - t)
    } else if t > 0.0 {
        s / t - 1.0
    } else {
        s - t
    };
    v.clamp(0.0, 1.0)
}

/// Returns the 0–100 risk score, rounded to one decimal.
pub(crate) fn risk_score(r: &RiskInputs) -> f64 {
    let strength = model_strength(r.max_score, r.threshold);
    let flows = ((r.flows.max(1) as f64).log10() / 3.0).min(1.0);
    let lasting = (r.duration_secs.max(0.0) / 600.0).min(1.0);
    let sum = 30.0 + 30.0 * strength + 15.0 * (0.5 * flows + 0.5 * lasting) + r.attack.points();
    let risk = (sum * r.criticality.factor()).clamp(0.0, 100.0);
    (risk * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> RiskInputs {
        RiskInputs {
            max_score: 0.5,
            threshold: 0.5,
            flows: 1,
            duration_secs: 0.0,
            attack: AttackType::Anomaly,
            criticality: Criticality::Normal,
        }
    }

    #[test]
    fn severity_orders_parses_and_bands() {
        assert!(Severity::Info < Severity::Low && Severity::High < Severity::Critical);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("urgent".parse::<Severity>().is_err());
        assert_eq!(
            serde_json::to_string(&Severity::Medium).unwrap(),
            "\"medium\""
        );
        let bands: Vec<Severity> = [0.0, 29.9, 30.0, 50.0, 69.9, 70.0, 85.0, 100.0]
            .iter()
            .map(|&r| Severity::from_risk(r))
            .collect();
        use Severity::*;
        assert_eq!(
            bands,
            [Info, Info, Low, Medium, Medium, High, Critical, Critical]
        );
        assert_eq!(Severity::from_rank(Severity::High.rank()), Severity::High);
    }

    #[test]
    fn risk_adds_strength_persistence_pattern_and_scales_by_asset() {
        // Just at the threshold, one flow, no pattern: the floor.
        assert_eq!(risk_score(&inputs()), 30.0);
        // The highest probability: 60.
        let strong = RiskInputs {
            max_score: 1.0,
            ..inputs()
        };
        assert_eq!(risk_score(&strong), 60.0);
        // 1000 flows over 10 minutes of a beacon: 60 + 15 + 15.
        let lasting = RiskInputs {
            flows: 1000,
            duration_secs: 600.0,
            attack: AttackType::Beacon,
            ..strong
        };
        assert_eq!(risk_score(&lasting), 90.0);
        // Half-way past the threshold, 10 flows, a scan, on a low-criticality asset:
        // (30 + 15 + 15 * (0.5/3) + 5) * 0.7 = 36.75.
        let low = RiskInputs {
            max_score: 0.75,
            flows: 10,
            attack: AttackType::HorizontalScan,
            criticality: Criticality::Low,
            ..inputs()
        };
        assert_eq!(risk_score(&low), 36.8);
        // Critical assets cap at 100.
        let crit = RiskInputs {
            criticality: Criticality::Critical,
            ..lasting
        };
        assert_eq!(risk_score(&crit), 100.0);
    }

    #[test]
    fn strength_for_unbounded_scores() {
        assert!((model_strength(0.9, 0.6) - 0.75).abs() < 1e-6);
        assert_eq!(model_strength(3.0, 2.0), 0.5);
        assert_eq!(model_strength(f32::NAN, 0.5), 0.0);
        assert_eq!(model_strength(0.1, 0.5), 0.0);
        assert_eq!(model_strength(1.0, 1.0), 1.0);
        assert_eq!(model_strength(0.9, 1.0), 0.0);
    }
}
