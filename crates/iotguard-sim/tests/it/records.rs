//! The records look like Zeek's: every field a conn log has, consistent with each other.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use iotguard_flow::{ConnState, Protocol};
use iotguard_sim::{DeviceCounts, DeviceKind, Error, SimConfig, Simulator};

use crate::{all_infected, busy, label_of};

#[test]
fn every_record_has_the_conn_log_fields() {
    let mut uids = HashSet::new();
    for f in all_infected(1).flows().take(50_000) {
        let uid = f.uid.as_deref().unwrap();
        // Mostly 18 characters, sometimes fewer (leading zeros are dropped).
        assert!(
            uid.starts_with('C') && (12..=18).contains(&uid.len()),
            "{uid}"
        );
        assert!(uid.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(uids.insert(uid.to_owned()), "duplicate uid {uid}");
        assert!(f.orig_h.is_some() && f.resp_h.is_some());
        assert!(f.orig_p.is_some() && f.resp_p.is_some());
        assert!(matches!(f.proto, Protocol::Tcp | Protocol::Udp));
        assert!(f.conn_state.is_some() && f.history.is_some());
        assert!(f.local_orig.is_some() && f.local_resp.is_some());
        assert_eq!(f.missed_bytes.map(|m| m % 1448), Some(0));
        assert!(f.orig_pkts.is_some() && f.resp_pkts.is_some());
        assert!(f.orig_ip_bytes.is_some() && f.resp_ip_bytes.is_some());
        assert_eq!(f.sensor.as_deref(), Some("iotguard-sim"));
        assert!(f.label.is_some());
        // Zeek logs times to the microsecond.
        assert_eq!(f.ts.0 % 1000, 0);
        assert_eq!(f.duration.map_or(0, |d| d.0 % 1000), 0);
    }
}

#[test]
fn counts_sizes_and_states_agree() {
    for f in all_infected(2).flows().take(50_000) {
        let (op, rp) = (f.orig_pkts.unwrap(), f.resp_pkts.unwrap());
        // Zeek leaves duration and payload unset for a single packet.
        let single = op + rp <= 1;
        assert_eq!(f.duration.is_none(), single, "{f:?}");
        assert_eq!(f.orig_bytes.is_none(), single);
        assert_eq!(f.resp_bytes.is_none(), single);
        // IP bytes are payload plus 20 to 60 header bytes per packet (a lone packet's payload
        // is not logged, but its IP bytes are).
        let (oip, rip) = (f.orig_ip_bytes.unwrap(), f.resp_ip_bytes.unwrap());
        if single {
            assert!(
                oip >= 20 * op && oip <= 1500 * op && rip <= 1500 * rp,
                "{f:?}"
            );
        } else {
            let (ob, rb) = (f.orig_bytes.unwrap(), f.resp_bytes.unwrap());
            assert!(oip >= ob + 20 * op && oip <= ob + 60 * op, "{f:?}");
            assert!(rip >= rb + 20 * rp && rip <= rb + 60 * rp, "{f:?}");
            assert!(ob == 0 || op > 0);
            assert!(rb == 0 || rp > 0);
        }
        let h = f.history.as_deref().unwrap();
        let state = f.conn_state.clone().unwrap();
        match (&f.proto, state) {
            (Protocol::Tcp, ConnState::S0) => assert_eq!(h, "S"),
            (Protocol::Tcp, ConnState::REJ) => assert_eq!(h, "Sr"),
            (Protocol::Tcp, ConnState::SF) => {
                assert!(
                    h.starts_with("Sh") && h.contains('F') && h.contains('f'),
                    "{h}"
                )
            }
            (Protocol::Tcp, ConnState::RSTO) => assert!(h.starts_with("Sh") && h.contains('R')),
            (Protocol::Tcp, ConnState::RSTR) => assert!(h.starts_with("Sh") && h.contains('r')),
            (Protocol::Tcp, ConnState::S1 | ConnState::S3) => assert!(h.starts_with("Sh")),
            (Protocol::Tcp, ConnState::OTH) => assert!(!h.contains('S'), "{h}"),
            (Protocol::Udp, ConnState::S0) => assert_eq!((h, rp), ("D", 0)),
            (Protocol::Udp, ConnState::SF) => assert_eq!(h, "Dd"),
            (p, s) => panic!("unexpected {p} {s}"),
        }
    }
}

#[test]
fn infrastructure_flows_look_like_zeeks() {
    let sim = Simulator::new(SimConfig::default().with_seed(3).without_attacks()).unwrap();
    let gateway = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1));
    let (mut dns, mut ntp, mut dhcp_broadcast, mut mdns, mut ssdp, mut https) = (0, 0, 0, 0, 0, 0);
    for f in sim.flows().take(60_000) {
        let service = f.service.as_deref();
        match (f.proto.clone(), f.resp_p.unwrap()) {
            (Protocol::Udp, 53) => {
                dns += 1;
                assert_eq!((f.resp_h, service), (Some(gateway), Some("dns")));
                assert_eq!((f.local_orig, f.local_resp), (Some(true), Some(true)));
            }
            (Protocol::Udp, 123) => {
                ntp += 1;
                if f.conn_state == Some(ConnState::SF) {
                    assert_eq!((f.orig_bytes, f.resp_bytes), (Some(48), Some(48)));
                    assert_eq!(f.orig_ip_bytes, Some(76));
                }
                assert_eq!(f.local_resp, Some(false));
            }
            (Protocol::Udp, 67) => {
                assert_eq!((f.orig_p, service), (Some(68), Some("dhcp")));
                if f.orig_h == Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)) {
                    dhcp_broadcast += 1;
                    assert_eq!(f.resp_h, Some(IpAddr::V4(Ipv4Addr::BROADCAST)));
                    assert_eq!((f.local_orig, f.local_resp), (Some(false), Some(false)));
                }
            }
            (Protocol::Udp, 5353) => {
                mdns += 1;
                assert_eq!(
                    (service, f.conn_state.clone()),
                    (Some("dns"), Some(ConnState::S0))
                );
                assert!(f.resp_h.unwrap().is_multicast());
            }
            (Protocol::Udp, 1900) => {
                ssdp += 1;
                assert_eq!(
                    f.resp_h,
                    Some(IpAddr::V4(Ipv4Addr::new(239, 255, 255, 250)))
                );
            }
            (Protocol::Tcp, 443) if service == Some("ssl") => https += 1,
            _ => {}
        }
    }
    for (what, n) in [
        ("dns", dns),
        ("ntp", ntp),
        ("dhcp broadcast", dhcp_broadcast),
        ("mdns", mdns),
        ("ssdp", ssdp),
        ("https", https),
    ] {
        assert!(n > 100, "{what}: {n}");
    }
}

#[test]
fn cameras_upload_far_more_than_they_receive() {
    let sim = Simulator::new(SimConfig::default().with_seed(8).without_attacks()).unwrap();
    let cameras: HashSet<IpAddr> = sim
        .devices()
        .iter()
        .filter(|d| d.kind == DeviceKind::Camera)
        .map(|d| IpAddr::V4(d.addr))
        .collect();
    let long_uploads = sim
        .flows()
        .take(100_000)
        .filter(|f| cameras.contains(&f.orig_h.unwrap()))
        .filter(|f| f.duration.is_some_and(|d| d.as_secs_f64() > 300.0))
        .filter(|f| {
            f.orig_bytes.unwrap() > 20 * f.resp_bytes.unwrap() && f.orig_bytes > Some(5_000_000)
        })
        .count();
    assert!(long_uploads > 50, "{long_uploads}");
}

#[test]
fn local_flags_follow_the_configured_network() {
    let c = SimConfig {
        local_network: "10.20.0.0/16".to_owned(),
        ..SimConfig::default().with_devices(500)
    };
    let sim = Simulator::new(c).unwrap();
    let inside = |a: IpAddr| matches!(a, IpAddr::V4(v) if v.octets()[..2] == [10, 20]);
    let addrs: HashSet<Ipv4Addr> = sim.devices().iter().map(|d| d.addr).collect();
    assert_eq!(addrs.len(), 500);
    assert!(addrs.iter().all(|a| inside(IpAddr::V4(*a))));
    for f in sim.flows().take(30_000) {
        assert_eq!(f.local_orig, Some(inside(f.orig_h.unwrap())), "{f:?}");
        assert_eq!(f.local_resp, Some(inside(f.resp_h.unwrap())), "{f:?}");
    }
}

#[test]
fn devices_match_the_config() {
    let c = SimConfig {
        devices: DeviceCounts {
            cameras: 2,
            smart_plugs: 0,
            thermostats: 1,
            voice_assistants: 0,
            hubs: 3,
        },
        sensor: None,
        ..SimConfig::default()
    };
    let sim = Simulator::new(c).unwrap();
    let count = |k| sim.devices().iter().filter(|d| d.kind == k).count();
    assert_eq!(
        [DeviceKind::Camera, DeviceKind::Thermostat, DeviceKind::Hub].map(count),
        [2, 1, 3]
    );
    assert_eq!(
        sim.devices()
            .iter()
            .filter(|d| d.infection.is_some())
            .count(),
        1
    );
    for f in sim.flows().take(5_000) {
        assert!(f.sensor.is_none());
        assert!(!label_of(&f).is_empty());
    }
}

#[test]
fn one_device_networks_work() {
    for kind in 0..5 {
        let mut counts = [0; 5];
        counts[kind] = 1;
        let devices = DeviceCounts {
            cameras: counts[0],
            smart_plugs: counts[1],
            thermostats: counts[2],
            voice_assistants: counts[3],
            hubs: counts[4],
        };
        let sim = Simulator::new(SimConfig {
            devices,
            ..SimConfig::default()
        })
        .unwrap();
        assert_eq!(sim.flows().take(2_000).count(), 2_000);
    }
}

#[test]
fn bad_configs_are_refused_with_every_problem() {
    let mut c = SimConfig::default().with_devices(1_000);
    c.attacks.intensity = -1.0;
    let Err(Error::InvalidConfig(problems)) = Simulator::new(c) else {
        panic!("accepted");
    };
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(Simulator::new(SimConfig::default().with_devices(0)).is_err());
}

#[test]
fn busy_networks_have_short_chunks() {
    let small = Simulator::new(SimConfig::default()).unwrap();
    assert!(busy(0).chunk_duration() < small.chunk_duration());
    let big = Simulator::new(SimConfig {
        local_network: "10.0.0.0/8".to_owned(),
        ..SimConfig::default().with_devices(20_000)
    })
    .unwrap();
    assert_eq!(big.chunk_duration().as_secs_f64(), 64.0);
    let chunk = big.chunk(3);
    assert!(chunk.len() > 20_000, "{}", chunk.len());
}

#[test]
fn voice_requests_follow_the_time_of_day() {
    let c = SimConfig {
        devices: DeviceCounts {
            voice_assistants: 5,
            ..DeviceCounts::mix(0)
        },
        ..SimConfig::default().without_attacks()
    };
    let sim = Simulator::new(c).unwrap();
    let mut by_hour = [0u32; 24];
    for f in sim.flows().take(60_000) {
        let request = f.resp_p == Some(443)
            && f.duration.is_some_and(|d| d.as_secs_f64() < 60.0)
            && f.orig_bytes.is_some_and(|b| b > 1_500);
        if request {
            by_hour[(f.ts.secs_nanos().0.rem_euclid(86_400) / 3600) as usize] += 1;
        }
    }
    let evening = by_hour[18] + by_hour[19] + by_hour[20];
    let night = by_hour[2] + by_hour[3] + by_hour[4];
    assert!(evening > 5 * night.max(1), "{by_hour:?}");
}
