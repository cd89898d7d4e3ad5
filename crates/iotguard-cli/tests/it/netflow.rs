//! `detect --netflow`: a live NetFlow/IPFIX collector as the input. Every flow an exporter
//! sent is scored (softflowd reading the shared capture, when installed), and flows lost on the
//! way are counted, told, and make the exit status non-zero.

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use super::running::{have, Running};
use super::{ok, simulated};
use iotguard_testkit::whole_42_1;

/// Starts `detect --netflow` on a free port; returns it once it listens, with the port.
fn start(model: &str, jsonl: &str) -> (Running, u16) {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let detect = Running::start(
        &[
            "detect",
            "--model",
            model,
            "--no-alerts-db",
            "--alerts-jsonl",
            jsonl,
            "--json",
            "--netflow",
            &listen,
        ],
        "netflow: listening on udp",
    );
    (detect, port)
}

/// A NetFlow v5 datagram of `flows` records numbered from `sequence`.
fn v5(sequence: u32, flows: u16) -> Vec<u8> {
    let mut b = vec![0, 5];
    b.extend(flows.to_be_bytes());
    b.extend(60_000u32.to_be_bytes()); // uptime, ms
    b.extend(1_700_000_000u32.to_be_bytes());
    b.extend(0u32.to_be_bytes());
    b.extend(sequence.to_be_bytes());
    b.extend([0u8; 4]);
    for i in 0..flows {
        b.extend([192, 168, 1, 10, 192, 168, 1, 1]);
        b.extend([0u8; 8]); // next hop, interfaces
        b.extend(2u32.to_be_bytes()); // packets
        b.extend(120u32.to_be_bytes()); // bytes
        b.extend(50_000u32.to_be_bytes()); // first
        b.extend(50_100u32.to_be_bytes()); // last
        b.extend((40_000 + i).to_be_bytes());
        b.extend(53u16.to_be_bytes());
        b.extend([0, 0, 17, 0]);
        b.extend([0u8; 8]);
    }
    b
}

#[test]
fn netflow_loss_is_counted_told_and_fails_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let train = simulated(dir.path(), 3, 3000);
    let model = dir.path().join("model.json").display().to_string();
    ok(&["train", "--model", "logreg", "--out", &model, &train]);
    let jsonl = dir.path().join("alerts.jsonl").display().to_string();
    let (detect, port) = start(&model, &jsonl);
    let out = UdpSocket::bind("127.0.0.1:0").unwrap();
    // 2 flows numbered 0-1, 2 numbered 2-3, then 1 numbered 10: flows 4 to 9 never came.
    for d in [v5(0, 2), v5(2, 2), v5(10, 1)] {
        out.send_to(&d, ("127.0.0.1", port)).unwrap();
    }
    // And one datagram that is not NetFlow at all: rejected, counted, not fatal.
    out.send_to(b"hello", ("127.0.0.1", port)).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (code, json, err) = detect.stop();
    assert_eq!(code, Some(2), "{err}");
    let n = &json["netflow"];
    assert_eq!(
        (
            n["datagrams"].as_u64(),
            n["flows"].as_u64(),
            n["rejected"].as_u64()
        ),
        (Some(4), Some(5), Some(1)),
        "{json}"
    );
    assert_eq!(
        (n["sequence_gaps"].as_u64(), n["flows_lost"].as_u64()),
        (Some(1), Some(6)),
        "{json}"
    );
    assert_eq!(json["report"]["flows"], 5, "{json}");
    assert!(
        err.contains("sequence 10 where 4 was expected: 6 flow(s) lost on the way"),
        "{err}"
    );
    assert!(
        err.contains("6 flows and 0 datagrams lost on the way"),
        "{err}"
    );
    assert!(
        err.contains("version 26725 is not NetFlow v5, v9 or IPFIX (10)"),
        "{err}"
    );
}

#[test]
fn detect_on_softflowd_ipfix_scores_every_exported_flow() {
    let Some(data) = iotguard_testkit::shared_data("detect_on_softflowd_ipfix") else {
        return;
    };
    if !have("softflowd") {
        eprintln!("SKIPPED: softflowd is not installed (apt-get install softflowd)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let iot23 = data.join("iot23");
    let pcap = whole_42_1(&data, dir.path());
    let model = dir.path().join("model.json").display().to_string();
    ok(&[
        "train",
        "--model",
        "logreg",
        "--out",
        &model,
        &iot23
            .join("CTU-IoT-Malware-Capture-8-1.conn.log.labeled")
            .display()
            .to_string(),
    ]);
    let jsonl = dir.path().join("alerts.jsonl").display().to_string();
    let (detect, port) = start(&model, &jsonl);
    // IPFIX biflows (-b), dated by the capture's own clock (-a); no control socket.
    let sf = Command::new("softflowd")
        .args(["-d", "-b", "-a", "-v", "10", "-c", "none", "-r"])
        .arg(&pcap)
        .args(["-n", &format!("127.0.0.1:{port}"), "-p"])
        .arg(dir.path().join("softflowd.pid"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&sf.stdout);
    assert!(
        text.contains("Flows exported: 3172 (3172 records)"),
        "{text}"
    );
    std::thread::sleep(Duration::from_millis(2000));
    let (code, json, err) = detect.stop();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(json["netflow"]["flows"], 3172, "{json}");
    assert_eq!(json["netflow"]["sequence_gaps"], 0, "{json}");
    assert_eq!(json["report"]["flows"], 3172, "{json}");
    // The C&C victim raises alerts, as it does from Zeek's log of the same packets.
    let docs = std::fs::read_to_string(&jsonl).unwrap();
    assert!(
        docs.lines().any(|l| l.contains("\"ip\":\"192.168.1.197\"")),
        "{docs}"
    );
}
