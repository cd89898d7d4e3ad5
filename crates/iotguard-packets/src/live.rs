//! Live capture (the `live` feature): packets from a network interface through the system's
//! libpcap (the `pcap` crate), put through the same [`FlowMeter`] as capture files, so a live
//! flow means what the same flow read from a pcap means.
//!
//! [`LiveCapture::open`] opens the interface (not promiscuous unless asked, whole packets, the
//! kernel handing them over at most 100 ms after they came, reads that do not block so an idle
//! link still hands control back) and compiles the BPF filter;
//! [`LiveCapture::run`] reads until a stop flag is set, driving the meter with packet time and,
//! when the link is quiet, with the wall clock mapped to packet time (so idle connections still
//! end on their timeouts), and hands out the ended flows and the kernel's drop counters. On stop
//! every open connection is ended and handed out: nothing metered is lost.
//!
//! This module knows nothing of detection: the `Source` the pipeline reads is in
//! `iotguard-capture`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use iotguard_flow::{FlowRecord, Timestamp};

use crate::meter::{FlowMeter, MeterConfig, MeterStats};
use crate::pcap::Packet;

/// Whole packets: the decoder slices every header strictly and wants each IP packet whole (a
/// cut packet would be `malformed`), and 65 535 bytes holds any IPv4 packet and what GRO merges.
pub const SNAPLEN: i32 = 65_535;

/// The read timeout: on Linux (TPACKET_V3) the kernel hands packets over in blocks, a block at
/// most this old. A blocking read on a quiet link would never return (an empty block is never
/// handed over), so reads do not block and an empty one sleeps [`IDLE_SLEEP`].
const READ_TIMEOUT_MS: i32 = 100;

/// How long to wait after a read found nothing: short against [`READ_TIMEOUT_MS`], long enough
/// to cost nothing on an idle link.
const IDLE_SLEEP: Duration = Duration::from_millis(5);

/// The kernel's capture buffer asked for: room for bursts while detection is busy (libpcap's
/// default is 2 MiB).
pub const BUFFER_BYTES: i32 = 32 << 20;

/// How often the kernel's counters are read and the idle connections swept.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// What to capture.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// The interface's name (`eth0`).
    pub interface: String,
    /// A BPF filter (`not port 22`), compiled by libpcap.
    pub filter: Option<String>,
    /// Capture packets not addressed to this host too.
    pub promiscuous: bool,
    /// The meter's timeouts and bounds.
    pub meter: MeterConfig,
}

impl LiveConfig {
    /// Captures all of `interface`'s traffic, not promiscuous, with Zeek's timeouts.
    pub fn new(interface: &str) -> Self {
        LiveConfig {
            interface: interface.to_string(),
            filter: None,
            promiscuous: false,
            meter: MeterConfig::default(),
        }
    }
}

/// Why a capture could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// libpcap could not open the interface (no such device, no permission).
    #[error("cannot capture on {interface}: {reason}")]
    Open {
        /// The interface.
        interface: String,
        /// libpcap's words.
        reason: String,
    },
    /// libpcap did not accept the filter.
    #[error("bad capture filter '{filter}': {reason}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// libpcap's words.
        reason: String,
    },
    /// Reading packets failed (the interface went away).
    #[error("capture on {interface} failed: {reason}")]
    Read {
        /// The interface.
        interface: String,
        /// libpcap's words.
        reason: String,
    },
}

/// The kernel's counters for the capture (libpcap's `pcap_stats`), kept in 64 bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Packets the kernel passed the filter (libpcap's `ps_recv`).
    pub received: u64,
    /// Packets dropped because the capture buffer was full: detection did not keep up.
    pub dropped: u64,
    /// Packets dropped by the interface or its driver (libpcap's `ps_ifdrop`).
    pub if_dropped: u64,
}

/// What [`LiveCapture::run`] hands out.
#[derive(Debug)]
pub enum LiveEvent {
    /// Flows that ended, in the order they began.
    Flows(Vec<FlowRecord>),
    /// The counters now (about once a second, and last of all).
    Stats {
        /// The kernel's.
        kernel: KernelStats,
        /// The meter's.
        meter: MeterStats,
    },
}

/// An open capture on one interface.
pub struct LiveCapture {
    cap: pcap::Capture<pcap::Active>,
    config: LiveConfig,
    linktype: i32,
    /// The last raw (32-bit) counters read, to add their differences across wrap-arounds.
    raw: (u32, u32, u32),
    kernel: KernelStats,
}

impl LiveCapture {
    /// Opens the interface and sets the filter; fails with libpcap's reason.
    pub fn open(config: LiveConfig) -> Result<LiveCapture, LiveError> {
        let open_error = |e: pcap::Error| LiveError::Open {
            interface: config.interface.clone(),
            reason: e.to_string(),
        };
        let mut cap = pcap::Capture::from_device(config.interface.as_str())
            .map_err(open_error)?
            .promisc(config.promiscuous)
            .snaplen(SNAPLEN)
            .timeout(READ_TIMEOUT_MS)
            .buffer_size(BUFFER_BYTES)
            .open()
            .and_then(pcap::Capture::setnonblock)
            .map_err(open_error)?;
        if let Some(filter) = &config.filter {
            cap.filter(filter, true).map_err(|e| LiveError::Filter {
                filter: filter.clone(),
                reason: e.to_string(),
            })?;
        }
        let linktype = cap.get_datalink().0;
        Ok(LiveCapture {
            cap,
            config,
            linktype,
            raw: (0, 0, 0),
            kernel: KernelStats::default(),
        })
    }

    /// The link type of the interface (1 for Ethernet).
    pub fn linktype(&self) -> i32 {
        self.linktype
    }

    /// Reads the kernel's counters; a failure leaves the last ones.
    fn poll_stats(&mut self) -> KernelStats {
        if let Ok(s) = self.cap.stats() {
            let (r, d, i) = self.raw;
            self.kernel.received += u64::from(s.received.wrapping_sub(r));
            self.kernel.dropped += u64::from(s.dropped.wrapping_sub(d));
            self.kernel.if_dropped += u64::from(s.if_dropped.wrapping_sub(i));
            self.raw = (s.received, s.dropped, s.if_dropped);
        }
        self.kernel
    }

    /// Captures until `stop` is set or `emit` returns false (nobody listens any more), then
    /// ends every open connection and hands it out with the last counters. Returns the final
    /// counters, or the read error that ended the capture early (after handing out every flow
    /// metered before it).
    pub fn run(
        mut self,
        stop: &AtomicBool,
        mut emit: impl FnMut(LiveEvent) -> bool,
    ) -> Result<(KernelStats, MeterStats), LiveError> {
        let mut meter = FlowMeter::new(self.config.meter.clone());
        // Packet time as of the last packet, and when (wall clock) it came: on a quiet link
        // the meter's clock goes on from there at the wall clock's pace.
        let mut clock: Option<(Timestamp, Instant)> = None;
        let mut packets_since_poll = 0u64;
        let mut last_poll = Instant::now();
        let mut failure = None;
        let mut listening = true;
        while listening && !stop.load(Ordering::Relaxed) {
            match self.cap.next_packet() {
                Ok(p) => {
                    // `time_t` and `suseconds_t` are 64 bits here, 32 on some platforms.
                    #[allow(clippy::useless_conversion)]
                    let ts = Timestamp(
                        i64::from(p.header.ts.tv_sec)
                            .saturating_mul(1_000_000_000)
                            .saturating_add(i64::from(p.header.ts.tv_usec).saturating_mul(1000)),
                    );
                    // A packet in no flow is counted in the meter's stats.
                    let _ = meter.push(&Packet {
                        ts,
                        linktype: self.linktype,
                        data: p.data,
                    });
                    clock = Some((ts, Instant::now()));
                    packets_since_poll += 1;
                }
                Err(pcap::Error::TimeoutExpired) => std::thread::sleep(IDLE_SLEEP),
                Err(e) => {
                    failure = Some(LiveError::Read {
                        interface: self.config.interface.clone(),
                        reason: e.to_string(),
                    });
                    break;
                }
            }
            let due = last_poll.elapsed() >= POLL_EVERY;
            // While packets come the meter sweeps on its own, as it does reading a file (the
            // same flows, and no walk of a large table every second); a poll interval without
            // a packet moves its clock on.
            if due && packets_since_poll == 0 {
                if let Some((ts, at)) = clock {
                    let since = i64::try_from(at.elapsed().as_nanos()).unwrap_or(i64::MAX);
                    meter.expire(Timestamp(ts.0.saturating_add(since)));
                }
            }
            // Flows end in bursts (a sweep ends many at once): each burst is one batch.
            let flows = meter.drain();
            if !flows.is_empty() {
                listening = emit(LiveEvent::Flows(flows));
            }
            if due && listening {
                last_poll = Instant::now();
                packets_since_poll = 0;
                let kernel = self.poll_stats();
                listening = emit(LiveEvent::Stats {
                    kernel,
                    meter: meter.stats().clone(),
                });
            }
        }
        let rest = meter.finish();
        if !rest.is_empty() {
            emit(LiveEvent::Flows(rest));
        }
        let kernel = self.poll_stats();
        let meter_stats = meter.stats().clone();
        emit(LiveEvent::Stats {
            kernel,
            meter: meter_stats.clone(),
        });
        match failure {
            Some(e) => Err(e),
            None => Ok((kernel, meter_stats)),
        }
    }
}
