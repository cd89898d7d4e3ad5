//! Feature names in words: for every feature of the schema, what it measures, its unit, a
//! plain-language sentence for a value, and what a missing value means when it means
//! something. Explanations in words (alert `iotguard.reasons`) and the glossary
//! (`docs/glossary.md`) come from here.
//!
//! Sentences name the flow's ends with the placeholders `{src}` (the originator) and `{dst}`
//! (the responder), for the caller to fill with addresses. Values are shown as people read
//! them: log-scaled counts as counts, log ratios as ratios, shares as percentages, with
//! thousands separators.

use std::fmt::Write as _;

/// How a stored value is turned into the shown one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// As stored.
    Plain,
    /// `ln(1 + x)` stored: shown as `x`.
    Log1p,
    /// `ln(r)` stored: shown as `r`.
    Ln,
    /// A share in `[0, 1]`: shown as a percentage.
    Percent,
    /// 0 or 1: a sentence for each.
    Flag,
}

/// What one feature means.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureDoc {
    /// The feature family, with `{H}` for a horizon and `{X}` for a one-hot value
    /// (`orig_host.rate_{H}`, `conn_state.{X}`).
    pub pattern: String,
    /// What it measures, for the glossary.
    pub meaning: String,
    /// The unit of the shown value (`connections/s`, `bytes`, `%`; empty for flags).
    pub unit: &'static str,
    /// How the stored value is shown.
    pub scale: Scale,
    /// The sentence for a value, `{v}` standing for the shown value; for flags, the sentence
    /// when set.
    pub template: String,
    /// For flags, the sentence when not set.
    pub template_off: Option<String>,
    /// What a missing value says, when it says something; `None`: a missing value is no
    /// reason (an unset field, too few flows for a statistic).
    pub when_missing: Option<String>,
}

impl FeatureDoc {
    /// Returns the sentence for a value (with `{src}`/`{dst}` left for the caller), or `None`
    /// for a missing value that means nothing.
    pub fn sentence(&self, value: f32) -> Option<String> {
        if !value.is_finite() {
            return self.when_missing.clone();
        }
        let v = f64::from(value);
        let shown = match self.scale {
            Scale::Flag => {
                return Some(if v >= 0.5 {
                    self.template.clone()
                } else {
                    self.template_off
                        .clone()
                        .unwrap_or_else(|| format!("not: {}", self.template))
                });
            }
            Scale::Plain => v,
            Scale::Log1p => v.exp_m1(),
            Scale::Ln => v.exp(),
            Scale::Percent => 100.0 * v,
        };
        Some(self.template.replace("{v}", &number(shown)))
    }
}

/// Formats a number for people: thousands separators, no more digits than matter
/// (`1,024`, `37.5`, `0.25`).
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return "?".to_string();
    }
    let a = x.abs();
    let decimals = if a >= 100.0 || a == a.round() {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 0.1 {
        2
    } else {
        3
    };
    let text = format!("{a:.decimals$}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::new();
    if x < 0.0 && !text.trim_matches(['0', '.']).is_empty() {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        let _ = write!(out, ".{frac}");
    }
    out
}

/// A horizon label of a feature name (`10s`, `1m`, `500ms`, `2p5s`) in words.
fn horizon_words(label: &str) -> String {
    let (num, unit) = label
        .find(|c: char| c.is_ascii_alphabetic() && c != 'p')
        .map_or((label, ""), |i| label.split_at(i));
    let num = num.replace('p', ".");
    let unit = match unit {
        "ms" => "millisecond",
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        _ => "unit",
    };
    if num == "1" {
        format!("the last {unit}")
    } else {
        format!("the last {num} {unit}s")
    }
}

fn doc(
    pattern: &str,
    meaning: &str,
    unit: &'static str,
    scale: Scale,
    template: &str,
) -> FeatureDoc {
    FeatureDoc {
        pattern: pattern.to_string(),
        meaning: meaning.to_string(),
        unit,
        scale,
        template: template.to_string(),
        template_off: None,
        when_missing: None,
    }
}

fn flag(pattern: &str, meaning: &str, on: &str, off: &str) -> FeatureDoc {
    FeatureDoc {
        template_off: Some(off.to_string()),
        ..doc(pattern, meaning, "", Scale::Flag, on)
    }
}

/// What the responder ports with an indicator are.
fn port_words(port: &str) -> &'static str {
    match port {
        "23" | "2323" => "telnet, Mirai's scan target",
        "22" => "SSH",
        "80" => "HTTP",
        "443" => "HTTPS",
        "53" => "DNS",
        "123" => "NTP",
        "37215" => "Huawei HG532 UPnP, Okiru's exploit target",
        "1900" => "SSDP",
        "5353" => "mDNS",
        "7547" => "TR-069",
        "8080" => "alternative HTTP",
        "1883" => "MQTT",
        "5555" => "Android debug bridge",
        _ => "a port IoT devices and malware use",
    }
}

/// Zeek history letter names in words.
fn history_words(event: &str) -> &'static str {
    match event {
        "syn" => "a SYN",
        "synack" => "a SYN-ACK",
        "ack" => "a pure ACK",
        "data" => "data",
        "fin" => "a FIN",
        "rst" => "a reset",
        "badsum" => "a packet with a bad checksum",
        "gap" => "a content gap",
        "retrans" => "a retransmission",
        "zerowin" => "a zero window",
        "inconsistent" => "an inconsistent packet",
        "multiflag" => "a packet with SYN and FIN or RST together",
        _ => "an event",
    }
}

/// Describes a per-flow feature.
fn flow_doc(name: &str) -> Option<FeatureDoc> {
    use Scale::*;
    let d = match name {
        "duration_s" => doc(
            name,
            "How long the connection lasted.",
            "s",
            Plain,
            "the connection lasted {v} s",
        ),
        "orig_bytes_log1p" => doc(
            name,
            "Payload bytes the originator sent (stored as ln(1 + x)).",
            "bytes",
            Log1p,
            "{src} sent {v} bytes of payload",
        ),
        "resp_bytes_log1p" => doc(
            name,
            "Payload bytes the responder sent back (stored as ln(1 + x)).",
            "bytes",
            Log1p,
            "{dst} sent back {v} bytes of payload",
        ),
        "orig_pkts_log1p" => doc(
            name,
            "Packets the originator sent (stored as ln(1 + x)).",
            "packets",
            Log1p,
            "{src} sent {v} packets",
        ),
        "resp_pkts_log1p" => doc(
            name,
            "Packets the responder sent back (stored as ln(1 + x)).",
            "packets",
            Log1p,
            "{dst} answered with {v} packets",
        ),
        "orig_ip_bytes_log1p" => doc(
            name,
            "IP-level bytes the originator sent, headers included (stored as ln(1 + x)).",
            "bytes",
            Log1p,
            "{src} sent {v} bytes on the wire",
        ),
        "resp_ip_bytes_log1p" => doc(
            name,
            "IP-level bytes the responder sent (stored as ln(1 + x)).",
            "bytes",
            Log1p,
            "{dst} sent {v} bytes on the wire",
        ),
        "missed_bytes_log1p" => doc(
            name,
            "Bytes the sensor missed (packet loss at the sensor; stored as ln(1 + x)).",
            "bytes",
            Log1p,
            "the sensor missed {v} bytes of the connection",
        ),
        "bytes_ratio_log" => doc(
            name,
            "Bytes back per byte sent, (resp + 1) / (orig + 1) (stored as its logarithm).",
            "×",
            Ln,
            "{dst} sent back {v} times the bytes it received",
        ),
        "pkts_ratio_log" => doc(
            name,
            "Packets back per packet sent, (resp + 1) / (orig + 1) (stored as its logarithm).",
            "×",
            Ln,
            "{dst} sent back {v} times the packets it received",
        ),
        "orig_bytes_per_pkt" => doc(
            name,
            "The originator's IP bytes per packet.",
            "bytes/packet",
            Plain,
            "{src}'s packets carried {v} bytes each",
        ),
        "resp_bytes_per_pkt" => doc(
            name,
            "The responder's IP bytes per packet.",
            "bytes/packet",
            Plain,
            "{dst}'s packets carried {v} bytes each",
        ),
        "orig_payload_share" => doc(
            name,
            "Share of the originator's IP bytes that were payload.",
            "%",
            Percent,
            "{v} % of what {src} sent was payload",
        ),
        "resp_payload_share" => doc(
            name,
            "Share of the responder's IP bytes that were payload.",
            "%",
            Percent,
            "{v} % of what {dst} sent was payload",
        ),
        "local_orig" => flag(
            name,
            "Whether the originator is on the local network (Zeek's local_orig).",
            "{src} is on the local network",
            "{src} is outside the local network",
        ),
        "local_resp" => flag(
            name,
            "Whether the responder is on the local network (Zeek's local_resp).",
            "{dst} is on the local network",
            "{dst} is outside the local network",
        ),
        "ipv6" => flag(
            name,
            "Whether the connection used IPv6.",
            "the connection used IPv6",
            "the connection used IPv4",
        ),
        "resp_multicast" => flag(
            name,
            "Whether the responder is a multicast or broadcast address.",
            "{dst} is a multicast or broadcast address",
            "{dst} is a single host (not multicast or broadcast)",
        ),
        "failed" => flag(
            name,
            "Whether the connection failed: rejected, unanswered or reset.",
            "the connection failed (rejected, unanswered or reset)",
            "the connection did not fail",
        ),
        "history_len" => doc(
            name,
            "Events in Zeek's history string.",
            "events",
            Plain,
            "Zeek recorded {v} events in the connection's history",
        ),
        "history.flipped" => flag(
            name,
            "Whether Zeek flipped the direction (the first packet seen came from the responder).",
            "the sensor saw the responder's packets first",
            "the sensor saw the originator's packets first",
        ),
        "icmp_type" => doc(
            name,
            "The ICMP message type (ICMP flows only).",
            "",
            Plain,
            "the ICMP type was {v}",
        ),
        "icmp_code" => doc(
            name,
            "The ICMP message code (ICMP flows only).",
            "",
            Plain,
            "the ICMP code was {v}",
        ),
        _ => return flow_onehot(name),
    };
    Some(d)
}

/// Describes a one-hot per-flow feature.
fn flow_onehot(name: &str) -> Option<FeatureDoc> {
    let (family, value) = name.split_once('.')?;
    let d = match family {
        "proto" => {
            let v = value.to_uppercase();
            flag("proto.{X}", "Whether the transport protocol was X.", &format!("the transport was {v}"), &format!("the transport was not {v}"))
        }
        "conn_state" => flag(
            "conn_state.{X}",
            "Whether Zeek's connection state was X (S0: attempt, no reply; REJ: rejected; SF: normal; OTH: no handshake seen; ...).",
            &format!("the connection state was {value}"),
            &format!("the connection state was not {value}"),
        ),
        "service" => {
            let v = if value == "other" { "an unlisted one".to_string() } else { value.to_uppercase() };
            flag("service.{X}", "Whether the application protocol Zeek found was X.", &format!("the application protocol was {v}"), &format!("the application protocol was not {v}"))
        }
        "orig_port" | "resp_port" => {
            let who = if family == "orig_port" { "{src}'s port" } else { "the destination port" };
            let class = match value {
                "well_known" => "well known (below 1024)".to_string(),
                "registered" => "registered (1024 to 49151)".to_string(),
                "ephemeral" => "ephemeral (49152 and up)".to_string(),
                p => format!("{p} ({})", port_words(p)),
            };
            let pattern = if value.parse::<u16>().is_ok() {
                format!("{family}.{{port}}")
            } else {
                format!("{family}.{{class}}")
            };
            flag(&pattern, "Whether the port was of this class, or this port.", &format!("{who} was {class}"), &format!("{who} was not {class}"))
        }
        "history" => {
            let (side, event) = value.split_once('_')?;
            let who = if side == "orig" { "{src}" } else { "{dst}" };
            let what = history_words(event);
            flag(
                &format!("history.{side}_{{event}}"),
                "Whether Zeek's history shows this event from this side.",
                &format!("{who} sent {what}"),
                &format!("{who} sent no {}", what.trim_start_matches("a ").trim_start_matches("an ")),
            )
        }
        _ => return None,
    };
    Some(d)
}

/// Describes a host-context feature (`orig_host.*`, `resp_host.*`).
fn host_doc(name: &str) -> Option<FeatureDoc> {
    use Scale::*;
    let (role, stat) = name.split_once('.')?;
    let (who, role_words) = match role {
        "orig_host" => ("{src}", "the originator's"),
        "resp_host" => ("{dst}", "the responder's"),
        _ => return None,
    };
    if stat == "gap_s" {
        let first = if role == "orig_host" {
            "it was the first connection seen from {src}"
        } else {
            "it was the first connection seen to {dst}"
        };
        return Some(FeatureDoc {
            when_missing: Some(first.to_string()),
            ..doc(
                &format!("{role}.gap_s"),
                &format!("Seconds since {role_words} previous connection (missing: none seen)."),
                "s",
                Plain,
                &format!("{who}'s previous connection was {{v}} s earlier"),
            )
        });
    }
    let (stat, label) = stat.rsplit_once('_')?;
    let over = horizon_words(label);
    let pattern = format!("{role}.{stat}_{{H}}");
    let side = |o: &str, r: &str| {
        if role == "orig_host" {
            o.to_string()
        } else {
            r.to_string()
        }
    };
    let d = match stat {
        "rate" => doc(&pattern, &format!("Connections per second of {role_words} recent traffic (damped over the horizon H)."), "connections/s", Plain,
            &side(&format!("{{src}} opened {{v}} connections per second over {over}"), &format!("{{dst}} received {{v}} connections per second over {over}"))),
        "bytes_mean" => doc(&pattern, &format!("Typical size of {role_words} connections over H (mean of ln(1 + bytes), shown as bytes)."), "bytes", Log1p,
            &format!("{who}'s connections carried about {{v}} bytes each over {over}")),
        "bytes_std" => doc(&pattern, &format!("Spread of {role_words} connection sizes over H (standard deviation of ln(1 + bytes))."), "ln bytes", Plain,
            &format!("{who}'s connection sizes varied by {{v}} (log scale) over {over}")),
        "pkts_mean" => doc(&pattern, &format!("Typical packets per connection of {role_words} traffic over H (mean of ln(1 + packets), shown as packets)."), "packets", Log1p,
            &format!("{who}'s connections carried about {{v}} packets each over {over}")),
        "pkts_std" => doc(&pattern, &format!("Spread of {role_words} packets per connection over H (standard deviation of ln(1 + packets))."), "ln packets", Plain,
            &format!("{who}'s packets per connection varied by {{v}} (log scale) over {over}")),
        "failed_share" => doc(&pattern, &format!("Share of {role_words} connections over H that failed (rejected, unanswered, reset)."), "%", Percent,
            &format!("{{v}} % of {who}'s connections over {over} failed")),
        "gap_mean" => doc(&pattern, &format!("Mean seconds between {role_words} connections over H (missing: fewer than two)."), "s", Plain,
            &format!("{who}'s connections came {{v}} s apart on average over {over}")),
        "gap_cv" => doc(&pattern, &format!("Regularity of {role_words} connections over H: standard deviation over mean of the gaps, weighted as for pair.gap_mean_s (0: like clockwork; missing: too few)."), "", Plain,
            &format!("the gaps between {who}'s connections varied by a factor of {{v}} over {over} (0 is like clockwork)")),
        "peers" => doc(&pattern, &side("Distinct addresses the originator contacted over H (approximate, saturates near 266).", "Distinct originators that contacted the responder over H (approximate, saturates near 266)."), "addresses", Plain,
            &side(&format!("{{src}} contacted {{v}} distinct addresses over {over}"), &format!("{{v}} distinct hosts contacted {{dst}} over {over}"))),
        "ports" => doc(&pattern, &side("Distinct destination ports the originator used over H (approximate).", "Distinct ports of the responder contacted over H (approximate)."), "ports", Plain,
            &side(&format!("{{src}} used {{v}} distinct destination ports over {over}"), &format!("{{dst}} was contacted on {{v}} distinct ports over {over}"))),
        _ => return None,
    };
    Some(d)
}

/// Describes a network-context feature (`pair.*`, `dst.*`, `port.*`, `service_port.*`).
fn context_doc(name: &str) -> Option<FeatureDoc> {
    use Scale::*;
    let d = match name {
        "pair.flows_10m" => doc(name, "Connections from the originator to this responder over about the last 10 minutes, this one included: a count damped with a half-life of 10 minutes (a connection 10 minutes earlier counts one half, 20 minutes earlier one quarter), so it does not grow with the length of the stream.", "connections", Plain,
            "{src} opened about {v} connections to {dst} over the last 10 minutes"),
        "pair.gap_s" => FeatureDoc {
            when_missing: Some("it was the first connection seen from {src} to {dst}".to_string()),
            ..doc(name, "Seconds since the originator's previous connection to this same responder (missing: none seen).", "s", Plain,
                "{src}'s previous connection to {dst} was {v} s earlier")
        },
        "pair.gap_mean_s" => doc(name, "Mean seconds between the originator's connections to this same responder, the gaps of the last 10 minutes or so weighing most (each earlier gap's weight halves every 10 minutes; missing: fewer than two connections).", "s", Plain,
            "{src} connected to {dst} every {v} s on average"),
        "pair.gap_cv" => doc(name, "Regularity of the originator's connections to this same responder: standard deviation over mean of the gaps, weighted as for pair.gap_mean_s (0: like clockwork, as a beacon to a command server; missing: fewer than three connections).", "", Plain,
            "the gaps between {src}'s connections to {dst} varied by a factor of {v} (0 is like clockwork)"),
        "dst.orig_hosts_10m" => doc(name, "Distinct originators that contacted this responder over the last 10 minutes, this one included (counted up to 16): 1 means no other host on the network talks to it (missing: no originator address).", "hosts", Plain,
            "{v} distinct hosts contacted {dst} over the last 10 minutes"),
        "dst.flows_10m" => doc(name, "Connections to this responder from anyone over about the last 10 minutes, this one included: a count damped with a half-life of 10 minutes, so it does not grow with the length of the stream.", "connections", Plain,
            "{dst} received about {v} connections over the last 10 minutes"),
        "dst.age_10m_s" => doc(name, "Seconds since this responder was first seen on the network, counted up to 600 (0: first seen now; 600: seen for 10 minutes or more, or since the stream began that long ago). Forgotten after an hour without connections.", "s", Plain,
            "{dst} was first seen {v} s earlier (counted up to 600)"),
        "dst.public" => flag(name, "Whether the responder is a public Internet address (not private, link-local, multicast or reserved).",
            "{dst} is a public Internet address", "{dst} is a local or reserved address"),
        "port.orig_hosts_1m" => doc(name, "Distinct originators that used this responder port (same protocol) over the last minute, anywhere on the network (counted up to 64).", "hosts", Plain,
            "{v} distinct hosts connected to this port over the last minute"),
        "port.resp_hosts_1m" => doc(name, "Distinct responders contacted on this port (same protocol) over the last minute, anywhere on the network (counted up to 64): a sweep of a service over many hosts.", "hosts", Plain,
            "{v} distinct hosts were contacted on this port over the last minute"),
        "service_port.odd_port" => flag(name, "Whether a recognised service (HTTP, TLS, IRC, ...) ran on a port not conventional for it.",
            "a recognised service ran on a port not conventional for it", "no recognised service ran on an unusual port"),
        "service_port.mismatch" => flag(name, "Whether the service detected differs from the responder port's conventional service (HTTP on the telnet port, IRC on 443, ...).",
            "the service detected is not the port's conventional one", "the service detected did not contradict the port"),
        "service_port.none_detected" => flag(name, "Whether payload went both ways on a port with a conventional service (web, TLS, telnet, DNS, ...) but no service was recognised.",
            "data went both ways on a well-known service port without that service being recognised", "not a well-known port carrying unrecognised data"),
        _ => return None,
    };
    Some(d)
}

/// Returns what a feature means, or `None` for a name no feature of this version has.
pub fn describe(name: &str) -> Option<FeatureDoc> {
    if name.starts_with("orig_host.") || name.starts_with("resp_host.") {
        host_doc(name)
    } else if let Some(d) = context_doc(name) {
        Some(d)
    } else {
        flow_doc(name)
    }
}

/// Returns the glossary of a schema's features as Markdown table rows, one per family
/// (`| pattern | meaning | unit | a missing value |`), in schema order.
pub fn glossary_rows(names: &[String]) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for name in names {
        let Some(d) = describe(name) else {
            let _ = writeln!(out, "| `{name}` | (no description) | | |");
            continue;
        };
        if !seen.insert(d.pattern.clone()) {
            continue;
        }
        let unit = if d.scale == Scale::Flag {
            "yes/no"
        } else {
            d.unit
        };
        let missing = d.when_missing.as_deref().map_or_else(
            || "no reason (skipped)".to_string(),
            |m| format!("a reason: \"{m}\""),
        );
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            d.pattern, d.meaning, unit, missing
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FeatureConfig, FeatureExtractor};

    #[test]
    fn numbers_for_people() {
        let shown: Vec<String> = [1024.0, 37.54, 0.25, 0.0, 1_234_567.0, 99.6, 0.0042, -3.5]
            .iter()
            .map(|&x| number(x))
            .collect();
        assert_eq!(
            shown,
            [
                "1,024",
                "37.5",
                "0.25",
                "0",
                "1,234,567",
                "99.6",
                "0.004",
                "-3.5"
            ]
        );
    }

    #[test]
    fn every_feature_of_the_default_schema_has_words_and_a_unit() {
        let x = FeatureExtractor::new(FeatureConfig::default());
        for name in &x.schema().names {
            let d = describe(name).unwrap_or_else(|| panic!("{name} has no description"));
            assert!(!d.meaning.is_empty() && !d.template.is_empty(), "{name}");
            assert!(
                d.scale == Scale::Flag
                    || !d.unit.is_empty()
                    || name.starts_with("icmp")
                    || name.contains("gap_cv"),
                "{name} has no unit"
            );
            assert!(d.sentence(1.0).is_some(), "{name}");
        }
    }

    #[test]
    fn sentences_show_values_as_people_read_them() {
        let s = |n: &str, v: f32| describe(n).unwrap().sentence(v);
        assert_eq!(
            s("orig_host.rate_10s", 102.4).unwrap(),
            "{src} opened 102 connections per second over the last 10 seconds"
        );
        assert_eq!(
            s("orig_bytes_log1p", (1024f32).ln_1p()).unwrap(),
            "{src} sent 1,024 bytes of payload"
        );
        assert_eq!(
            s("resp_host.failed_share_1m", 0.99).unwrap(),
            "99 % of {dst}'s connections over the last minute failed"
        );
        assert_eq!(
            s("resp_port.37215", 1.0).unwrap(),
            "the destination port was 37215 (Huawei HG532 UPnP, Okiru's exploit target)"
        );
        assert_eq!(
            s("conn_state.SF", 0.0).unwrap(),
            "the connection state was not SF"
        );
        assert_eq!(
            s("orig_host.peers_10m", 3.0).unwrap(),
            "{src} contacted 3 distinct addresses over the last 10 minutes"
        );
        // A missing statistic is no reason; a host never seen before is one.
        assert_eq!(s("resp_host.gap_mean_10s", f32::NAN), None);
        assert_eq!(
            s("resp_host.gap_s", f32::NAN).unwrap(),
            "it was the first connection seen to {dst}"
        );
        assert!(describe("no_such_feature").is_none());
    }
}
