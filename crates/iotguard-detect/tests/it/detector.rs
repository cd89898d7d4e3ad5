//! The detector on simulated flows: scores, incidents, grades, explanations, determinism, the
//! golden alert format, model swaps.

use std::collections::HashSet;

use iotguard_detect::{ActiveModel, AttackType, DetectConfig, Detector, ModelHandle, Severity};
use iotguard_testkit::assert_golden;

use super::{detect_all, detector, fixture, last_revisions, read_log, TEST_FLOWS};

#[test]
fn alerts_are_incidents_with_grades_explanations_and_uids() {
    let records = read_log(&fixture().test_log);
    assert_eq!(records.len(), TEST_FLOWS);
    let mut d = detector(DetectConfig::default());
    let alerts = detect_all(&mut d, &records);
    let (flows, alerting) = d.counts();
    assert_eq!(flows, TEST_FLOWS as u64);
    let finals = last_revisions(&alerts);
    // Every alerting flow is in exactly one incident.
    let in_incidents: u64 = finals.iter().map(|a| a.iotguard.counts.flows).sum();
    assert_eq!(in_incidents, alerting);
    assert!(
        alerting > 0 && finals.len() < alerting as usize / 10,
        "{} incidents for {alerting} flows",
        finals.len()
    );
    let uids: HashSet<String> = records
        .iter()
        .filter_map(|r| r.uid.as_ref().map(|u| u.to_string()))
        .collect();
    let names: HashSet<&str> = d
        .model()
        .loaded
        .file
        .features
        .names
        .iter()
        .map(String::as_str)
        .collect();
    for a in &finals {
        assert_eq!(a.event.kind, "alert");
        assert_eq!(a.iotguard.state, "closed");
        assert_eq!(a.event.type_, ["end"]);
        assert_eq!(a.severity(), Severity::from_risk(a.event.risk_score));
        assert_eq!(a.event.severity, a.severity().ecs_number());
        assert!(a.iotguard.score >= a.iotguard.threshold);
        assert!(a.event.start <= a.event.end);
        assert!(!a.iotguard.features.is_empty() && a.iotguard.features.len() <= 5);
        for f in &a.iotguard.features {
            assert!(names.contains(f.name.as_str()), "{}", f.name);
            assert!(f.contribution > 0.0);
        }
        assert!(!a.iotguard.uids.is_empty() && a.iotguard.uids.len() <= 20);
        assert!(a.iotguard.uids.iter().all(|u| uids.contains(u)));
        assert_eq!(a.rule.name, "iotguard-tree");
        assert_eq!(a.observer.name, "iotguard");
        assert_eq!(a.event.created, "2027-01-15T08:00:00.000000Z");
    }
    // The simulated Mirai scans of telnet across the network are recognised.
    let kinds: HashSet<AttackType> = finals.iter().map(|a| a.iotguard.attack_type).collect();
    assert!(kinds.contains(&AttackType::HorizontalScan), "{kinds:?}");
}

#[test]
fn same_flows_give_the_same_alerts() {
    let records = read_log(&fixture().test_log);
    let a = detect_all(&mut detector(DetectConfig::default()), &records);
    let b = detect_all(&mut detector(DetectConfig::default()), &records);
    assert_eq!(a, b);
}

#[test]
fn golden_alert_documents() {
    let records = read_log(&fixture().test_log);
    let config = DetectConfig {
        assets: vec!["192.168.1.0/28=critical".parse().unwrap()],
        ..DetectConfig::default()
    };
    let alerts = detect_all(&mut detector(config), &records[..2000]);
    let mut text = String::new();
    for a in alerts.iter().take(12) {
        text.push_str(&serde_json::to_string_pretty(a).unwrap());
        text.push('\n');
    }
    assert_golden("alerts/sim_seed2_first2000.json", &text);
    // Documents read back to the same alerts.
    for a in &alerts {
        let back: iotguard_detect::Alert =
            serde_json::from_str(&serde_json::to_string(a).unwrap()).unwrap();
        assert_eq!(&back, a);
    }
}

#[test]
fn swapping_models_between_flows() {
    let records = read_log(&fixture().test_log);
    let handle = ModelHandle::load(&fixture().model).unwrap();
    let mut d = Detector::new(handle.clone(), DetectConfig::default()).unwrap();
    let before = d.process(&records[0]);
    // The same model with a threshold no score reaches: picked up at the next flow.
    let mut loaded = iotguard_runtime::lab::load_model(&fixture().model).unwrap();
    loaded.threshold.value = 2.0;
    let old = handle.swap(ActiveModel::new(loaded, None)).unwrap();
    assert_eq!(old.info.threshold, before.threshold);
    assert_eq!(handle.generation(), 1);
    let after: Vec<_> = records[1..500].iter().map(|r| d.process(r)).collect();
    assert!(after.iter().all(|s| s.threshold == 2.0 && !s.is_alert));
    // Memory caps are the running detector's: a model with others is accepted and keeps them.
    let mut caps = iotguard_runtime::lab::load_model(&fixture().model).unwrap();
    caps.features.max_hosts = 7;
    handle.swap(ActiveModel::new(caps, None)).unwrap();
    assert_eq!(handle.generation(), 2);
    assert_eq!(handle.current().loaded.features.max_hosts, 200_000);
    // Another feature configuration is refused, and nothing changes.
    let mut other = iotguard_runtime::lab::load_model(&fixture().model).unwrap();
    other.features.horizons_secs = vec![5.0];
    let err = handle
        .swap(ActiveModel::new(other, None))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("feature configuration") && err.contains("restart"),
        "{err}"
    );
    assert_eq!(handle.generation(), 2);
    assert_eq!(handle.current().loaded.features.horizons_secs.len(), 4);
}

/// A shadow is scored on every flow beside the model and counted, changes none of the model's
/// alerts, and goes at the next flow once cleared.
#[test]
fn a_shadow_is_scored_beside_the_model_and_changes_nothing() {
    let records = read_log(&fixture().test_log);
    let plain: Vec<_> = {
        let mut d = detector(DetectConfig::default());
        records[..3000].iter().map(|r| d.process(r)).collect()
    };
    let handle = ModelHandle::load(&fixture().model).unwrap();
    let config = DetectConfig {
        clock: super::fixed_clock(),
        ..DetectConfig::default()
    };
    let mut d = Detector::new(handle.clone(), config).unwrap();
    let first: Vec<_> = records[..1000].iter().map(|r| d.process(r)).collect();
    assert!(first.iter().all(|s| s.shadow_score.is_none()));
    // The same model with a threshold every score reaches: it would flag every flow.
    let mut loaded = iotguard_runtime::lab::load_model(&fixture().model).unwrap();
    loaded.threshold.value = -1.0;
    handle.set_shadow(ActiveModel::new(loaded, None)).unwrap();
    assert_eq!(handle.generation(), 1);
    let during: Vec<_> = records[1000..2000].iter().map(|r| d.process(r)).collect();
    let counts = handle.shadow_status().unwrap().counts;
    let active_alerts = during.iter().filter(|s| s.is_alert).count() as u64;
    assert!(active_alerts > 0);
    assert_eq!(counts.flows, 1000);
    assert_eq!(counts.shadow_alerts, 1000);
    assert_eq!(counts.active_alerts, active_alerts);
    assert_eq!(counts.shadow_only, 1000 - active_alerts);
    assert_eq!(counts.active_only, 0);
    // Same model: the same scores, and the model's own decisions are those without a shadow.
    for (s, p) in during.iter().zip(&plain[1000..2000]) {
        assert_eq!(s.shadow_score, Some(s.score));
        assert_eq!((s.score, s.is_alert), (p.score, p.is_alert));
    }
    assert_eq!(handle.clear_shadow(), Some(counts));
    assert!(handle.shadow_status().is_none());
    let after: Vec<_> = records[2000..3000].iter().map(|r| d.process(r)).collect();
    assert!(after.iter().all(|s| s.shadow_score.is_none()));
    // Another feature configuration is refused as a shadow too.
    let mut other = iotguard_runtime::lab::load_model(&fixture().model).unwrap();
    other.features.horizons_secs = vec![5.0];
    assert!(handle.set_shadow(ActiveModel::new(other, None)).is_err());
    assert!(handle.shadow_status().is_none());
}

#[test]
fn incidents_stay_bounded() {
    let records = read_log(&fixture().test_log);
    let mut d = detector(DetectConfig {
        max_incidents: 2,
        max_uids: 3,
        ..DetectConfig::default()
    });
    let mut most_open = 0;
    let mut alerts = Vec::new();
    for rec in &records {
        d.process(rec);
        most_open = most_open.max(d.open_incidents());
        d.drain_alerts(&mut alerts);
    }
    assert!(most_open <= 2, "{most_open}");
    assert!(alerts.iter().all(|a| a.iotguard.uids.len() <= 3));
}

#[test]
fn odd_records_are_scored_without_panicking() {
    use iotguard_flow::{FlowRecord, Interval, Protocol, Timestamp};
    let mut d = detector(DetectConfig {
        update_every_secs: 0.0,
        ..DetectConfig::default()
    });
    let v6 = FlowRecord {
        ts: Timestamp(-5_000_000_000),
        orig_h: Some("fd00::1".parse().unwrap()),
        resp_h: Some("fd00::2".parse().unwrap()),
        proto: Protocol::Icmp,
        duration: Some(Interval(i64::MAX)),
        orig_bytes: Some(u64::MAX),
        resp_bytes: Some(u64::MAX),
        orig_pkts: Some(u64::MAX),
        ..FlowRecord::default()
    };
    let odd = [
        FlowRecord::default(),
        v6.clone(),
        FlowRecord {
            ts: Timestamp(i64::MAX),
            ..v6.clone()
        },
        FlowRecord {
            ts: Timestamp(i64::MIN),
            proto: Protocol::Other("sctp".into()),
            ..FlowRecord::default()
        },
    ];
    let mut alerts = Vec::new();
    for rec in odd.iter().cycle().take(40) {
        let s = d.process(rec);
        assert_eq!(s.is_alert, s.score >= s.threshold);
        d.drain_alerts(&mut alerts);
    }
    d.expire(Timestamp(i64::MAX));
    d.close_all();
    d.drain_alerts(&mut alerts);
    assert_eq!(d.open_incidents(), 0);
    for a in &alerts {
        assert!(a.event.risk_score.is_finite() && (0.0..=100.0).contains(&a.event.risk_score));
        serde_json::to_string(a).unwrap();
    }
}
