//! Explanations in words: the sentences of an alert's `iotguard.reasons`.
//!
//! The first sentence says what the incident is from its counts ("192.168.1.17 opened 1,024
//! connections to 1,024 addresses on port 37215 in 10 minutes, 99 % unanswered"); the others
//! put the top features of the explained flow in words, from each feature's template
//! ([`iotguard_features::describe`]). Missing values are not reasons unless missing-ness
//! itself says something ("it was the first connection seen to 10.0.0.5"); the detector drops
//! the others before they reach the document.

use std::net::IpAddr;

use iotguard_features::{describe, number};

use crate::alert::FeatureContribution;
use crate::risk::AttackType;
use crate::typing::Agg;

/// Whether a feature with this value may be a reason: a value, or a missing value that means
/// something.
pub(crate) fn may_be_reason(name: &str, value: f32) -> bool {
    value.is_finite() || describe(name).is_some_and(|d| d.when_missing.is_some())
}

/// Seconds in words: `40 seconds`, `10 minutes`, `2.5 hours`, `3 days`.
pub(crate) fn duration_words(secs: f64) -> String {
    let (v, unit) = if secs < 0.05 {
        return "under a second".to_string();
    } else if secs < 120.0 {
        (secs, "second")
    } else if secs < 2.0 * 3600.0 {
        (secs / 60.0, "minute")
    } else if secs < 2.0 * 86_400.0 {
        (secs / 3600.0, "hour")
    } else {
        (secs / 86_400.0, "day")
    };
    let v = if v >= 10.0 {
        v.round()
    } else {
        (v * 10.0).round() / 10.0
    };
    if v == 1.0 {
        format!("1 {unit}")
    } else {
        format!("{} {unit}s", number(v))
    }
}

/// Bytes in words: `512 bytes`, `12.5 MB`.
fn bytes_words(b: u64) -> String {
    let b = b as f64;
    if b < 10_000.0 {
        format!("{} bytes", number(b))
    } else if b < 10e6 {
        format!("{} kB", number(b / 1e3))
    } else if b < 10e9 {
        format!("{} MB", number(b / 1e6))
    } else {
        format!("{} GB", number(b / 1e9))
    }
}

/// What the summary sentence is made from.
pub(crate) struct Summary<'a> {
    pub(crate) attack: AttackType,
    pub(crate) source: Option<IpAddr>,
    pub(crate) dst: Option<IpAddr>,
    pub(crate) port: Option<u16>,
    pub(crate) dsts: usize,
    pub(crate) ports: usize,
    pub(crate) agg: &'a Agg,
}

/// The sentence saying what the incident is.
pub(crate) fn summary(s: &Summary<'_>) -> String {
    let a = s.agg;
    let src = s
        .source
        .map_or("An unknown host".to_string(), |ip| ip.to_string());
    let n = a.flows;
    let conns = |n: u64| {
        if n == 1 {
            "1 connection".to_string()
        } else {
            format!("{} connections", number(n as f64))
        }
    };
    let dur = duration_words(a.duration_secs());
    let unanswered = 100.0 * a.failed as f64 / n.max(1) as f64;
    let hosts = match s.dst {
        Some(d) => d.to_string(),
        None => format!("{} addresses", number(s.dsts as f64)),
    };
    let on_ports = match s.port {
        Some(p) => format!("port {p}"),
        None => format!("{} ports", number(s.ports as f64)),
    };
    let target = match (s.dst, s.port) {
        (Some(d), Some(p)) => format!("{d}:{p}"),
        _ => format!("{hosts} on {on_ports}"),
    };
    let pct = |x: f64| number(x.round());
    match s.attack {
        AttackType::HorizontalScan => format!(
            "{src} opened {} to {hosts} on {on_ports} in {dur}, {} % unanswered.",
            conns(n),
            pct(unanswered)
        ),
        AttackType::VerticalScan => format!(
            "{src} tried {} ports of {hosts} ({}) in {dur}, {} % unanswered.",
            number(s.ports as f64),
            conns(n),
            pct(unanswered)
        ),
        AttackType::Flood => {
            let rate = n as f64 / a.duration_secs().max(1.0);
            format!(
                "{src} sent {} ({} packets) to {target} in {dur}, {} per second, {} % unanswered.",
                conns(n),
                number(a.orig_pkts as f64),
                number(rate),
                pct(unanswered)
            )
        }
        AttackType::Beacon => {
            let mut text = format!("{src} connected to {target} {} times over {dur}", number(n as f64));
            if a.gap_n > 0 {
                text.push_str(&format!(", every {} on average", duration_words(a.gap_mean)));
                if a.gap_cv() <= 0.3 {
                    text.push_str(", like clockwork");
                }
            }
            text.push('.');
            text
        }
        AttackType::BruteForce => format!(
            "{src} made {} login attempts on {target} in {dur}, {} % failed.",
            number(n as f64),
            pct(unanswered)
        ),
        AttackType::Exfiltration => format!(
            "{src} sent {} to {target} in {dur}, {} times what it received.",
            bytes_words(a.orig_bytes),
            number(a.orig_bytes as f64 / a.resp_bytes.max(1) as f64)
        ),
        AttackType::Anomaly => format!(
            "{src} made {} the model finds unusual, to {target}, in {dur}, matching no known attack pattern.",
            conns(n)
        ),
    }
}

/// The top features in words, the placeholders filled with the flow's addresses.
pub(crate) fn feature_reasons(
    features: &[FeatureContribution],
    source: Option<IpAddr>,
    dst: Option<IpAddr>,
) -> Vec<String> {
    let src = source.map_or("the source".to_string(), |ip| ip.to_string());
    let dst = dst.map_or("the destination".to_string(), |ip| ip.to_string());
    features
        .iter()
        .filter_map(|f| {
            let text = describe(&f.name)?.sentence(f.value)?;
            let text = text.replace("{src}", &src).replace("{dst}", &dst);
            let mut chars = text.chars();
            let first = chars.next()?;
            Some(format!("{}{}.", first.to_uppercase(), chars.as_str()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotguard_flow::{ConnState, FlowRecord, Timestamp};

    fn scan_agg() -> Agg {
        let mut a = Agg::new(Timestamp(0));
        for i in 0..1024u32 {
            let rec = FlowRecord {
                ts: Timestamp(i64::from(i) * 586_000_000),
                conn_state: Some(if i < 1014 {
                    ConnState::S0
                } else {
                    ConnState::SF
                }),
                ..FlowRecord::default()
            };
            a.add(&rec, 1.0);
        }
        a
    }

    #[test]
    fn summaries_say_what_happened() {
        let agg = scan_agg();
        let s = Summary {
            attack: AttackType::HorizontalScan,
            source: "192.168.1.17".parse().ok(),
            dst: None,
            port: Some(37215),
            dsts: 1024,
            ports: 1,
            agg: &agg,
        };
        assert_eq!(
            summary(&s),
            "192.168.1.17 opened 1,024 connections to 1,024 addresses on port 37215 in 10 minutes, 99 % unanswered."
        );
        let beacon = Summary {
            attack: AttackType::Beacon,
            dst: "185.244.25.235".parse().ok(),
            port: Some(6667),
            dsts: 1,
            ..s
        };
        assert_eq!(
            summary(&beacon),
            "192.168.1.17 connected to 185.244.25.235:6667 1,024 times over 10 minutes, every 0.6 seconds on average, like clockwork."
        );
        assert_eq!(duration_words(0.01), "under a second");
        assert_eq!(duration_words(0.2), "0.2 seconds");
        assert_eq!(duration_words(3600.0 * 5.0), "5 hours");
        assert_eq!(bytes_words(52_000_000), "52 MB");
    }

    #[test]
    fn feature_reasons_fill_addresses_and_skip_meaningless_missing_values() {
        let f = |name: &str, value: f32| FeatureContribution {
            name: name.to_string(),
            value,
            contribution: 1.0,
        };
        let reasons = feature_reasons(
            &[
                f("orig_host.failed_share_10s", 0.99),
                f("resp_host.gap_s", f32::NAN),
                f("resp_host.gap_mean_10s", f32::NAN),
            ],
            "192.168.1.17".parse().ok(),
            "10.0.0.5".parse().ok(),
        );
        assert_eq!(
            reasons,
            [
                "99 % of 192.168.1.17's connections over the last 10 seconds failed.",
                "It was the first connection seen to 10.0.0.5."
            ]
        );
        assert!(may_be_reason("resp_host.gap_s", f32::NAN));
        assert!(!may_be_reason("resp_host.gap_mean_10s", f32::NAN));
        assert!(may_be_reason("resp_host.gap_mean_10s", 2.0));
    }
}
