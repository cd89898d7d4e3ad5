//! The connection table: packets into flow records, with Zeek's connection semantics (its TCP
//! endpoint state machine, history letters, `conn_state` rules and timeouts), so that a flow
//! from a pcap means what the same flow in Zeek's `conn.log` means.

use std::collections::HashMap;
use std::net::IpAddr;

use compact_str::CompactString;
use iotguard_flow::{ConnState, FlowRecord, Interval, Protocol, Timestamp};

use crate::decode::{decode, Decoded, Ip, Skip, TcpInfo, Transport};
use crate::frag::Defrag;
use crate::idle::IdleQueue;
use crate::pcap::Packet;

const SEC: i64 = 1_000_000_000;

/// Timeouts and bounds, Zeek's defaults unless said otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterConfig {
    /// A TCP connection idle this long ends (`tcp_inactivity_timeout`, 5 min).
    pub tcp_inactivity: Interval,
    /// A UDP flow idle this long ends (`udp_inactivity_timeout`, 1 min).
    pub udp_inactivity: Interval,
    /// An ICMP flow idle this long ends (`icmp_inactivity_timeout`, 1 min).
    pub icmp_inactivity: Interval,
    /// A UDP flow carrying DNS idle this long ends (`dns_session_timeout`, 10 s).
    pub dns_session: Interval,
    /// An unanswered SYN ends its connection this long after it (`tcp_attempt_delay`, 5 s).
    pub tcp_attempt: Interval,
    /// A closed or reset connection ends this long after its last packet (`tcp_close_delay`).
    pub tcp_close_delay: Interval,
    /// At most this many open connections; a new one past it ends the longest idle first.
    pub max_conns: usize,
    /// A fragmented IP datagram not complete this long after its first fragment is dropped,
    /// its fragments counted (`frag_timeout`, 5 min).
    pub frag_timeout: Interval,
    /// At most this many datagrams in reassembly; a new one past it drops the oldest first
    /// (Zeek has no bound).
    pub max_frag_datagrams: usize,
    /// At most this many bytes buffered for reassembly; past it the oldest datagrams are
    /// dropped first (Zeek has no bound).
    pub max_frag_bytes: usize,
}

impl Default for MeterConfig {
    fn default() -> Self {
        MeterConfig {
            tcp_inactivity: Interval(300 * SEC),
            udp_inactivity: Interval(60 * SEC),
            icmp_inactivity: Interval(60 * SEC),
            dns_session: Interval(10 * SEC),
            tcp_attempt: Interval(5 * SEC),
            tcp_close_delay: Interval(5 * SEC),
            max_conns: 1_000_000,
            frag_timeout: Interval(300 * SEC),
            max_frag_datagrams: 16_384,
            max_frag_bytes: 64 << 20,
        }
    }
}

/// What the meter saw, and what it did not make flows of.
///
/// At every moment `packets` = `in_flows` + `not_ip` + `unknown_linktype` + `malformed` +
/// `frag_pending` + `frag_timed_out` + `frag_evicted` + `frag_unfinished` + `frag_rejected`;
/// and the emitted flows' packets (`orig_pkts` + `resp_pkts`) add up to `in_flows` −
/// `frag_in_flows` + `frag_datagrams` (a reassembled datagram is one packet of its flow, as in
/// Zeek), once the open connections are emitted.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MeterStats {
    /// Packets given to the meter.
    pub packets: u64,
    /// Of them, counted in a flow (an IP fragment: its datagram is).
    pub in_flows: u64,
    /// Not IP (ARP, LLDP, ...).
    pub not_ip: u64,
    /// Of a link type the meter does not decode.
    pub unknown_linktype: u64,
    /// Too short or malformed for their headers (a reassembled datagram's transport header
    /// included: all its fragments are counted here).
    pub malformed: u64,
    /// Flows emitted.
    pub flows: u64,
    /// Flows ended early because the table was full.
    pub evicted: u64,
    /// IP fragments read, whatever became of them.
    pub fragments: u64,
    /// Datagrams reassembled from fragments and counted in a flow.
    pub frag_datagrams: u64,
    /// Fragments of those datagrams (counted in `in_flows`).
    pub frag_in_flows: u64,
    /// Fragments held for a datagram not yet complete (in no flow yet; 0 once the meter is
    /// finished).
    pub frag_pending: u64,
    /// Fragments dropped: their datagram was not complete `frag_timeout` after its first.
    pub frag_timed_out: u64,
    /// Fragments dropped: their datagram was the oldest when reassembly reached its bound on
    /// datagrams or bytes.
    pub frag_evicted: u64,
    /// Fragments dropped: their datagram was not complete when the capture ended.
    pub frag_unfinished: u64,
    /// Fragments rejected as inconsistent with their datagram (an end past or other than the
    /// last fragment's, data before the last not a multiple of 8 bytes, past 65,535 bytes).
    pub frag_rejected: u64,
    /// Fragments overlapping data already held, with the same bytes (Zeek's
    /// `fragment_overlap` weird); kept, the data held stays.
    pub frag_overlapping: u64,
    /// Fragments overlapping data already held with other bytes, or of another protocol than
    /// their datagram (Zeek's `fragment_inconsistency` and `fragment_protocol_inconsistency`);
    /// kept, the data held stays.
    pub frag_inconsistent: u64,
}

/// TCP endpoint states (Zeek's `TCP_ENDPOINT_*`); UDP and ICMP use Inactive and Active only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum State {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
    /// UDP and ICMP: the endpoint sent something.
    Active,
}

#[derive(Clone, Debug, Default)]
struct Endpoint {
    state: State,
    prev_state: State,
    pkts: u64,
    ip_bytes: u64,
    /// UDP and ICMP: payload bytes. TCP: the highest sequence offset of data seen.
    bytes: u64,
    missed: u64,
    /// TCP: the sequence number data starts at, from the first segment seen.
    base: Option<u32>,
    did_close: bool,
    last_syn: Option<u64>,
    last_fin: Option<u64>,
    last_rst: Option<u64>,
    retransmits: u64,
    next_t_mark: u64,
    /// TCP: the highest sequence offset used, a FIN's included.
    top: u64,
}

impl Endpoint {
    fn set_state(&mut self, s: State) {
        self.prev_state = self.state;
        self.state = s;
    }
}

/// The table key: both ends, the smaller first, and the transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    a: (IpAddr, u16),
    b: (IpAddr, u16),
    proto: u8,
}

#[derive(Clone, Debug)]
struct Conn {
    orig: (IpAddr, u16),
    resp: (IpAddr, u16),
    proto: Protocol,
    start: Timestamp,
    last: Timestamp,
    ends: [Endpoint; 2],
    history: String,
    /// History letters already logged once, a bit per letter and side.
    hist_seen: u64,
    /// The order in which connections began, for uids and a stable output order.
    serial: u64,
    /// When a TCP close completed (both closed, or a reset).
    closed: bool,
    /// The application protocol, once a payload shows it.
    service: Option<&'static str>,
}

/// A table entry: the connection, boxed, and when it ends if nothing more arrives. The entry
/// stays 64 bytes (the key, the deadline, a pointer) where the connection is about 400: a
/// table growing past a power of two moves every entry at once, and the sweep reads every
/// entry's deadline, so both cost what the entries weigh. Inline, the doubling past 458,752
/// connections stopped the meter for 280 ms, and a sweep of 600,000 for 100 ms, while a live
/// capture's kernel buffer filled (BENCHMARKS.md, "Live capture on a veth pair").
struct Slot {
    /// `deadline` of the connection as of its last packet: set at every packet, the only
    /// time it changes.
    deadline: Timestamp,
    conn: Box<Conn>,
}

/// The flow meter: give it packets in capture order, take the flows it emits.
pub struct FlowMeter {
    config: MeterConfig,
    /// foldhash, seeded per process: a fifth of SipHash's cost here, and a seed an attacker
    /// crafting packets does not know.
    table: HashMap<Key, Slot, foldhash::fast::RandomState>,
    /// The table's connections by last activity, while the table is full or nearly (built
    /// when it first fills, dropped when a sweep leaves it half empty): what it evicts.
    idle: Option<IdleQueue<Key>>,
    /// IP datagrams in reassembly.
    defrag: Defrag,
    stats: MeterStats,
    out: Vec<FlowRecord>,
    next_serial: u64,
    last_sweep: i64,
    /// Packets since the last sweep.
    since_sweep: usize,
    now: Timestamp,
}

impl FlowMeter {
    /// A meter with these timeouts and bounds.
    pub fn new(config: MeterConfig) -> Self {
        FlowMeter {
            defrag: Defrag::new(
                config.frag_timeout,
                config.max_frag_datagrams,
                config.max_frag_bytes,
            ),
            config,
            table: HashMap::default(),
            idle: None,
            stats: MeterStats::default(),
            out: Vec::new(),
            next_serial: 0,
            last_sweep: i64::MIN,
            since_sweep: 0,
            now: Timestamp(i64::MIN),
        }
    }

    /// What the meter has seen so far.
    pub fn stats(&self) -> &MeterStats {
        &self.stats
    }

    /// Takes the flows that have ended, in the order they began.
    pub fn drain(&mut self) -> Vec<FlowRecord> {
        std::mem::take(&mut self.out)
    }

    /// Ends every open connection (the capture is over) and returns all flows not yet drained.
    pub fn finish(&mut self) -> Vec<FlowRecord> {
        self.defrag.finish(&mut self.stats);
        self.idle = None;
        let mut rest: Vec<Box<Conn>> = self.table.drain().map(|(_, s)| s.conn).collect();
        rest.sort_by_key(|c| c.serial);
        let mut out = self.drain();
        for c in rest {
            out.push(self.emit(*c));
        }
        out.sort_by_key(|f| f.ts);
        out
    }

    /// Ends every connection whose timeout has passed at `now` (when no packet comes to move
    /// the meter's clock: a live capture calls this with the wall clock mapped to packet time).
    /// A time before the last packet's is taken as the last packet's; the ended flows are
    /// [`drain`](Self::drain)ed as usual.
    pub fn expire(&mut self, now: Timestamp) {
        let t = now.max(self.now);
        self.now = t;
        self.since_sweep = 0;
        self.sweep(t);
        self.last_sweep = t.0;
    }

    /// Counts one packet into its connection; a packet that is in no flow says why (and is
    /// counted in [`MeterStats`]). An IP fragment goes to its datagram's reassembly (`Ok`:
    /// counted as pending, or as rejected if it cannot be part of its datagram); the fragment
    /// that completes the datagram counts the datagram into its connection as one packet.
    pub fn push(&mut self, packet: &Packet<'_>) -> Result<(), Skip> {
        self.stats.packets += 1;
        let t = packet.ts.max(self.now);
        let d = match decode(packet.linktype, packet.data) {
            Ok(Ip::Whole(d)) => {
                self.stats.in_flows += 1;
                d
            }
            Ok(Ip::Fragment(f)) => {
                self.now = t;
                match self.defrag.push(&f, t, &mut self.stats) {
                    None => return Ok(()),
                    Some((Ok(d), n)) => {
                        self.stats.in_flows += n;
                        self.stats.frag_datagrams += 1;
                        self.stats.frag_in_flows += n;
                        d
                    }
                    Some((Err(skip), n)) => {
                        self.stats.malformed += n;
                        return Err(skip);
                    }
                }
            }
            Err(skip) => {
                match skip {
                    Skip::NotIp => self.stats.not_ip += 1,
                    Skip::Linktype => self.stats.unknown_linktype += 1,
                    Skip::Malformed => self.stats.malformed += 1,
                }
                return Err(skip);
            }
        };
        self.now = t;
        // Ended connections are looked for once a second of capture time, but the walk costs
        // at most 4 table entries a packet on average (a sparse capture, hours of a few
        // packets, would otherwise walk the whole table at every packet), unless a minute has
        // passed. A connection whose next packet comes after its end is ended at that packet.
        self.since_sweep += 1;
        let due = t.0 >= self.last_sweep.saturating_add(SEC)
            && (self.since_sweep.saturating_mul(4) >= self.table.len()
                || t.0 >= self.last_sweep.saturating_add(60 * SEC));
        if due {
            self.since_sweep = 0;
            self.sweep(t);
            self.last_sweep = t.0;
        }
        let (proto, src, dst) = ends(&d);
        let key = key(proto, src, dst);
        let expired = self.table.get(&key).is_some_and(|s| s.deadline < t);
        if expired {
            if let Some(s) = self.table.remove(&key) {
                let f = self.emit(*s.conn);
                self.out.push(f);
            }
        }
        if !self.table.contains_key(&key) && self.table.len() >= self.config.max_conns {
            self.evict_oldest();
        }
        let serial = self.next_serial;
        let slot = self.table.entry(key).or_insert_with(|| Slot {
            deadline: t,
            conn: Box::new(open(&d, src, dst, t, serial)),
        });
        if slot.conn.serial == serial {
            self.next_serial += 1;
            if let Some(idle) = self.idle.as_mut() {
                idle.push(key, (t.0, serial));
            }
        }
        update(&mut slot.conn, &d, src, t);
        slot.deadline = deadline(&self.config, &slot.conn);
        Ok(())
    }

    fn sweep(&mut self, t: Timestamp) {
        self.defrag.expire(t, &mut self.stats);
        let mut ended: Vec<Key> = Vec::new();
        for (k, s) in &self.table {
            if s.deadline < t {
                ended.push(*k);
            }
        }
        let mut conns: Vec<Box<Conn>> = ended
            .iter()
            .filter_map(|k| self.table.remove(k))
            .map(|s| s.conn)
            .collect();
        conns.sort_by_key(|c| c.serial);
        for c in conns {
            let f = self.emit(*c);
            self.out.push(f);
        }
        if let Some(idle) = &self.idle {
            if self.table.len() < self.config.max_conns / 2 {
                self.idle = None;
            } else if idle.len() > 2 * self.table.len() + 1024 {
                // Entries of ended connections outnumber the live ones.
                self.idle = Some(idle_queue(&self.table));
            }
        }
    }

    /// Ends the connection idle longest (the least last activity, then the least serial).
    fn evict_oldest(&mut self) {
        let table = &self.table;
        let idle = self.idle.get_or_insert_with(|| idle_queue(table));
        let Some(key) = idle.pop_oldest(|k| table.get(k).map(|s| (s.conn.last.0, s.conn.serial)))
        else {
            return;
        };
        if let Some(s) = self.table.remove(&key) {
            self.stats.evicted += 1;
            let f = self.emit(*s.conn);
            self.out.push(f);
        }
    }

    fn emit(&mut self, c: Conn) -> FlowRecord {
        self.stats.flows += 1;
        let (o, r) = (&c.ends[0], &c.ends[1]);
        let state = conn_state(&c);
        let lasted = c.last.0 > c.start.0;
        FlowRecord {
            ts: c.start,
            uid: Some(uid(c.serial, c.start)),
            orig_h: Some(c.orig.0),
            orig_p: Some(c.orig.1),
            resp_h: Some(c.resp.0),
            resp_p: Some(c.resp.1),
            proto: c.proto.clone(),
            // Zeek logs a duration and payload sizes only for a connection that lasted.
            duration: lasted.then_some(Interval(c.last.0 - c.start.0)),
            orig_bytes: lasted.then_some(o.bytes),
            resp_bytes: lasted.then_some(r.bytes),
            conn_state: Some(state),
            service: c.service.map(CompactString::const_new),
            missed_bytes: Some(o.missed + r.missed),
            history: Some(CompactString::from(c.history.as_str())),
            orig_pkts: Some(o.pkts),
            orig_ip_bytes: Some(o.ip_bytes),
            resp_pkts: Some(r.pkts),
            resp_ip_bytes: Some(r.ip_bytes),
            tunnel_parents: Some(Vec::new()),
            ..FlowRecord::default()
        }
    }
}

/// When this connection ends if nothing more arrives.
fn deadline(cfg: &MeterConfig, c: &Conn) -> Timestamp {
    let idle = match c.proto {
        Protocol::Tcp => {
            let (o, r) = (&c.ends[0], &c.ends[1]);
            if c.closed {
                cfg.tcp_close_delay
            } else if matches!(o.state, State::SynSent | State::SynAckSent)
                && r.state == State::Inactive
            {
                return Timestamp(c.start.0.saturating_add(cfg.tcp_attempt.0));
            } else {
                cfg.tcp_inactivity
            }
        }
        // Zeek's DNS analyzer ends its sessions after `dns_session_timeout` idle.
        Protocol::Udp if c.service == Some("dns") => cfg.dns_session,
        Protocol::Udp => cfg.udp_inactivity,
        _ => cfg.icmp_inactivity,
    };
    Timestamp(c.last.0.saturating_add(idle.0))
}

/// A new connection from its first packet: the sender is the originator unless the packet
/// looks like a server's answer (Zeek's `likely_server_ports` heuristic), which sets `^`.
fn open(d: &Decoded, src: (IpAddr, u16), dst: (IpAddr, u16), t: Timestamp, serial: u64) -> Conn {
    let (mut orig, mut resp) = (src, dst);
    let flipped = match d.transport {
        // A connection seen first without its SYN: the likely server is the responder (of two
        // likely servers, the lower port).
        Transport::Tcp(tcp) if !tcp.syn || tcp.ack => {
            likely_server(src.1) && (!likely_server(dst.1) || dst.1 < src.1)
        }
        Transport::Udp => likely_server(src.1) && !likely_server(dst.1),
        _ => false,
    };
    if flipped {
        std::mem::swap(&mut orig, &mut resp);
    }
    Conn {
        orig,
        resp,
        proto: match d.transport {
            Transport::Tcp(_) => Protocol::Tcp,
            Transport::Udp => Protocol::Udp,
            Transport::Icmp => Protocol::Icmp,
            Transport::Other => Protocol::Unknown,
        },
        start: t,
        last: t,
        ends: Default::default(),
        history: if flipped {
            "^".to_owned()
        } else {
            String::new()
        },
        hist_seen: 0,
        serial,
        closed: false,
        service: None,
    }
}

/// A stable, Zeek-shaped uid (`C` and 17 base-62 digits) from the connection's serial and start.
fn uid(serial: u64, start: Timestamp) -> CompactString {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // SplitMix64 of both: well spread, deterministic.
    let mut x = serial ^ (start.0 as u64).rotate_left(17);
    let mut next = || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut s = CompactString::from("C");
    let (mut a, mut b) = (next(), next());
    for i in 0..17 {
        let v = if i < 9 { &mut a } else { &mut b };
        s.push(DIGITS[(*v % 62) as usize] as char);
        *v /= 62;
    }
    s
}

fn proto_number(t: Transport) -> u8 {
    match t {
        Transport::Tcp(_) => 6,
        Transport::Udp => 17,
        Transport::Icmp => 1,
        Transport::Other => 0,
    }
}

/// The two ends of a packet as the table sees them: for ICMP, the ports are the type and its
/// counterpart (echo request 8 and reply 0 are one flow), as Zeek keys them.
fn ends(d: &Decoded) -> (u8, (IpAddr, u16), (IpAddr, u16)) {
    let proto = proto_number(d.transport);
    if d.transport == Transport::Icmp {
        let v6 = d.src.is_ipv6();
        let ty = d.sport;
        let (sport, dport) = match counterpart(ty, v6) {
            Some(other) => (ty, other),
            None => (ty, d.dport),
        };
        return (proto, (d.src, sport), (d.dst, dport));
    }
    (proto, (d.src, d.sport), (d.dst, d.dport))
}

/// The queue of a table's connections by last activity.
fn idle_queue(table: &HashMap<Key, Slot, foldhash::fast::RandomState>) -> IdleQueue<Key> {
    IdleQueue::build(
        table
            .iter()
            .map(|(k, s)| (*k, (s.conn.last.0, s.conn.serial))),
    )
}

fn key(proto: u8, x: (IpAddr, u16), y: (IpAddr, u16)) -> Key {
    if x <= y {
        Key { a: x, b: y, proto }
    } else {
        Key { a: y, b: x, proto }
    }
}

/// ICMP request/reply pairs (Zeek's `ICMP4_counterpart` and `ICMP6_counterpart`).
fn counterpart(ty: u16, v6: bool) -> Option<u16> {
    let pairs: &[(u16, u16)] = if v6 {
        &[
            (128, 129),
            (130, 131),
            (133, 134),
            (135, 136),
            (139, 140),
            (144, 145),
        ]
    } else {
        &[(8, 0), (13, 14), (15, 16), (10, 9), (17, 18)]
    };
    pairs.iter().find_map(|&(a, b)| {
        if ty == a {
            Some(b)
        } else if ty == b {
            Some(a)
        } else {
            None
        }
    })
}

/// Ports Zeek's analyzers register (`likely_server_ports`): a flow seen first from one of them
/// is turned around.
pub fn likely_server(port: u16) -> bool {
    matches!(
        port,
        21 | 22
            | 23
            | 25
            | 53
            | 67
            | 68
            | 69
            | 80
            | 81
            | 88
            | 110
            | 111
            | 123
            | 135
            | 137
            | 138
            | 139
            | 143
            | 161
            | 162
            | 389
            | 443
            | 445
            | 465
            | 502
            | 514
            | 563
            | 585
            | 587
            | 614
            | 631
            | 636
            | 989
            | 990
            | 992
            | 993
            | 995
            | 1080
            | 1883
            | 1900
            | 2811
            | 3128
            | 3306
            | 3389
            | 5060
            | 5223
            | 5353
            | 5355
            | 6379
            | 6666..=6669 | 8000 | 8080 | 8443 | 8888
    )
}

/// The application protocol a payload shows, as Zeek's analyzers would name it: DNS and DHCP on
/// their ports, HTTP, TLS and SSH by their first bytes, whatever the port.
fn service(c: &Conn, d: &Decoded) -> Option<&'static str> {
    let head = &d.head[..usize::from(d.head_len)];
    let ports = [c.orig.1, c.resp.1];
    match d.transport {
        Transport::Udp
            if d.payload_len >= 12 && ports.iter().any(|p| [53, 5353, 5355].contains(p)) =>
        {
            Some("dns")
        }
        Transport::Udp if ports.iter().any(|p| [67, 68].contains(p)) => Some("dhcp"),
        Transport::Tcp(_) => {
            const METHODS: [&[u8]; 8] = [
                b"GET ",
                b"POST ",
                b"HEAD ",
                b"PUT ",
                b"DELETE ",
                b"OPTIONS ",
                b"CONNECT ",
                b"HTTP/",
            ];
            if METHODS.iter().any(|m| head.starts_with(m)) {
                Some("http")
            } else if head.len() >= 2 && head[0] == 0x16 && head[1] == 0x03 {
                Some("ssl")
            } else if head.starts_with(b"SSH-") {
                Some("ssh")
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Adds a history letter the first time its event happens on a side; true if it had
/// happened before (Zeek's `CheckHistory`).
fn check_history(c: &mut Conn, is_orig: bool, letter: char) -> bool {
    check_history_as(c, is_orig, letter, letter)
}

/// [`check_history`] for an event whose flag is another letter's: Zeek logs a SYN as `S`, or
/// `H` with its ACK, under one flag.
fn check_history_as(c: &mut Conn, is_orig: bool, flag: char, letter: char) -> bool {
    let bit = (flag as u64 - 'A' as u64) + if is_orig { 0 } else { 32 };
    if c.hist_seen & (1 << bit) != 0 {
        return true;
    }
    c.hist_seen |= 1 << bit;
    add_history(c, is_orig, letter);
    false
}

fn add_history(c: &mut Conn, is_orig: bool, letter: char) {
    c.history.push(if is_orig {
        letter
    } else {
        letter.to_ascii_lowercase()
    });
}

fn update(c: &mut Conn, d: &Decoded, src: (IpAddr, u16), t: Timestamp) {
    let is_orig = src == c.orig;
    let side = usize::from(!is_orig);
    c.last = t;
    if c.service.is_none() && d.payload_len > 0 {
        c.service = service(c, d);
    }
    {
        let e = &mut c.ends[side];
        e.pkts += 1;
        e.ip_bytes += d.ip_len;
    }
    match d.transport {
        Transport::Tcp(tcp) => update_tcp(c, side, is_orig, &tcp, d.payload_len),
        Transport::Udp | Transport::Icmp | Transport::Other => {
            c.ends[side].bytes += d.payload_len;
            c.ends[side].set_state(State::Active);
            if d.payload_len > 0 && c.proto == Protocol::Udp {
                check_history(c, is_orig, 'D');
            }
        }
    }
}

fn update_tcp(c: &mut Conn, side: usize, is_orig: bool, tcp: &TcpInfo, len: u64) {
    // Sequence offsets relative to where this side's data starts.
    let base = *c.ends[side].base.get_or_insert(if tcp.syn {
        tcp.seq.wrapping_add(1)
    } else {
        tcp.seq
    });
    let data_seq = if tcp.syn {
        tcp.seq.wrapping_add(1)
    } else {
        tcp.seq
    };
    let rel = i64::from(data_seq.wrapping_sub(base) as i32).max(0) as u64;
    let end = rel + len;

    // History (Zeek's update_history).
    let bits = u8::from(tcp.syn) + u8::from(tcp.fin) + u8::from(tcp.rst);
    if bits > 1 {
        if tcp.fin && tcp.rst {
            check_history(c, is_orig, 'I');
        } else {
            check_history(c, is_orig, 'Q');
        }
    } else if bits == 1 {
        if tcp.syn {
            let code = if tcp.ack { 'H' } else { 'S' };
            if check_history_as(c, is_orig, 'S', code) && c.ends[side].last_syn != Some(rel) {
                add_history(c, is_orig, code);
            }
            c.ends[side].last_syn = Some(rel);
        }
        if tcp.fin {
            if check_history(c, is_orig, 'F') && c.ends[side].last_fin != Some(end) {
                add_history(c, is_orig, 'F');
            }
            c.ends[side].last_fin = Some(end);
        }
        if tcp.rst {
            if check_history(c, is_orig, 'R') && c.ends[side].last_rst != Some(rel) {
                add_history(c, is_orig, 'R');
            }
            c.ends[side].last_rst = Some(rel);
        }
    } else if len > 0 {
        check_history(c, is_orig, 'D');
    } else if tcp.ack {
        check_history(c, is_orig, 'A');
    }

    // Bytes: the highest offset of data; a segment below it is a retransmission, one above
    // it leaves a gap the sensor missed.
    {
        let e = &mut c.ends[side];
        let used = end + u64::from(tcp.fin);
        let resent = len > 0 && rel < e.top;
        if resent {
            e.retransmits += 1;
        } else if len > 0 && rel > e.bytes {
            e.missed += rel - e.bytes;
        }
        if len > 0 {
            e.bytes = e.bytes.max(end);
        }
        e.top = e.top.max(used);
    }
    if c.ends[side].retransmits >= c.ends[side].next_t_mark.max(1) {
        // Zeek logs a repeated event at 1, 10, 100, ... occurrences.
        let e = &mut c.ends[side];
        e.next_t_mark = e.next_t_mark.max(1) * 10;
        add_history(c, is_orig, 'T');
    }

    tcp_state_machine(c, side, is_orig, tcp, len);
}

/// Zeek's `TCPSessionAdapter::UpdateStateMachine`, the parts that decide `conn_state`.
fn tcp_state_machine(c: &mut Conn, side: usize, is_orig: bool, tcp: &TcpInfo, len: u64) {
    let peer_side = 1 - side;
    let state = c.ends[side].state;
    let peer = c.ends[peer_side].state;
    let mut do_close = false;
    match state {
        State::Inactive => {
            if tcp.syn {
                if is_orig {
                    c.ends[side].set_state(if tcp.ack {
                        State::SynAckSent
                    } else {
                        State::SynSent
                    });
                } else {
                    if peer == State::SynSent {
                        c.ends[peer_side].set_state(State::Established);
                    }
                    c.ends[side].set_state(State::Established);
                }
            }
            do_close |= fin_or_rst(&mut c.ends[side], tcp);
            if c.ends[side].state == State::Inactive {
                let orig_syn_sent = c.ends[0].state == State::SynSent;
                if !is_orig && len == 0 && orig_syn_sent {
                    // An ACK of the SYN before the SYN-ACK: not a partial connection.
                } else if tcp.ack && c.ends[peer_side].state == State::Established {
                    c.ends[side].set_state(State::Established);
                } else {
                    c.ends[side].set_state(State::Partial);
                }
            }
        }
        State::SynSent | State::SynAckSent => {
            do_close |= fin_or_rst(&mut c.ends[side], tcp);
        }
        State::Established | State::Partial => {
            if tcp.syn && state == State::Partial && peer == State::Inactive && !tcp.ack {
                c.ends[side].set_state(State::SynSent);
            }
            if tcp.fin && !tcp.rst {
                c.ends[side].set_state(State::Closed);
                let p = &mut c.ends[peer_side];
                if p.state == State::Reset && p.prev_state == State::Closed {
                    p.set_state(State::Closed);
                }
                do_close = true;
            }
            if tcp.rst {
                c.ends[side].set_state(State::Reset);
                do_close = true;
            }
        }
        State::Closed => {
            if tcp.rst && c.ends[peer_side].state != State::Closed {
                c.ends[side].set_state(State::Reset);
                do_close = !c.ends[side].did_close;
                // A RST after this side's FIN: Zeek's reset timer removes the connection
                // `tcp_reset_delay` (5 s) later.
                c.closed = true;
            }
        }
        State::Reset | State::Active => {}
    }
    if do_close && !c.ends[side].did_close {
        c.ends[side].did_close = true;
        let peer = &c.ends[peer_side];
        if c.ends[side].state == State::Reset || peer.did_close || peer.state == State::Inactive {
            c.closed = true;
        }
    }
}

/// A FIN closes an endpoint not yet established, a RST resets it (Zeek's inactive and
/// SYN-sent states treat them alike); true if either did.
fn fin_or_rst(e: &mut Endpoint, tcp: &TcpInfo) -> bool {
    if tcp.fin {
        e.set_state(State::Closed);
    }
    if tcp.rst {
        e.set_state(State::Reset);
    }
    tcp.fin || tcp.rst
}

/// Zeek's `conn_state` (base/protocols/conn/main.zeek) from the endpoint states.
fn conn_state(c: &Conn) -> ConnState {
    let (o, r) = (&c.ends[0], &c.ends[1]);
    match c.proto {
        Protocol::Tcp => {
            let (os, rs) = (o.state, r.state);
            let o_inactive = matches!(os, State::Inactive | State::Partial);
            let r_inactive = matches!(rs, State::Inactive | State::Partial);
            if rs == State::Reset {
                if matches!(os, State::SynSent | State::SynAckSent)
                    || (os == State::Reset && o.bytes == 0 && r.bytes == 0)
                {
                    ConnState::REJ
                } else if o_inactive {
                    ConnState::RSTRH
                } else {
                    ConnState::RSTR
                }
            } else if os == State::Reset {
                if r_inactive {
                    let h = c.history.trim_start_matches('^');
                    let rsto_s0 = h.starts_with('S')
                        && h[1..]
                            .split('R')
                            .next()
                            .is_some_and(|before| !before.contains(['H', 'A', 'F', 'G', 'I', 'Q']))
                        && h[1..].contains('R');
                    if rsto_s0 {
                        ConnState::RSTOS0
                    } else {
                        ConnState::OTH
                    }
                } else {
                    ConnState::RSTO
                }
            } else if rs == State::Closed && os == State::Closed {
                ConnState::SF
            } else if os == State::Closed {
                if r_inactive {
                    ConnState::SH
                } else {
                    ConnState::S2
                }
            } else if rs == State::Closed {
                if o_inactive {
                    ConnState::SHR
                } else {
                    ConnState::S3
                }
            } else if os == State::SynSent && rs == State::Inactive {
                ConnState::S0
            } else if os == State::Established && rs == State::Established {
                ConnState::S1
            } else {
                ConnState::OTH
            }
        }
        Protocol::Udp => match (o.state == State::Active, r.state == State::Active) {
            (true, true) => ConnState::SF,
            (true, false) => ConnState::S0,
            (false, true) => ConnState::SHR,
            (false, false) => ConnState::OTH,
        },
        _ => ConnState::OTH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a table doubling moves and a sweep reads, per connection: the key, the deadline
    /// and a pointer, not the connection inline (`Slot`'s documentation says why).
    #[test]
    fn a_table_entry_is_64_bytes_not_the_whole_connection() {
        let entry = std::mem::size_of::<(Key, Slot)>();
        assert!(entry <= 64, "a table entry is {entry} bytes");
        assert!(std::mem::size_of::<Conn>() > 4 * entry);
    }
}
