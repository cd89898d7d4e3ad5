//! [`CaptureSource`]: the capture on its own thread, ended flows handed to the pipeline in
//! batches over a bounded channel, the kernel's and the meter's counters in [`CaptureStats`]
//! (`detect --json`, `/metrics`), and kernel drops told as they happen.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use iotguard_detect::source::{Source, SourceEvent};
use iotguard_packets::live::{KernelStats, LiveCapture, LiveConfig, LiveError, LiveEvent};
use iotguard_packets::MeterStats;
use serde::Serialize;

/// Drop notices: at most one in this long (the counters say the rest).
const NOTICE_EVERY: Duration = Duration::from_secs(10);

/// The capture's counters, as last read (once a second and at the end); share it in an `Arc`.
#[derive(Debug, Default)]
pub struct CaptureStats {
    latest: Mutex<CaptureSnapshot>,
}

/// A copy of the counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CaptureSnapshot {
    /// Packets the kernel passed the filter (libpcap's `ps_recv`; on Linux the dropped ones
    /// included, so `packets + dropped = received`, except on loopback, where the kernel
    /// passes each packet twice and libpcap keeps one).
    pub received: u64,
    /// Packets the kernel dropped because the capture buffer was full (libpcap's `ps_drop`):
    /// detection did not keep up, and they are in no flow.
    pub dropped: u64,
    /// Packets the interface or its driver dropped (libpcap's `ps_ifdrop`).
    pub if_dropped: u64,
    /// What the meter saw and made of it (its fields appear beside the kernel's in JSON).
    #[serde(flatten)]
    pub meter: MeterStats,
}

impl CaptureSnapshot {
    /// Packets lost before the meter saw them (the kernel's and the interface's drops).
    pub fn lost(&self) -> u64 {
        self.dropped + self.if_dropped
    }
}

impl CaptureStats {
    /// Returns the counters now.
    pub fn snapshot(&self) -> CaptureSnapshot {
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set(&self, kernel: &KernelStats, meter: &MeterStats) {
        *self.latest.lock().unwrap_or_else(|e| e.into_inner()) = CaptureSnapshot {
            received: kernel.received,
            dropped: kernel.dropped,
            if_dropped: kernel.if_dropped,
            meter: meter.clone(),
        };
    }
}

impl iotguard_detect::SourceMetrics for CaptureStats {
    fn snapshot_json(&self) -> serde_json::Value {
        serde_json::json!({ "capture": self.snapshot() })
    }

    fn prometheus_text(&self) -> String {
        let s = self.snapshot();
        let mut out = String::new();
        for (name, help, value) in [
            (
                "received",
                "packets the kernel passed the capture filter",
                s.received,
            ),
            (
                "dropped",
                "packets the kernel dropped, its capture buffer full",
                s.dropped,
            ),
            (
                "if_dropped",
                "packets the interface or its driver dropped",
                s.if_dropped,
            ),
            ("packets", "packets the flow meter read", s.meter.packets),
            ("not_ip", "packets that were not IP", s.meter.not_ip),
            (
                "unknown_linktype",
                "packets of a link type the meter does not decode",
                s.meter.unknown_linktype,
            ),
            ("malformed", "packets too short or malformed", s.meter.malformed),
            ("flows", "flows the meter emitted", s.meter.flows),
            (
                "evicted",
                "flows ended early, the connection table full",
                s.meter.evicted,
            ),
            ("fragments", "IP fragments the flow meter read", s.meter.fragments),
            (
                "frag_datagrams",
                "datagrams reassembled from IP fragments, one packet of a flow each",
                s.meter.frag_datagrams,
            ),
            (
                "frag_in_flows",
                "IP fragments of reassembled datagrams",
                s.meter.frag_in_flows,
            ),
            (
                "frag_timed_out",
                "IP fragments dropped, their datagram incomplete at the timeout",
                s.meter.frag_timed_out,
            ),
            (
                "frag_evicted",
                "IP fragments dropped, their datagram evicted from a full reassembly",
                s.meter.frag_evicted,
            ),
            (
                "frag_unfinished",
                "IP fragments dropped, their datagram incomplete when the capture ended",
                s.meter.frag_unfinished,
            ),
            (
                "frag_rejected",
                "IP fragments rejected as inconsistent with their datagram",
                s.meter.frag_rejected,
            ),
            (
                "frag_overlapping",
                "IP fragments overlapping data already held, with the same bytes",
                s.meter.frag_overlapping,
            ),
            (
                "frag_inconsistent",
                "IP fragments overlapping data already held with other bytes, or of another protocol",
                s.meter.frag_inconsistent,
            ),
        ] {
            out.push_str(&format!(
                "# HELP iotguard_capture_{name}_total {help}\n# TYPE iotguard_capture_{name}_total counter\niotguard_capture_{name}_total {value}\n"
            ));
        }
        out.push_str(&format!(
            "# HELP iotguard_capture_frag_pending IP fragments held for a datagram not yet complete\n# TYPE iotguard_capture_frag_pending gauge\niotguard_capture_frag_pending {}\n",
            s.meter.frag_pending
        ));
        out
    }
}

/// Flows from packets captured live on an interface.
pub struct CaptureSource {
    name: String,
    rx: Option<Receiver<Vec<SourceEvent>>>,
    current: std::vec::IntoIter<SourceEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<CaptureStats>,
    ended: bool,
}

impl CaptureSource {
    /// Opens the interface (a bad filter or a refused interface fails here) and starts
    /// capturing on a thread of its own. Once `stop` is set the capture ends every open
    /// connection, delivers it and then `End`: the pipeline must be stopped by the source's
    /// `End`, not by the same flag, or those last flows are not read.
    pub fn start(config: LiveConfig, stop: Arc<AtomicBool>) -> Result<CaptureSource, LiveError> {
        let name = format!("capture:{}", config.interface);
        let capture = LiveCapture::open(config)?;
        let (tx, rx) = bounded(64);
        let stats = Arc::new(CaptureStats::default());
        let thread = {
            let (stop, stats, thread_name) = (stop.clone(), stats.clone(), name.clone());
            std::thread::Builder::new()
                .name("capture".into())
                .spawn(move || capture_thread(capture, &tx, &stop, &stats, &thread_name))
                .map_err(|e| LiveError::Open {
                    interface: name.clone(),
                    reason: format!("cannot start the capture thread: {e}"),
                })?
        };
        Ok(CaptureSource {
            name,
            rx: Some(rx),
            current: Vec::new().into_iter(),
            stop,
            thread: Some(thread),
            stats,
            ended: false,
        })
    }

    /// The capture's counters (attach them to the pipeline's stats).
    pub fn stats(&self) -> Arc<CaptureStats> {
        self.stats.clone()
    }
}

impl Source for CaptureSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_event(&mut self) -> iotguard_detect::Result<SourceEvent> {
        loop {
            if let Some(e) = self.current.next() {
                if matches!(e, SourceEvent::End) {
                    self.ended = true;
                }
                return Ok(e);
            }
            if self.ended {
                return Ok(SourceEvent::End);
            }
            let Some(rx) = &self.rx else {
                return Ok(SourceEvent::End);
            };
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(batch) => self.current = batch.into_iter(),
                Err(RecvTimeoutError::Timeout) => return Ok(SourceEvent::Idle),
                Err(RecvTimeoutError::Disconnected) => {
                    self.ended = true;
                    return Ok(SourceEvent::Notice(format!(
                        "cannot read: the {} thread stopped, nothing after this was read",
                        self.name
                    )));
                }
            }
        }
    }
}

impl Drop for CaptureSource {
    fn drop(&mut self) {
        // Nobody reads any more: the thread's sends fail and it ends.
        self.stop.store(true, Ordering::Relaxed);
        self.rx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The capture thread: flows and counters to events until `stop`, then the last flows, the
/// last counters and `End`.
fn capture_thread(
    capture: LiveCapture,
    tx: &Sender<Vec<SourceEvent>>,
    stop: &AtomicBool,
    stats: &CaptureStats,
    name: &str,
) {
    let mut told_lost = 0u64;
    let mut last_notice: Option<Instant> = None;
    let result = capture.run(stop, |event| match event {
        LiveEvent::Flows(flows) => tx
            .send(
                flows
                    .into_iter()
                    .map(|f| SourceEvent::Record(Box::new(f)))
                    .collect(),
            )
            .is_ok(),
        LiveEvent::Stats { kernel, meter } => {
            stats.set(&kernel, &meter);
            let lost = kernel.dropped + kernel.if_dropped;
            let quiet = last_notice.is_some_and(|t| t.elapsed() < NOTICE_EVERY);
            if lost > told_lost && !quiet {
                let text = format!(
                    "{name}: {} packet(s) dropped before the meter saw them ({} by the kernel, \
                     its buffer full: detection is not keeping up; {} by the interface); they \
                     are in no flow",
                    lost - told_lost,
                    kernel.dropped,
                    kernel.if_dropped
                );
                told_lost = lost;
                last_notice = Some(Instant::now());
                return tx.send(vec![SourceEvent::Notice(text)]).is_ok();
            }
            true
        }
    });
    let mut last = Vec::new();
    if let Err(e) = result {
        last.push(SourceEvent::Notice(format!("cannot read: {e}")));
    }
    last.push(SourceEvent::End);
    let _ = tx.send(last);
}

#[cfg(test)]
mod tests {
    use iotguard_detect::SourceMetrics;

    use super::*;

    #[test]
    fn counters_show_in_json_and_prometheus_with_their_names() {
        let stats = CaptureStats::default();
        stats.set(
            &KernelStats {
                received: 24_484,
                dropped: 3,
                if_dropped: 1,
            },
            &MeterStats {
                packets: 24_480,
                in_flows: 22_744,
                not_ip: 1_736,
                unknown_linktype: 0,
                malformed: 0,
                flows: 3_172,
                evicted: 2,
                fragments: 12,
                frag_datagrams: 3,
                frag_in_flows: 8,
                frag_pending: 1,
                frag_timed_out: 2,
                frag_evicted: 0,
                frag_unfinished: 0,
                frag_rejected: 1,
                frag_overlapping: 1,
                frag_inconsistent: 0,
            },
        );
        let s = stats.snapshot();
        assert_eq!(s.lost(), 4);
        let json = stats.snapshot_json();
        assert_eq!(json["capture"]["received"], 24_484);
        assert_eq!(json["capture"]["dropped"], 3);
        assert_eq!(json["capture"]["not_ip"], 1_736);
        assert_eq!(json["capture"]["evicted"], 2);
        assert_eq!(json["capture"]["frag_timed_out"], 2);
        assert_eq!(json["capture"]["frag_pending"], 1);
        let text = stats.prometheus_text();
        for line in [
            "iotguard_capture_received_total 24484\n",
            "iotguard_capture_dropped_total 3\n",
            "iotguard_capture_if_dropped_total 1\n",
            "iotguard_capture_packets_total 24480\n",
            "iotguard_capture_not_ip_total 1736\n",
            "iotguard_capture_unknown_linktype_total 0\n",
            "iotguard_capture_malformed_total 0\n",
            "iotguard_capture_flows_total 3172\n",
            "iotguard_capture_evicted_total 2\n",
            "iotguard_capture_fragments_total 12\n",
            "iotguard_capture_frag_datagrams_total 3\n",
            "iotguard_capture_frag_timed_out_total 2\n",
            "iotguard_capture_frag_rejected_total 1\n",
            "# TYPE iotguard_capture_frag_pending gauge\niotguard_capture_frag_pending 1\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert_eq!(text.matches("# TYPE ").count(), 19);
    }
}
