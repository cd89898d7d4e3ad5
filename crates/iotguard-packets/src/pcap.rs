//! Reading pcap and pcapng files: each packet with its time, link type and captured bytes.

use std::io::Read;

use iotguard_flow::Timestamp;
use pcap_parser::pcapng::Block;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError as ParserError};

/// A packet as the capture file holds it.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// When it was captured.
    pub ts: Timestamp,
    /// The link type of its interface (1 Ethernet, 113 Linux cooked, 101 raw IP, ...).
    pub linktype: i32,
    /// The captured bytes, from the link-layer header on.
    pub data: &'a [u8],
}

/// Why a capture file could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// Neither a pcap nor a pcapng file.
    #[error("not a pcap or pcapng file")]
    NotPcap,
    /// The file ends inside a packet, or a block does not parse.
    #[error("corrupt packet capture after {packets} packets at byte {offset}: {reason}")]
    Corrupt {
        /// Packets read before it.
        packets: u64,
        /// Byte offset of the bad block.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// Reading the file failed.
    #[error("reading the capture: {0}")]
    Io(#[from] std::io::Error),
}

/// Largest block accepted (a packet of 256 KiB, the largest snap length tools write, and its
/// headers): a bigger declared block is corruption, not a packet.
const MAX_BLOCK: usize = 300 * 1024;

/// Reads every packet of a pcap or pcapng file in order, calling `each` on it; returns the
/// number of packets. Stops at the first corrupt block with an error that says how many packets
/// came before it (those were all given to `each`).
pub fn read_pcap<R: Read + Send>(
    reader: R,
    mut each: impl FnMut(Packet<'_>),
) -> Result<u64, PcapError> {
    let mut capacity = 64 * 1024;
    let mut reader = match create_reader(capacity, reader) {
        Ok(r) => r,
        Err(ParserError::Eof) | Err(ParserError::HeaderNotRecognized) => {
            return Err(PcapError::NotPcap)
        }
        Err(ParserError::Incomplete(_)) | Err(ParserError::UnexpectedEof) => {
            return Err(corrupt(0, 0, "the file ends inside its header".to_owned()))
        }
        Err(e) => return Err(corrupt(0, 0, format!("{e:?}"))),
    };
    let mut packets = 0u64;
    let mut legacy_linktype = 1i32;
    let mut legacy_nanos = false;
    // pcapng: each interface's link type, time resolution (units a second) and offset.
    let mut interfaces: Vec<(i32, u64, i64)> = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_linktype = h.network.0;
                        legacy_nanos = h.is_nanosecond_precision();
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let nanos = if legacy_nanos {
                            b.ts_usec
                        } else {
                            b.ts_usec.saturating_mul(1000)
                        };
                        let len = (b.caplen as usize).min(b.data.len());
                        each(Packet {
                            ts: Timestamp::from_secs_nanos(i64::from(b.ts_sec), nanos),
                            linktype: legacy_linktype,
                            data: &b.data[..len],
                        });
                        packets += 1;
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => interfaces.push((
                        idb.linktype.0,
                        idb.ts_resolution().unwrap_or(1_000_000),
                        idb.ts_offset(),
                    )),
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let (linktype, resolution, ts_offset) = interfaces
                            .get(epb.if_id as usize)
                            .copied()
                            .unwrap_or((1, 1_000_000, 0));
                        let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let resolution = resolution.max(1);
                        let secs = (units / resolution) as i64 + ts_offset;
                        let frac = units % resolution;
                        let nanos =
                            (u128::from(frac) * 1_000_000_000 / u128::from(resolution)) as u32;
                        let len = (epb.caplen as usize).min(epb.data.len());
                        each(Packet {
                            ts: Timestamp::from_secs_nanos(secs, nanos),
                            linktype,
                            data: &epb.data[..len],
                        });
                        packets += 1;
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        // No time of its own: the pcapng spec leaves it unknown.
                        let linktype = interfaces.first().map_or(1, |i| i.0);
                        each(Packet {
                            ts: Timestamp(0),
                            linktype,
                            data: spb.data,
                        });
                        packets += 1;
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(ParserError::Eof) => return Ok(packets),
            Err(ParserError::Incomplete(_)) => {
                if let Err(e) = reader.refill() {
                    let reason = format!("{e:?}");
                    return Err(corrupt(packets, reader.consumed(), reason));
                }
            }
            Err(ParserError::UnexpectedEof) => {
                return Err(corrupt(
                    packets,
                    reader.consumed(),
                    "the file ends inside a packet".to_owned(),
                ))
            }
            Err(ParserError::BufferTooSmall) => {
                capacity *= 2;
                if capacity > MAX_BLOCK * 2 || !reader.grow(capacity) {
                    return Err(corrupt(
                        packets,
                        reader.consumed(),
                        format!("a block larger than {MAX_BLOCK} bytes"),
                    ));
                }
                if let Err(e) = reader.refill() {
                    let reason = format!("{e:?}");
                    return Err(corrupt(packets, reader.consumed(), reason));
                }
            }
            Err(e) => {
                let reason = format!("{e:?}");
                return Err(corrupt(packets, reader.consumed(), reason));
            }
        }
    }
}

fn corrupt(packets: u64, offset: usize, reason: String) -> PcapError {
    PcapError::Corrupt {
        packets,
        offset: offset as u64,
        reason,
    }
}
