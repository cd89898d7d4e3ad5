//! Attack typing, measured apart from any model: the labeled (or known) attack flows of a
//! capture are given to an [`IncidentTracker`] as alerting, in file order with expiry by event
//! time as the pipeline does, and the incidents they form are checked against what the flows
//! are. Real captures come from ../shared/data (skipped, visibly, when absent); the confusion
//! table of typed against labeled attack families on simulated flows is pinned in
//! `testdata/golden/typing/` and in BENCHMARKS.md.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use iotguard_detect::{Alert, AttackType, DetectConfig, IncidentTracker, ModelInfo};
use iotguard_flow::{FlowRecord, LabelClass};
use iotguard_sim::{SimConfig, Simulator};
use iotguard_testkit::assert_golden;

use super::{fixed_clock, last_revisions, read_log};

/// Runs flows through a tracker, those `alerting` says alert, and returns the last revision of
/// every incident.
fn track<'a>(
    flows: impl IntoIterator<Item = &'a FlowRecord>,
    alerting: impl Fn(&FlowRecord) -> bool,
) -> Vec<Alert> {
    let config = DetectConfig {
        max_uids: usize::MAX,
        clock: fixed_clock(),
        ..DetectConfig::default()
    };
    let model = ModelInfo {
        name: "labels".into(),
        id: "0".into(),
        version: "0".into(),
        kind: "oracle".into(),
        path: None,
        threshold: 0.5,
    };
    let mut t = IncidentTracker::new(config, model).unwrap();
    let mut out = Vec::new();
    let mut latest = None;
    for (i, rec) in flows.into_iter().enumerate() {
        latest = Some(latest.map_or(rec.ts, |l: iotguard_flow::Timestamp| l.max(rec.ts)));
        if alerting(rec) {
            t.add(rec, 1.0, 0.5);
        }
        if i % 1000 == 999 {
            t.expire(latest.unwrap());
            t.drain(&mut out);
        }
    }
    t.close_all();
    t.drain(&mut out);
    last_revisions(&out)
}

fn detailed(rec: &FlowRecord) -> &str {
    rec.label
        .as_ref()
        .and_then(|l| l.detailed.as_deref())
        .unwrap_or("-")
}

fn malicious(rec: &FlowRecord) -> bool {
    rec.label
        .as_ref()
        .is_some_and(|l| l.class == LabelClass::Malicious)
}

/// For each detailed label, the incidents (type, id) holding its flows, with flow counts.
fn by_label(
    records: &[FlowRecord],
    incidents: &[Alert],
) -> BTreeMap<String, BTreeMap<(AttackType, String), u64>> {
    let mut of_uid: HashMap<&str, (AttackType, &str)> = HashMap::new();
    for a in incidents {
        for u in &a.iotguard.uids {
            of_uid.insert(u.as_str(), (a.iotguard.attack_type, a.id()));
        }
    }
    let mut out: BTreeMap<String, BTreeMap<(AttackType, String), u64>> = BTreeMap::new();
    for rec in records.iter().filter(|r| malicious(r)) {
        let Some((t, id)) = rec.uid.as_deref().and_then(|u| of_uid.get(u)) else {
            continue;
        };
        *out.entry(detailed(rec).to_string())
            .or_default()
            .entry((*t, id.to_string()))
            .or_default() += 1;
    }
    out
}

/// Prints every incident, one line each (seen with `--nocapture`).
#[allow(clippy::print_stderr)]
fn print(name: &str, incidents: &[Alert]) {
    for a in incidents {
        eprintln!(
            "{name}: {} {} flows={} hosts={} ports={} {}",
            a.iotguard.attack_type,
            a.iotguard.severity,
            a.iotguard.counts.flows,
            a.iotguard.counts.destinations,
            a.iotguard.counts.destination_ports,
            a.iotguard.reasons[0]
        );
    }
}

#[test]
fn capture_34_1_ddos_is_a_flood_and_its_cnc_a_beacon() {
    let Some(data) = iotguard_testkit::shared_data("capture_34_1_typing") else {
        return;
    };
    let records = read_log(&data.join("iot23/CTU-IoT-Malware-Capture-34-1.conn.log.labeled"));
    let incidents = track(&records, malicious);
    print("34-1", &incidents);
    let labels = by_label(&records, &incidents);
    // The 14,260 DDoS flows against 123.59.209.185 form one flood incident of their own...
    let ddos = &labels["DDoS"];
    let big = incidents
        .iter()
        .filter(|a| a.destination.ip == "123.59.209.185".parse().ok())
        .collect::<Vec<_>>();
    assert_eq!(big.len(), 1);
    assert_eq!(big[0].iotguard.attack_type, AttackType::Flood);
    assert_eq!(big[0].iotguard.counts.flows, 14_260);
    assert_eq!(ddos[&(AttackType::Flood, big[0].id().to_string())], 14_260);
    // ...and the 6,706 C&C flows one beacon incident, sharing no incident with the DDoS.
    let cnc = &labels["C&C"];
    assert_eq!(cnc.len(), 1, "{cnc:?}");
    let ((t, id), n) = cnc.iter().next().unwrap();
    assert_eq!((*t, *n), (AttackType::Beacon, 6_706));
    assert!(ddos.keys().all(|(_, d)| d != id));
    let beacon = incidents.iter().find(|a| a.id() == id).unwrap();
    assert_eq!(
        (beacon.destination.ip, beacon.destination.port),
        ("185.244.25.235".parse().ok(), Some(6667))
    );
    // Every DDoS flow is in a flood but the single one to 74.91.117.248 (one flow is never a
    // flood); the 121 "PartOfAHorizontalPortScan" flows, SYNs to one port of one host with a
    // dozen 5,000-packet flows among them, are a flood too.
    let typed = |label: &str| -> BTreeMap<AttackType, u64> {
        let mut m = BTreeMap::new();
        for ((t, _), n) in &labels[label] {
            *m.entry(*t).or_default() += n;
        }
        m
    };
    assert_eq!(
        typed("DDoS"),
        BTreeMap::from([(AttackType::Flood, 14_393), (AttackType::Anomaly, 1)])
    );
    assert_eq!(
        typed("PartOfAHorizontalPortScan"),
        BTreeMap::from([(AttackType::Flood, 121), (AttackType::Anomaly, 1)])
    );
    let kinds: Vec<(AttackType, u64)> = incidents
        .iter()
        .map(|a| (a.iotguard.attack_type, a.iotguard.counts.flows))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        kinds,
        [
            (AttackType::Flood, 121),
            (AttackType::Flood, 133),
            (AttackType::Flood, 14_260),
            (AttackType::Beacon, 6_706),
            (AttackType::Anomaly, 1),
        ]
    );
    assert_eq!(incidents.len(), 6);
}

#[test]
fn nmap_capture_is_scans() {
    let Some(data) = iotguard_testkit::shared_data("nmap_typing") else {
        return;
    };
    let records = read_log(&data.join("stratosphere/nmap-port-scanning.conn.json.log"));
    assert_eq!(records.len(), 4_504);
    let incidents = track(&records, |_| true);
    print("nmap", &incidents);
    let scans: Vec<&Alert> = incidents
        .iter()
        .filter(|a| {
            matches!(
                a.iotguard.attack_type,
                AttackType::HorizontalScan | AttackType::VerticalScan
            )
        })
        .collect();
    let in_scans: u64 = scans.iter().map(|a| a.iotguard.counts.flows).sum();
    let types: BTreeSet<AttackType> = scans.iter().map(|a| a.iotguard.attack_type).collect();
    assert_eq!(
        types,
        BTreeSet::from([AttackType::HorizontalScan, AttackType::VerticalScan])
    );
    // Host discovery (ICMP echo, 80, 443 across the networks) as horizontal scans, the port
    // scans of 25 hosts as vertical ones; what is left is DNS to 8.8.8.8 and ICMP errors.
    assert_eq!((scans.len(), in_scans), (4, 4_461));
    assert_eq!(incidents.len(), 8);
}

/// The attack family a simulated detailed label stands for.
fn family(detailed: &str) -> &'static str {
    match detailed {
        "PartOfAHorizontalPortScan" | "Okiru" => "scan",
        "DDoS" => "flood",
        "C&C" | "C&C-HeartBeat" => "c&c",
        "Attack" => "attack (brute force, exfiltration)",
        "FileDownload" | "C&C-FileDownload" => "download",
        _ => "other",
    }
}

/// Writes the confusion table of typed incidents (columns) against the labeled family of the
/// majority of their flows (rows), with flows in brackets.
fn confusion(records: &[FlowRecord], incidents: &[Alert]) -> String {
    let fam_of: HashMap<&str, &'static str> = records
        .iter()
        .filter_map(|r| Some((r.uid.as_deref()?, family(detailed(r)))))
        .collect();
    let cols = [
        AttackType::HorizontalScan,
        AttackType::VerticalScan,
        AttackType::Flood,
        AttackType::BruteForce,
        AttackType::Beacon,
        AttackType::Exfiltration,
        AttackType::Anomaly,
    ];
    let mut cells: BTreeMap<&str, BTreeMap<AttackType, (u64, u64)>> = BTreeMap::new();
    for a in incidents {
        let mut votes: BTreeMap<&str, u64> = BTreeMap::new();
        for u in &a.iotguard.uids {
            *votes
                .entry(fam_of.get(u.as_str()).copied().unwrap_or("other"))
                .or_default() += 1;
        }
        let Some((&fam, _)) = votes
            .iter()
            .max_by_key(|(f, n)| (**n, std::cmp::Reverse(**f)))
        else {
            continue;
        };
        let cell = cells
            .entry(fam)
            .or_default()
            .entry(a.iotguard.attack_type)
            .or_default();
        cell.0 += 1;
        cell.1 += a.iotguard.counts.flows;
    }
    let mut out = String::from("| labeled family \\ typed |");
    for c in cols {
        out.push_str(&format!(" {} |", c.as_str()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(cols.len()));
    out.push('\n');
    for (fam, row) in &cells {
        out.push_str(&format!("| {fam} |"));
        for c in cols {
            match row.get(&c) {
                Some((n, flows)) => out.push_str(&format!(" {n} ({flows}) |")),
                None => out.push_str(" |"),
            }
        }
        out.push('\n');
    }
    out
}

#[test]
fn simulated_attacks_typed_against_their_labels() {
    let sim = Simulator::new(SimConfig::default().with_seed(7)).unwrap();
    let records: Vec<FlowRecord> = sim.flows().take(200_000).collect();
    let incidents = track(&records, malicious);
    let table = confusion(&records, &incidents);
    if std::env::var_os("TYPING_DEBUG").is_some() {
        print("sim", &incidents);
    }
    eprintln!("{table}");
    assert_golden("typing/sim_seed7_200k_confusion.md", &table);
    let bench =
        std::fs::read_to_string(iotguard_testkit::repo_root().join("BENCHMARKS.md")).unwrap();
    assert!(
        bench.contains(&table),
        "BENCHMARKS.md does not show the current confusion table:\n{table}"
    );
}
