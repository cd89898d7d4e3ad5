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
    // Attack type: each type's alerts, and together every alert once.
    let mut typed = 0;
    for t in [
        "horizontal_scan",
        "vertical_scan",
        "flood",
        "brute_force",
        "beacon",
        "exfiltration",
        "anomaly",
    ] {
        let want = finals
            .iter()
            .filter(|a| a.iotguard.attack_type.as_str() == t)
            .count();
        let got = reader
            .query(&AlertQuery {
                attack_type: Some(t.to_string()),
                limit: 10_000,
                ..AlertQuery::default()
            })
            .unwrap()
            .alerts;
        assert_eq!(got.len(), want, "{t}");
        assert!(got.iter().all(|a| a.iotguard.attack_type.as_str() == t));
        typed += want;
    }
    assert_eq!(typed, finals.len());
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
    let q: AlertQuery = serde_json::from_str(r#"{"type": "beacon"}"#).unwrap();
    assert_eq!(q.attack_type.as_deref(), Some("beacon"));
}

/// A tmpfs of `size` mounted on a fresh folder, unmounted on drop; `None` (after printing a
/// visible SKIPPED line) where mounting is not permitted.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    #[allow(clippy::print_stderr)]
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallDisk { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED a_full_disk: cannot mount a tmpfs here: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED a_full_disk: cannot run mount: {e}");
                None
            }
        }
    }

    /// Fills the disk with a file until the write fails with "no space"; returns the file.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 4096];
        loop {
            match f.write_all(&block) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// Distinct incidents (the fixture's alerts under new ids).
fn many_alerts(n: usize) -> Vec<iotguard_detect::Alert> {
    let base = last_revisions(&alerts());
    (0..n)
        .map(|i| {
            let mut a = base[i % base.len()].clone();
            a.event.id = format!("inc-full-{i:06}");
            a
        })
        .collect()
}

/// A full disk (a real one: an 8 MiB tmpfs filled up) fails the store's writes or commit;
/// once space is freed the next flush writes every alert of the rolled-back transaction again
/// and commits, and later transactions work. Before the fix every later COMMIT failed with
/// "cannot commit - no transaction is active".
#[test]
fn a_full_disk_rolls_back_and_the_store_recovers_when_space_returns() {
    let Some(disk) = SmallDisk::mount("8m") else {
        return;
    };
    let path = disk.dir.path().join("alerts.db");
    let batch = many_alerts(600);
    let mut store = AlertStore::open(&path).unwrap();
    store.send(&batch[..10]).unwrap();
    store.flush().unwrap();
    let filler = disk.fill();
    let mut failures = 0;
    for chunk in batch[10..].chunks(50) {
        if store.send(chunk).is_err() {
            failures += 1;
        }
    }
    if store.flush().is_err() {
        failures += 1;
    }
    assert!(failures > 0, "the disk never filled up");
    // Still full: flushing again fails, and keeps everything.
    assert!(store.flush().is_err());
    std::fs::remove_file(filler).unwrap();
    store.flush().unwrap();
    let reader = store.reader().unwrap();
    let count = |r: &AlertStore| -> u64 {
        r.counts_by_severity(None)
            .unwrap()
            .iter()
            .map(|c| c.count)
            .sum()
    };
    assert_eq!(count(&reader), 600);
    for a in &batch {
        assert_eq!(reader.get(a.id()).unwrap().as_ref(), Some(a));
    }
    // Later transactions work.
    let mut more = many_alerts(601);
    let last = more.pop().unwrap();
    let last = iotguard_detect::Alert {
        event: iotguard_detect::AlertEvent {
            id: "inc-after".to_string(),
            ..last.event
        },
        ..last
    };
    store.send(std::slice::from_ref(&last)).unwrap();
    store.flush().unwrap();
    assert_eq!(count(&reader), 601);
    drop(reader);
    drop(store);
}
