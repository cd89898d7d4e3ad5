//! Label checks: rules that flag flows whose label is probably wrong, each finding with its
//! evidence and, where a label-audit rule can single out exactly those flows, the rule
//! (`--label-audit` format, [`AuditRule`]) that sets them aside.
//!
//! The rules read structure, never names: no address, port or file is known in advance.
//!
//! - **scan**: benign flows from a host that also has malicious flows, to one port, nearly all
//!   unanswered, reaching many distinct responders.
//! - **beacon**: benign flows from such a host to one external endpoint on a port outside the
//!   IANA system range (0–1023), many of them, recurring steadily (no long silence) over a span.
//!   It needs review ([`Finding::needs_review`]) when the host's labels already name a channel
//!   of its own to an external endpoint: then it may be a device's heartbeat to its cloud.
//! - **flood**: benign flows from such a host to at most a few responders at a high rate.
//! - **channel**: benign flows from such a host to an external address its own labels name as a
//!   channel (ten or more answered malicious flows go there) on a port its malicious flows do
//!   not use. It always needs review: a shared cloud or CDN address can carry both.
//! - **look-alike**: malicious flows of a host whose per-flow features and responder equal those
//!   of the same host's benign flows to the same port in the same state.
//! - **tuple label change**: one connection tuple (addresses, ports, protocol) labeled benign in
//!   some flows and malicious in others.
//!
//! A proposal always moves flows to `other` (neither trained on nor scored): the check finds
//! evidence, a person decides. Its flow count is exactly what `--label-audit` will match.

use std::path::Path;

use iotguard_flow::{ConnState, LabelClass};
use serde::Serialize;

use super::groups::{unanswered, Group, GroupKey, Groups};
use super::hosts::{external, HostStat, HostTable};
use crate::audit::AuditRule;

/// The thresholds of the checks.
#[derive(Clone, Debug, Serialize)]
pub struct Thresholds {
    /// A host is suspect when it has at least this many malicious flows in the input.
    pub host_min_malicious: u64,
    /// Scan: at least this many unanswered benign flows in one state to one port...
    pub scan_min_flows: u64,
    /// ... reaching at least this many distinct responders ...
    pub scan_min_responders: u64,
    /// ... at least this share of the port's benign flows unanswered.
    pub scan_min_unanswered_share: f64,
    /// Beacon: at least this many benign flows to the port ...
    pub beacon_min_flows: u64,
    /// ... at least this share of them to one external responder ...
    pub beacon_min_endpoint_share: f64,
    /// ... over at least this many seconds ...
    pub beacon_min_span_secs: f64,
    /// ... with no silence longer than this share of that span, and malicious flows to the
    /// port at most this share of its benign ones.
    pub beacon_max_gap_share: f64,
    /// See `beacon_max_gap_share`.
    pub beacon_max_malicious_share: f64,
    /// A beacon needs review when the host's labels name a channel of their own: at least this
    /// many of its answered malicious flows to one external address (a few downloads are not a channel;
    /// the simulator's infected devices have 40 or more C&C heartbeats by the time their cloud
    /// heartbeat is a beacon).
    pub beacon_labeled_channel_min_flows: u64,
    /// Flood: at least this many benign flows ...
    pub flood_min_flows: u64,
    /// ... to at most this many responders ...
    pub flood_max_responders: u64,
    /// ... at this many flows per second or more over their span.
    pub flood_min_rate: f64,
    /// Look-alike: at least this many malicious flows with a benign twin.
    pub lookalike_min_flows: u64,
    /// Tuple label change: at least this many flows in tuples that change label ...
    pub tuple_min_flows: u64,
    /// ... and a rule is proposed only when the smaller side is at most this share of them
    /// (otherwise neither label dominates and no side can be called the error).
    pub tuple_max_minority_share: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            host_min_malicious: 1,
            scan_min_flows: 100,
            scan_min_responders: 100,
            scan_min_unanswered_share: 0.9,
            beacon_min_flows: 50,
            beacon_min_endpoint_share: 0.95,
            beacon_min_span_secs: 600.0,
            beacon_max_gap_share: 0.05,
            beacon_max_malicious_share: 0.1,
            beacon_labeled_channel_min_flows: 10,
            flood_min_flows: 1_000,
            flood_max_responders: 3,
            flood_min_rate: 10.0,
            lookalike_min_flows: 10,
            tuple_min_flows: 10,
            tuple_max_minority_share: 0.2,
        }
    }
}

/// One flagged set of flows.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// `scan`, `beacon`, `flood`, `channel`, `look-alike` or `tuple label change`.
    pub check: String,
    /// The input.
    pub input: String,
    /// The originating host.
    pub host: String,
    /// What was found, in one sentence.
    pub summary: String,
    /// The facts behind it.
    pub evidence: Vec<String>,
    /// The flows concerned.
    pub flows: u64,
    /// The audit rule that sets them aside, when one can name exactly them.
    pub proposal: Option<AuditRule>,
    /// Why there is no proposal.
    pub no_proposal: Option<String>,
    /// Whether the evidence leaves a legitimate reading open, so that a person should decide
    /// before the proposal is applied: a beacon from a host whose labels already show a channel
    /// of its own to an external endpoint (its C&C was labeled; the beacon may be the device's
    /// heartbeat to its vendor's cloud). `train --label-checks apply` applies the others only.
    pub needs_review: bool,
}

/// What the checks saw and found.
#[derive(Clone, Debug, Serialize)]
pub struct Checks {
    /// The thresholds used.
    pub thresholds: Thresholds,
    /// Findings, in input order then check order.
    pub findings: Vec<Finding>,
    /// Tables that filled up (the checks then saw part of the data), or empty.
    pub partial: Vec<String>,
}

fn count(n: u64) -> String {
    crate::report::count(n)
}

fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

fn duration(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

struct Ctx<'a> {
    inputs: &'a [String],
    labels: &'a [String],
    t: &'a Thresholds,
}

impl Ctx<'_> {
    /// The host's malicious flows as text: `3,334 (C&C 3,173, Okiru 140)`.
    fn malicious_mix(&self, h: &HostStat) -> String {
        let mut mix: Vec<(String, u64)> = h
            .labels
            .iter()
            .map(|&(l, n)| (self.labels[l as usize].clone(), n))
            .filter(|(name, _)| !name.eq_ignore_ascii_case("benign"))
            .collect();
        mix.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let parts: Vec<String> = mix
            .iter()
            .take(6)
            .map(|(name, n)| format!("{name} {}", count(*n)))
            .collect();
        format!("{} ({})", count(h.flows[1]), parts.join(", "))
    }

    fn rule(
        &self,
        key: &GroupKey,
        label: LabelClass,
        state: Option<&ConnState>,
        reason: String,
    ) -> AuditRule {
        let name = &self.inputs[key.input as usize];
        AuditRule {
            input: Path::new(name)
                .file_name()
                .map_or_else(|| name.clone(), |f| f.to_string_lossy().into_owned()),
            label,
            orig_h: Some(key.orig),
            resp_h: None,
            proto: Some(key.proto.as_str().to_string()),
            resp_p: key.port,
            conn_state: state.map(|s| s.as_str().to_string()),
            to: LabelClass::Other,
            detailed: None,
            reason,
        }
    }

    fn where_(&self, key: &GroupKey) -> String {
        match key.port {
            Some(p) => format!("{}/{p}", key.proto),
            None => format!("{} (any port)", key.proto),
        }
    }
}

pub(crate) const NOTE: &str =
    "Proposed by iotguard explore: set aside (other), not relabeled; check before accepting.";

/// What a proposal says instead of [`NOTE`] when `train` applies it.
pub(crate) const TRAIN_NOTE: &str =
    "Set aside by the label checks of iotguard train (other), not relabeled; --label-checks report keeps the label.";

/// Runs every check.
pub(crate) fn run(
    groups: &Groups,
    hosts: &HostTable,
    inputs: &[String],
    labels: &[String],
    t: &Thresholds,
) -> Checks {
    let ctx = Ctx { inputs, labels, t };
    let mut keys: Vec<(&GroupKey, usize)> = groups.index.iter().map(|(k, &g)| (k, g)).collect();
    keys.sort_by(|(a, _), (b, _)| {
        (a.input, a.orig, a.proto.as_str(), a.port).cmp(&(
            b.input,
            b.orig,
            b.proto.as_str(),
            b.port,
        ))
    });
    let mut findings = Vec::new();
    // Benign-side findings first: they say which benign flows are suspect.
    for &(key, g) in &keys {
        let group = &groups.groups[g];
        let Some(host) = hosts.get(key.input, key.orig) else {
            continue;
        };
        if host.flows[1] < t.host_min_malicious || group.class[0] == 0 {
            continue;
        }
        if key.port.is_some() {
            let scans = scan(&ctx, key, group, host);
            let found = !scans.is_empty();
            findings.extend(scans);
            if !found {
                if let Some(f) = beacon(&ctx, key, group, host) {
                    findings.push(f);
                } else if let Some(f) = flood(&ctx, key, group, host) {
                    findings.push(f);
                }
            }
        }
    }
    // Floods spread over ports: only where no single port explained the host's benign flows.
    for &(key, g) in keys.iter().filter(|(k, _)| k.port.is_none()) {
        let Some(host) = hosts.get(key.input, key.orig) else {
            continue;
        };
        let covered = findings
            .iter()
            .any(|f| f.input == inputs[key.input as usize] && f.host == key.orig.to_string());
        if host.flows[1] >= t.host_min_malicious && !covered {
            if let Some(f) = flood(&ctx, key, &groups.groups[g], host) {
                findings.push(f);
            }
        }
    }
    // Benign flows to the host's labeled channel, where no check above explained the port.
    for &(key, g) in keys.iter().filter(|(k, _)| k.port.is_some()) {
        let Some(host) = hosts.get(key.input, key.orig) else {
            continue;
        };
        let covered = findings.iter().any(|f| {
            f.input == inputs[key.input as usize]
                && f.host == key.orig.to_string()
                && f.proposal.as_ref().and_then(|r| r.resp_p) == key.port
        });
        if host.flows[1] >= t.host_min_malicious && !covered {
            if let Some(f) = channel(&ctx, key, &groups.groups[g], host) {
                findings.push(f);
            }
        }
    }
    let benign_flagged: Vec<(String, String)> = findings
        .iter()
        .map(|f| (f.input.clone(), f.host.clone()))
        .collect();
    for &(key, g) in keys.iter().filter(|(k, _)| k.port.is_some()) {
        let group = &groups.groups[g];
        let flagged = benign_flagged
            .iter()
            .any(|(i, h)| *i == inputs[key.input as usize] && *h == key.orig.to_string());
        findings.extend(lookalikes(&ctx, key, group, flagged));
    }
    findings.extend(tuple_changes(&ctx, groups, &keys, &findings));
    let mut partial = Vec::new();
    if !hosts.is_exact() {
        partial.push(format!(
            "the host table was full: {} flows of untracked hosts were not checked",
            count(hosts.untracked_flows)
        ));
    }
    if groups.untracked_groups > 0 {
        partial.push(format!(
            "the group table was full: {} flows were not checked",
            count(groups.untracked_groups)
        ));
    }
    if groups.untracked_tuples > 0 {
        partial.push(format!(
            "the tuple table was full: {} flows' tuples were not checked for label changes",
            count(groups.untracked_tuples)
        ));
    }
    Checks {
        thresholds: t.clone(),
        findings,
        partial,
    }
}

fn scan(ctx: &Ctx<'_>, key: &GroupKey, g: &Group, host: &HostStat) -> Vec<Finding> {
    let t = ctx.t;
    let benign = g.class[0];
    let responders = g.benign_resp.len() as u64;
    let share = g.benign_unanswered as f64 / benign as f64;
    if g.benign_unanswered < t.scan_min_flows
        || responders < t.scan_min_responders
        || share < t.scan_min_unanswered_share
    {
        return Vec::new();
    }
    let at_least = if g.resp_capped { "at least " } else { "" };
    g.states
        .iter()
        .filter(|(s, c)| unanswered(s.as_ref()) && c[0] >= t.scan_min_flows)
        .map(|(s, c)| {
            let state = s.as_ref().map_or("-", |s| s.as_str());
            let summary = format!(
                "a scan labeled benign: {} unanswered ({state}) attempts from {} to {}",
                count(c[0]),
                key.orig,
                ctx.where_(key)
            );
            let evidence = vec![
                format!(
                    "{} of the host's {} benign flows to {} are unanswered, reaching {at_least}{} distinct responders",
                    count(g.benign_unanswered),
                    count(benign),
                    ctx.where_(key),
                    count(responders)
                ),
                format!("the same host's malicious flows: {}", ctx.malicious_mix(host)),
            ];
            let reason = format!(
                "{summary}, {at_least}{} distinct responders, while the host's flows labeled malicious number {}. {NOTE}",
                count(responders),
                ctx.malicious_mix(host)
            );
            Finding {
                check: "scan".into(),
                input: ctx.inputs[key.input as usize].clone(),
                host: key.orig.to_string(),
                summary,
                evidence,
                flows: c[0],
                proposal: Some(ctx.rule(key, LabelClass::Benign, s.as_ref(), reason)),
                no_proposal: None,
                needs_review: false,
            }
        })
        .collect()
}

fn beacon(ctx: &Ctx<'_>, key: &GroupKey, g: &Group, host: &HostStat) -> Option<Finding> {
    let t = ctx.t;
    let port = key.port?;
    let benign = g.class[0];
    let (endpoint, to_endpoint) = g.benign_top_resp.top(1).into_iter().next()?;
    let share = to_endpoint as f64 / benign as f64;
    let span = secs(g.timing.last - g.timing.first);
    let longest = secs(g.timing.max_gap);
    // A port whose flows are also labeled malicious in bulk is mixed labeling (the tuple check
    // reports it), not a channel the labels missed.
    if benign < t.beacon_min_flows
        || g.class[1] as f64 > t.beacon_max_malicious_share * benign as f64
        || port < 1024
        || !external(endpoint)
        || share < t.beacon_min_endpoint_share
        || span < t.beacon_min_span_secs
        || longest > t.beacon_max_gap_share * span
    {
        return None;
    }
    let q = g.timing.gap_quantile_secs();
    let (median, p90) = (q(0.5).unwrap_or(0.0), q(0.9).unwrap_or(0.0));
    let summary = format!(
        "a beacon labeled benign: {} connections from {} to the external endpoint {endpoint}:{port}/{}",
        count(benign),
        key.orig,
        key.proto
    );
    let states = g.benign_states();
    let mut evidence = vec![
        format!(
            "{} of {} ({:.1} %) go to {endpoint}, an external address, on port {port}, outside the IANA system ports; service {}",
            count(to_endpoint),
            count(benign),
            100.0 * share,
            g.benign_service.as_deref().unwrap_or("not recognised")
        ),
        format!(
            "steady over {}: {:.0} per minute, half the gaps ≤ {median} s, 90 % ≤ {p90} s, the longest silence {} ({:.1} % of the span)",
            duration(span),
            benign as f64 / span * 60.0,
            duration(longest),
            100.0 * longest / span
        ),
        format!("states: {}", states.join(", ")),
        format!("the same host's malicious flows: {}", ctx.malicious_mix(host)),
    ];
    if let Some((first_bad, last_bad)) = host.malicious_span {
        let d = secs(g.timing.first - last_bad);
        if d >= 0.0 {
            evidence.push(format!(
                "the connections start {} after the host's last malicious flow",
                duration(d)
            ));
        } else if g.timing.first >= first_bad {
            evidence.push("the connections start while the host has malicious flows".into());
        }
    }
    // A bot has a C&C channel. When the host's labels already name a channel of its own (ten
    // or more answered malicious flows to one external address), the labeler knew its
    // C&C, and this steady benign channel may be the device's heartbeat to its vendor's cloud:
    // a person decides. When they name none, this beacon is the likely C&C they missed.
    let labeled_channel = host
        .top_malicious_external()
        .filter(|&(_, n)| n >= t.beacon_labeled_channel_min_flows);
    evidence.push(match labeled_channel {
        Some((to, n)) => format!(
            "the host's labels already name a channel of its own: {} answered malicious flows to the external address {to}; this beacon may be a legitimate service (review it)",
            count(n)
        ),
        None => format!(
            "the host's labels name no channel of its own: no external address gets {} of its answered malicious flows; this beacon is the likely C&C the labels missed",
            count(t.beacon_labeled_channel_min_flows)
        ),
    });
    let reason = format!(
        "{summary} ({:.1} % of the port's benign flows), steady over {} (longest silence {}), on a port outside the IANA system range, while the host's flows labeled malicious number {}{}. {NOTE}",
        100.0 * share,
        duration(span),
        duration(longest),
        ctx.malicious_mix(host),
        if labeled_channel.is_some() {
            ", one external address getting a channel of them"
        } else {
            ", none of them a channel to one external address"
        }
    );
    Some(Finding {
        check: "beacon".into(),
        input: ctx.inputs[key.input as usize].clone(),
        host: key.orig.to_string(),
        summary,
        evidence,
        flows: benign,
        proposal: Some(ctx.rule(key, LabelClass::Benign, None, reason)),
        no_proposal: None,
        needs_review: labeled_channel.is_some(),
    })
}

fn flood(ctx: &Ctx<'_>, key: &GroupKey, g: &Group, host: &HostStat) -> Option<Finding> {
    let t = ctx.t;
    let benign = g.class[0];
    let responders = g.benign_resp.len() as u64;
    let span = secs(g.timing.last - g.timing.first).max(1.0);
    let rate = benign as f64 / span;
    if benign < t.flood_min_flows || responders > t.flood_max_responders || rate < t.flood_min_rate
    {
        return None;
    }
    let summary = format!(
        "a flood labeled benign: {} flows from {} to {} responder(s) on {} in {}",
        count(benign),
        key.orig,
        responders,
        ctx.where_(key),
        duration(span)
    );
    let evidence = vec![
        format!(
            "{rate:.0} flows per second over {}, up to {} in one second",
            duration(span),
            count(g.timing.peak_per_sec)
        ),
        format!(
            "the same host's malicious flows: {}",
            ctx.malicious_mix(host)
        ),
    ];
    let reason = format!(
        "{summary} ({rate:.0}/s), while the host's flows labeled malicious number {}. {NOTE}",
        ctx.malicious_mix(host)
    );
    Some(Finding {
        check: "flood".into(),
        input: ctx.inputs[key.input as usize].clone(),
        host: key.orig.to_string(),
        summary,
        evidence,
        flows: benign,
        proposal: Some(ctx.rule(key, LabelClass::Benign, None, reason)),
        no_proposal: None,
        needs_review: false,
    })
}

/// Benign flows of one port to the external address that gets the most of the host's answered
/// malicious flows among those its benign flows reach (at least
/// `beacon_labeled_channel_min_flows` of them), when the channel's malicious flows are not on
/// this port too (at most `beacon_max_malicious_share` of the benign ones): the labels call the
/// address the host's channel and its other connections there ordinary. One finding per port,
/// for the heaviest channel.
fn channel(ctx: &Ctx<'_>, key: &GroupKey, g: &Group, host: &HostStat) -> Option<Finding> {
    let t = ctx.t;
    let port = key.port?;
    if g.class[0] == 0 {
        return None;
    }
    let benign_to = g.benign_top_resp.top(usize::MAX);
    let (addr, malicious, benign) = host
        .malicious_external
        .as_ref()?
        .top(usize::MAX)
        .into_iter()
        .filter(|&(_, n)| n >= t.beacon_labeled_channel_min_flows)
        .find_map(|(a, n)| {
            let (_, b) = benign_to.iter().find(|(r, _)| *r == a)?;
            // The channel's malicious flows on this very port: mixed labeling of one service
            // (the tuple check's business), not a channel's address reached on another port.
            let same_port = host.malicious_external_ports.as_ref().map_or(0, |t| {
                t.top(usize::MAX)
                    .into_iter()
                    .find(|&((r, p), _)| r == a && p == port)
                    .map_or(0, |(_, m)| m)
            });
            (same_port as f64 <= t.beacon_max_malicious_share * *b as f64).then_some((a, n, *b))
        })?;
    let exact = g.benign_top_resp.is_exact();
    let at_least = if exact { "" } else { "at least " };
    let summary = format!(
        "benign flows to a labeled channel: {at_least}{} connections from {} to {addr}:{port}/{}, an external address that gets {} of the host's answered malicious flows",
        count(benign),
        key.orig,
        key.proto,
        count(malicious)
    );
    let states = g.benign_states();
    let evidence = vec![
        format!(
            "{at_least}{} of the host's {} benign flows to {} go to {addr}",
            count(benign),
            count(g.class[0]),
            ctx.where_(key)
        ),
        format!(
            "the host's labels name {addr} a channel: {} of its answered malicious flows go there (a lower bound)",
            count(malicious)
        ),
        format!("states of the port's benign flows: {}", states.join(", ")),
        format!("the same host's malicious flows: {}", ctx.malicious_mix(host)),
        "one address can carry both (a shared cloud or CDN address): review it".to_string(),
    ];
    let (proposal, no_proposal) = if exact {
        let reason = format!(
            "{summary}, while the host's flows labeled malicious number {}. {NOTE}",
            ctx.malicious_mix(host)
        );
        let mut rule = ctx.rule(key, LabelClass::Benign, None, reason);
        rule.resp_h = Some(addr);
        (Some(rule), None)
    } else {
        (
            None,
            Some("the port's benign flows reach too many responders to count those to the channel exactly".to_string()),
        )
    };
    Some(Finding {
        check: "channel".into(),
        input: ctx.inputs[key.input as usize].clone(),
        host: key.orig.to_string(),
        summary,
        evidence,
        flows: benign,
        proposal,
        no_proposal,
        needs_review: true,
    })
}

fn lookalikes(ctx: &Ctx<'_>, key: &GroupKey, g: &Group, benign_flagged: bool) -> Vec<Finding> {
    if g.class[0] == 0 || g.class[1] == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, (state, c)) in g.states.iter().enumerate() {
        let twins: u64 = g
            .malicious_sigs
            .iter()
            .filter(|(sig, (s, _))| *s == i && g.benign_sigs.contains(sig))
            .map(|(_, (_, n))| n)
            .sum();
        if twins < ctx.t.lookalike_min_flows {
            continue;
        }
        let st = state.as_ref().map_or("-", |s| s.as_str());
        let summary = format!(
            "{} malicious flows from {} to {} ({st}) look exactly like the same host's benign flows",
            count(twins),
            key.orig,
            ctx.where_(key)
        );
        let evidence = vec![format!(
            "each has a benign flow of the same host with the same responder and the same per-flow features (bit for bit); {} malicious and {} benign flows in that state",
            count(c[1]),
            count(c[0])
        )];
        let no_proposal = if benign_flagged {
            Some("the host's benign flows are themselves flagged above: the look-alikes agree with that finding".to_string())
        } else if g.sigs_capped {
            Some("the signature table was full: the count is partial".to_string())
        } else if twins != c[1] {
            Some(format!(
                "an audit rule cannot single them out: {} of the {} malicious flows in that state have no benign twin",
                count(c[1] - twins),
                count(c[1])
            ))
        } else if state.is_none() {
            Some("an audit rule cannot name an unset state".to_string())
        } else {
            None
        };
        let proposal = no_proposal.is_none().then(|| {
            ctx.rule(
                key,
                LabelClass::Malicious,
                state.as_ref(),
                format!("{summary}: one of the two labels is wrong, and a model cannot learn both. {NOTE}"),
            )
        });
        out.push(Finding {
            check: "look-alike".into(),
            input: ctx.inputs[key.input as usize].clone(),
            host: key.orig.to_string(),
            summary,
            evidence,
            flows: twins,
            proposal,
            no_proposal,
            needs_review: false,
        });
    }
    out
}

/// Groups of one input and host whose tuples change label with neither side dominating:
/// input, host, the groups' ports, tuples, flows per class.
type Balanced = (u32, std::net::IpAddr, Vec<String>, u64, [u64; 2]);

fn tuple_changes(
    ctx: &Ctx<'_>,
    groups: &Groups,
    keys: &[(&GroupKey, usize)],
    earlier: &[Finding],
) -> Vec<Finding> {
    // Per group: conflicting tuples and their flows per class.
    let mut per_group = vec![(0u64, [0u64; 2]); groups.groups.len()];
    for &(g, c) in groups.tuples.values() {
        if c[0] > 0 && c[1] > 0 {
            per_group[g].0 += 1;
            per_group[g].1[0] += u64::from(c[0]);
            per_group[g].1[1] += u64::from(c[1]);
        }
    }
    let mut out = Vec::new();
    // Groups where neither label dominates, merged per input and host: (ports, tuples, flows).
    let mut balanced: Vec<Balanced> = Vec::new();
    for &(key, g) in keys {
        let (tuples, flows) = per_group[g];
        let both = flows[0] + flows[1];
        if tuples == 0 || both < ctx.t.tuple_min_flows {
            continue;
        }
        let minority = if flows[0] <= flows[1] { 0 } else { 1 };
        if flows[minority] as f64 > ctx.t.tuple_max_minority_share * both as f64 {
            match balanced
                .iter_mut()
                .find(|b| b.0 == key.input && b.1 == key.orig)
            {
                Some(b) => {
                    b.2.push(ctx.where_(key));
                    b.3 += tuples;
                    b.4[0] += flows[0];
                    b.4[1] += flows[1];
                }
                None => balanced.push((key.input, key.orig, vec![ctx.where_(key)], tuples, flows)),
            }
            continue;
        }
        let group = &groups.groups[g];
        let (label, name) = if minority == 0 {
            (LabelClass::Benign, "benign")
        } else {
            (LabelClass::Malicious, "malicious")
        };
        let summary = format!(
            "{} connection tuple(s) from {} to {} change label: {} benign and {} malicious flows",
            count(tuples),
            key.orig,
            ctx.where_(key),
            count(flows[0]),
            count(flows[1])
        );
        let input = &ctx.inputs[key.input as usize];
        let covered = earlier.iter().any(|f| {
            f.input == *input
                && f.host == key.orig.to_string()
                && f.proposal.as_ref().is_some_and(|r| {
                    r.label == label
                        && r.proto.as_deref() == Some(key.proto.as_str())
                        && (r.resp_p.is_none() || r.resp_p == key.port)
                })
        });
        let no_proposal = if covered {
            Some(format!(
                "these {name} flows are covered by a proposal above"
            ))
        } else if groups.untracked_tuples > 0 {
            Some("the tuple table was full: the count is partial".to_string())
        } else if group.class[minority] != flows[minority] {
            Some(format!(
                "an audit rule cannot single them out: the host has {} other {name} flows to that port",
                count(group.class[minority] - flows[minority])
            ))
        } else {
            None
        };
        let proposal = no_proposal.is_none().then(|| {
            ctx.rule(
                key,
                label,
                None,
                format!("{summary}; the {name} side is the smaller. {NOTE}"),
            )
        });
        out.push(Finding {
            check: "tuple label change".into(),
            input: input.clone(),
            host: key.orig.to_string(),
            summary,
            evidence: vec![format!(
                "the same addresses, ports and protocol carry both labels; the smaller side ({name}, {} flows) is what a rule would set aside",
                count(flows[minority])
            )],
            flows: flows[minority],
            proposal,
            no_proposal,
            needs_review: false,
        });
    }
    for (input, host, ports, tuples, flows) in balanced {
        let shown: Vec<String> = ports.iter().take(6).cloned().collect();
        let more = if ports.len() > 6 {
            format!(" and {} more", ports.len() - 6)
        } else {
            String::new()
        };
        out.push(Finding {
            check: "tuple label change".into(),
            input: ctx.inputs[input as usize].clone(),
            host: host.to_string(),
            summary: format!(
                "{} connection tuple(s) from {host} change label with neither label dominating: {} benign and {} malicious flows",
                count(tuples),
                count(flows[0]),
                count(flows[1])
            ),
            evidence: vec![format!(
                "on {} ports: {}{more}",
                ports.len(),
                shown.join(", ")
            )],
            flows: flows[0] + flows[1],
            proposal: None,
            no_proposal: Some(format!(
                "neither side is at most {:.0} % of these flows, so neither can be called the error: review how this input was labeled",
                100.0 * ctx.t.tuple_max_minority_share
            )),
            needs_review: false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_means_routable() {
        for ip in ["185.244.25.183", "198.51.100.7", "2001:db8::1"] {
            assert!(external(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "192.168.1.1",
            "10.0.0.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "224.0.0.251",
            "255.255.255.255",
            "fe80::1",
            "fd00::1",
            "::1",
        ] {
            assert!(!external(ip.parse().unwrap()), "{ip}");
        }
    }
}
