//! Packet captures (pcap and pcapng files) as an input like any other: the flow meter
//! (`iotguard-packets`) turns their packets into the flows Zeek would log, so `inspect`,
//! `convert`, `train`, `eval`, `compare` and `detect` take a capture file as they take a conn
//! log. The meter runs on a thread of its own and hands flows over as connections end.
//!
//! Nothing is lost in silence: a malformed packet is a counted error naming its packet number,
//! IP fragments whose datagram never completed are one counted error at the end,
//! a capture cut inside a packet yields every flow before the cut and then an I/O error, and a
//! meter thread that stops without saying it is done is an error too.

use std::fs::File;
use std::io::BufReader;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use iotguard_flow::{ErrorKind, FlowRecord, ParseError, RecordIter};
use iotguard_packets::decode::Skip;
use iotguard_packets::{read_pcap, FlowMeter, MeterConfig, MeterStats};

use crate::error::{Error, Result};

/// True for the first four bytes of a pcap (either byte order, micro- or nanoseconds) or a
/// pcapng file.
pub(crate) fn is_pcap(magic: &[u8; 4]) -> bool {
    matches!(
        magic,
        [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x0a, 0x0d, 0x0d, 0x0a]
    )
}

type Item = std::result::Result<FlowRecord, ParseError>;

/// What the meter thread sends: flows and errors in batches (a hand-off per flow cost a tenth
/// of the time in thread wake-ups), then `None` once the capture is done.
type Message = Option<Vec<Item>>;

/// IP fragments that made no flow (their datagram never completed, or they were inconsistent
/// with it), as one error for the whole capture naming only the reasons that occurred; `None`
/// if there were none.
fn fragments_in_no_flow(s: &MeterStats) -> Option<String> {
    let lost = s.frag_timed_out + s.frag_evicted + s.frag_unfinished + s.frag_rejected;
    (lost > 0).then(|| {
        let reasons: Vec<String> = [
            (
                s.frag_timed_out,
                "from datagrams still incomplete 5 min after their first fragment",
            ),
            (
                s.frag_evicted,
                "from datagrams dropped from a full reassembly table",
            ),
            (
                s.frag_unfinished,
                "from datagrams incomplete when the capture ended",
            ),
            (s.frag_rejected, "inconsistent with their datagram"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, why)| format!("{n} {why}"))
        .collect();
        format!(
            "{lost} of the capture's {} IP fragments are in no flow: {}",
            s.fragments,
            reasons.join(", ")
        )
    })
}

/// Flows handed over at a time.
const BATCH: usize = 512;

/// Opens a capture file: its flows come as the meter ends their connections.
pub(crate) fn open(name: &str, file: File) -> Result<Box<dyn RecordIter>> {
    let (tx, rx) = sync_channel::<Message>(16);
    let input: Arc<str> = name.into();
    let thread_input = input.clone();
    std::thread::Builder::new()
        .name("pcap-meter".to_owned())
        .spawn(move || {
            let input = thread_input;
            let error = |line: u64, kind: ErrorKind, reason: String| ParseError {
                input: input.clone(),
                line,
                kind,
                field: None,
                reason,
                raw: Vec::new(),
            };
            let mut meter = FlowMeter::new(MeterConfig::default());
            let mut batch: Vec<Item> = Vec::with_capacity(BATCH);
            let mut receiver_gone = false;
            let mut number = 0u64;
            let read = read_pcap(BufReader::new(file), |packet| {
                number += 1;
                if receiver_gone {
                    return;
                }
                let skipped = match meter.push(&packet) {
                    Ok(()) | Err(Skip::NotIp) => None,
                    Err(Skip::Malformed) => Some("too short or malformed for its headers"),
                    Err(Skip::Linktype) => Some("a link type the flow meter does not decode"),
                };
                if let Some(why) = skipped {
                    let reason = format!("packet {number}: {why}");
                    batch.push(Err(error(number, ErrorKind::Malformed, reason)));
                }
                batch.extend(meter.drain().into_iter().map(Ok));
                if batch.len() >= BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    receiver_gone |= tx.send(Some(full)).is_err();
                }
            });
            if receiver_gone {
                return;
            }
            batch.extend(meter.finish().into_iter().map(Ok));
            if let Some(reason) = fragments_in_no_flow(meter.stats()) {
                batch.push(Err(error(number, ErrorKind::Malformed, reason)));
            }
            if let Err(e) = read {
                batch.push(Err(error(number, ErrorKind::Io, e.to_string())));
            }
            if tx.send(Some(batch)).is_ok() {
                let _ = tx.send(None);
            }
        })
        .map_err(|e| Error::io(name, e))?;
    Ok(Box::new(PcapRecords {
        rx,
        input,
        current: Vec::new().into_iter(),
        done: false,
    }))
}

/// The flows of a capture, as the meter thread sends them.
struct PcapRecords {
    rx: Receiver<Message>,
    input: Arc<str>,
    current: std::vec::IntoIter<Item>,
    done: bool,
}

impl Iterator for PcapRecords {
    type Item = Item;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            match self.rx.recv() {
                Ok(Some(batch)) => self.current = batch.into_iter(),
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(_) => {
                    self.done = true;
                    return Some(Err(ParseError {
                        input: self.input.clone(),
                        line: 0,
                        kind: ErrorKind::Io,
                        field: None,
                        reason: "the flow meter stopped before the end of the capture".to_owned(),
                        raw: Vec::new(),
                    }));
                }
            }
        }
    }
}

impl RecordIter for PcapRecords {
    fn format_name(&self) -> &'static str {
        "pcap"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// testdata/pcap/fragments.pcap: its four reassembled flows, then one error for the three
    /// IP fragments in no flow (two of a datagram never completed, one inconsistent with its
    /// datagram), naming the reasons.
    #[test]
    fn ip_fragments_in_no_flow_are_one_error_at_the_end() {
        let path = iotguard_testkit::testdata("pcap/fragments.pcap");
        let items: Vec<Item> = open("fragments.pcap", File::open(path).unwrap())
            .unwrap()
            .collect();
        assert_eq!(items.len(), 5);
        assert!(items[..4].iter().all(Result::is_ok));
        let e = items[4].as_ref().unwrap_err();
        assert_eq!((e.kind, e.line), (ErrorKind::Malformed, 25));
        assert_eq!(
            e.reason,
            "3 of the capture's 17 IP fragments are in no flow: 2 from datagrams incomplete \
             when the capture ended, 1 inconsistent with their datagram"
        );
    }
}
