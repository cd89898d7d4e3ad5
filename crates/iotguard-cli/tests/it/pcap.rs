//! Packet captures as an input: the same model on a pcap and on the conn.log Zeek made of it
//! raises alerts on the same hosts, and a capture cut inside a packet is read up to the cut and
//! said to be (exit 2).

use std::collections::BTreeSet;

use super::{iotguard, ok};

fn alerting_hosts(model: &str, input: &std::path::Path) -> (BTreeSet<String>, Option<i32>, String) {
    let out = iotguard(
        &[
            "detect",
            "--model",
            model,
            "--no-alerts-db",
            "--alerts-jsonl",
            "-",
            &input.display().to_string(),
        ],
        None,
    );
    let hosts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["source"]["ip"].as_str().unwrap().to_owned()
        })
        .collect();
    (
        hosts,
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn detect_on_a_pcap_alerts_on_the_hosts_it_does_on_zeeks_log_of_it() {
    let Some(data) = iotguard_testkit::shared_data("detect_on_a_pcap") else {
        return;
    };
    let dir = data.join("iot23");
    let work = tempfile::tempdir().unwrap();
    let model = work.path().join("model.json").display().to_string();
    // Trained on another capture (Hakai, 8-1), as a user would.
    ok(&[
        "train",
        "--model",
        "logreg",
        "--out",
        &model,
        &dir.join("CTU-IoT-Malware-Capture-8-1.conn.log.labeled")
            .display()
            .to_string(),
    ]);
    let (zeek, code, _) = alerting_hosts(
        &model,
        &dir.join("CTU-IoT-Malware-Capture-42-1.conn.log.labeled"),
    );
    assert_eq!(code, Some(0));
    let (pcap, code, err) = alerting_hosts(&model, &dir.join("CTU-IoT-Malware-Capture-42-1.pcap"));
    // The infected device. (Fitted without the simulated rows, this logreg also alerted on
    // the C&C server 185.244.25.183 as a source, on both inputs alike.)
    assert_eq!(zeek, BTreeSet::from(["192.168.1.197".to_owned()]));
    assert_eq!(pcap, zeek);
    // The file ends inside its last packet: every flow before the cut was scored, and the exit
    // code says the capture was not read to its end.
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("4426 flows")
            && err.contains("corrupt packet capture after 24484 packets at byte 2908099"),
        "{err}"
    );
}
