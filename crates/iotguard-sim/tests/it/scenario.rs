//! The drift scenario: the first `N` flows are the unchanged network's, then cameras speak
//! QUIC and new device types appear on their own segment; time order holds throughout.

use std::collections::HashSet;
use std::net::IpAddr;

use iotguard_flow::Protocol;
use iotguard_sim::{DeviceCounts, DeviceKind, DriftScenario, SimConfig, Simulator};

const N: u64 = 20_000;

fn config() -> SimConfig {
    SimConfig::default().with_seed(5)
}

#[test]
fn before_the_change_the_flows_are_the_unchanged_networks() {
    let before = SimConfig {
        devices: DeviceCounts {
            voice_assistants: 0,
            hubs: 0,
            ..config().devices
        },
        ..config()
    };
    let plain: Vec<_> = Simulator::new(before)
        .unwrap()
        .flows()
        .take(N as usize)
        .collect();
    let s = DriftScenario::new(config(), N).unwrap();
    assert_eq!(s.change_at(), N);
    let flows: Vec<_> = s.flows().take(N as usize).collect();
    let at = s.change_time();
    // Flows sharing the change's exact time may be built after the update: compare the rest.
    let n = plain.iter().take_while(|f| f.ts < at).count();
    assert!(n + 5 >= N as usize, "{n}");
    assert_eq!(flows[..n], plain[..n]);
}

#[test]
fn after_the_change_cameras_speak_quic_and_new_devices_appear() {
    let s = DriftScenario::new(config(), N).unwrap();
    let at = s.change_time();
    let flows: Vec<_> = s.flows().take(3 * N as usize).collect();
    assert!(flows.windows(2).all(|w| w[0].ts <= w[1].ts), "time order");
    let cameras: HashSet<IpAddr> = Simulator::new(config())
        .unwrap()
        .devices()
        .iter()
        .filter(|d| d.kind == DeviceKind::Camera)
        .map(|d| IpAddr::V4(d.addr))
        .collect();
    let newcomer = |f: &iotguard_flow::FlowRecord| matches!(f.orig_h, Some(IpAddr::V4(a)) if a.octets()[..3] == [192, 168, 77]);
    let quic = |f: &iotguard_flow::FlowRecord| {
        f.orig_h.is_some_and(|h| cameras.contains(&h))
            && f.proto == Protocol::Udp
            && f.resp_p == Some(443)
    };
    let (before, after): (Vec<_>, Vec<_>) = flows.iter().partition(|f| f.ts < at);
    assert_eq!(before.iter().filter(|f| newcomer(f)).count(), 0);
    assert_eq!(before.iter().filter(|f| quic(f)).count(), 0);
    let new_flows = after.iter().filter(|f| newcomer(f)).count();
    let quic_flows = after.iter().filter(|f| quic(f)).count();
    assert!(
        new_flows * 20 >= after.len(),
        "{new_flows} of {}",
        after.len()
    );
    assert!(quic_flows > 0, "no camera QUIC flow after the change");
    // Deterministic.
    let again: Vec<_> = DriftScenario::new(config(), N)
        .unwrap()
        .flows()
        .take(3 * N as usize)
        .collect();
    assert_eq!(again, flows);
}
