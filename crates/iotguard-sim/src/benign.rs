//! Benign device behaviour: when each habit fires, and what its flows look like.
//!
//! Sizes, states and histories follow what benign IoT devices show in IoT-23 and the
//! Stratosphere honeypot captures: DNS to the gateway (`SF Dd`, some unanswered `S0 D`), NTP
//! (`48/48` bytes, 76 IP bytes), DHCP broadcasts from `0.0.0.0:68`, mDNS and SSDP multicast
//! that is never answered (`S0 D`, many packets per Zeek connection), TLS sessions (`ssl`,
//! `ShADadFf`, some `RSTO`/`RSTR`/`S1`), and a little noise (unanswered SYNs, `REJ`, `OTH`) so
//! that no single field separates benign from malicious.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use iotguard_flow::{ConnState, FlowRecord, Protocol};

use crate::flow::{hdr, tcp_packets, v4, Builder, Conn, Event, Kind, Sink, Window};
use crate::network::{
    DeviceKind, Habit, Network, Process, Timing, DAILY_ACTIVITY, PEAK_ACTIVITY, SEC,
};
use crate::rng::Rand;

const MDNS4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
const MDNS6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);
const SSDP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);

/// Calls `f` at each time `timing` fires whose nominal time is in `w`; `day_offset` is the
/// time of day at time zero, in microseconds.
///
/// Periodic events may fire late by their jitter, hence after `w.end`; Poisson events restart
/// at `w.start`, which is exact for a Poisson process. Diurnal events are a Poisson process at
/// the busiest hour's rate, thinned to each hour's.
pub(crate) fn times(
    timing: Timing,
    w: Window,
    day_offset: i64,
    rng: &mut Rand,
    mut f: impl FnMut(&mut Rand, i64),
) {
    match timing {
        Timing::Periodic {
            period,
            phase,
            jitter,
        } => {
            let k = (w.start - phase + period - 1).div_euclid(period);
            let mut nominal = phase + k * period;
            while nominal < w.end {
                let late = rng.below(jitter as u64 + 1) as i64;
                f(rng, nominal + late);
                nominal += period;
            }
        }
        Timing::Poisson { mean_gap } => {
            let mut t = w.start as f64;
            loop {
                t += rng.exp(mean_gap);
                if t >= w.end as f64 {
                    break;
                }
                f(rng, t as i64);
            }
        }
        Timing::Diurnal { mean_gap } => {
            let mut t = w.start as f64;
            loop {
                t += rng.exp(mean_gap / PEAK_ACTIVITY);
                if t >= w.end as f64 {
                    break;
                }
                let hour = ((t as i64 + day_offset) / (3600 * SEC)).rem_euclid(24) as usize;
                if rng.unit() * PEAK_ACTIVITY < DAILY_ACTIVITY[hour] {
                    f(rng, t as i64);
                }
            }
        }
    }
}

/// Schedules every benign process for the events that originate in `origin`.
pub(crate) fn schedule(net: &Network, origin: Window, rng: &mut Rand, sink: &mut Sink<'_>) {
    for p in &net.processes {
        times(p.timing, origin, net.day_offset_us, rng, |rng, t| {
            fire(net, p, t, rng, sink)
        });
    }
}

/// A DNS lookup takes a few milliseconds before the connection it serves.
fn after_dns(rng: &mut Rand, t: i64) -> i64 {
    t + rng.range_i64(2_000, 60_000)
}

fn fire(net: &Network, p: &Process, t: i64, rng: &mut Rand, sink: &mut Sink<'_>) {
    let d = p.device;
    match p.habit {
        Habit::Dns => sink.push(t, d, Kind::Dns, 0, 0),
        Habit::Ntp => sink.push(t, d, Kind::Ntp, 0, 0),
        Habit::Dhcp => sink.push(t, d, Kind::Dhcp, 0, 0),
        Habit::Noise => sink.push(t, d, Kind::Noise, 0, 0),
        Habit::Firmware => {
            sink.push(t, d, Kind::Dns, 0, 0);
            sink.push(after_dns(rng, t), d, Kind::Firmware, 0, 0);
        }
        Habit::Mdns => {
            sink.push(t, d, Kind::Mdns, 0, 0);
            if rng.chance(0.5) {
                sink.push(t + rng.range_i64(100, 5_000), d, Kind::Mdns6, 0, 0);
            }
        }
        Habit::Ssdp => sink.push(t, d, Kind::Ssdp, 0, 0),
        Habit::CameraStream | Habit::AssistantSession => {
            // The session lasts most of the period until the next one.
            let secs = match p.timing {
                Timing::Periodic { period, .. } => (period / SEC) as u32,
                Timing::Poisson { .. } | Timing::Diurnal { .. } => 600,
            };
            let k = if p.habit == Habit::CameraStream {
                Kind::CameraStream
            } else {
                Kind::AssistantSession
            };
            sink.push(t, d, k, secs, 0);
        }
        Habit::CameraClip => {
            let mut t = t;
            if rng.chance(0.3) {
                sink.push(t, d, Kind::Dns, 0, 0);
                t = after_dns(rng, t);
            }
            sink.push(t, d, Kind::CameraClip, 0, 0);
        }
        Habit::PlugKeepalive => sink.push(t, d, Kind::PlugKeepalive, 0, 0),
        Habit::PlugUdp => sink.push(t, d, Kind::PlugUdp, 0, 0),
        Habit::ThermostatPoll => {
            let mut t = t;
            if rng.chance(0.25) {
                sink.push(t, d, Kind::Dns, 0, 0);
                t = after_dns(rng, t);
            }
            sink.push(t, d, Kind::ThermostatPoll, 0, 0);
        }
        Habit::Weather => {
            sink.push(t, d, Kind::Dns, 0, 0);
            sink.push(after_dns(rng, t), d, Kind::Weather, 0, 0);
        }
        Habit::AssistantRequest => {
            // "Alexa, ...": a lookup, then one to four TLS connections within a few seconds.
            sink.push(t, d, Kind::Dns, 0, 0);
            let mut t = after_dns(rng, t);
            for _ in 0..rng.range(1, 4) {
                sink.push(t, d, Kind::AssistantRequest, 0, 0);
                t += rng.range_i64(10_000, 1_500_000);
            }
        }
        Habit::AssistantCheckin => sink.push(t, d, Kind::AssistantCheckin, 0, 0),
        Habit::HubLocal => {
            let target = rng.pick(&net.lan_targets);
            sink.push(t, d, Kind::HubLocal, target, 0);
        }
        Habit::HubCloud => sink.push(t, d, Kind::HubCloud, 0, 0),
    }
}

/// Builds the record of a benign event.
pub(crate) fn build(net: &Network, ev: &Event, b: &mut Builder) -> FlowRecord {
    let dev = &net.devices[ev.device as usize];
    let tr = &net.traits[ev.device as usize];
    let src = v4(dev.addr);
    let linux = tr.linux;
    let (tcp_h, syn_h) = if linux {
        (hdr::TCP_LINUX, hdr::SYN_LINUX)
    } else {
        (hdr::TCP_PLAIN, hdr::SYN_PLAIN)
    };
    let cloud = v4(tr.cloud);
    let sport = b.eph_port(linux);
    let r = &mut b.rng;
    let tcp = |dst: IpAddr, port: u16| {
        Conn::new(Protocol::Tcp, src, sport, dst, port).headers(tcp_h, hdr::TCP_LINUX)
    };
    let updated = net
        .config
        .camera_firmware_update_us
        .is_some_and(|at| ev.t >= at);
    let conn = match ev.kind {
        Kind::CameraStream | Kind::CameraClip if updated => {
            // The new firmware: QUIC (UDP 443) to the same cloud, sessions a tenth as long,
            // a thin acknowledgement stream back.
            let secs = match ev.kind {
                Kind::CameraStream => f64::from(ev.arg) * r.uniform(0.05, 0.12),
                _ => r.uniform(2.0, 20.0),
            };
            let up = (tr.bitrate / 8.0 * secs * r.uniform(0.8, 1.2)) as u64 + 1_200;
            let down = (up as f64 * r.uniform(0.03, 0.06)) as u64;
            let pkts = (up.div_ceil(1_250), down.div_ceil(60).max(1));
            Conn::new(Protocol::Udp, src, sport, cloud, 443)
                .shape(ConnState::SF, "Dd", pkts, (up, down))
                .service("quic")
                .duration((secs * SEC as f64) as i64)
        }
        Kind::Dns => dns(r, Conn::new(Protocol::Udp, src, sport, v4(net.gateway), 53)),
        Kind::Ntp => {
            let server = net.clouds.ntp[(ev.device as usize + r.below(2) as usize) % 6];
            let port = if linux { 123 } else { sport };
            let c = Conn::new(Protocol::Udp, src, port, v4(server), 123);
            if r.chance(0.92) {
                c.shape(ConnState::SF, "Dd", (1, 1), (48, 48))
                    .duration(r.log_normal_u64(20_000.0, 1.0, 300, 900_000) as i64)
            } else {
                c.shape(ConnState::S0, "D", (1, 0), (48, 0))
            }
        }
        Kind::Dhcp => dhcp(r, net, src),
        Kind::Noise => noise(r, tcp(cloud, 443), syn_h),
        Kind::Firmware => {
            let server = v4(r.pick(&net.clouds.firmware));
            let bytes = (
                r.range(150, 400),
                r.log_normal_u64(6e6, 0.8, 500_000, 60_000_000),
            );
            let rate = r.uniform(5e5, 5e6);
            let history = r.pick(&["ShADadFf", "ShADadFf", "ShADadttFf", "ShADadtFf"]);
            let missed = if r.chance(0.15) {
                r.range(1, 10) * 1448
            } else {
                0
            };
            let pkts = tcp_packets(r, bytes, 1448);
            tcp(server, 80)
                .shape(ConnState::SF, history, pkts, bytes)
                .service("http")
                .duration((bytes.1 as f64 / rate * SEC as f64) as i64 + 50_000)
                .missed(missed)
        }
        Kind::Mdns | Kind::Mdns6 => {
            let (from, to) = if ev.kind == Kind::Mdns {
                (src, v4(MDNS4))
            } else {
                (IpAddr::V6(tr.ll6), IpAddr::V6(MDNS6))
            };
            let pkts = r.pick(&[1, 1, 1, 2, 2, 3, 4, 6]);
            let bytes: u64 = (0..pkts).map(|_| r.range(60, 420)).sum();
            Conn::new(Protocol::Udp, from, 5353, to, 5353)
                .shape(ConnState::S0, "D", (pkts, 0), (bytes, 0))
                .service("dns")
                .duration(pkts as i64 * r.range_i64(200_000, 2_500_000))
        }
        Kind::Ssdp => {
            let pkts = r.log_normal_u64(12.0, 1.0, 2, 200);
            let size = r.range(280, 340);
            let port = if r.chance(0.5) { 1900 } else { sport };
            Conn::new(Protocol::Udp, src, port, v4(SSDP), 1900)
                .shape(ConnState::S0, "D", (pkts, 0), (pkts * size, 0))
                .duration((pkts as i64 * r.range_i64(3 * SEC, 8 * SEC)).min(1500 * SEC))
        }
        Kind::CameraStream => {
            let secs = f64::from(ev.arg) * r.uniform(0.9, 0.995);
            let up = (tr.bitrate / 8.0 * secs * r.uniform(0.8, 1.2)) as u64;
            let bytes = (up, (up as f64 * r.uniform(0.005, 0.02)) as u64);
            let pkts = tcp_packets(r, bytes, 1448);
            let (state, history) = r.pick(&[
                (ConnState::SF, "ShADadFf"),
                (ConnState::SF, "ShADadFf"),
                (ConnState::SF, "ShADadfF"),
                (ConnState::SF, "ShADadtFf"),
                (ConnState::RSTO, "ShADadR"),
                (ConnState::RSTR, "ShADadr"),
                (ConnState::S1, "ShADad"),
            ]);
            let missed = if r.chance(0.1) {
                r.range(1, 20) * 1448
            } else {
                0
            };
            tcp(cloud, 443)
                .shape(state, history, pkts, bytes)
                .service("ssl")
                .duration((secs * SEC as f64) as i64)
                .missed(missed)
        }
        Kind::CameraClip => {
            let bytes = (
                r.log_normal_u64(2e5, 1.0, 5_000, 5_000_000),
                r.range(300, 3000),
            );
            let rate = r.uniform(5e5, 3e6);
            let pkts = tcp_packets(r, bytes, 1448);
            tcp(cloud, 443)
                .shape(ConnState::SF, "ShADadFf", pkts, bytes)
                .service("ssl")
                .duration((bytes.0 as f64 / rate * SEC as f64) as i64 + 40_000)
        }
        Kind::PlugKeepalive => {
            let c = tcp(cloud, 8883);
            let x = r.unit();
            if x < 0.95 {
                let bytes = (r.range(150, 400), r.range(90, 300));
                let pkts = tcp_packets(r, bytes, 200);
                let history = if r.chance(0.7) {
                    "ShADadFf"
                } else {
                    "ShADadfF"
                };
                c.shape(ConnState::SF, history, pkts, bytes)
                    .service("ssl")
                    .duration(r.log_normal_u64(120_000.0, 0.6, 5_000, 3_000_000) as i64)
            } else if x < 0.98 {
                syn_attempt(r, c, syn_h)
            } else {
                let bytes = (r.range(150, 400), r.range(90, 300));
                let pkts = tcp_packets(r, bytes, 200);
                c.shape(ConnState::RSTR, "ShADadr", pkts, bytes)
                    .service("ssl")
                    .duration(r.log_normal_u64(200_000.0, 0.6, 5_000, 3_000_000) as i64)
            }
        }
        Kind::PlugUdp => {
            let c = Conn::new(Protocol::Udp, src, sport, cloud, 6668);
            if r.chance(0.95) {
                c.shape(
                    ConnState::SF,
                    "Dd",
                    (1, 1),
                    (r.range(40, 90), r.range(40, 90)),
                )
                .duration(r.range_i64(20_000, 200_000))
            } else {
                c.shape(ConnState::S0, "D", (1, 0), (r.range(40, 90), 0))
            }
        }
        Kind::ThermostatPoll => {
            let bytes = (r.range(600, 1800), r.range(1500, 6000));
            let pkts = tcp_packets(r, bytes, 600);
            let (state, history) = [
                (ConnState::SF, "ShADadFf"),
                (ConnState::SF, "ShADadfF"),
                (ConnState::RSTO, "ShADadRf"),
            ][r.weighted(&[70, 25, 5])]
            .clone();
            tcp(cloud, 443)
                .shape(state, history, pkts, bytes)
                .service("ssl")
                .duration(r.log_normal_u64(300_000.0, 0.5, 20_000, 5_000_000) as i64)
        }
        Kind::Weather => {
            let server = v4(net.clouds.weather[ev.device as usize % 2]);
            let bytes = (r.range(120, 300), r.range(800, 4000));
            let pkts = tcp_packets(r, bytes, 1448);
            tcp(server, 80)
                .shape(ConnState::SF, "ShADadFf", pkts, bytes)
                .service("http")
                .duration(r.range_i64(80_000, 400_000))
        }
        Kind::AssistantRequest => {
            let server = v4(r.pick(&net.clouds.assistant));
            let bytes = (
                r.log_normal_u64(12_000.0, 0.7, 1_000, 200_000),
                r.log_normal_u64(25_000.0, 0.9, 1_000, 500_000),
            );
            let pkts = tcp_packets(r, bytes, 1448);
            let (state, history) = r.pick(&[
                (ConnState::SF, "ShADadFf"),
                (ConnState::SF, "ShADadfF"),
                (ConnState::SF, "ShADadFf"),
                (ConnState::SF, "ShADadfF"),
                (ConnState::RSTR, "ShADadfr"),
            ]);
            tcp(server, 443)
                .shape(state, history, pkts, bytes)
                .service("ssl")
                .duration(r.log_normal_u64(1.5e6, 0.6, 50_000, 30_000_000) as i64)
        }
        Kind::AssistantSession => {
            let server = v4(r.pick(&net.clouds.assistant));
            let secs = f64::from(ev.arg) * r.uniform(0.5, 1.0);
            let bytes = (
                r.log_normal_u64(8_000.0, 0.8, 500, 200_000),
                r.log_normal_u64(10_000.0, 0.8, 500, 200_000),
            );
            let pkts = tcp_packets(r, bytes, 300);
            let (state, history) = r.pick(&[
                (ConnState::S1, "ShADad"),
                (ConnState::S3, "ShADadf"),
                (ConnState::RSTR, "ShADadfr"),
                (ConnState::SF, "ShADadfF"),
            ]);
            tcp(server, 443)
                .shape(state, history, pkts, bytes)
                .service("ssl")
                .duration((secs * SEC as f64) as i64)
        }
        Kind::AssistantCheckin | Kind::HubCloud => {
            let (o, rs) = if ev.kind == Kind::HubCloud {
                ((200, 600), (100, 400))
            } else {
                ((300, 1200), (200, 5000))
            };
            let bytes = (r.range(o.0, o.1), r.range(rs.0, rs.1));
            let pkts = tcp_packets(r, bytes, 600);
            tcp(cloud, 443)
                .shape(ConnState::SF, "ShADadFf", pkts, bytes)
                .service("ssl")
                .duration(r.log_normal_u64(150_000.0, 0.6, 10_000, 3_000_000) as i64)
        }
        Kind::HubLocal => {
            let target = &net.devices[ev.arg as usize];
            let t_linux = net.traits[ev.arg as usize].linux;
            let (port, service) = match target.kind {
                DeviceKind::SmartPlug => (6668, None),
                DeviceKind::VoiceAssistant => (8080, Some("http")),
                _ => (80, Some("http")),
            };
            let resp_h = if t_linux {
                hdr::TCP_LINUX
            } else {
                hdr::TCP_PLAIN
            };
            let c = tcp(v4(target.addr), port).headers(tcp_h, resp_h);
            let x = r.unit();
            if x < 0.93 {
                let bytes = (r.range(100, 250), r.range(150, 900));
                let pkts = tcp_packets(r, bytes, 1448);
                let c = c
                    .shape(ConnState::SF, "ShADadFf", pkts, bytes)
                    .duration(r.range_i64(3_000, 60_000));
                match service {
                    Some(s) => c.service(s),
                    None => c,
                }
            } else if x < 0.98 {
                c.shape(ConnState::REJ, "Sr", (1, 1), (0, 0))
                    .headers(syn_h, hdr::TCP_PLAIN)
                    .duration(r.range_i64(200, 3_000))
            } else {
                syn_attempt(r, c, syn_h)
            }
        }
        _ => unreachable!("not a benign event: {:?}", ev.kind),
    };
    b.record(net, ev.t, conn)
}

/// A DNS query to the gateway: mostly answered, some lost, a few retried.
fn dns(r: &mut Rand, c: Conn) -> Conn {
    let q = r.range(28, 48);
    let x = r.unit();
    let c = c.service("dns");
    if x < 0.93 {
        c.shape(
            ConnState::SF,
            "Dd",
            (1, 1),
            (q, q + r.log_normal_u64(60.0, 0.8, 16, 480)),
        )
        .duration(r.log_normal_u64(8_000.0, 1.2, 300, 400_000) as i64)
    } else if x < 0.98 {
        let pkts = r.range(1, 2);
        c.shape(ConnState::S0, "D", (pkts, 0), (q * pkts, 0))
            .duration(5 * SEC + r.range_i64(0, 5_000))
    } else {
        c.shape(ConnState::SF, "Dd", (2, 1), (2 * q, q + r.range(40, 200)))
            .duration(r.range_i64(1_000_000, 5_000_000))
    }
}

/// A DHCP renewal to the gateway, or a broadcast discover/request from `0.0.0.0`.
fn dhcp(r: &mut Rand, net: &Network, src: IpAddr) -> Conn {
    if r.chance(0.7) {
        Conn::new(Protocol::Udp, src, 68, v4(net.gateway), 67)
            .shape(
                ConnState::SF,
                "Dd",
                (1, 1),
                (r.range(300, 320), r.range(300, 330)),
            )
            .service("dhcp")
            .duration(r.range_i64(1_000, 20_000))
    } else {
        let pkts = r.pick(&[1, 2, 2, 2, 3]);
        Conn::new(
            Protocol::Udp,
            v4(Ipv4Addr::UNSPECIFIED),
            68,
            v4(Ipv4Addr::BROADCAST),
            67,
        )
        .shape(ConnState::S0, "D", (pkts, 0), (300 * pkts, 0))
        .service("dhcp")
        .duration(pkts as i64 * r.range_i64(300_000, 3_000_000))
    }
}

/// A SYN that gets no answer: one packet, or three over about three seconds (retransmits).
pub(crate) fn syn_attempt(r: &mut Rand, c: Conn, syn_h: u64) -> Conn {
    let c = c.headers(syn_h, hdr::TCP_LINUX);
    if r.chance(0.6) {
        c.shape(ConnState::S0, "S", (1, 0), (0, 0))
    } else {
        c.shape(ConnState::S0, "S", (3, 0), (0, 0))
            .duration(3 * SEC + r.range_i64(0, 200_000))
    }
}

/// Odd benign connections: unanswered, refused, reset, half-seen.
fn noise(r: &mut Rand, c: Conn, syn_h: u64) -> Conn {
    let small = |r: &mut Rand| (r.range(100, 800), r.range(50, 3000));
    match r.weighted(&[35, 15, 15, 15, 10, 10]) {
        0 => syn_attempt(r, c, syn_h),
        1 => {
            let port = r.pick(&[80, 8080, 8443, 8883, 1883]);
            Conn { resp_p: port, ..c }
                .shape(ConnState::REJ, "Sr", (1, 1), (0, 0))
                .headers(syn_h, hdr::TCP_PLAIN)
                .duration(r.range_i64(20_000, 300_000))
        }
        k @ (2..=4) => {
            let (state, history) = [
                (ConnState::RSTO, "ShADadR"),
                (ConnState::RSTR, "ShADadr"),
                (ConnState::S1, "ShADad"),
            ][k - 2]
                .clone();
            let bytes = small(r);
            let pkts = tcp_packets(r, bytes, 600);
            c.shape(state, history, pkts, bytes)
                .service("ssl")
                .duration(r.log_normal_u64(2e6, 1.5, 10_000, 600_000_000) as i64)
        }
        _ => {
            let bytes = small(r);
            let history = r.pick(&["DdA", "^dA", "Dd"]);
            c.shape(
                ConnState::OTH,
                history,
                (r.range(1, 3), r.range(1, 3)),
                bytes,
            )
            .duration(r.range_i64(1_000, 2_000_000))
        }
    }
}
