//! IP fragment reassembly before the connection table, with the rules of Zeek's
//! `FragReassembler` (src/Frag.cc) where they decide what a flow counts, and bounds Zeek does
//! not have.
//!
//! - A datagram is keyed as Zeek keys it: source, destination and identification (IPv4's 16
//!   bits, IPv6's 32), whatever the protocol or VLAN.
//! - It is complete when its data covers 0 up to the end the last fragment (MF clear) gives;
//!   it is then decoded as one packet of its connection, at the completing fragment's time,
//!   with the IP header of the first fragment that arrived (Zeek's `proto_hdr`) and the
//!   protocol of the fragment at offset 0. Its `ip_len` is that header's length plus the
//!   payload's, so a connection counts one packet and the datagram's bytes, as Zeek's conn.log
//!   does (`orig_pkts`, `orig_ip_bytes`), not one per fragment.
//! - Overlaps keep the data that came first (Zeek's reassembler does), and are counted: with
//!   the same bytes as Zeek's `fragment_overlap` weird, with other bytes (or another protocol
//!   than the datagram's) as `fragment_inconsistency`.
//! - A fragment that cannot be part of its datagram is rejected and counted: an end past the
//!   last fragment's end, a second last fragment with another end, a last fragment below data
//!   already held, data before the last not a multiple of 8 bytes, or an end past 65,535.
//!   Zeek takes most of these with a weird and moves the datagram's end; a datagram keeps one
//!   consistent end here.
//! - A datagram not complete `frag_timeout` after its first fragment (Zeek's 5 min, from the
//!   first fragment, not the last) is dropped and its fragments counted as timed out. Zeek
//!   bounds neither the datagrams in progress nor their bytes; here a new datagram past
//!   `max_frag_datagrams`, or data past `max_frag_bytes`, drops the oldest datagram first
//!   (counted as evicted). A capture that ends leaves its incomplete datagrams as unfinished.
//!
//! The buffer of one datagram is etherparse's [`IpDefragBuf`]; its pool (`IpDefragPool`) is not
//! used: it has no bound on datagrams or bytes, no per-datagram count of fragments, keys on the
//! protocol and VLANs as well, lets later data overwrite earlier and has no first-fragment
//! timeout (ARCHITECTURE.md says more).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use etherparse::defrag::{IpDefragBuf, IpDefragError};
use etherparse::{IpFragOffset, IpNumber};
use iotguard_flow::{Interval, Timestamp};

use crate::decode::{decode_datagram, Decoded, Fragment, Skip};
use crate::meter::MeterStats;

/// The largest datagram payload an IP fragment offset and length can describe.
const MAX_PAYLOAD: usize = u16::MAX as usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
}

#[derive(Debug)]
struct Datagram {
    buf: IpDefragBuf,
    /// Tells this datagram from an earlier one of the same key in the age queue.
    serial: u64,
    /// Fragments in it.
    fragments: u64,
    /// The IP header length of its first fragment to arrive.
    header_len: u16,
    /// The protocol: the offset-0 fragment's, until it comes the first fragment's.
    proto: u8,
    /// Bytes its buffer holds (its capacity), as counted in [`Defrag::bytes`].
    bytes: usize,
}

/// The datagrams in reassembly.
#[derive(Debug)]
pub(crate) struct Defrag {
    timeout: Interval,
    max_datagrams: usize,
    max_bytes: usize,
    table: HashMap<Key, Datagram, foldhash::fast::RandomState>,
    /// Datagrams in the order they began (their first fragment's time never decreases): the
    /// front is the next to time out and the first to evict. Entries of datagrams already gone
    /// are skipped, and cleared when they outnumber the live ones.
    age: VecDeque<(Timestamp, u64, Key)>,
    /// Buffered bytes, all datagrams together.
    bytes: usize,
    next_serial: u64,
}

/// Why a datagram left the reassembly incomplete.
#[derive(Clone, Copy)]
enum Drop {
    TimedOut,
    Evicted,
    Unfinished,
}

impl Defrag {
    pub(crate) fn new(timeout: Interval, max_datagrams: usize, max_bytes: usize) -> Self {
        Defrag {
            timeout,
            max_datagrams: max_datagrams.max(1),
            max_bytes,
            table: HashMap::default(),
            age: VecDeque::new(),
            bytes: 0,
            next_serial: 0,
        }
    }

    /// Takes one fragment at time `t` (counted in `stats`); returns the datagram it completed,
    /// decoded, with the number of fragments it was made of.
    pub(crate) fn push(
        &mut self,
        f: &Fragment<'_>,
        t: Timestamp,
        stats: &mut MeterStats,
    ) -> Option<(Result<Decoded, Skip>, u64)> {
        stats.fragments += 1;
        self.expire(t, stats);
        let start = usize::from(f.offset);
        let end = start + f.data.len();
        if end > MAX_PAYLOAD || (f.more && f.data.len() % 8 != 0) {
            stats.frag_rejected += 1;
            return None;
        }
        let key = Key {
            src: f.src,
            dst: f.dst,
            id: f.id,
        };
        if let Some(dg) = self.table.get(&key) {
            if !fits(&dg.buf, end, f.more) {
                stats.frag_rejected += 1;
                return None;
            }
        } else {
            while self.table.len() >= self.max_datagrams {
                if !self.evict_oldest(None, stats) {
                    break;
                }
            }
            let serial = self.next_serial;
            self.next_serial += 1;
            self.table.insert(
                key,
                Datagram {
                    buf: IpDefragBuf::new(IpNumber(f.proto), Vec::new(), Vec::new()),
                    serial,
                    fragments: 0,
                    header_len: f.header_len,
                    proto: f.proto,
                    bytes: 0,
                },
            );
            self.age.push_back((t, serial, key));
            if self.age.len() > 2 * self.table.len() + 1024 {
                let table = &self.table;
                self.age
                    .retain(|(_, serial, k)| table.get(k).is_some_and(|d| d.serial == *serial));
            }
        }
        let dg = self.table.get_mut(&key)?;
        let mut inconsistent = f.proto != dg.proto;
        if f.offset == 0 {
            dg.proto = f.proto;
        }
        let mut overlapping = false;
        for s in dg.buf.sections() {
            let lo = usize::from(s.start).max(start);
            let hi = usize::from(s.end).min(end);
            if lo < hi {
                overlapping = true;
                inconsistent |= dg.buf.data().get(lo..hi) != Some(&f.data[lo - start..hi - start]);
            }
        }
        if inconsistent {
            stats.frag_inconsistent += 1;
        } else if overlapping {
            stats.frag_overlapping += 1;
        }
        if add_holes(&mut dg.buf, start, f.more, f.data).is_err() {
            stats.frag_rejected += 1;
            return None;
        }
        dg.fragments += 1;
        stats.frag_pending += 1;
        if dg.buf.is_complete() {
            let dg = self.table.remove(&key)?;
            self.bytes -= dg.bytes;
            stats.frag_pending -= dg.fragments;
            let (payload, _) = dg.buf.take_bufs();
            let decoded = decode_datagram(key.src, key.dst, dg.proto, dg.header_len, &payload);
            return Some((decoded, dg.fragments));
        }
        let bytes = dg.buf.data().capacity();
        self.bytes = self.bytes - dg.bytes + bytes;
        dg.bytes = bytes;
        // Within the bound on bytes: a datagram that alone passes it goes itself; otherwise the
        // oldest others go first.
        if bytes > self.max_bytes {
            if let Some(dg) = self.table.remove(&key) {
                self.drop_datagram(dg, Drop::Evicted, stats);
            }
        }
        while self.bytes > self.max_bytes && self.evict_oldest(Some(key), stats) {}
        None
    }

    /// Drops the datagrams whose timeout has passed at `t`.
    pub(crate) fn expire(&mut self, t: Timestamp, stats: &mut MeterStats) {
        while let Some(&(first, serial, key)) = self.age.front() {
            if self.table.get(&key).is_none_or(|d| d.serial != serial) {
                self.age.pop_front();
                continue;
            }
            if first.0.saturating_add(self.timeout.0) >= t.0 {
                break;
            }
            self.age.pop_front();
            if let Some(dg) = self.table.remove(&key) {
                self.drop_datagram(dg, Drop::TimedOut, stats);
            }
        }
    }

    /// The capture is over: every datagram still incomplete is dropped as unfinished.
    pub(crate) fn finish(&mut self, stats: &mut MeterStats) {
        let rest: Vec<Datagram> = self.table.drain().map(|(_, d)| d).collect();
        for dg in rest {
            self.drop_datagram(dg, Drop::Unfinished, stats);
        }
        self.age.clear();
        self.bytes = 0;
    }

    /// Drops the oldest datagram but `keep`; false if there is none.
    fn evict_oldest(&mut self, keep: Option<Key>, stats: &mut MeterStats) -> bool {
        let mut i = 0;
        while let Some(&(_, serial, key)) = self.age.get(i) {
            let live = self.table.get(&key).is_some_and(|d| d.serial == serial);
            if !live {
                self.age.remove(i);
                continue;
            }
            if Some(key) == keep {
                i += 1;
                continue;
            }
            self.age.remove(i);
            if let Some(dg) = self.table.remove(&key) {
                self.drop_datagram(dg, Drop::Evicted, stats);
            }
            return true;
        }
        false
    }

    fn drop_datagram(&mut self, dg: Datagram, why: Drop, stats: &mut MeterStats) {
        self.bytes -= dg.bytes;
        stats.frag_pending -= dg.fragments;
        *match why {
            Drop::TimedOut => &mut stats.frag_timed_out,
            Drop::Evicted => &mut stats.frag_evicted,
            Drop::Unfinished => &mut stats.frag_unfinished,
        } += dg.fragments;
    }
}

/// Whether a fragment ending at `end` can be part of a datagram with this buffer: not past the
/// end a last fragment set, the same end if it is a last fragment too, and a last fragment not
/// below data already held.
fn fits(buf: &IpDefragBuf, end: usize, more: bool) -> bool {
    match buf.end() {
        Some(last) => end <= usize::from(last) && (more || end == usize::from(last)),
        None => more || buf.sections().iter().all(|s| usize::from(s.end) <= end),
    }
}

/// Adds the parts of a fragment's data the buffer does not hold yet (the data that came first
/// stays, as in Zeek's reassembler), then the datagram's end if this is its last fragment.
///
/// Every part starts at a multiple of 8: at the fragment's offset, or where held data ends,
/// which is a fragment's end with MF set (a multiple of 8, or it was rejected) or the
/// datagram's end (nothing is added past it). Every part but a last fragment's tail ends at a
/// fragment's start or at an MF fragment's end, so its length is a multiple of 8 too.
fn add_holes(
    buf: &mut IpDefragBuf,
    start: usize,
    more: bool,
    data: &[u8],
) -> Result<(), IpDefragError> {
    let end = start + data.len();
    let mut held: Vec<(usize, usize)> = buf
        .sections()
        .iter()
        .map(|s| (usize::from(s.start), usize::from(s.end)))
        .collect();
    held.sort_unstable();
    let mut at = start;
    let add = |buf: &mut IpDefragBuf, from: usize, to: usize, more: bool| {
        // Offsets fit in 13 bits: `from` is at most 65,535.
        let offset = IpFragOffset::try_new((from / 8) as u16).unwrap_or(IpFragOffset::ZERO);
        if from % 8 != 0 {
            return Err(IpDefragError::UnalignedFragmentPayloadLen {
                offset,
                payload_len: to - from,
            });
        }
        buf.add(offset, more, &data[from - start..to - start])
    };
    for (s, e) in held {
        if e <= at {
            continue;
        }
        if s >= end {
            break;
        }
        if s > at {
            add(buf, at, s, true)?;
        }
        at = at.max(e);
    }
    if at < end {
        add(buf, at, end, more)?;
    } else if !more && buf.end().is_none() {
        // The last fragment's data is all held already: it still sets the end.
        add(buf, end, end, false)?;
    }
    Ok(())
}
