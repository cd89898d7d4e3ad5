//! `retrain` end to end: a model trained on a small network detects on a bigger one with
//! `--archive` and `--alerts-db`; an analyst judges every alert over real HTTP (the truth is
//! the simulator's labels in the archive); `retrain` trains a shadow, compares it with the
//! current model on the latest judged flows only, and writes it with its lineage.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use iotguard_detect::{AlertStore, Verdict};
use iotguard_flow::{LabelClass, Timestamp};
use iotguard_server::{AppState, Server, ServerConfig};
use serde_json::Value;

use super::{iotguard, ok};

/// Simulates a capture with extra options.
fn simulate(path: &Path, args: &[&str]) {
    let mut all = vec!["simulate", "--out"];
    let p = path.display().to_string();
    all.push(&p);
    all.extend_from_slice(args);
    ok(&all);
}

/// Posts a verdict through the real server and checks it was recorded.
fn post_verdict(addr: std::net::SocketAddr, id: &str, verdict: &str) {
    let body = format!(r#"{{"verdict":"{verdict}","analyst":"tester"}}"#);
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /api/v1/alerts/{id}/feedback HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: Bearer t0ken\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

/// The simulator's truth per alert: malicious when most of its archived flows are.
fn truth(archive: &Path) -> HashMap<String, bool> {
    let (flows, _) = iotguard_archive::read_archive(archive).unwrap();
    let mut counts: HashMap<String, (u64, u64)> = HashMap::new();
    for f in flows {
        if let Some(id) = f.alert_id {
            let c = counts.entry(id).or_default();
            c.0 += 1;
            if f.record
                .label
                .is_some_and(|l| l.class == LabelClass::Malicious)
            {
                c.1 += 1;
            }
        }
    }
    counts
        .into_iter()
        .map(|(id, (n, mal))| (id, mal * 2 >= n))
        .collect()
}

/// How an archived flow is labeled for retraining.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// Its alert was judged a true positive.
    Malicious,
    /// Its alert was judged a false positive.
    Benign,
    /// It raised no alert.
    Presumed,
}

/// The labeled archived flows (time, kind) under `verdicts`, in time order: judged ones by
/// their verdict, those without an alert presumed benign, those of unjudged alerts left out.
fn labeled(archive: &Path, verdicts: &HashMap<String, Verdict>) -> Vec<(Timestamp, Kind)> {
    let (flows, _) = iotguard_archive::read_archive(archive).unwrap();
    flows
        .iter()
        .filter_map(|f| {
            let kind = match f.alert_id.as_deref() {
                None => Kind::Presumed,
                Some(id) => match verdicts.get(id)? {
                    Verdict::TruePositive => Kind::Malicious,
                    _ => Kind::Benign,
                },
            };
            Some((f.record.ts, kind))
        })
        .collect()
}

/// Counts the flows of each kind: (all, malicious, judged benign, presumed benign).
fn count(flows: &[&(Timestamp, Kind)]) -> (usize, usize, usize, usize) {
    let n = |k: Kind| flows.iter().filter(|f| f.1 == k).count();
    (
        flows.len(),
        n(Kind::Malicious),
        n(Kind::Benign),
        n(Kind::Presumed),
    )
}

/// A span's counts from the lineage.
fn span(v: &Value) -> (usize, usize, usize, usize) {
    let n = |k: &str| v[k].as_u64().unwrap() as usize;
    (
        n("flows"),
        n("malicious"),
        n("benign"),
        n("presumed_benign"),
    )
}

/// The files of the scenario.
struct Scenario {
    train: std::path::PathBuf,
    model: std::path::PathBuf,
    archive: std::path::PathBuf,
    db: std::path::PathBuf,
}

/// A model trained on a small network (3 devices) detects on a bigger one (40): new devices,
/// false alerts; with the archive and the alert store.
fn scenario(d: &Path) -> Scenario {
    let train = d.join("train.log");
    simulate(
        &train,
        &["--seed", "4", "--flows", "3000", "--devices", "3"],
    );
    let live = d.join("live.log");
    simulate(
        &live,
        &["--seed", "6", "--flows", "20000", "--devices", "40"],
    );
    let model = d.join("current.json");
    let s = |p: &Path| p.display().to_string();
    // The capture is simulated already: no simulated rows added.
    ok(&[
        "train",
        "--model",
        "logreg",
        "--augment-sim",
        "0",
        "--out",
        &s(&model),
        &s(&train),
    ]);
    let (archive, db) = (d.join("archive"), d.join("alerts.db"));
    ok(&[
        "detect",
        "--model",
        &s(&model),
        "--alerts-db",
        &s(&db),
        "--archive",
        &s(&archive),
        "--json",
        &s(&live),
    ]);
    Scenario {
        train,
        model,
        archive,
        db,
    }
}

#[test]
fn retrain_on_verdicts_beats_the_current_model_on_the_later_window_and_records_its_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Scenario {
        train,
        model,
        archive,
        db,
    } = scenario(d);
    let s = |p: &Path| p.display().to_string();

    // The analyst judges every alert over HTTP, by the simulator's truth.
    let truth = truth(&archive);
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: Some("t0ken".to_string()),
        ..ServerConfig::default()
    };
    let state = AppState::builder()
        .store(AlertStore::open(&db).unwrap())
        .token(Some("t0ken".to_string()))
        .build();
    let server = Server::start(&config, state).unwrap();
    // Only alerts the store holds can be judged: an archived flow may name an untyped incident
    // whose flows moved to a typed one before it was ever sent (it stays unlabeled).
    let reader = AlertStore::open(&db).unwrap();
    let mut ids: Vec<&String> = truth
        .keys()
        .filter(|id| reader.get(id).unwrap().is_some())
        .collect();
    ids.sort();
    assert_eq!(truth.len(), 82);
    // Deterministic: which incidents exist does not depend on when the pipeline drained.
    assert_eq!(ids.len(), 78);
    drop(reader);
    for id in &ids {
        let v = if truth[*id] {
            "true_positive"
        } else {
            "false_positive"
        };
        post_verdict(server.local_addr(), id, v);
    }
    server.stop().unwrap();
    let verdicts = AlertStore::open(&db).unwrap().latest_verdicts().unwrap();
    let fps = verdicts
        .values()
        .filter(|v| **v == Verdict::FalsePositive)
        .count();
    assert_eq!(verdicts.len(), ids.len());
    assert_eq!(fps, ids.iter().filter(|id| !truth[**id]).count());
    assert!(fps >= 40, "{fps} false positives");

    let new = d.join("shadow.json");
    let out = iotguard(
        &[
            "retrain",
            "--model",
            &s(&model),
            "--archive",
            &s(&archive),
            "--alerts-db",
            &s(&db),
            "--out",
            &s(&new),
            "--json",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lineage: Value = serde_json::from_slice(&out.stdout).unwrap();

    // The split, recomputed here: the latest 30 % of the judged flows fix the cut; every
    // labeled flow from it on (judged, or presumed benign) is the test window.
    let flows = labeled(&archive, &verdicts);
    let judged: Vec<Timestamp> = flows
        .iter()
        .filter(|f| f.1 != Kind::Presumed)
        .map(|f| f.0)
        .collect();
    assert!(judged.len() > 8_000, "{}", judged.len());
    let n_test = (judged.len() as f64 * 0.3).ceil() as usize;
    let cut = judged[judged.len() - n_test];
    let test: Vec<&(Timestamp, Kind)> = flows.iter().filter(|f| f.0 >= cut).collect();
    let train_side: Vec<&(Timestamp, Kind)> = flows.iter().filter(|f| f.0 < cut).collect();
    let data = &lineage["data"];
    assert_eq!(data["cut"], cut.to_rfc3339());
    assert_eq!(data["archived_flows"], 20_000);
    assert_eq!(span(&data["test_window"]), count(&test));
    assert_eq!(span(&data["archive_train"]), count(&train_side));
    let (_, malicious, benign, _) = count(&test);
    // No training flow is later than a test flow.
    assert!(
        data["archive_train"]["until"].as_str().unwrap()
            < data["test_window"]["from"].as_str().unwrap()
    );
    assert_eq!(data["original_inputs"], serde_json::json!([s(&train)]));
    // Both models were measured on exactly the test window's flows.
    let cmp = &lineage["comparison"];
    for side in ["current", "shadow"] {
        assert_eq!(cmp[side]["flows"], test.len(), "{side}");
        assert_eq!(
            cmp[side]["malicious"], data["test_window"]["malicious"],
            "{side}"
        );
    }
    // Scored again from the archive, the current model alerts on exactly the judged flows of
    // the window, as it did at detection, and on none of the presumed-benign ones.
    assert_eq!(cmp["current"]["alerts"], malicious + benign);
    assert_eq!(cmp["current"]["fp"], benign);
    let f1 = |side: &str| cmp[side]["f1"].as_f64().unwrap();
    assert!(f1("shadow") > f1("current"), "{cmp}");
    assert!(
        cmp["shadow"]["fp"].as_u64().unwrap() < cmp["current"]["fp"].as_u64().unwrap(),
        "{cmp}"
    );
    assert_eq!(lineage["promoted"], true);

    // The new model file: loadable, of the same kind and procedure, with the same lineage.
    let current = iotguard_runtime::lab::load_model(&model).unwrap();
    let shadow = iotguard_runtime::lab::load_model(&new).unwrap();
    assert_eq!(shadow.file.kind, "logreg");
    assert_eq!(
        shadow.file.metrics["out_of_capture"]["objective"],
        current.file.metrics["out_of_capture"]["objective"]
    );
    let recorded = shadow.file.lineage.clone().unwrap();
    assert_eq!(recorded, lineage);
    // Its drift reference is the test window (the network as it is now), every flow of it,
    // not its training rows: the monitors would raise drift again at once after a swap.
    let reference = shadow.file.reference.clone().unwrap();
    assert_eq!(reference.rows, test.len() as u64);
    assert_eq!(
        reference.benign_rows,
        test.len() as u64 - cmp["shadow"]["alerts"].as_u64().unwrap()
    );
    assert_eq!(recorded["parent"]["id"], current.file.id());
    assert_eq!(
        recorded["parent"]["version"],
        iotguard_runtime::lab::model_version(current.file.created_unix_secs)
    );
    assert_eq!(
        shadow.file.training.inputs,
        [
            s(&train),
            data["archive_train_log"].as_str().unwrap().to_string()
        ]
    );
    assert!(recorded["reason"]
        .as_str()
        .unwrap()
        .starts_with("promoted: shadow F1 "));

    // An analyst who calls every alert a true positive leaves nothing to improve: the shadow
    // is not better (exit 1). The training data moved: the recorded path is gone, so
    // --train-data gives it again.
    let store = AlertStore::open(&db).unwrap();
    for id in &ids {
        store
            .record_feedback(id, Verdict::TruePositive, "", "lazy", Timestamp(0))
            .unwrap()
            .unwrap();
    }
    drop(store);
    let moved = d.join("moved.log");
    std::fs::rename(&train, &moved).unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "retrain".to_string(),
            "--model".to_string(),
            s(&model),
            "--archive".to_string(),
            s(&archive),
            "--alerts-db".to_string(),
            s(&db),
            "--out".to_string(),
            s(&d.join("second.json")),
        ];
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    let gone = args(&[]);
    let gone: Vec<&str> = gone.iter().map(String::as_str).collect();
    let out = iotguard(&gone, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is gone; pass --train-data"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = args(&["--train-data", &s(&moved), "--json"]);
    let again: Vec<&str> = again.iter().map(String::as_str).collect();
    let out = iotguard(&again, None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(second["promoted"], false);
    assert_eq!(
        second["data"]["original_inputs"],
        serde_json::json!([s(&moved)])
    );
    assert_eq!(second["comparison"]["current"]["f1"], 1.0);
    assert!(second["reason"]
        .as_str()
        .unwrap()
        .starts_with("not promoted: shadow F1 "));
}

/// `detect --auto-retrain`: with the verdicts of the first run in the store, a second run
/// (another day of the bigger network, on standard input) retrains at once, runs the better
/// model as a shadow on the next 3,000 live flows (both scores archived), swaps it in between
/// two flows, and detection goes on with it: every flow is scored and archived once, the
/// earlier ones by the current model, the later ones by the retrained one; the lineage says
/// what the shadow would have done.
#[test]
fn detect_auto_retrain_swaps_a_better_model_in_without_dropping_a_flow() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sc = scenario(d);
    let s = |p: &Path| p.display().to_string();
    let truth = truth(&sc.archive);
    let store = AlertStore::open(&sc.db).unwrap();
    for (id, malicious) in &truth {
        let v = if *malicious {
            Verdict::TruePositive
        } else {
            Verdict::FalsePositive
        };
        // Ids of incidents never sent are not in the store: nothing to judge.
        let _ = store
            .record_feedback(id, v, "", "tester", Timestamp(0))
            .unwrap();
    }
    drop(store);
    // The next day, 16,000 flows on standard input: the first half at once, 4,000 more once
    // the shadow runs, the rest only once the retrained model is in, so the test does not
    // depend on how fast it trains.
    let day2 = d.join("day2.log");
    simulate(
        &day2,
        &[
            "--seed",
            "7",
            "--flows",
            "16000",
            "--devices",
            "40",
            "--start",
            "1704153600",
        ],
    );
    let text = std::fs::read_to_string(&day2).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.iter().take_while(|l| l.starts_with('#')).count();
    let split = header + 8_000;
    let trial_end = split + 4_000;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_iotguard"))
        .args([
            "detect",
            "--model",
            &s(&sc.model),
            "--alerts-db",
            &s(&sc.db),
            "--archive",
            &s(&sc.archive),
            "--archive-roll-secs",
            "1",
            "--auto-retrain",
            "10",
            "--shadow-flows",
            "3000",
            "--shadow-max-added",
            "0.05",
            "--json",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all((lines[..split].join("\n") + "\n").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    let wait_for = |what: &str| loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no `{what}`"));
        if line.contains(what) {
            break line;
        }
    };
    let started = wait_for("auto-retrain 1: shadow: ");
    assert!(started.ends_with("on the next 3000 flows"), "{started}");
    stdin
        .write_all((lines[split..trial_end].join("\n") + "\n").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let swapped = wait_for("auto-retrain 1: swapped in");
    // Counted until the trial is looked at (every 50 ms): at least the 3,000.
    assert!(
        swapped.contains("(swapped in: as a shadow on "),
        "{swapped}"
    );
    stdin
        .write_all((lines[trial_end..].join("\n") + "\n").as_bytes())
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = reader.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("auto-retrain: 1 retraining(s), 1 swapped in"),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["report"]["flows"], 16_000);
    assert_eq!(report["report"]["archived"], 16_000);
    let retrained = iotguard_runtime::lab::load_model(&d.join("current.retrained-1.json")).unwrap();
    let lineage = retrained.file.lineage.clone().unwrap();
    assert_eq!(lineage["promoted"], true);
    assert!(
        lineage["offline_reason"]
            .as_str()
            .unwrap()
            .starts_with("promoted: "),
        "{lineage}"
    );
    assert!(
        lineage["reason"]
            .as_str()
            .unwrap()
            .starts_with("swapped in: as a shadow on "),
        "{lineage}"
    );
    let trial = &lineage["shadow"];
    // At least the 3,000 asked for; at most what was fed before the swap: the verdicts are in
    // the store before detect starts, so retraining starts at once, and a fast (release) build
    // has the shadow running before the first 8,000 flows are all read (4,096 seen), while a
    // debug build starts it after them. The trial is looked at every 50 ms, so it may also
    // count past 3,000.
    let trial_flows = trial["flows"].as_u64().unwrap();
    let fed_before_swap = (trial_end - header) as u64;
    assert!((3000..=fed_before_swap).contains(&trial_flows), "{trial}");
    assert!(
        trial["shadow_only"].as_u64().unwrap() * 20 <= trial_flows,
        "{trial}"
    );
    assert!(
        lineage["trigger"]
            .as_str()
            .unwrap()
            .starts_with("10 verdicts ("),
        "{}",
        lineage["trigger"]
    );
    let (old, new) = (
        iotguard_runtime::lab::load_model(&sc.model)
            .unwrap()
            .file
            .id(),
        retrained.file.id(),
    );
    assert_eq!(lineage["parent"]["id"], old);
    // Every flow of the second day scored and archived once: the first ones by the current
    // model, the later ones by the retrained model.
    let (flows, _) = iotguard_archive::read_archive(&sc.archive).unwrap();
    let day2: Vec<&str> = flows
        .iter()
        .filter(|f| f.record.ts >= Timestamp::from_secs_nanos(1_704_153_600, 0))
        .map(|f| f.model_id.as_str())
        .collect();
    assert_eq!(day2.len(), 16_000);
    let by_old = day2.iter().filter(|m| **m == old).count();
    let by_new = day2.iter().filter(|m| **m == new).count();
    assert_eq!(by_old + by_new, 16_000);
    assert!(
        by_old > 0 && by_new > 0,
        "{by_old} by the current, {by_new} by the retrained"
    );
    assert_eq!(day2.first(), Some(&old.as_str()));
    // The shadow's trial: scored beside the current model on at least its 3,000 flows (the
    // flows between the trial's end and the swap too), one run of flows in the middle of the day.
    let shadowed: Vec<usize> = flows
        .iter()
        .filter(|f| f.record.ts >= Timestamp::from_secs_nanos(1_704_153_600, 0))
        .enumerate()
        .filter(|(_, f)| f.shadow_score.is_some())
        .map(|(i, f)| {
            assert_eq!(f.model_id, old);
            i
        })
        .collect();
    assert!(
        shadowed.len() as u64 >= trial_flows,
        "{} shadow-scored",
        shadowed.len()
    );
    assert!(shadowed.len() < 8000, "{} shadow-scored", shadowed.len());
    assert!(shadowed[0] > 0);
    assert_eq!(
        shadowed[shadowed.len() - 1] - shadowed[0] + 1,
        shadowed.len()
    );
}
