//! What infected devices do, labeled with IoT-23's detailed labels.
//!
//! | behaviour | detailed label | shape |
//! |---|---|---|
//! | Mirai telnet scan | `PartOfAHorizontalPortScan` | SYN to 23 (9 in 10) or 2323 of random public hosts, `S0` `S`, 1 packet of 40 IP bytes (sometimes 2) |
//! | Okiru exploit scan | `Okiru` | the same to 37215 |
//! | heartbeat | `C&C-HeartBeat` | small regular sessions to the C&C server, jittered |
//! | C&C while the server is down | `C&C` | unanswered SYNs (`S0`, 1 or 3 packets, 60/180 IP bytes) |
//! | C&C command | `C&C` | a short chatty session (`S3 ShAdDaf`, `SF`, `RSTR`) before each attack |
//! | flood | `DDoS` | SYN (`S0`), ACK (`OTH`, Zeek's `C` for bad checksums), UDP (`S0 D`, 512 to 1458-byte datagrams), HTTP (`SF`/`RSTO`/`S0`) against one victim |
//! | brute force | `Attack` | SSH to a public host (`SF ShAdDaFf` of ~589 bytes, some `REJ`/`RSTO`/`S0`), or telnet to a LAN device (mostly `REJ Sr`) |
//! | exfiltration | `Attack` (IoT-23 has no class for it) | 10 to 60 minute TLS uploads of tens of MB to a drop server |
//! | infection | `FileDownload` | HTTP download of the malware binary (50-150 KB) |
//! | update | `C&C-FileDownload` | HTTP download from the C&C server |
//!
//! Episodes (a scan, a flood, a brute force) are planned per bot and per hour-long epoch from
//! a generator of their own, so any chunk can find the episodes that overlap it.

use std::net::{IpAddr, Ipv4Addr};

use iotguard_flow::{ConnState, FlowRecord, Protocol};

use crate::benign::{syn_attempt, times};
use crate::flow::{hdr, tcp_packets, v4, Builder, Conn, Event, Kind, Lab, Sink, Window};
use crate::network::{public_addr, scan_target, BotFamily, Network, Timing, SEC};
use crate::rng::{stream, Rand};

/// Episodes are planned per epoch of this many microseconds.
pub(crate) const EPOCH_US: i64 = 3600 * SEC;
/// No episode lasts longer.
const MAX_EPISODE_US: i64 = 1800 * SEC;
/// A flood's command comes at most this long before the flood.
const MAX_LEAD_US: i64 = 10 * SEC;
/// The chance that the C&C server answers during an epoch.
const SERVER_UP: f64 = 0.75;

/// Per-epoch chances of each episode at weight 1.
const P_SCAN: f64 = 0.3;
const P_DDOS: f64 = 0.08;
const P_BRUTE: f64 = 0.08;
const P_EXFIL: f64 = 0.05;
const P_DOWNLOAD: f64 = 0.05;
const P_COMMAND: f64 = 0.2;

/// A span of attack activity with a mean gap between its flows.
#[derive(Clone, Copy, Debug)]
struct Episode {
    start: i64,
    end: i64,
    gap_us: f64,
}

#[derive(Clone, Copy, Debug)]
struct Flood {
    ep: Episode,
    kind: Kind,
    victim: u32,
    port: u16,
    command_at: i64,
}

#[derive(Clone, Copy, Debug)]
struct Brute {
    ep: Episode,
    target: u32,
    port: u16,
}

/// One bot's plan for one epoch.
#[derive(Clone, Copy, Debug, Default)]
struct Plan {
    scan: Option<Episode>,
    flood: Option<Flood>,
    brute: Option<Brute>,
    exfil: Option<i64>,
    download: Option<i64>,
    command: Option<i64>,
}

/// Keeps an episode drawn with `u` if the chance `p * weight` allows, raising its rate when
/// the weight asks for more than one episode per epoch.
fn episode(u: f64, start: i64, dur: i64, per_sec: f64, p: f64, weight: f64) -> Option<Episode> {
    let want = p * weight;
    let p = want.min(1.0);
    (want > 0.0 && u < p).then(|| Episode {
        start,
        end: start + dur,
        gap_us: SEC as f64 / (per_sec * want / p),
    })
}

/// Draws bot `bot`'s plan for `epoch`. Every value is drawn whatever the weights, so turning
/// one kind off or up leaves the others' plans as they were.
fn plan(net: &Network, bot: usize, epoch: i64) -> Plan {
    let w = net.weights;
    let b = &net.bots[bot];
    let mut r = Rand::new(net.seed, stream::BOT_BASE + bot as u64, epoch as u64);
    let e0 = epoch * EPOCH_US;
    let at = |r: &mut Rand| e0 + r.below(EPOCH_US as u64) as i64;

    let (u, s) = (r.unit(), at(&mut r));
    let scan = episode(
        u,
        s,
        r.range_i64(120 * SEC, 900 * SEC),
        r.uniform(0.5, 4.0),
        P_SCAN,
        w.scan,
    );

    let (u, s) = (r.unit(), at(&mut r));
    let dur = r.range_i64(20 * SEC, 120 * SEC);
    let rate = r.uniform(10.0, 70.0);
    let kind = [
        Kind::FloodSyn,
        Kind::FloodAck,
        Kind::FloodUdp,
        Kind::FloodHttp,
    ][r.weighted(&[30, 30, 25, 15])];
    let victim = u32::from(public_addr(&mut r));
    let any_port = r.range(1024, 65535) as u16;
    let port = match kind {
        Kind::FloodHttp => 80,
        Kind::FloodUdp => r.pick(&[53, 80, 443, 27015, 5376, any_port]),
        _ => r.pick(&[80, 443, 22, 8080, 52869]),
    };
    let lead = r.range_i64(SEC, MAX_LEAD_US);
    let flood = episode(u, s, dur, rate, P_DDOS, w.ddos).map(|ep| Flood {
        ep,
        kind,
        victim,
        port,
        command_at: ep.start - lead,
    });

    let (u, s) = (r.unit(), at(&mut r));
    let dur = r.range_i64(120 * SEC, 600 * SEC);
    let rate = r.uniform(0.5, 3.0);
    let others = net.devices.len() as u64 - 1;
    let lan = others > 0 && r.chance(0.5);
    let pick = r.below(others.max(1)) as usize;
    let public = u32::from(public_addr(&mut r));
    let ssh = r.chance(0.7);
    let (target, port) = if lan {
        // Any device but the bot itself.
        let i = if pick >= b.device as usize {
            pick + 1
        } else {
            pick
        };
        (u32::from(net.devices[i].addr), 23)
    } else {
        (public, if ssh { 22 } else { 23 })
    };
    let brute = episode(u, s, dur, rate, P_BRUTE, w.brute).map(|ep| Brute { ep, target, port });

    let once = |r: &mut Rand, p: f64, weight: f64| {
        let (u, t) = (r.unit(), at(r));
        (u < (p * weight).min(1.0)).then_some(t)
    };
    let exfil = once(&mut r, P_EXFIL, w.exfil);
    let download = once(&mut r, P_DOWNLOAD, w.download);
    let command = once(&mut r, P_COMMAND, w.cnc);

    // Nothing happens before the infection.
    let after = |ep: Episode| {
        let start = ep.start.max(b.infected_at);
        (start < ep.end).then_some(Episode { start, ..ep })
    };
    let later = |t: Option<i64>| t.filter(|&t| t >= b.infected_at);
    Plan {
        scan: scan.and_then(after),
        flood: flood.and_then(|f| after(f.ep).map(|ep| Flood { ep, ..f })),
        brute: brute.and_then(|x| after(x.ep).map(|ep| Brute { ep, ..x })),
        exfil: later(exfil),
        download: later(download),
        command: later(command),
    }
}

/// Remembers whether the C&C server answers in the last epoch asked about.
struct Server<'a> {
    net: &'a Network,
    last: Option<(i64, bool)>,
}

impl Server<'_> {
    fn up(&mut self, t: i64) -> bool {
        let epoch = t.div_euclid(EPOCH_US);
        match self.last {
            Some((e, up)) if e == epoch => up,
            _ => {
                let up = Rand::new(self.net.seed, stream::SERVER, epoch as u64).chance(SERVER_UP);
                self.last = Some((epoch, up));
                up
            }
        }
    }

    /// A C&C session if the server answers, else an unanswered attempt.
    fn contact(&mut self, t: i64, kind: Kind) -> Kind {
        if self.up(t) {
            kind
        } else {
            Kind::CncAttempt
        }
    }
}

/// Calls `f` at each flow of `ep` within `w`, with gaps uniform in [0.5, 1.5) times the mean
/// (`steady`, for machine-paced floods) or exponential (Poisson).
fn each_flow(
    ep: Episode,
    w: Window,
    steady: bool,
    rng: &mut Rand,
    mut f: impl FnMut(&mut Rand, i64),
) {
    let (start, end) = (ep.start.max(w.start), ep.end.min(w.end));
    if start >= end {
        return;
    }
    let mut t = start as f64;
    loop {
        t += if steady {
            ep.gap_us * rng.uniform(0.5, 1.5)
        } else {
            rng.exp(ep.gap_us)
        };
        if t >= end as f64 {
            return;
        }
        f(rng, t as i64);
    }
}

/// Schedules every bot's malicious flows that originate in `origin`.
pub(crate) fn schedule(net: &Network, origin: Window, rng: &mut Rand, sink: &mut Sink<'_>) {
    let w8 = net.weights;
    let mut server = Server { net, last: None };
    for (i, bot) in net.bots.iter().enumerate() {
        if origin.end <= bot.infected_at {
            continue;
        }
        let w = Window {
            start: origin.start.max(bot.infected_at),
            end: origin.end,
        };
        let d = bot.device;
        if w.contains(bot.infected_at) && w8.download > 0.0 {
            sink.push(bot.infected_at, d, Kind::MalwareDownload, 0, 0);
        }
        if w8.cnc > 0.0 {
            let timing = Timing::Periodic {
                period: bot.heartbeat_period,
                phase: bot.heartbeat_phase,
                jitter: (bot.heartbeat_period / 20).min(30 * SEC),
            };
            times(timing, w, 0, rng, |_, t| {
                let kind = server.contact(t, Kind::CncHeartbeat);
                sink.push(t, d, kind, 0, 0);
            });
        }
        let first = ((w.start - MAX_EPISODE_US).div_euclid(EPOCH_US)).max(0);
        // A flood starting just after the window can have its command inside it.
        let last = (w.end - 1 + MAX_LEAD_US).div_euclid(EPOCH_US);
        for epoch in first..=last {
            let p = plan(net, i, epoch);
            if let Some(ep) = p.scan {
                each_flow(ep, w, false, rng, |_, t| sink.push(t, d, Kind::Scan, 0, 0));
            }
            if let Some(f) = p.flood {
                if w8.cnc > 0.0 && w.contains(f.command_at) && f.command_at >= bot.infected_at {
                    let kind = server.contact(f.command_at, Kind::CncCommand);
                    sink.push(f.command_at, d, kind, 0, 0);
                }
                each_flow(f.ep, w, true, rng, |_, t| {
                    sink.push(t, d, f.kind, f.victim, f.port)
                });
            }
            if let Some(x) = p.brute {
                each_flow(x.ep, w, false, rng, |_, t| {
                    sink.push(t, d, Kind::BruteForce, x.target, x.port)
                });
            }
            for (t, kind) in [
                (p.exfil, Kind::Exfiltration),
                (p.download, Kind::CncDownload),
                (p.command, Kind::CncCommand),
            ] {
                if let Some(t) = t.filter(|&t| w.contains(t)) {
                    let kind = if kind == Kind::Exfiltration {
                        kind
                    } else {
                        server.contact(t, kind)
                    };
                    sink.push(t, d, kind, 0, 0);
                }
            }
        }
    }
}

/// Builds the record of a malicious event.
pub(crate) fn build(net: &Network, ev: &Event, b: &mut Builder) -> FlowRecord {
    let dev = &net.devices[ev.device as usize];
    let tr = &net.traits[ev.device as usize];
    let family = tr
        .bot
        .map_or(BotFamily::Mirai, |i| net.bots[i as usize].family);
    let src = v4(dev.addr);
    let (tcp_h, syn_h) = if tr.linux {
        (hdr::TCP_LINUX, hdr::SYN_LINUX)
    } else {
        (hdr::TCP_PLAIN, hdr::SYN_PLAIN)
    };
    let sport = b.eph_port(tr.linux);
    let bn = &net.botnet;
    let r = &mut b.rng;
    let cnc_service = (bn.cnc_port == 6667).then_some("irc");
    let tcp = |dst: Ipv4Addr, port: u16| {
        Conn::new(Protocol::Tcp, src, sport, v4(dst), port).headers(tcp_h, hdr::TCP_LINUX)
    };
    let with = |c: Conn, s: Option<&'static str>| match s {
        Some(s) => c.service(s),
        None => c,
    };
    let victim = IpAddr::V4(Ipv4Addr::from(ev.arg));
    let conn = match ev.kind {
        Kind::Scan => {
            let (port, label) = match family {
                BotFamily::Mirai => (if r.chance(0.9) { 23 } else { 2323 }, Lab::Scan),
                BotFamily::Okiru => (37215, Lab::Okiru),
            };
            // Scanners write raw SYNs from random source ports.
            let c = Conn::new(
                Protocol::Tcp,
                src,
                r.range(1024, 65535) as u16,
                v4(scan_target(r)),
                port,
            )
            .headers(hdr::RAW, hdr::RAW)
            .label(label);
            if r.chance(0.9) {
                c.shape(ConnState::S0, "S", (1, 0), (0, 0))
            } else {
                c.shape(ConnState::S0, "S", (2, 0), (0, 0))
                    .duration(r.range_i64(1_000_000, 3_000_000))
            }
        }
        Kind::CncHeartbeat => {
            let bytes = (r.range(20, 80), r.range(10, 60));
            let pkts = tcp_packets(r, bytes, 100);
            let (state, history) = [
                (ConnState::SF, "ShADadFf"),
                (ConnState::S3, "ShAdDaf"),
                (ConnState::SF, "ShADadfF"),
            ][r.weighted(&[60, 25, 15])]
            .clone();
            let c = tcp(bn.cnc, bn.cnc_port)
                .shape(state, history, pkts, bytes)
                .duration(r.log_normal_u64(300_000.0, 0.7, 5_000, 5_000_000) as i64)
                .label(Lab::HeartBeat);
            with(c, cnc_service)
        }
        Kind::CncAttempt => syn_attempt(r, tcp(bn.cnc, bn.cnc_port), syn_h).label(Lab::Cnc),
        Kind::CncCommand => {
            let bytes = (r.range(60, 300), r.range(150, 1500));
            let pkts = tcp_packets(r, bytes, 150);
            let (state, history) = [
                (ConnState::S3, "ShAdDaf"),
                (ConnState::SF, "ShADadFf"),
                (ConnState::RSTR, "ShAdfDr"),
                (ConnState::S1, "ShAdDa"),
            ][r.weighted(&[40, 30, 20, 10])]
            .clone();
            let c = tcp(bn.cnc, bn.cnc_port)
                .shape(state, history, pkts, bytes)
                .duration(r.log_normal_u64(2e6, 0.5, 100_000, 30_000_000) as i64)
                .label(Lab::Cnc);
            with(c, cnc_service)
        }
        Kind::FloodSyn => {
            let c = Conn::new(
                Protocol::Tcp,
                src,
                r.range(1024, 65535) as u16,
                victim,
                ev.port,
            )
            .headers(hdr::RAW, hdr::RAW)
            .label(Lab::Ddos);
            if r.chance(0.8) {
                c.shape(ConnState::S0, "S", (1, 0), (0, 0))
            } else {
                c.shape(ConnState::S0, "S", (2, 0), (0, 0))
                    .duration(r.range_i64(1, 5))
            }
        }
        Kind::FloodAck => {
            let c = Conn::new(
                Protocol::Tcp,
                src,
                r.range(1024, 65535) as u16,
                victim,
                ev.port,
            )
            .headers(hdr::RAW, hdr::RAW)
            .label(Lab::Ddos);
            if r.chance(0.7) {
                // Spoofed checksums: Zeek flags them (`C`) and counts no packets.
                c.shape(ConnState::OTH, "C", (0, 0), (0, 0))
            } else {
                c.shape(ConnState::OTH, "A", (1, 0), (0, 0))
            }
        }
        Kind::FloodUdp => {
            // The datagram size is fixed per attack: derive it from the victim.
            let size = [512, 1024, 1400, 1458][(ev.arg >> 3) as usize & 3];
            let pkts = r.log_normal_u64(3.0, 1.0, 1, 200);
            Conn::new(
                Protocol::Udp,
                src,
                r.range(1024, 65535) as u16,
                victim,
                ev.port,
            )
            .shape(ConnState::S0, "D", (pkts, 0), (pkts * size, 0))
            .duration(pkts as i64 * r.range_i64(50, 2_000))
            .label(Lab::Ddos)
        }
        Kind::FloodHttp => {
            let c = Conn::new(Protocol::Tcp, src, sport, victim, 80).headers(tcp_h, hdr::TCP_LINUX);
            match r.weighted(&[60, 20, 20]) {
                0 => {
                    let bytes = (r.range(80, 300), r.log_normal_u64(2_000.0, 1.0, 0, 50_000));
                    let pkts = tcp_packets(r, bytes, 1448);
                    c.shape(ConnState::SF, "ShADadFf", pkts, bytes)
                        .service("http")
                        .duration(r.log_normal_u64(200_000.0, 1.0, 1_000, 10_000_000) as i64)
                }
                1 => {
                    let bytes = (r.range(80, 300), 0);
                    c.shape(ConnState::RSTO, "ShADR", (4, 2), bytes)
                        .service("http")
                        .duration(r.range_i64(1_000, 500_000))
                }
                _ => syn_attempt(r, c, syn_h),
            }
            .label(Lab::Ddos)
        }
        Kind::BruteForce => brute(r, tcp(Ipv4Addr::from(ev.arg), ev.port), net, syn_h),
        Kind::Exfiltration => {
            let secs = r.uniform(600.0, 3600.0);
            let up = r.log_normal_u64(8e7, 0.8, 5_000_000, 2_000_000_000);
            let bytes = (up, (up as f64 * r.uniform(0.002, 0.01)) as u64);
            let pkts = tcp_packets(r, bytes, 1448);
            let (state, history) = [
                (ConnState::SF, "ShADadFf"),
                (ConnState::RSTR, "ShADadr"),
                (ConnState::S1, "ShADad"),
            ][r.weighted(&[80, 10, 10])]
            .clone();
            let service = matches!(bn.drop_port, 443 | 8443).then_some("ssl");
            let c = tcp(bn.drop, bn.drop_port)
                .shape(state, history, pkts, bytes)
                .duration((secs * SEC as f64) as i64)
                .label(Lab::Attack);
            with(c, service)
        }
        Kind::MalwareDownload | Kind::CncDownload => {
            let (server, label) = if ev.kind == Kind::MalwareDownload {
                (bn.download, Lab::FileDownload)
            } else {
                (bn.cnc, Lab::CncFileDownload)
            };
            let bytes = (r.range(80, 160), r.range(50_000, 150_000));
            let pkts = tcp_packets(r, bytes, 1448);
            let history = r.pick(&["ShADadttFf", "ShADadFf", "ShADadtfF"]);
            tcp(server, 80)
                .shape(ConnState::SF, history, pkts, bytes)
                .service("http")
                .duration(r.range_i64(500_000, 5_000_000))
                .label(label)
        }
        _ => unreachable!("not a malicious event: {:?}", ev.kind),
    };
    b.record(net, ev.t, conn)
}

/// One login attempt: telnet to a LAN device (mostly refused), or SSH to a public server.
fn brute(r: &mut Rand, c: Conn, net: &Network, syn_h: u64) -> Conn {
    let lan = matches!(c.resp, IpAddr::V4(a) if net.is_local(u32::from(a)));
    let c = c.label(Lab::Attack);
    let refused = |r: &mut Rand, c: Conn| {
        c.shape(ConnState::REJ, "Sr", (1, 1), (0, 0))
            .headers(syn_h, hdr::TCP_PLAIN)
            .duration(r.range_i64(100, 5_000))
    };
    if lan {
        match r.weighted(&[50, 30, 10, 10]) {
            0 => refused(r, c),
            1 => {
                let bytes = (r.range(20, 60), r.range(40, 200));
                let pkts = tcp_packets(r, bytes, 30);
                c.shape(ConnState::SF, "ShADadFf", pkts, bytes)
                    .duration(r.range_i64(50_000, 3_000_000))
            }
            2 => {
                let bytes = (r.range(20, 60), r.range(40, 200));
                let pkts = tcp_packets(r, bytes, 30);
                c.shape(ConnState::RSTO, "ShADadR", pkts, bytes)
                    .duration(r.range_i64(50_000, 3_000_000))
            }
            _ => syn_attempt(r, c, syn_h),
        }
    } else {
        let ssh = c.resp_p == 22;
        let service = ssh.then_some("ssh");
        match r.weighted(&[60, 10, 10, 10, 10]) {
            k @ (0 | 4) => {
                let bytes = (
                    if r.chance(0.6) {
                        589
                    } else {
                        r.range(450, 800)
                    },
                    r.range(1000, 2600),
                );
                let pkts = tcp_packets(r, bytes, 150);
                let history = if k == 0 { "ShAdDaFf" } else { "ShAdDaFRfR" };
                let c = c
                    .shape(ConnState::SF, history, pkts, bytes)
                    .duration(r.log_normal_u64(3e6, 0.6, 300_000, 30_000_000) as i64);
                match service {
                    Some(s) => c.service(s),
                    None => c,
                }
            }
            1 => {
                let bytes = (r.range(20, 600), r.range(20, 1200));
                let pkts = tcp_packets(r, bytes, 150);
                c.shape(ConnState::RSTO, "ShAdDaR", pkts, bytes)
                    .duration(r.range_i64(100_000, 5_000_000))
            }
            2 => refused(r, c),
            _ => syn_attempt(r, c, syn_h),
        }
    }
}
