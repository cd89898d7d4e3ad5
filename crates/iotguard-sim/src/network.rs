//! The simulated network: its devices, their addresses and habits, the clouds they talk to,
//! and the botnet that infects some of them.
//!
//! Everything here is drawn once from the seed (stream `TOPOLOGY`) when the simulator is
//! built, and is then shared read-only by every chunk and thread.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use iotguard_flow::Timestamp;

use crate::config::{parse_cidr, Error, Ipv4Net, SimConfig, FIRST_DEVICE_OFFSET};
use crate::rng::{stream, Rand};

/// Microseconds per second: simulated times are kept in whole microseconds, as Zeek logs them.
pub(crate) const SEC: i64 = 1_000_000;

/// The kind of an IoT device, which decides its benign habits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceKind {
    /// An IP camera.
    Camera,
    /// A smart plug.
    SmartPlug,
    /// A thermostat.
    Thermostat,
    /// A voice assistant (smart speaker).
    VoiceAssistant,
    /// A hub or bridge.
    Hub,
}

impl DeviceKind {
    /// Returns the kind's name in snake case (`smart_plug`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Camera => "camera",
            DeviceKind::SmartPlug => "smart_plug",
            DeviceKind::Thermostat => "thermostat",
            DeviceKind::VoiceAssistant => "voice_assistant",
            DeviceKind::Hub => "hub",
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The malware family of an infected device, which decides what its scans look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BotFamily {
    /// Mirai: telnet SYN scans of 23 and 2323, labeled `PartOfAHorizontalPortScan`.
    Mirai,
    /// Okiru (a Mirai variant): SYN scans of 37215 (Huawei HG532), labeled `Okiru`.
    Okiru,
}

/// One simulated device (ground truth, for dashboards and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// What the device is.
    pub kind: DeviceKind,
    /// Its address in the local network.
    pub addr: Ipv4Addr,
    /// When and by what it gets infected; `None` for a device that stays clean.
    pub infection: Option<Infection>,
}

/// When and by what a device gets infected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Infection {
    /// The time of infection: from then on the device also attacks.
    pub at: Timestamp,
    /// The malware family.
    pub family: BotFamily,
}

/// When a process fires.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Timing {
    /// At `phase + k * period`, each late by up to `jitter` (all in microseconds).
    Periodic {
        period: i64,
        phase: i64,
        jitter: i64,
    },
    /// As a Poisson process with this mean gap in microseconds.
    Poisson { mean_gap: f64 },
    /// As a Poisson process with this mean gap in microseconds over a day, busier in the
    /// morning and evening and quiet at night ([`DAILY_ACTIVITY`], in UTC).
    Diurnal { mean_gap: f64 },
}

/// How busy people at home are in each hour of the day, relative to the daily mean.
pub(crate) const DAILY_ACTIVITY: [f64; 24] = {
    const RAW: [f64; 24] = [
        0.15, 0.1, 0.1, 0.1, 0.1, 0.2, 0.6, 1.4, 1.6, 1.0, 0.8, 0.8, //
        1.0, 0.9, 0.8, 0.9, 1.1, 1.4, 1.8, 2.0, 1.9, 1.5, 0.9, 0.4,
    ];
    let mut sum = 0.0;
    let mut i = 0;
    while i < 24 {
        sum += RAW[i];
        i += 1;
    }
    let mut out = RAW;
    let mut i = 0;
    while i < 24 {
        out[i] = RAW[i] * 24.0 / sum;
        i += 1;
    }
    out
};

/// The busiest hour's activity in [`DAILY_ACTIVITY`].
pub(crate) const PEAK_ACTIVITY: f64 = DAILY_ACTIVITY[19];

/// A benign habit: what a device does, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Habit {
    Dns,
    Ntp,
    Dhcp,
    Noise,
    Firmware,
    Mdns,
    Ssdp,
    CameraStream,
    CameraClip,
    PlugKeepalive,
    PlugUdp,
    ThermostatPoll,
    Weather,
    AssistantRequest,
    AssistantSession,
    AssistantCheckin,
    HubLocal,
    HubCloud,
}

/// One benign process of one device.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Process {
    pub(crate) device: u32,
    pub(crate) habit: Habit,
    pub(crate) timing: Timing,
}

/// What the simulator needs to know about a device beyond [`Device`].
#[derive(Clone, Debug)]
pub(crate) struct Traits {
    /// IPv6 link-local address (for mDNS over IPv6).
    pub(crate) ll6: Ipv6Addr,
    /// Whether the device runs Linux (TCP timestamps, Linux ephemeral ports, NTP from port
    /// 123) rather than an embedded stack.
    pub(crate) linux: bool,
    /// The vendor cloud server the device mostly talks to.
    pub(crate) cloud: Ipv4Addr,
    /// Camera upload bit rate, bits per second.
    pub(crate) bitrate: f64,
    /// Index into `Network::bots` for an infected device.
    pub(crate) bot: Option<u32>,
}

/// An infected device's fixed attack parameters.
#[derive(Clone, Debug)]
pub(crate) struct Bot {
    pub(crate) device: u32,
    pub(crate) family: BotFamily,
    /// Infection time, microseconds after the start.
    pub(crate) infected_at: i64,
    /// Heartbeat period and phase, microseconds.
    pub(crate) heartbeat_period: i64,
    pub(crate) heartbeat_phase: i64,
}

/// The botnet's servers (shared by every bot, as in a real campaign).
#[derive(Clone, Debug)]
pub(crate) struct Botnet {
    pub(crate) cnc: Ipv4Addr,
    pub(crate) cnc_port: u16,
    pub(crate) download: Ipv4Addr,
    pub(crate) drop: Ipv4Addr,
    pub(crate) drop_port: u16,
}

/// Servers on the Internet that benign devices use.
#[derive(Clone, Debug)]
pub(crate) struct Clouds {
    pub(crate) ntp: Vec<Ipv4Addr>,
    pub(crate) firmware: Vec<Ipv4Addr>,
    pub(crate) weather: Vec<Ipv4Addr>,
    pub(crate) assistant: Vec<Ipv4Addr>,
}

/// Effective per-kind attack weights: `intensity * mix.kind`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Weights {
    pub(crate) scan: f64,
    pub(crate) cnc: f64,
    pub(crate) ddos: f64,
    pub(crate) brute: f64,
    pub(crate) exfil: f64,
    pub(crate) download: f64,
}

/// The whole simulated network, built once from the config.
#[derive(Debug)]
pub(crate) struct Network {
    pub(crate) config: SimConfig,
    pub(crate) seed: u64,
    /// The start time in nanoseconds since the epoch.
    pub(crate) start_ns: i64,
    pub(crate) net: Ipv4Net,
    /// Microseconds from midnight UTC to the start.
    pub(crate) day_offset_us: i64,
    pub(crate) gateway: Ipv4Addr,
    pub(crate) devices: Vec<Device>,
    pub(crate) traits: Vec<Traits>,
    pub(crate) processes: Vec<Process>,
    /// Devices a hub polls on the LAN (everything but hubs).
    pub(crate) lan_targets: Vec<u32>,
    pub(crate) bots: Vec<Bot>,
    pub(crate) botnet: Botnet,
    pub(crate) clouds: Clouds,
    pub(crate) weights: Weights,
    /// The length of a chunk in microseconds.
    pub(crate) chunk_us: i64,
}

/// First octets of cloud providers' address space (AWS, GCP, Azure, CDNs).
const CLOUD_OCTETS: &[u8] = &[3, 13, 18, 34, 35, 40, 52, 54, 104, 151];
/// First octets of NTP pool servers (mostly European hosting).
const NTP_OCTETS: &[u8] = &[45, 77, 82, 95, 147, 162, 193, 212];
/// First octets of cheap VPS hosting, where botnets keep their servers.
const VPS_OCTETS: &[u8] = &[5, 31, 45, 46, 80, 89, 91, 94, 176, 185, 193, 194, 195];

impl Network {
    /// Validates the config and draws the network.
    pub(crate) fn build(config: SimConfig) -> Result<Network, Error> {
        config.validate()?;
        let net = parse_cidr(&config.local_network).map_err(|e| Error::InvalidConfig(vec![e]))?;
        let seed = config.seed;
        let mut r = Rand::new(seed, stream::TOPOLOGY, 0);

        // Device kinds in config order, then shuffled so addresses do not group by kind.
        let c = &config.devices;
        let mut kinds = Vec::with_capacity(c.total() as usize);
        for (kind, n) in [
            (DeviceKind::Camera, c.cameras),
            (DeviceKind::SmartPlug, c.smart_plugs),
            (DeviceKind::Thermostat, c.thermostats),
            (DeviceKind::VoiceAssistant, c.voice_assistants),
            (DeviceKind::Hub, c.hubs),
        ] {
            kinds.extend(std::iter::repeat_n(kind, n as usize));
        }
        for i in (1..kinds.len()).rev() {
            let j = r.below(i as u64 + 1) as usize;
            kinds.swap(i, j);
        }

        let clouds = Clouds {
            ntp: (0..6).map(|_| cloud_addr(&mut r, NTP_OCTETS)).collect(),
            firmware: (0..3).map(|_| cloud_addr(&mut r, CLOUD_OCTETS)).collect(),
            weather: (0..2).map(|_| cloud_addr(&mut r, CLOUD_OCTETS)).collect(),
            assistant: (0..8).map(|_| cloud_addr(&mut r, CLOUD_OCTETS)).collect(),
        };
        // Two vendors per kind, two servers each.
        let vendor_clouds: Vec<Ipv4Addr> = (0..5 * 4)
            .map(|_| cloud_addr(&mut r, CLOUD_OCTETS))
            .collect();
        let botnet = Botnet {
            cnc: cloud_addr(&mut r, VPS_OCTETS),
            cnc_port: r.pick(&[23, 6667, 45, 50, 443, 8080]),
            download: cloud_addr(&mut r, VPS_OCTETS),
            drop: cloud_addr(&mut r, VPS_OCTETS),
            drop_port: r.pick(&[443, 8443, 4444, 9001]),
        };

        let mut devices = Vec::with_capacity(kinds.len());
        let mut traits = Vec::with_capacity(kinds.len());
        for (i, &kind) in kinds.iter().enumerate() {
            let addr = net.host(FIRST_DEVICE_OFFSET + i as u32);
            let linux = match kind {
                DeviceKind::SmartPlug => false,
                DeviceKind::Thermostat => r.chance(0.5),
                _ => true,
            };
            let vendor = kind as usize * 4 + r.below(2) as usize * 2;
            let cloud = vendor_clouds[vendor + r.below(2) as usize];
            let ll6 =
                Ipv6Addr::from((0xfe80u128 << 112) | u128::from(r.u64() & 0xfdff_ffff_ffff_ffff));
            devices.push(Device {
                kind,
                addr,
                infection: None,
            });
            traits.push(Traits {
                ll6,
                linux,
                cloud,
                bitrate: r.uniform(3e5, 2e6),
                bot: None,
            });
        }

        let lan_targets: Vec<u32> = (0..devices.len() as u32)
            .filter(|&i| devices[i as usize].kind != DeviceKind::Hub)
            .collect();
        let mut processes = Vec::new();
        for (i, d) in devices.iter().enumerate() {
            habits(
                &mut r,
                i as u32,
                d.kind,
                !lan_targets.is_empty(),
                &mut processes,
            );
        }

        let weights = weights(&config);
        let bots = infect(&mut r, &config, &mut devices, &mut traits);
        let start_ns = config.start_unix_secs * 1_000_000_000;
        let mut network = Network {
            gateway: net.host(1),
            net,
            day_offset_us: config.start_unix_secs.rem_euclid(86_400) * SEC,
            seed,
            start_ns,
            devices,
            traits,
            processes,
            lan_targets,
            bots,
            botnet,
            clouds,
            weights,
            chunk_us: 0,
            config,
        };
        network.chunk_us = network.chunk_len_us();
        Ok(network)
    }

    /// Returns whether an IPv4 address (as a number) is in the local network.
    pub(crate) fn is_local(&self, addr: u32) -> bool {
        self.net.contains(addr)
    }

    /// Picks the chunk length: about 16k flows per chunk at the expected rate, a power of two
    /// seconds between 64 s (longer than any burst) and 16384 s.
    fn chunk_len_us(&self) -> i64 {
        let benign: f64 = self
            .processes
            .iter()
            .map(|p| match p.timing {
                Timing::Periodic { period, .. } => SEC as f64 / period as f64,
                Timing::Poisson { mean_gap } | Timing::Diurnal { mean_gap } => {
                    SEC as f64 / mean_gap
                }
            })
            .sum();
        let w = self.weights;
        let per_bot = 0.06 * w.scan + 0.055 * w.ddos + 0.017 * w.cnc + 0.013 * w.brute;
        let rate = 1.3 * benign + self.bots.len() as f64 * per_bot;
        let secs = (16_384.0 / rate.max(1e-3)).clamp(64.0, 16_384.0) as u64;
        secs.next_power_of_two().min(16_384) as i64 * SEC
    }
}

/// Draws a server address in one of the given /8s, avoiding reserved space.
fn cloud_addr(r: &mut Rand, octets: &[u8]) -> Ipv4Addr {
    loop {
        let a = (u32::from(r.pick(octets)) << 24) | (r.u32() & 0x00ff_ffff);
        if is_routable(a) && a & 0xff != 0 && a & 0xff != 255 {
            return Ipv4Addr::from(a);
        }
    }
}

/// Returns whether an address is globally routable unicast (not private, loopback,
/// link-local, CGNAT, documentation, benchmarking, multicast or reserved).
pub(crate) fn is_routable(a: u32) -> bool {
    let o = a >> 24;
    let in_net = |base: u32, len: u32| a >> (32 - len) == base >> (32 - len);
    !(o == 0
        || o == 10
        || o == 127
        || o >= 224
        || in_net(0x6440_0000, 10) // 100.64/10
        || in_net(0xa9fe_0000, 16) // 169.254/16
        || in_net(0xac10_0000, 12) // 172.16/12
        || in_net(0xc000_0000, 24) // 192.0.0/24
        || in_net(0xc000_0200, 24) // 192.0.2/24
        || in_net(0xc058_6300, 24) // 192.88.99/24
        || in_net(0xc0a8_0000, 16) // 192.168/16
        || in_net(0xc612_0000, 15) // 198.18/15
        || in_net(0xc633_6400, 24) // 198.51.100/24
        || in_net(0xcb00_7100, 24)) // 203.0.113/24
}

/// Returns a random scan target as Mirai picks them: routable, and outside the /8s its source
/// code skips (GE, HP, the US Postal Service and the Department of Defense).
pub(crate) fn scan_target(r: &mut Rand) -> Ipv4Addr {
    const SKIPPED: &[u32] = &[
        3, 6, 7, 11, 15, 16, 21, 22, 26, 28, 29, 30, 33, 55, 56, 214, 215,
    ];
    loop {
        let a = r.u32();
        if is_routable(a) && !SKIPPED.contains(&(a >> 24)) {
            return Ipv4Addr::from(a);
        }
    }
}

/// Returns a random routable address (a flood victim, a brute-forced server).
pub(crate) fn public_addr(r: &mut Rand) -> Ipv4Addr {
    loop {
        let a = r.u32();
        if is_routable(a) {
            return Ipv4Addr::from(a);
        }
    }
}

fn periodic(r: &mut Rand, lo_secs: f64, hi_secs: f64, jitter_frac: f64) -> Timing {
    let period = (r.uniform(lo_secs, hi_secs) * SEC as f64) as i64;
    Timing::Periodic {
        period,
        phase: r.below(period as u64) as i64,
        // Late by at most 30 s, so no event strays far from its chunk.
        jitter: ((period as f64 * jitter_frac) as i64).min(30 * SEC),
    }
}

fn poisson(mean_secs: f64) -> Timing {
    Timing::Poisson {
        mean_gap: mean_secs * SEC as f64,
    }
}

fn diurnal(mean_secs: f64) -> Timing {
    Timing::Diurnal {
        mean_gap: mean_secs * SEC as f64,
    }
}

/// Appends a device's benign processes. Mean gaps and periods are in seconds.
fn habits(r: &mut Rand, device: u32, kind: DeviceKind, has_lan: bool, out: &mut Vec<Process>) {
    let mut add = |habit, timing| {
        out.push(Process {
            device,
            habit,
            timing,
        })
    };
    let dns_gap = match kind {
        DeviceKind::Camera => 180.0,
        DeviceKind::SmartPlug => 600.0,
        DeviceKind::Thermostat => 300.0,
        DeviceKind::VoiceAssistant => 90.0,
        DeviceKind::Hub => 40.0,
    };
    add(Habit::Dns, poisson(dns_gap));
    let ntp = if kind == DeviceKind::SmartPlug {
        periodic(r, 3500.0, 3700.0, 0.001)
    } else {
        periodic(r, 1000.0, 2100.0, 0.001)
    };
    add(Habit::Ntp, ntp);
    add(Habit::Dhcp, periodic(r, 1800.0, 7200.0, 0.01));
    add(Habit::Noise, poisson(3600.0));
    add(Habit::Firmware, poisson(3.0 * 86_400.0));
    match kind {
        DeviceKind::Camera => {
            add(Habit::CameraStream, periodic(r, 600.0, 1800.0, 0.005));
            add(Habit::CameraClip, diurnal(300.0));
            add(Habit::Ssdp, periodic(r, 1700.0, 1900.0, 0.01));
        }
        DeviceKind::SmartPlug => {
            add(Habit::PlugKeepalive, periodic(r, 45.0, 75.0, 0.04));
            add(Habit::PlugUdp, periodic(r, 90.0, 150.0, 0.03));
        }
        DeviceKind::Thermostat => {
            add(Habit::ThermostatPoll, periodic(r, 240.0, 360.0, 0.05));
            add(Habit::Weather, periodic(r, 1700.0, 1900.0, 0.01));
        }
        DeviceKind::VoiceAssistant => {
            add(Habit::AssistantRequest, diurnal(600.0));
            add(Habit::AssistantSession, periodic(r, 900.0, 1800.0, 0.01));
            add(Habit::AssistantCheckin, periodic(r, 100.0, 140.0, 0.04));
            add(Habit::Mdns, periodic(r, 240.0, 360.0, 0.03));
        }
        DeviceKind::Hub => {
            if has_lan {
                add(Habit::HubLocal, periodic(r, 20.0, 40.0, 0.05));
            }
            add(Habit::HubCloud, periodic(r, 100.0, 140.0, 0.04));
            add(Habit::Mdns, periodic(r, 100.0, 140.0, 0.03));
            add(Habit::Ssdp, periodic(r, 500.0, 700.0, 0.02));
        }
    }
}

fn weights(config: &SimConfig) -> Weights {
    let a = &config.attacks;
    let i = if a.infected_fraction > 0.0 {
        a.intensity
    } else {
        0.0
    };
    Weights {
        scan: i * a.mix.scan,
        cnc: i * a.mix.command_and_control,
        ddos: i * a.mix.ddos,
        brute: i * a.mix.brute_force,
        exfil: i * a.mix.exfiltration,
        download: i * a.mix.file_download,
    }
}

/// Picks the infected devices (cameras 3x and plugs 2x as likely as others) and their bots.
fn infect(
    r: &mut Rand,
    config: &SimConfig,
    devices: &mut [Device],
    traits: &mut [Traits],
) -> Vec<Bot> {
    let a = &config.attacks;
    let n = devices.len();
    let mut count = (a.infected_fraction * n as f64).round() as usize;
    if a.infected_fraction > 0.0 && n > 0 {
        count = count.clamp(1, n);
    }
    // Without attacks there is nothing to be infected by.
    if a.intensity == 0.0 {
        count = 0;
    }
    let mut weights: Vec<u32> = devices
        .iter()
        .map(|d| match d.kind {
            DeviceKind::Camera => 3,
            DeviceKind::SmartPlug => 2,
            _ => 1,
        })
        .collect();
    let mut chosen = Vec::with_capacity(count);
    for _ in 0..count {
        let i = r.weighted(&weights);
        weights[i] = 0;
        chosen.push(i);
    }
    // Bots in device order, so a bot's index does not depend on the draw order.
    chosen.sort_unstable();
    let mut bots = Vec::with_capacity(count);
    for device in chosen {
        let family = if r.chance(0.25) {
            BotFamily::Okiru
        } else {
            BotFamily::Mirai
        };
        let spread = a.infection_spread_secs as i64 * SEC;
        let infected_at = a.infection_delay_secs as i64 * SEC + r.range_i64(0, spread);
        let base = r.uniform(30.0, 120.0) * SEC as f64;
        let cnc = (a.intensity * a.mix.command_and_control).max(1e-9);
        let heartbeat_period = ((base / cnc) as i64).clamp(5 * SEC, 86_400 * SEC);
        let bot = Bot {
            device: device as u32,
            family,
            infected_at,
            heartbeat_period,
            heartbeat_phase: r.below(heartbeat_period as u64) as i64,
        };
        devices[device].infection = Some(Infection {
            at: Timestamp(config.start_unix_secs * 1_000_000_000 + infected_at * 1000),
            family,
        });
        traits[device].bot = Some(bots.len() as u32);
        bots.push(bot);
    }
    bots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routable_filter() {
        for (a, ok) in [
            ([8, 8, 8, 8], true),
            ([10, 1, 2, 3], false),
            ([172, 20, 0, 1], false),
            ([172, 32, 0, 1], true),
            ([192, 168, 0, 1], false),
            ([100, 100, 0, 1], false),
            ([224, 0, 0, 251], false),
            ([203, 0, 113, 5], false),
            ([185, 244, 25, 235], true),
        ] {
            assert_eq!(is_routable(u32::from(Ipv4Addr::from(a))), ok, "{a:?}");
        }
    }

    #[test]
    fn builds_the_default_network() {
        let n = Network::build(SimConfig::default()).unwrap();
        assert_eq!(n.devices.len(), 20);
        assert_eq!(n.bots.len(), 2);
        assert_eq!(n.gateway, Ipv4Addr::new(192, 168, 1, 1));
        assert!(n.devices.iter().all(|d| n.is_local(u32::from(d.addr))));
        assert_eq!(
            n.devices.iter().filter(|d| d.infection.is_some()).count(),
            2
        );
        assert!(n.chunk_us >= 64 * SEC && n.chunk_us <= 16_384 * SEC);
        let again = Network::build(SimConfig::default()).unwrap();
        assert_eq!(n.devices, again.devices);
    }

    #[test]
    fn daily_activity_averages_one() {
        let mean = DAILY_ACTIVITY.iter().sum::<f64>() / 24.0;
        assert!((mean - 1.0).abs() < 1e-12, "{mean}");
        assert!(DAILY_ACTIVITY.iter().all(|&a| a <= PEAK_ACTIVITY));
    }

    #[test]
    fn no_infection_without_attacks() {
        let n = Network::build(SimConfig::default().without_attacks()).unwrap();
        assert!(n.bots.is_empty());
        assert!(n.devices.iter().all(|d| d.infection.is_none()));
        let mut c = SimConfig::default();
        c.attacks.intensity = 0.0;
        assert!(Network::build(c).unwrap().bots.is_empty());
    }
}
