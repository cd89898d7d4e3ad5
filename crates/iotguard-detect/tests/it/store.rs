//! The SQLite alert store on a real file.

use std::collections::HashSet;

use iotguard_detect::{AlertQuery, AlertSink, AlertStore, DetectConfig, Severity};

use super::{detect_all, detector, fixture, last_revisions, read_log};

fn alerts() -> Vec<iotguard_detect::Alert> {
    let records = read_log(&fixture().test_log);
    detect_all(&mut detector(DetectConfig::default()), &records)
}

#[test]
fn upserts_by_id_and_queries_pages_filters_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.db");
    let all = alerts();
    let finals = last_revisions(&all);
    let mut store = AlertStore::open(&path).unwrap();
    // Every revision is sent, in order: one row per incident remains, its last revision.
    store.send(&all).unwrap();
    // A reader on its own connection sees nothing before the flush commits.
    let reader = store.reader().unwrap();
    assert_eq!(
        reader.query(&AlertQuery::default()).unwrap().alerts.len(),
        0
    );
    store.flush().unwrap();
    let total: u64 = reader
        .counts_by_severity(None)
        .unwrap()
        .iter()
        .map(|c| c.count)
        .sum();
    assert_eq!(total, finals.len() as u64);
    for a in &finals {
        assert_eq!(reader.get(a.id()).unwrap().as_ref(), Some(a));
    }
    assert_eq!(reader.get("inc-none").unwrap(), None);
    // Pages of 3, newest first, cover every incident once.
    let mut seen = Vec::new();
    let mut q = AlertQuery {
        limit: 3,
        ..AlertQuery::default()
    };
    loop {
        let page = reader.query(&q).unwrap();
        assert!(page.alerts.len() <= 3);
        seen.extend(
            page.alerts
                .iter()
                .map(|a| (a.event.end.clone(), a.id().to_string())),
        );
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), finals.len());
    let ids: HashSet<&String> = seen.iter().map(|(_, id)| id).collect();
    assert_eq!(ids.len(), finals.len());
    assert!(seen.windows(2).all(|w| w[0] >= w[1]), "not newest first");
    // Filters: severity, minimum severity, host.
    for sev in Severity::ALL {
        let want = finals.iter().filter(|a| a.severity() == sev).count();
        let got = reader
            .query(&AlertQuery {
                severity: Some(sev),
                limit: 10_000,
                ..AlertQuery::default()
            })
            .unwrap()
            .alerts;
        assert_eq!(got.len(), want, "{sev}");
        let at_least = finals.iter().filter(|a| a.severity() >= sev).count();
        let got = reader
            .query(&AlertQuery {
                min_severity: Some(sev),
                limit: 10_000,
                ..AlertQuery::default()
            })
            .unwrap()
            .alerts;
        assert_eq!(got.len(), at_least, ">= {sev}");
    }
    let host = finals[0].source.ip.unwrap();
    let want = finals
        .iter()
        .filter(|a| a.source.ip == Some(host) || a.destination.ip == Some(host))
        .count();
    let got = reader
        .query(&AlertQuery {
            host: Some(host),
            limit: 10_000,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(got.alerts.len(), want);
    assert!(want >= 1);
    // An older revision never replaces a newer one.
    let first_rev = all.iter().find(|a| a.id() == finals[0].id()).unwrap();
    store.send(std::slice::from_ref(first_rev)).unwrap();
    store.flush().unwrap();
    if first_rev.iotguard.revision < finals[0].iotguard.revision {
        assert_eq!(
            reader.get(finals[0].id()).unwrap().as_ref(),
            Some(&finals[0])
        );
    }
    // Time filters use the incident's last flow.
    let last_end = iotguard_detect::parse_time(&finals[0].event.end).unwrap();
    let since = reader
        .query(&AlertQuery {
            since: Some(last_end),
            limit: 10_000,
            ..AlertQuery::default()
        })
        .unwrap()
        .alerts;
    assert!(since.iter().all(|a| a.event.end >= finals[0].event.end));
    assert!(since.iter().any(|a| a.id() == finals[0].id()));
    // A bad cursor is an error, not a panic.
    assert!(reader
        .query(&AlertQuery {
            cursor: Some("nonsense".to_string()),
            ..AlertQuery::default()
        })
        .is_err());
}

#[test]
fn query_parameters_read_from_json() {
    let q: AlertQuery = serde_json::from_str(
        r#"{"since": "2024-01-01T00:00:00Z", "min_severity": "high", "host": "10.0.0.1", "limit": 5}"#,
    )
    .unwrap();
    assert_eq!(q.since, iotguard_detect::parse_time("1704067200"));
    assert_eq!(q.min_severity, Some(Severity::High));
    assert_eq!(q.limit, 5);
    assert!(serde_json::from_str::<AlertQuery>(r#"{"since": "yesterday"}"#).is_err());
}
