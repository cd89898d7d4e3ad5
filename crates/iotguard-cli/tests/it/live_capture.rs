//! `detect --interface`: live capture through libpcap on a veth pair whose other end is in a
//! network namespace, the shared capture replayed onto it with tcpreplay. Every packet sent is
//! read by the meter, none dropped, and the flows are those the same meter makes of the same
//! packets. Skipped with a visible line where namespaces cannot be made (not root, no `ip`) or
//! tcpreplay is missing.

use std::process::Command;
use std::time::Duration;

use iotguard_flow::Timestamp;
use iotguard_packets::{FlowMeter, MeterConfig};

use super::running::{have, Running};
use super::{iotguard, ok, simulated};
use iotguard_testkit::whole_42_1;

/// Runs a command; returns whether it succeeded, with its standard error when it did not.
fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A network namespace holding one end of a veth pair; the other end, `host`, stays here.
/// Both are removed when dropped, whatever the test did.
struct Veth {
    ns: String,
    host: String,
    peer: String,
}

impl Veth {
    /// Makes the namespace and the pair (addresses on both ends, IPv6 off so the host's own
    /// router solicitations do not join the capture, MTU 9000 for the capture's 2,974-byte
    /// packets), or says why not.
    fn new(tag: char) -> Result<Veth, String> {
        let id = std::process::id() % 100_000;
        let veth = Veth {
            ns: format!("iotg-live-{id}{tag}"),
            host: format!("igl{id}{tag}a"),
            peer: format!("igl{id}{tag}b"),
        };
        run(&["ip", "netns", "add", &veth.ns])?;
        let (ns, host, peer) = (veth.ns.as_str(), veth.host.as_str(), veth.peer.as_str());
        let inside = |args: &[&str]| {
            let mut all = vec!["ip", "netns", "exec", ns];
            all.extend_from_slice(args);
            run(&all)
        };
        run(&[
            "ip", "link", "add", host, "type", "veth", "peer", "name", peer,
        ])?;
        run(&["ip", "link", "set", peer, "netns", ns])?;
        run(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{host}.disable_ipv6=1"),
        ])?;
        inside(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{peer}.disable_ipv6=1"),
        ])?;
        run(&["ip", "link", "set", host, "mtu", "9000", "up"])?;
        run(&["ip", "addr", "add", "10.213.0.1/30", "dev", host])?;
        inside(&["ip", "link", "set", peer, "mtu", "9000", "up"])?;
        inside(&["ip", "addr", "add", "10.213.0.2/30", "dev", peer])?;
        Ok(veth)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end, and with it the pair.
        let _ = run(&["ip", "link", "del", &self.host]);
        let _ = run(&["ip", "netns", "del", &self.ns]);
    }
}

/// The flows the meter makes of `pcap`'s packets with every packet at one instant (a replay
/// faster than every timeout): one flow per connection key.
fn flows_without_timeouts(pcap: &std::path::Path) -> u64 {
    let mut meter = FlowMeter::new(MeterConfig::default());
    let file = std::fs::File::open(pcap).unwrap();
    iotguard_packets::read_pcap(std::io::BufReader::new(file), |p| {
        let _ = meter.push(&iotguard_packets::pcap::Packet {
            ts: Timestamp(1_700_000_000_000_000_000),
            ..p
        });
    })
    .unwrap();
    meter.finish().len() as u64
}

/// Where `name` is not possible here, says so and returns true.
// The visible skip line is the point (clippy allows printing in `#[test]` functions only).
#[allow(clippy::print_stderr)]
fn skip(name: &str, why: &str) -> bool {
    eprintln!("SKIPPED: {name}: {why}");
    true
}

#[test]
fn live_capture_on_a_veth_meters_every_replayed_packet_and_drops_none() {
    let name = "live_capture_on_a_veth";
    let Some(data) = iotguard_testkit::shared_data(name) else {
        return;
    };
    if !have("ip") && skip(name, "no `ip` command (iproute2)") {
        return;
    }
    if !have("tcpreplay")
        && skip(
            name,
            "tcpreplay is not installed (apt-get install tcpreplay)",
        )
    {
        return;
    }
    let veth = match Veth::new('r') {
        Ok(v) => v,
        Err(why) => {
            skip(
                name,
                &format!("cannot make a network namespace (root?): {why}"),
            );
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let pcap = whole_42_1(&data, dir.path());
    let train = simulated(dir.path(), 3, 3000);
    let model = dir.path().join("model.json").display().to_string();
    ok(&["train", "--model", "logreg", "--out", &model, &train]);
    let jsonl = dir.path().join("alerts.jsonl").display().to_string();
    let detect = Running::start(
        &[
            "detect",
            "--model",
            &model,
            "--interface",
            &veth.host,
            // Nothing of the capture's, only the host's own end (compiled by libpcap).
            "--bpf",
            "not host 10.213.0.1",
            "--json",
            "--no-alerts-db",
            "--alerts-jsonl",
            &jsonl,
        ],
        "capture: on ",
    );
    let replay = Command::new("ip")
        .args(["netns", "exec", &veth.ns, "tcpreplay", "--topspeed"])
        .arg(format!("--intf1={}", veth.peer))
        .arg(&pcap)
        .output()
        .unwrap();
    let told = String::from_utf8_lossy(&replay.stdout);
    assert!(
        replay.status.success(),
        "{told}{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    // "Actual: 24484 packets (2516331 bytes) sent in 0.067236 seconds"
    let actual = told
        .lines()
        .find_map(|l| l.trim().strip_prefix("Actual: "))
        .unwrap_or_else(|| panic!("no Actual line: {told}"));
    let sent: u64 = actual.split(' ').next().unwrap().parse().unwrap();
    let secs: f64 = actual
        .split(" sent in ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert_eq!(sent, 24_484, "{told}");
    assert!(told.contains("Failed packets:            0"), "{told}");
    // The replay's end, then a second for the last blocks to reach the meter.
    std::thread::sleep(Duration::from_secs(1));
    let (code, json, err) = detect.stop();
    assert_eq!(code, Some(0), "{err}");
    let c = &json["capture"];
    assert_eq!(c["dropped"], 0, "{json}");
    assert_eq!(c["if_dropped"], 0, "{json}");
    // Every packet sent passed the filter and was read by the meter:
    // 1,736 of them not IP (ARP), the rest in flows.
    assert_eq!(c["received"], sent, "{json}");
    assert_eq!(c["packets"], sent, "{json}");
    assert_eq!(c["not_ip"], 1_736, "{json}");
    assert_eq!(c["malformed"], 0, "{json}");
    assert_eq!(c["in_flows"], sent - 1_736, "{json}");
    assert_eq!(c["evicted"], 0, "{json}");
    assert_eq!(json["report"]["interrupted"], true, "{json}");
    assert!(err.contains("capture: 24484 packets passed the filter, 0 dropped by the kernel"));

    // The flows: read from the file, the capture's own 8.4 hours of timing end connections on
    // their timeouts (4,426 flows, as Zeek logs them). Replayed at top speed, the packets carry
    // the replay's clock, well inside every timeout (the shortest is 5 s), so each connection
    // key is one flow: exactly what the same meter makes of the file's packets all at one
    // instant. A slower replay lies between the two.
    let file = iotguard(
        &[
            "detect",
            "--model",
            &model,
            "--json",
            "--no-alerts-db",
            &pcap.display().to_string(),
        ],
        None,
    );
    let file: serde_json::Value = serde_json::from_slice(&file.stdout).unwrap();
    assert_eq!(file["report"]["flows"], 4_426);
    let one_instant = flows_without_timeouts(&pcap);
    assert_eq!(one_instant, 3_172);
    let live = c["flows"].as_u64().unwrap();
    assert_eq!(json["report"]["flows"], live, "{json}");
    if secs < 4.0 {
        assert_eq!(live, one_instant, "{json}");
    } else {
        assert!(
            (one_instant..=4_426).contains(&live),
            "{live} flows: {json}"
        );
    }
}

#[test]
fn a_bad_capture_filter_is_an_error_naming_the_filter() {
    let name = "a_bad_capture_filter";
    // Opening an interface takes root (or CAP_NET_RAW), before the filter is compiled.
    let veth = match Veth::new('f') {
        Ok(v) => v,
        Err(why) => {
            skip(
                name,
                &format!("cannot make a veth pair (root? iproute2?): {why}"),
            );
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let train = simulated(dir.path(), 3, 500);
    let model = dir.path().join("model.json").display().to_string();
    ok(&["train", "--model", "logreg", "--out", &model, &train]);
    let out = iotguard(
        &[
            "detect",
            "--model",
            &model,
            "--no-alerts-db",
            "--interface",
            &veth.host,
            "--bpf",
            "port port 80",
        ],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error: bad capture filter 'port port 80': "),
        "{err}"
    );
}

#[test]
fn packets_the_kernel_drops_are_counted_told_and_fail_the_exit_status() {
    let name = "packets_the_kernel_drops";
    let Some(data) = iotguard_testkit::shared_data(name) else {
        return;
    };
    if !have("tcpreplay") && skip(name, "tcpreplay is not installed") {
        return;
    }
    let veth = match Veth::new('d') {
        Ok(v) => v,
        Err(why) => {
            skip(
                name,
                &format!("cannot make a network namespace (root?): {why}"),
            );
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let pcap = whole_42_1(&data, dir.path());
    let train = simulated(dir.path(), 3, 500);
    let model = dir.path().join("model.json").display().to_string();
    ok(&["train", "--model", "logreg", "--out", &model, &train]);
    let detect = Running::start(
        &[
            "detect",
            "--model",
            &model,
            "--interface",
            &veth.host,
            "--bpf",
            "not host 10.213.0.1",
            "--json",
            "--no-alerts-db",
        ],
        "capture: on ",
    );
    // Detect stopped (SIGSTOP) while 20 copies of the capture arrive: the kernel's capture
    // buffer fills and the rest is dropped, as on a host too busy to read.
    detect.signal("STOP");
    let replay = Command::new("ip")
        .args([
            "netns",
            "exec",
            &veth.ns,
            "tcpreplay",
            "--topspeed",
            "--loop",
            "20",
        ])
        .arg(format!("--intf1={}", veth.peer))
        .arg(&pcap)
        .output()
        .unwrap();
    detect.signal("CONT");
    assert!(replay.status.success());
    std::thread::sleep(Duration::from_secs(2));
    let (code, json, err) = detect.stop();
    let c = &json["capture"];
    let dropped = c["dropped"].as_u64().unwrap();
    assert!(dropped > 0, "{json}");
    // Nothing unaccounted: every packet the kernel took is metered or counted as dropped.
    assert_eq!(
        c["packets"].as_u64().unwrap() + dropped,
        c["received"].as_u64().unwrap(),
        "{json}"
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("dropped before the meter saw them"), "{err}");
}
