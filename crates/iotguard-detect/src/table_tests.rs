//! Unit tests of incident routing, typing and grading.

use compact_str::CompactString;
use iotguard_flow::{ConnState, FlowRecord, Protocol, Timestamp};

use super::*;
use crate::risk::Severity;

/// A flow from `src` to `dst:port` at `secs`, with a state and byte counts.
fn flow(src: &str, dst: &str, port: u16, secs: f64, state: ConnState) -> FlowRecord {
    FlowRecord {
        ts: Timestamp((secs * 1e9) as i64),
        uid: Some(CompactString::from(format!("C{secs}-{dst}-{port}"))),
        orig_h: Some(src.parse().unwrap()),
        orig_p: Some(40000),
        resp_h: Some(dst.parse().unwrap()),
        resp_p: Some(port),
        proto: Protocol::Tcp,
        conn_state: Some(state),
        orig_bytes: Some(100),
        resp_bytes: Some(100),
        orig_pkts: Some(3),
        resp_pkts: Some(3),
        ..FlowRecord::default()
    }
}

fn model() -> ModelInfo {
    ModelInfo {
        name: "m".into(),
        id: "1".into(),
        version: "v".into(),
        kind: "tree".into(),
        path: None,
        threshold: 0.5,
    }
}

/// Folds flows into a fresh table and returns (attack type, flows) of each open incident,
/// sorted.
fn incidents(flows: &[FlowRecord]) -> Vec<(AttackType, u64)> {
    let config = DetectConfig::default();
    let mut t = Incidents::default();
    for f in flows {
        t.add(f, 0.9, 0.5, &config);
    }
    let mut v: Vec<(AttackType, u64)> = t.open.values().map(|i| (i.attack, i.agg.flows)).collect();
    v.sort();
    v
}

#[test]
fn attack_types_from_patterns() {
    use AttackType::*;
    let src = "10.0.0.9";
    let horizontal: Vec<_> = (0..20)
        .map(|i| flow(src, &format!("10.0.1.{i}"), 23, f64::from(i), ConnState::S0))
        .collect();
    assert_eq!(incidents(&horizontal), [(HorizontalScan, 20)]);
    let vertical: Vec<_> = (0..20)
        .map(|i| flow(src, "10.0.1.1", 1000 + i, f64::from(i), ConnState::REJ))
        .collect();
    assert_eq!(incidents(&vertical), [(VerticalScan, 20)]);
    let brute: Vec<_> = (0..12)
        .map(|i| flow(src, "10.0.1.1", 22, f64::from(i) * 3.7, ConnState::SF))
        .collect();
    assert_eq!(incidents(&brute), [(BruteForce, 12)]);
    let flood: Vec<_> = (0..100)
        .map(|i| flow(src, "10.0.1.1", 80, f64::from(i) * 0.01, ConnState::S0))
        .collect();
    assert_eq!(incidents(&flood), [(Flood, 100)]);
    // A flood of a login port is a flood, not logins.
    let telnet_flood: Vec<_> = (0..100)
        .map(|i| flow(src, "10.0.1.1", 23, f64::from(i) * 0.01, ConnState::S0))
        .collect();
    assert_eq!(incidents(&telnet_flood), [(Flood, 100)]);
    // Slow, but unanswered and pushing packets one way: IoT-23's DDoS flows.
    let one_way: Vec<_> = (0..12)
        .map(|i| {
            let mut f = flow(src, "10.0.1.1", 80, f64::from(i) * 30.0, ConnState::OTH);
            f.orig_pkts = Some(40);
            f.resp_pkts = Some(0);
            f.orig_bytes = Some(40_000);
            f
        })
        .collect();
    assert_eq!(incidents(&one_way), [(Flood, 12)]);
    // One flow is never a flood, however big.
    let mut big = flow(src, "10.0.1.1", 80, 0.0, ConnState::SF);
    big.orig_pkts = Some(100_000);
    assert_eq!(incidents(&[big]), [(Anomaly, 1)]);
    let beacon: Vec<_> = (0..8)
        .map(|i| flow(src, "10.0.1.1", 443, f64::from(i) * 60.0, ConnState::SF))
        .collect();
    assert_eq!(incidents(&beacon), [(Beacon, 8)]);
    let mut exfil = flow(src, "10.0.1.1", 443, 0.0, ConnState::SF);
    exfil.orig_bytes = Some(50_000_000);
    exfil.resp_bytes = Some(10_000);
    assert_eq!(incidents(&[exfil]), [(Exfiltration, 1)]);
    let few = [
        flow(src, "10.0.1.1", 443, 0.0, ConnState::SF),
        flow(src, "10.0.1.2", 8080, 7.0, ConnState::SF),
    ];
    assert_eq!(incidents(&few), [(Anomaly, 2)]);
}

#[test]
fn different_attacks_of_one_host_stay_apart() {
    use AttackType::*;
    let src = "10.0.0.9";
    let mut flows = Vec::new();
    for i in 0..40 {
        let t = f64::from(i) * 15.0;
        // A C&C heartbeat every 15 s, a telnet scan, and a flood of one victim, interleaved.
        flows.push(flow(src, "203.0.113.5", 6667, t, ConnState::SF));
        flows.push(flow(
            src,
            &format!("10.1.{}.{}", i / 200, i % 200),
            23,
            t + 1.0,
            ConnState::S0,
        ));
        for k in 0..5 {
            let mut f = flow(
                src,
                "198.51.100.7",
                80,
                t + 2.0 + f64::from(k) * 0.01,
                ConnState::OTH,
            );
            f.orig_pkts = Some(40);
            f.resp_pkts = Some(0);
            flows.push(f);
        }
    }
    assert_eq!(
        incidents(&flows),
        [(HorizontalScan, 40), (Flood, 200), (Beacon, 40)]
    );
}

#[test]
fn severity_never_falls_and_the_type_stays() {
    let config = DetectConfig::default();
    let mut t = Incidents::default();
    let mut seen = Vec::new();
    for i in 0..200 {
        // A beacon whose later flows score lower and lower.
        let score = 1.0 - f64::from(i) as f32 * 0.0024;
        let f = flow(
            "10.0.0.9",
            "203.0.113.5",
            6667,
            f64::from(i) * 60.0,
            ConnState::SF,
        );
        let inc = t.add(&f, score, 0.5, &config).unwrap();
        seen.push((inc.attack, inc.severity));
    }
    assert!(seen.windows(2).all(|w| w[1].1 >= w[0].1), "{seen:?}");
    // Typed from the sixth flow (five regular gaps) on, and a beacon to the end.
    assert!(seen[..5].iter().all(|s| s.0 == AttackType::Anomaly));
    assert!(seen[5..].iter().all(|s| s.0 == AttackType::Beacon));
    assert_eq!(seen[199].1, Severity::Critical);
}

#[test]
fn beacons_survive_gaps_shorter_than_two_periods() {
    let config = DetectConfig {
        beacon_idle_secs: 0.0,
        ..DetectConfig::default()
    };
    let mut t = Incidents::default();
    let mut ids = Vec::new();
    // Every 200 s (shorter than the 300 s idle time, so the pattern shows), then silences of
    // 380 s (longer than the idle time, shorter than two periods) and 500 s.
    let times = [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0, 1380.0, 1880.0];
    for &s in &times {
        let f = flow("10.0.0.9", "203.0.113.5", 6667, s, ConnState::SF);
        t.expire(f.ts, &config);
        let inc = t.add(&f, 0.9, 0.5, &config).unwrap();
        ids.push((inc.id.clone(), inc.attack));
    }
    assert_eq!(ids[5].1, AttackType::Beacon);
    assert_eq!(ids[6], ids[5]);
    assert_ne!(ids[7].0, ids[6].0);
    // With the default hold, a beacon survives a silence of hours.
    let mut t = Incidents::default();
    let config = DetectConfig::default();
    let mut last = None;
    for s in [0.0, 60.0, 120.0, 180.0, 240.0, 300.0, 30_000.0] {
        let f = flow("10.0.0.9", "203.0.113.5", 6667, s, ConnState::SF);
        t.expire(f.ts, &config);
        last = Some(t.add(&f, 0.9, 0.5, &config).unwrap().id.clone());
    }
    assert_eq!(t.open_count(), 1);
    assert_eq!(
        t.open.values().next().map(|i| (i.id.clone(), i.agg.flows)),
        Some((last.unwrap(), 7))
    );
    // A flow's activity lasts to its end: a long connection keeps its incident open.
    let mut t = Incidents::default();
    let mut long = flow("10.0.0.9", "203.0.113.5", 80, 0.0, ConnState::SF);
    long.duration = Some(iotguard_flow::Interval(1_000_000_000_000));
    t.add(&long, 0.9, 0.5, &config);
    t.expire(Timestamp(1_200_000_000_000), &config);
    assert_eq!(t.open_count(), 1);
    t.expire(Timestamp(1_301_000_000_000), &config);
    assert_eq!(t.open_count(), 0);
}

#[test]
fn untyped_flows_wait_then_report_and_promoted_flows_leave_them() {
    let config = DetectConfig {
        update_every_secs: 0.0,
        ..DetectConfig::default()
    };
    let mut t = Incidents::default();
    let mut out = Vec::new();
    // Two odd flows 10 s apart: held (they may still form a pattern).
    t.add(
        &flow("10.0.0.9", "10.0.1.1", 80, 0.0, ConnState::SF),
        0.9,
        0.5,
        &config,
    );
    t.add(
        &flow("10.0.0.9", "10.0.1.2", 81, 10.0, ConnState::SF),
        0.9,
        0.5,
        &config,
    );
    t.drain(&mut out, &model(), &config, Timestamp(0));
    assert!(out.is_empty());
    // A minute on: reported as an anomaly.
    t.add(
        &flow("10.0.0.9", "10.0.1.3", 82, 61.0, ConnState::SF),
        0.9,
        0.5,
        &config,
    );
    t.drain(&mut out, &model(), &config, Timestamp(0));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].iotguard.attack_type, AttackType::Anomaly);
    assert_eq!(out[0].iotguard.counts.flows, 3);
    let anomaly = out[0].id().to_string();
    // A scan starts: its flows leave the anomaly for a scan incident of their own.
    out.clear();
    for i in 0..16 {
        let f = flow(
            "10.0.0.9",
            &format!("10.0.2.{i}"),
            23,
            62.0 + f64::from(i),
            ConnState::S0,
        );
        t.add(&f, 0.9, 0.5, &config);
    }
    t.drain(&mut out, &model(), &config, Timestamp(0));
    let scan: Vec<_> = out.iter().filter(|a| a.id() != anomaly).collect();
    assert_eq!(scan.len(), 1);
    assert_eq!(scan[0].iotguard.attack_type, AttackType::HorizontalScan);
    assert_eq!(scan[0].iotguard.counts.flows, 16);
    assert_eq!(scan[0].iotguard.counts.destinations, 16);
    assert_eq!(scan[0].destination.port, Some(23));
    assert_eq!(t.open_count(), 2);
}

#[test]
fn incidents_close_when_idle_and_reopen_with_a_new_id() {
    let config = DetectConfig {
        incident_idle_secs: 10.0,
        update_every_secs: 0.0,
        pending_secs: 0.0,
        ..DetectConfig::default()
    };
    let mut t = Incidents::default();
    let mut out = Vec::new();
    t.add(
        &flow("10.0.0.9", "10.0.1.1", 80, 0.0, ConnState::SF),
        0.9,
        0.5,
        &config,
    );
    t.add(
        &flow("10.0.0.9", "10.0.1.1", 80, 5.0, ConnState::SF),
        0.7,
        0.5,
        &config,
    );
    t.drain(&mut out, &model(), &config, Timestamp(0));
    assert_eq!(out.len(), 1);
    let first = out[0].id().to_string();
    assert_eq!(out[0].iotguard.counts.flows, 2);
    assert_eq!(out[0].iotguard.revision, 1);
    assert_eq!(
        out[0].iotguard.mean_score,
        ((0.9f32 as f64 + 0.7f32 as f64) / 2.0) as f32
    );
    // 20 s later: the old incident closes, a new one opens.
    t.add(
        &flow("10.0.0.9", "10.0.1.1", 80, 25.0, ConnState::SF),
        0.9,
        0.5,
        &config,
    );
    out.clear();
    t.drain(&mut out, &model(), &config, Timestamp(0));
    assert_eq!(out.len(), 2);
    assert_eq!(
        (out[0].id(), out[0].iotguard.state.as_str()),
        (first.as_str(), "closed")
    );
    assert_eq!(out[0].iotguard.revision, 2);
    assert_ne!(out[1].id(), first);
    assert_eq!(out[1].iotguard.state, "open");
    // Nothing changed: nothing to send.
    out.clear();
    t.drain(&mut out, &model(), &config, Timestamp(0));
    assert!(out.is_empty());
    // Expiry by event time closes the rest.
    t.expire(Timestamp(40_000_000_000), &config);
    t.drain(&mut out, &model(), &config, Timestamp(0));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].event.type_, ["end"]);
    assert_eq!(t.open_count(), 0);
}

/// The incidents of a stream, whatever the moments their documents were drained at: the flows
/// are folded into two tables, one drained after every flow, one only at the end, and the
/// incidents each reports (distinct ids, with the type of their last document) must be the
/// same. Replays drain at wall-clock flushes: when a promotion emptied an untyped incident,
/// whether it survived used to depend on whether a drain had sent its document.
#[test]
fn the_incidents_of_a_stream_do_not_depend_on_when_documents_are_drained() {
    let config = DetectConfig {
        update_every_secs: 0.0,
        ..DetectConfig::default()
    };
    // Three odd flows over a minute (published: due in event time), then a scan of the same
    // port that takes them all.
    let mut flows: Vec<FlowRecord> = [0.0, 10.0, 61.0]
        .iter()
        .enumerate()
        .map(|(i, &t)| flow("10.0.0.9", &format!("10.0.2.{i}"), 23, t, ConnState::S0))
        .collect();
    flows.extend((3..20).map(|i| {
        flow(
            "10.0.0.9",
            &format!("10.0.2.{i}"),
            23,
            62.0 + f64::from(i),
            ConnState::S0,
        )
    }));
    let incidents = |drain_every_flow: bool| {
        let mut t = Incidents::default();
        let mut out = Vec::new();
        for f in &flows {
            t.add(f, 0.9, 0.5, &config);
            if drain_every_flow {
                t.drain(&mut out, &model(), &config, Timestamp(0));
            }
        }
        t.close_all();
        t.drain(&mut out, &model(), &config, Timestamp(0));
        let last: std::collections::BTreeMap<String, (AttackType, u64)> = out
            .iter()
            .map(|a| {
                (
                    a.id().to_string(),
                    (a.iotguard.attack_type, a.iotguard.counts.flows),
                )
            })
            .collect();
        last
    };
    let every = incidents(true);
    assert_eq!(every, incidents(false));
    // One incident: the untyped flows the analyst may have seen became the scan, same id.
    let v: Vec<_> = every.values().copied().collect();
    assert_eq!(v, [(AttackType::HorizontalScan, 20)]);
}
