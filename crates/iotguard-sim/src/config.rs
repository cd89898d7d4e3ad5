//! The simulator's configuration: what network to simulate, from when, and how much of it
//! attacks.
//!
//! [`SimConfig`] is what the user writes (TOML keys equal the field names; every field has a
//! default). [`crate::Simulator::new`] validates it and reports every problem at once.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// Everything that decides a simulation's output: the same config gives the same flows, on
/// every platform and with any number of threads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Start of the simulated time, in seconds since the Unix epoch (the first flow comes
    /// shortly after it).
    pub start_unix_secs: i64,
    /// Sensor name put on every record (`FlowRecord::sensor`); `None` leaves it unset.
    pub sensor: Option<String>,
    /// The monitored home network as an IPv4 CIDR (`192.168.1.0/24`). Its first address is
    /// the gateway (DNS resolver and DHCP server); devices get addresses from the eleventh on.
    pub local_network: String,
    /// How many devices of each kind the network has.
    pub devices: DeviceCounts,
    /// Which devices are infected and how hard they attack.
    pub attacks: AttackConfig,
    /// Microseconds after the start at which every camera gets a firmware update (the drift
    /// scenario's change): from then on cameras stream and upload clips over QUIC (UDP 443)
    /// in sessions a tenth as long. `None` (the default): never.
    pub camera_firmware_update_us: Option<i64>,
}

/// How many devices of each kind the network has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceCounts {
    /// IP cameras: long uploads of video to a vendor cloud, clip uploads on motion.
    pub cameras: u32,
    /// Smart plugs: small periodic TCP and UDP keep-alives to a vendor cloud.
    pub smart_plugs: u32,
    /// Thermostats: HTTPS polling of a vendor cloud every few minutes.
    pub thermostats: u32,
    /// Voice assistants: DNS then HTTPS bursts per spoken request, long-lived TLS sessions,
    /// mDNS.
    pub voice_assistants: u32,
    /// Hubs and bridges: frequent DNS, mDNS and SSDP multicast, polling of devices on the LAN.
    pub hubs: u32,
}

/// Infections and attacks. With `infected_fraction` or `intensity` at zero every flow is
/// benign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttackConfig {
    /// Fraction of devices that get infected, in `[0, 1]`; rounded to a device count, at
    /// least one when above zero. Cameras are three times and plugs twice as likely to be
    /// picked as other devices (Mirai's favourite targets).
    pub infected_fraction: f64,
    /// Multiplies the expected number of flows of every attack kind; `0` turns attacks (and
    /// infections) off.
    pub intensity: f64,
    /// Per-kind multipliers on top of `intensity`; `0` turns a kind off.
    pub mix: AttackMix,
    /// Seconds from the start before the first infection.
    pub infection_delay_secs: u64,
    /// Infections happen at uniformly random times within this many seconds after the delay.
    pub infection_spread_secs: u64,
}

/// Per-kind multipliers of attack activity (1 is the default rate, 0 turns the kind off).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttackMix {
    /// Horizontal scans: Mirai's telnet SYN scans (23, 2323), Okiru's 37215.
    pub scan: f64,
    /// C&C heartbeats, connection attempts and command sessions.
    pub command_and_control: f64,
    /// SYN, ACK, UDP and HTTP floods against a victim.
    pub ddos: f64,
    /// SSH and telnet brute forcing of one host.
    pub brute_force: f64,
    /// Long uploads of stolen data.
    pub exfiltration: f64,
    /// Malware downloads: at infection and later updates from the C&C server.
    pub file_download: f64,
}

/// An invalid configuration, with every problem found.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// The config has one or more invalid values (each message names its key).
    #[error("invalid simulator config: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            // 2024-01-01T00:00:00Z.
            start_unix_secs: 1_704_067_200,
            sensor: Some("iotguard-sim".to_owned()),
            local_network: "192.168.1.0/24".to_owned(),
            devices: DeviceCounts::default(),
            attacks: AttackConfig::default(),
            camera_firmware_update_us: None,
        }
    }
}

impl Default for DeviceCounts {
    /// A home with 20 devices (see [`DeviceCounts::mix`]).
    fn default() -> Self {
        DeviceCounts::mix(20)
    }
}

impl Default for AttackConfig {
    fn default() -> Self {
        AttackConfig {
            infected_fraction: 0.1,
            intensity: 1.0,
            mix: AttackMix::default(),
            infection_delay_secs: 60,
            infection_spread_secs: 600,
        }
    }
}

impl Default for AttackMix {
    fn default() -> Self {
        AttackMix {
            scan: 1.0,
            command_and_control: 1.0,
            ddos: 1.0,
            brute_force: 1.0,
            exfiltration: 1.0,
            file_download: 1.0,
        }
    }
}

impl DeviceCounts {
    /// Splits `total` devices into a typical home's mix: 35% smart plugs, 20% cameras, 20%
    /// voice assistants, 15% thermostats, 10% hubs (largest remainders first, so the counts
    /// add up to `total`).
    pub fn mix(total: u32) -> DeviceCounts {
        // Per mille, in field order: cameras, plugs, thermostats, assistants, hubs.
        const SHARES: [u64; 5] = [200, 350, 150, 200, 100];
        let mut counts = SHARES.map(|s| (u64::from(total) * s / 1000) as u32);
        let mut rest = total - counts.iter().sum::<u32>();
        let mut order: Vec<usize> = (0..5).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(u64::from(total) * SHARES[i] % 1000));
        for &i in order.iter().cycle() {
            if rest == 0 {
                break;
            }
            counts[i] += 1;
            rest -= 1;
        }
        DeviceCounts {
            cameras: counts[0],
            smart_plugs: counts[1],
            thermostats: counts[2],
            voice_assistants: counts[3],
            hubs: counts[4],
        }
    }

    /// Returns the number of devices.
    pub fn total(&self) -> u32 {
        self.cameras + self.smart_plugs + self.thermostats + self.voice_assistants + self.hubs
    }
}

impl AttackConfig {
    /// Returns a config with no attacks at all.
    pub fn none() -> AttackConfig {
        AttackConfig {
            infected_fraction: 0.0,
            ..AttackConfig::default()
        }
    }
}

impl SimConfig {
    /// Returns the config with another seed.
    pub fn with_seed(self, seed: u64) -> SimConfig {
        SimConfig { seed, ..self }
    }

    /// Returns the config with `total` devices in the typical mix ([`DeviceCounts::mix`]).
    pub fn with_devices(self, total: u32) -> SimConfig {
        SimConfig {
            devices: DeviceCounts::mix(total),
            ..self
        }
    }

    /// Returns the config with no attacks: every flow is benign.
    pub fn without_attacks(self) -> SimConfig {
        SimConfig {
            attacks: AttackConfig::none(),
            ..self
        }
    }

    /// Checks every value and returns all problems found.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        let total = self.devices.total();
        if total == 0 {
            problems.push("devices: the network needs at least one device".to_owned());
        }
        match parse_cidr(&self.local_network) {
            Err(e) => problems.push(format!("local_network: {e}")),
            Ok(net) => {
                let room = net.host_capacity();
                if u64::from(total) > room {
                    problems.push(format!(
                        "local_network: {} has room for {room} devices, the config has {total}",
                        self.local_network
                    ));
                }
            }
        }
        let a = &self.attacks;
        if !(0.0..=1.0).contains(&a.infected_fraction) {
            problems.push(format!(
                "attacks.infected_fraction: {} is not in [0, 1]",
                a.infected_fraction
            ));
        }
        let multipliers = [
            ("attacks.intensity", a.intensity),
            ("attacks.mix.scan", a.mix.scan),
            ("attacks.mix.command_and_control", a.mix.command_and_control),
            ("attacks.mix.ddos", a.mix.ddos),
            ("attacks.mix.brute_force", a.mix.brute_force),
            ("attacks.mix.exfiltration", a.mix.exfiltration),
            ("attacks.mix.file_download", a.mix.file_download),
        ];
        for (key, v) in multipliers {
            if !(v.is_finite() && (0.0..=1000.0).contains(&v)) {
                problems.push(format!("{key}: {v} is not in [0, 1000]"));
            }
        }
        // Keep every timestamp of a few centuries of simulation inside i64 nanoseconds.
        if !(0..=4_000_000_000).contains(&self.start_unix_secs) {
            problems.push(format!(
                "start_unix_secs: {} is not between 1970 and 2096",
                self.start_unix_secs
            ));
        }
        let max_delay = 10 * 365 * 86_400;
        if a.infection_delay_secs > max_delay || a.infection_spread_secs > max_delay {
            problems.push("attacks.infection_*_secs: more than ten years".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidConfig(problems))
        }
    }
}

/// An IPv4 network: base address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ipv4Net {
    pub(crate) base: u32,
    pub(crate) prefix: u8,
}

/// Addresses below this offset are kept for the gateway and other infrastructure.
pub(crate) const FIRST_DEVICE_OFFSET: u32 = 10;

impl Ipv4Net {
    /// Returns whether `addr` is inside the network.
    pub(crate) fn contains(self, addr: u32) -> bool {
        addr & self.mask() == self.base
    }

    pub(crate) fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    /// Returns how many devices fit: all addresses but the network, broadcast and the
    /// reserved low ones.
    pub(crate) fn host_capacity(self) -> u64 {
        let size = 1u64 << (32 - self.prefix);
        size.saturating_sub(u64::from(FIRST_DEVICE_OFFSET) + 1)
    }

    /// Returns the address `offset` from the base.
    pub(crate) fn host(self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.base.wrapping_add(offset))
    }
}

/// Parses `a.b.c.d/len`, requiring no host bits and a prefix of 8 to 30.
pub(crate) fn parse_cidr(text: &str) -> Result<Ipv4Net, String> {
    let (addr, len) = text
        .trim()
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not a CIDR such as 192.168.1.0/24"))?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IPv4 address"))?;
    let prefix: u8 = len
        .parse()
        .map_err(|_| format!("{len:?} is not a prefix length"))?;
    if !(8..=30).contains(&prefix) {
        return Err(format!("prefix /{prefix} is not between /8 and /30"));
    }
    let net = Ipv4Net {
        base: u32::from(addr),
        prefix,
    };
    if net.base & !net.mask() != 0 {
        return Err(format!("{text} has host bits set"));
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_adds_up() {
        for total in 0..200 {
            assert_eq!(DeviceCounts::mix(total).total(), total);
        }
        let m = DeviceCounts::mix(20);
        assert_eq!(
            (
                m.cameras,
                m.smart_plugs,
                m.thermostats,
                m.voice_assistants,
                m.hubs
            ),
            (4, 7, 3, 4, 2)
        );
        assert_eq!(DeviceCounts::mix(1).total(), 1);
    }

    #[test]
    fn default_is_valid() {
        SimConfig::default().validate().unwrap();
        SimConfig::default().without_attacks().validate().unwrap();
    }

    #[test]
    fn reports_every_problem() {
        let mut c = SimConfig::default().with_devices(300);
        c.attacks.infected_fraction = 1.5;
        c.attacks.mix.ddos = f64::NAN;
        let Err(Error::InvalidConfig(problems)) = c.validate() else {
            panic!("accepted");
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("room for 245 devices"), "{problems:?}");
        let c = SimConfig {
            local_network: "10.0.0.1/8".into(),
            ..SimConfig::default().with_devices(0)
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("at least one device") && err.contains("host bits"),
            "{err}"
        );
    }

    #[test]
    fn cidrs() {
        let n = parse_cidr("192.168.1.0/24").unwrap();
        assert!(n.contains(u32::from(Ipv4Addr::new(192, 168, 1, 77))));
        assert!(!n.contains(u32::from(Ipv4Addr::new(192, 168, 2, 1))));
        assert_eq!(n.host(1), Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(n.host_capacity(), 245);
        for bad in [
            "192.168.1.0",
            "192.168.1.0/33",
            "x/24",
            "192.168.1.0/4",
            "10.0.0.0/x",
        ] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_cidr("10.0.0.0/8").unwrap().host_capacity(),
            (1 << 24) - 11
        );
    }

    #[test]
    fn toml_like_round_trip_through_serde_defaults() {
        // Unknown keys are refused and missing keys take their defaults.
        let c: SimConfig = serde_json_like(r#"{"seed": 5, "attacks": {"intensity": 2.0}}"#);
        assert_eq!(c.seed, 5);
        assert_eq!(c.attacks.intensity, 2.0);
        assert_eq!(c.attacks.infected_fraction, 0.1);
        assert_eq!(c.devices, DeviceCounts::mix(20));
    }

    fn serde_json_like(text: &str) -> SimConfig {
        serde_json::from_str(text).unwrap()
    }
}
