//! Labels: IoT-23's vocabulary, on the right flows, in the documented proportions.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use iotguard_flow::{ConnState, FlowRecord, LabelClass, Protocol, Timestamp};
use iotguard_sim::{AttackConfig, BotFamily, SimConfig, Simulator};

use crate::{all_infected, label_of};

const DETAILED: [&str; 8] = [
    "PartOfAHorizontalPortScan",
    "Okiru",
    "C&C",
    "C&C-HeartBeat",
    "DDoS",
    "Attack",
    "FileDownload",
    "C&C-FileDownload",
];

#[test]
fn labels_are_benign_or_malicious_with_an_iot23_detailed_label() {
    for f in all_infected(1).flows().take(50_000) {
        let l = f.label.as_ref().unwrap();
        match l.class {
            LabelClass::Benign => assert_eq!((&*l.name, l.detailed.as_deref()), ("Benign", None)),
            LabelClass::Malicious => {
                assert_eq!(&*l.name, "Malicious");
                assert!(DETAILED.contains(&l.detailed.as_deref().unwrap()), "{l:?}");
            }
            LabelClass::Other => panic!("{l:?}"),
        }
    }
}

#[test]
fn every_attack_kind_shows_up_with_its_label() {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for f in all_infected(2).flows().take(100_000) {
        *seen.entry(label_of(&f).to_owned()).or_default() += 1;
    }
    for d in DETAILED {
        assert!(seen.contains_key(d), "no {d}: {seen:?}");
    }
}

#[test]
fn malicious_flows_come_from_infected_devices_after_infection() {
    let sim = all_infected(3);
    let infected: HashMap<IpAddr, Timestamp> = sim
        .devices()
        .iter()
        .filter_map(|d| d.infection.map(|i| (IpAddr::V4(d.addr), i.at)))
        .collect();
    assert_eq!(infected.len(), sim.devices().len());
    let mut benign_from_infected = 0;
    for f in sim.flows().take(50_000) {
        let from = f.orig_h.unwrap();
        if f.label.as_ref().unwrap().class == LabelClass::Malicious {
            let at = infected[&from];
            assert!(f.ts >= at, "{f:?} before infection at {at:?}");
        } else if infected.contains_key(&from) {
            benign_from_infected += 1;
        }
    }
    // Infected devices keep their benign habits.
    assert!(benign_from_infected > 5_000);
}

#[test]
fn without_attacks_every_flow_is_benign() {
    let no_infections = SimConfig::default().with_seed(4).without_attacks();
    let mut zero_intensity = SimConfig::default().with_seed(4);
    zero_intensity.attacks.intensity = 0.0;
    for config in [no_infections, zero_intensity] {
        let sim = Simulator::new(config).unwrap();
        let flows = sim.flows().take(30_000);
        assert!(flows.into_iter().all(|f| label_of(&f) == "Benign"));
    }
    let sim = Simulator::new(SimConfig::default().without_attacks()).unwrap();
    assert!(sim.devices().iter().all(|d| d.infection.is_none()));
}

#[test]
fn a_kind_at_zero_is_off() {
    let mut c = SimConfig::default().with_seed(5);
    c.attacks.infected_fraction = 1.0;
    c.attacks.mix.ddos = 0.0;
    c.attacks.mix.scan = 0.0;
    let sim = Simulator::new(c).unwrap();
    let mut malicious = 0;
    for f in sim.flows().take(50_000) {
        let l = label_of(&f);
        assert!(
            !["DDoS", "PartOfAHorizontalPortScan", "Okiru"].contains(&l),
            "{f:?}"
        );
        malicious += usize::from(l != "Benign");
    }
    assert!(malicious > 1_000);
}

/// The shares documented in the crate docs, over 200k flows at the default settings.
#[test]
fn label_mix_at_defaults_is_within_the_documented_ranges() {
    for seed in [0] {
        let sim = Simulator::new(SimConfig::default().with_seed(seed)).unwrap();
        let mut counts: BTreeMap<&str, f64> = BTreeMap::new();
        let n = 200_000;
        for f in sim.flows().take(n) {
            let group = match label_of(&f) {
                "Benign" => "benign",
                "PartOfAHorizontalPortScan" | "Okiru" => "scan",
                "DDoS" => "ddos",
                "C&C" | "C&C-HeartBeat" => "cnc",
                "Attack" => "attack",
                _ => "download",
            };
            *counts.entry(group).or_default() += 100.0 / n as f64;
        }
        let share = |g| counts.get(g).copied().unwrap_or(0.0);
        for (group, lo, hi) in [
            ("benign", 50.0, 75.0),
            ("scan", 10.0, 32.0),
            ("ddos", 3.0, 25.0),
            ("cnc", 1.0, 7.0),
            ("attack", 0.0, 6.0),
            ("download", 0.0, 0.1),
        ] {
            let s = share(group);
            assert!(
                (lo..=hi).contains(&s),
                "seed {seed}: {group} {s:.2}% {counts:?}"
            );
        }
    }
}

#[test]
fn more_infections_and_intensity_mean_more_attacks() {
    let share = |attacks: AttackConfig| {
        let sim = Simulator::new(SimConfig {
            attacks,
            ..SimConfig::default()
        })
        .unwrap();
        let n = 30_000;
        sim.flows()
            .take(n)
            .filter(|f| label_of(f) != "Benign")
            .count() as f64
            / n as f64
    };
    let base = share(AttackConfig::default());
    let wide = share(AttackConfig {
        infected_fraction: 0.5,
        ..AttackConfig::default()
    });
    let hard = share(AttackConfig {
        intensity: 4.0,
        ..AttackConfig::default()
    });
    assert!(wide > base && hard > base, "{base} {wide} {hard}");
}

#[test]
fn mirai_scans_hit_telnet_ports_with_s0() {
    let sim = all_infected(6);
    let mirai = sim
        .devices()
        .iter()
        .filter(|d| d.infection.is_some_and(|i| i.family == BotFamily::Mirai))
        .count();
    assert!(mirai > 0);
    let (mut scans, mut okiru) = (0, 0);
    let mut ports: BTreeMap<u16, usize> = BTreeMap::new();
    for f in sim.flows().take(80_000) {
        match label_of(&f) {
            "PartOfAHorizontalPortScan" => {
                scans += 1;
                *ports.entry(f.resp_p.unwrap()).or_default() += 1;
                check_scan(&f);
            }
            "Okiru" => {
                okiru += 1;
                assert_eq!(f.resp_p, Some(37215));
                check_scan(&f);
            }
            _ => {}
        }
    }
    assert!(scans > 1_000 && okiru > 100, "{scans} {okiru}");
    assert_eq!(ports.keys().copied().collect::<Vec<_>>(), [23, 2323]);
    assert!(ports[&23] > 5 * ports[&2323], "{ports:?}");
}

/// A raw SYN scan probe: unanswered, one or two 40-byte packets to a public address.
fn check_scan(f: &FlowRecord) {
    assert_eq!(f.proto, Protocol::Tcp);
    assert_eq!(f.conn_state, Some(ConnState::S0));
    assert_eq!(f.history.as_deref(), Some("S"));
    let pkts = f.orig_pkts.unwrap();
    assert!(pkts == 1 || pkts == 2);
    assert_eq!(f.orig_ip_bytes, Some(40 * pkts));
    assert_eq!((f.resp_pkts, f.resp_ip_bytes), (Some(0), Some(0)));
    assert_eq!(f.local_resp, Some(false));
    match f.resp_h.unwrap() {
        IpAddr::V4(a) => assert!(!a.is_private() && !a.is_loopback() && !a.is_multicast()),
        IpAddr::V6(a) => panic!("scan of {a}"),
    }
}

#[test]
fn floods_hit_one_victim_per_episode_after_a_command() {
    let mut c = SimConfig::default().with_seed(7);
    c.attacks.infected_fraction = 0.3;
    let sim = Simulator::new(c).unwrap();
    let flows: Vec<FlowRecord> = sim.flows().take(120_000).collect();
    // Group floods into episodes: same bot and victim, gaps under a minute.
    struct Episode {
        bot: IpAddr,
        victim: IpAddr,
        first: Timestamp,
        last: Timestamp,
        flows: usize,
    }
    let mut episodes: Vec<Episode> = Vec::new();
    for f in flows.iter().filter(|f| label_of(f) == "DDoS") {
        let (bot, victim) = (f.orig_h.unwrap(), f.resp_h.unwrap());
        let open = episodes
            .iter_mut()
            .rev()
            .find(|e| e.bot == bot && e.victim == victim && f.ts.0 - e.last.0 < 60_000_000_000);
        match open {
            Some(e) => {
                e.last = f.ts;
                e.flows += 1;
            }
            None => episodes.push(Episode {
                bot,
                victim,
                first: f.ts,
                last: f.ts,
                flows: 1,
            }),
        }
    }
    let big: Vec<&Episode> = episodes.iter().filter(|e| e.flows > 200).collect();
    assert!(big.len() >= 3, "{} episodes", episodes.len());
    // Nearly all floods have their own victim and none is a local address.
    assert!(episodes.len() < 2 * big.len() + 5);
    assert!(episodes
        .iter()
        .all(|e| matches!(e.victim, IpAddr::V4(a) if !a.is_private())));
    // The bot hears from its C&C server (or tries to) up to 10 s before the flood starts.
    let commanded = big
        .iter()
        .filter(|e| {
            flows.iter().any(|g| {
                g.orig_h == Some(e.bot)
                    && label_of(g).starts_with("C&C")
                    && g.ts <= e.first
                    && e.first.0 - g.ts.0 <= 10_000_000_000
            })
        })
        .count();
    assert!(
        commanded * 10 >= big.len() * 8,
        "{commanded} of {}",
        big.len()
    );
}
