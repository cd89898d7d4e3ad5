//! The collector: a UDP socket read on its own thread, each datagram decoded into flow records
//! and handed to the pipeline as a [`Source`]. A datagram that cannot be decoded is rejected
//! whole (counted, reported with its exporter and why, its bytes kept in the rejects file);
//! sequence gaps, reorders and data without a template are counted and told.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use iotguard_detect::source::{Source, SourceEvent};
use iotguard_flow::{ErrorKind, ParseError};
use serde::Serialize;

use crate::record::to_record;
use crate::sequence::{Check, Sequences};
use crate::wire::Decoder;

/// The socket's receive buffer asked of the kernel: room for bursts while detection is busy.
const RECV_BUFFER: usize = 8 << 20;

/// Gap and reorder notices told one by one, then one in this many.
const NOTICES_IN_FULL: u64 = 20;
const NOTICE_EVERY: u64 = 100;

/// The collector's counters; share it in an `Arc`.
#[derive(Debug, Default)]
pub struct NetflowStats {
    datagrams: AtomicU64,
    flows: AtomicU64,
    rejected: AtomicU64,
    templates: AtomicU64,
    sets_without_template: AtomicU64,
    sequence_gaps: AtomicU64,
    flows_lost: AtomicU64,
    datagrams_lost: AtomicU64,
    behind: AtomicU64,
    exporters: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetflowSnapshot {
    /// Datagrams received.
    pub datagrams: u64,
    /// Flow records decoded from them.
    pub flows: u64,
    /// Datagrams that could not be decoded (rejected whole).
    pub rejected: u64,
    /// Templates received (repeats included).
    pub templates: u64,
    /// Data sets skipped because their template had not arrived (their flows are lost).
    pub sets_without_template: u64,
    /// Jumps forward in an exporter's sequence numbers.
    pub sequence_gaps: u64,
    /// Flows lost by those jumps (NetFlow v5 and IPFIX count flows).
    pub flows_lost: u64,
    /// Datagrams lost by those jumps (NetFlow v9 counts datagrams; their flows are unknown).
    pub datagrams_lost: u64,
    /// Datagrams numbered behind the one expected (reordered, repeated, or a restart).
    pub behind: u64,
    /// Exporters seen (address, version, observation domain).
    pub exporters: u64,
}

impl NetflowStats {
    /// Returns the counters now.
    pub fn snapshot(&self) -> NetflowSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        NetflowSnapshot {
            datagrams: g(&self.datagrams),
            flows: g(&self.flows),
            rejected: g(&self.rejected),
            templates: g(&self.templates),
            sets_without_template: g(&self.sets_without_template),
            sequence_gaps: g(&self.sequence_gaps),
            flows_lost: g(&self.flows_lost),
            datagrams_lost: g(&self.datagrams_lost),
            behind: g(&self.behind),
            exporters: g(&self.exporters),
        }
    }
}

impl iotguard_detect::SourceMetrics for NetflowStats {
    fn snapshot_json(&self) -> serde_json::Value {
        serde_json::json!({ "netflow": self.snapshot() })
    }

    fn prometheus_text(&self) -> String {
        let s = self.snapshot();
        let mut out = String::new();
        for (name, help, value) in [
            ("datagrams", "NetFlow/IPFIX datagrams received", s.datagrams),
            ("flows", "flow records decoded", s.flows),
            (
                "rejected",
                "datagrams that could not be decoded",
                s.rejected,
            ),
            (
                "sets_without_template",
                "data sets skipped for want of their template",
                s.sets_without_template,
            ),
            (
                "sequence_gaps",
                "jumps in export sequence numbers",
                s.sequence_gaps,
            ),
            (
                "flows_lost",
                "flows lost by sequence jumps (v5, IPFIX)",
                s.flows_lost,
            ),
            (
                "datagrams_lost",
                "datagrams lost by sequence jumps (v9)",
                s.datagrams_lost,
            ),
        ] {
            out.push_str(&format!(
                "# HELP iotguard_netflow_{name}_total {help}\n# TYPE iotguard_netflow_{name}_total counter\niotguard_netflow_{name}_total {value}\n"
            ));
        }
        out
    }
}

/// Collects NetFlow v5/v9 and IPFIX exports sent over UDP.
pub struct NetflowSource {
    name: String,
    local: SocketAddr,
    rx: Receiver<Vec<SourceEvent>>,
    current: std::vec::IntoIter<SourceEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<NetflowStats>,
    ended: bool,
}

impl NetflowSource {
    /// Binds `listen` and starts reading exports.
    pub fn start(listen: SocketAddr) -> std::io::Result<NetflowSource> {
        let socket = UdpSocket::bind(listen)?;
        let local = socket.local_addr()?;
        // A bigger buffer only makes bursts less likely to overflow; loss is still counted.
        let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(RECV_BUFFER);
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let (tx, rx) = bounded(64);
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(NetflowStats::default());
        let name = format!("netflow:{local}");
        let thread = {
            let (stop, stats, name) = (stop.clone(), stats.clone(), name.clone());
            std::thread::Builder::new()
                .name("netflow".into())
                .spawn(move || receive(&socket, &tx, &stop, &stats, &name))?
        };
        Ok(NetflowSource {
            name,
            local,
            rx,
            current: Vec::new().into_iter(),
            stop,
            thread: Some(thread),
            stats,
            ended: false,
        })
    }

    /// The address the collector listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The collector's counters (attach them to the pipeline's stats).
    pub fn stats(&self) -> Arc<NetflowStats> {
        self.stats.clone()
    }
}

impl Source for NetflowSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_event(&mut self) -> iotguard_detect::Result<SourceEvent> {
        loop {
            if let Some(e) = self.current.next() {
                return Ok(e);
            }
            if self.ended {
                return Ok(SourceEvent::End);
            }
            match self.rx.recv_timeout(Duration::from_millis(100)) {
                Ok(batch) => self.current = batch.into_iter(),
                Err(RecvTimeoutError::Timeout) => return Ok(SourceEvent::Idle),
                Err(RecvTimeoutError::Disconnected) => {
                    self.ended = true;
                    return Ok(SourceEvent::Notice(format!(
                        "cannot read: the {} receiver stopped, nothing after this was read",
                        self.name
                    )));
                }
            }
        }
    }
}

impl Drop for NetflowSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The receiving thread: datagrams in, events out, until `stop` or the pipeline is gone.
fn receive(
    socket: &UdpSocket,
    tx: &Sender<Vec<SourceEvent>>,
    stop: &AtomicBool,
    stats: &NetflowStats,
    name: &str,
) {
    let mut buf = vec![0u8; 65_536];
    let mut decoder = Decoder::new();
    let mut sequences = Sequences::new();
    let mut serial = 0u64;
    let mut told_no_template = false;
    let input: Arc<str> = Arc::from(name);
    while !stop.load(Ordering::Relaxed) {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => {
                let _ = tx.send(vec![SourceEvent::Notice(format!(
                    "cannot read: {name}: {e}"
                ))]);
                return;
            }
        };
        let number = stats.datagrams.fetch_add(1, Ordering::Relaxed) + 1;
        let mut events = Vec::new();
        match decoder.decode(from, &buf[..n]) {
            Err(e) => {
                stats.rejected.fetch_add(1, Ordering::Relaxed);
                events.push(SourceEvent::Rejected(Box::new(ParseError {
                    input: input.clone(),
                    line: number,
                    kind: ErrorKind::Malformed,
                    field: None,
                    reason: format!("datagram from {from}: {e}"),
                    raw: buf[..n].to_vec(),
                })));
            }
            Ok(d) => {
                stats.templates.fetch_add(d.templates, Ordering::Relaxed);
                if d.sets_without_template > 0 {
                    stats
                        .sets_without_template
                        .fetch_add(d.sets_without_template, Ordering::Relaxed);
                    if !told_no_template {
                        told_no_template = true;
                        events.push(SourceEvent::Notice(format!(
                            "netflow: {from} sent data before its template; those flows are lost \
                             and counted (sets_without_template) until the template arrives"
                        )));
                    }
                }
                if let Some(text) = sequence_notice(sequences.check(from, &d), from, &d, stats) {
                    events.push(SourceEvent::Notice(text));
                }
                stats
                    .exporters
                    .store(sequences.exporters() as u64, Ordering::Relaxed);
                stats
                    .flows
                    .fetch_add(d.flows.len() as u64, Ordering::Relaxed);
                for f in &d.flows {
                    serial += 1;
                    events.push(SourceEvent::Record(Box::new(to_record(f, serial))));
                }
            }
        }
        if !events.is_empty() && tx.send(events).is_err() {
            return;
        }
    }
}

/// Counts a sequence check and returns what to tell, if anything.
fn sequence_notice(
    check: Check,
    from: SocketAddr,
    d: &crate::wire::Datagram,
    stats: &NetflowStats,
) -> Option<String> {
    let (n, text) = match check {
        Check::First | Check::InOrder => return None,
        Check::Gap { expected, missing } => {
            let n = stats.sequence_gaps.fetch_add(1, Ordering::Relaxed) + 1;
            let what = if d.version == 9 {
                stats.datagrams_lost.fetch_add(missing, Ordering::Relaxed);
                format!("{missing} datagram(s)")
            } else {
                stats.flows_lost.fetch_add(missing, Ordering::Relaxed);
                format!("{missing} flow(s)")
            };
            (
                n,
                format!(
                    "netflow: {from} (domain {}) sequence {} where {expected} was expected: \
                     {what} lost on the way",
                    d.domain, d.sequence
                ),
            )
        }
        Check::Behind { expected } => {
            let n = stats.behind.fetch_add(1, Ordering::Relaxed) + 1;
            (
                n,
                format!(
                    "netflow: {from} (domain {}) sequence {} behind the {expected} expected \
                     (reordered, repeated, or the exporter restarted)",
                    d.domain, d.sequence
                ),
            )
        }
    };
    (n <= NOTICES_IN_FULL || n % NOTICE_EVERY == 0).then_some(text)
}
