//! The detector's configuration: incidents, explanations, asset criticality by CIDR, and the
//! clock that stamps `event.created`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use iotguard_flow::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the detector groups, grades and explains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// `observer.name` for flows whose input names no sensor. Default `iotguard`.
    pub sensor: String,
    /// An incident with no alerting flow for this many seconds of event time is closed; the
    /// attacker's next alerting flow opens a new one. Default 300.
    pub incident_idle_secs: f64,
    /// A source's alerting flows that form no pattern yet (no scan, flood, beacon, brute force
    /// or exfiltration) are reported as an `anomaly` incident once they have lasted this many
    /// seconds of event time, or when they close; until then they may still turn out to form a
    /// pattern and move to a typed incident. Default 60.
    pub pending_secs: f64,
    /// A beacon (command and control) incident stays open through silences of up to this many
    /// seconds, and of up to two of its own periods: a bot's channel to its server that goes
    /// quiet for hours (a long session Zeek logs only when it ends, a server down for a while)
    /// is still the same compromise. Default 86 400 (a day).
    pub beacon_idle_secs: f64,
    /// An open incident's alert document is re-sent at most once per this many seconds of event
    /// time (sooner when its severity rises, and always when it closes). Default 30.
    pub update_every_secs: f64,
    /// Most incidents open at once; when full, the longest idle are closed. Default 100 000.
    pub max_incidents: usize,
    /// Most flow uids kept per incident (the first ones). Default 20.
    pub max_uids: usize,
    /// Most distinct peers and ports counted exactly per incident (counts saturate there).
    /// Default 1024.
    pub max_peers: usize,
    /// Features listed in an explanation. Default 5.
    pub top_features: usize,
    /// Whether alerting flows are explained (feature contributions). Default true.
    pub explain: bool,
    /// Asset criticality by network; the first matching rule wins, others are `normal`.
    pub assets: Vec<AssetRule>,
    /// What stamps `event.created` (not part of the file configuration).
    #[serde(skip)]
    pub clock: Clock,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            sensor: "iotguard".to_string(),
            incident_idle_secs: 300.0,
            pending_secs: 60.0,
            beacon_idle_secs: 86_400.0,
            update_every_secs: 30.0,
            max_incidents: 100_000,
            max_uids: 20,
            max_peers: 1024,
            top_features: 5,
            explain: true,
            assets: Vec::new(),
            clock: Clock::System,
        }
    }
}

impl DetectConfig {
    /// Checks the configuration, naming every problem.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if !(self.incident_idle_secs.is_finite() && self.incident_idle_secs > 0.0) {
            problems.push(format!(
                "incident_idle_secs {} is not a positive number",
                self.incident_idle_secs
            ));
        }
        if !(self.update_every_secs.is_finite() && self.update_every_secs >= 0.0) {
            problems.push(format!(
                "update_every_secs {} is not a non-negative number",
                self.update_every_secs
            ));
        }
        if !(self.beacon_idle_secs.is_finite() && self.beacon_idle_secs >= 0.0) {
            problems.push(format!(
                "beacon_idle_secs {} is not a non-negative number",
                self.beacon_idle_secs
            ));
        }
        if !(self.pending_secs.is_finite() && self.pending_secs >= 0.0) {
            problems.push(format!(
                "pending_secs {} is not a non-negative number",
                self.pending_secs
            ));
        }
        if self.max_incidents == 0 {
            problems.push("max_incidents is 0".to_string());
        }
        if self.max_peers == 0 {
            problems.push("max_peers is 0".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(problems.join("; ")))
        }
    }

    /// Returns the criticality of an address (`normal` when no rule matches).
    pub fn criticality(&self, ip: Option<IpAddr>) -> Criticality {
        ip.and_then(|ip| self.assets.iter().find(|r| r.network.contains(ip)))
            .map_or(Criticality::Normal, |r| r.criticality)
    }
}

/// How important the assets of a network are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetRule {
    /// The network, as CIDR text (`10.0.0.0/8`, `fd00::/8`, or one address).
    pub network: Cidr,
    /// Its criticality.
    pub criticality: Criticality,
}

impl FromStr for AssetRule {
    type Err = String;

    /// Parses `CIDR=CRITICALITY` (`192.168.1.0/24=critical`).
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let (net, crit) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected CIDR=CRITICALITY"))?;
        Ok(AssetRule {
            network: net.parse()?,
            criticality: crit.parse()?,
        })
    }
}

/// How important an asset is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Criticality {
    /// Guest and lab networks.
    Low,
    /// Anything not configured.
    Normal,
    /// Important devices.
    High,
    /// Devices whose compromise is an emergency (medical, safety, door locks).
    Critical,
}

impl Criticality {
    /// Returns the multiplier applied to the risk score.
    pub fn factor(self) -> f64 {
        match self {
            Criticality::Low => 0.7,
            Criticality::Normal => 1.0,
            Criticality::High => 1.25,
            Criticality::Critical => 1.5,
        }
    }

    /// Returns the lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Criticality::Low => "low",
            Criticality::Normal => "normal",
            Criticality::High => "high",
            Criticality::Critical => "critical",
        }
    }
}

impl FromStr for Criticality {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Criticality::Low),
            "normal" => Ok(Criticality::Normal),
            "high" => Ok(Criticality::High),
            "critical" => Ok(Criticality::Critical),
            _ => Err(format!(
                "unknown criticality `{s}`; one of: low, normal, high, critical"
            )),
        }
    }
}

/// An IP network: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Returns whether the network holds `ip` (IPv4 networks never hold IPv6 addresses).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}`: not an IP address or CIDR network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: prefix length must be 0..={max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What stamps `event.created` on alerts.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A fixed instant (tests and golden files).
    Fixed(Timestamp),
}

impl Clock {
    /// Returns the current time by this clock.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => crate::time::now(),
            Clock::Fixed(t) => *t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching() {
        let net: Cidr = "192.168.1.0/24".parse().unwrap();
        assert!(net.contains("192.168.1.77".parse().unwrap()));
        assert!(!net.contains("192.168.2.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let one: Cidr = "fd00::5".parse().unwrap();
        assert_eq!(one.to_string(), "fd00::5/128");
        assert!(one.contains("fd00::5".parse().unwrap()));
        assert!(!one.contains("fd00::6".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("host/8".parse::<Cidr>().is_err());
    }

    #[test]
    fn asset_rules_first_match_wins() {
        let config = DetectConfig {
            assets: vec![
                "10.0.0.5=critical".parse().unwrap(),
                "10.0.0.0/8=low".parse().unwrap(),
            ],
            ..DetectConfig::default()
        };
        let c = |s: &str| config.criticality(Some(s.parse().unwrap()));
        assert_eq!(c("10.0.0.5"), Criticality::Critical);
        assert_eq!(c("10.9.9.9"), Criticality::Low);
        assert_eq!(c("11.0.0.1"), Criticality::Normal);
        assert_eq!(config.criticality(None), Criticality::Normal);
        assert!("10.0.0.0/8".parse::<AssetRule>().is_err());
        assert!("10.0.0.0/8=vital".parse::<AssetRule>().is_err());
    }

    #[test]
    fn validate_names_every_problem() {
        let bad = DetectConfig {
            incident_idle_secs: 0.0,
            max_incidents: 0,
            ..DetectConfig::default()
        };
        let msg = bad.validate().unwrap_err().to_string();
        assert_eq!(
            msg,
            "config: incident_idle_secs 0 is not a positive number; max_incidents is 0"
        );
        DetectConfig::default().validate().unwrap();
    }
}
