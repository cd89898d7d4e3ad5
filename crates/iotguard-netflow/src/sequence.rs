//! Export sequence numbers, per exporter and observation domain: how loss between the
//! exporter and the collector is seen. UDP gives no other sign of it.
//!
//! What a sequence number counts differs by version: v5 and IPFIX count flow (data) records,
//! so a jump is a number of flows lost; v9 counts export datagrams (RFC 3954 §5.1), so a jump
//! is a number of datagrams lost, their flows unknown. Loss after an exporter's last datagram
//! shows in no sequence number: only the exporter's own count can tell it.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::wire::Datagram;

/// What a datagram's sequence number says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The first datagram of this exporter and domain (or the first after a gap in counting).
    First,
    /// The number expected.
    InOrder,
    /// A jump forward: this many records (v5, IPFIX) or datagrams (v9) never arrived.
    Gap {
        /// The number expected.
        expected: u32,
        /// How many are missing.
        missing: u64,
    },
    /// A number behind the one expected: a datagram reordered, duplicated, or an exporter
    /// restart. Counted; the tracking restarts from it.
    Behind {
        /// The number expected.
        expected: u32,
    },
}

/// How an IPFIX exporter counts. RFC 7011 §3.1: the sequence number is the count of data
/// records sent *before* this message, options records included. softflowd 1.1.0 counts the
/// records *up to and including* this message, and leaves options records out. Each
/// exporter's convention is learned from its numbers: of the four, those its datagrams agree
/// with are kept.
const CONVENTIONS: [(bool, bool); 4] = [
    // (counts this message's records, counts options records)
    (false, true),
    (false, false),
    (true, true),
    (true, false),
];

/// What is remembered of an exporter's last datagram.
#[derive(Clone, Copy, Debug)]
struct Last {
    sequence: u32,
    flows: u32,
    options: u32,
    /// The conventions (bits of [`CONVENTIONS`]) consistent with the numbers seen so far.
    candidates: u8,
}

/// The last sequence number of each exporter and domain.
#[derive(Debug, Default)]
pub struct Sequences {
    last: HashMap<(SocketAddr, u16, u32), Last>,
}

/// Exporters (address, version, domain) tracked at most.
const MAX_EXPORTERS: usize = 65_536;

/// More than this many behind or ahead is taken for a restart rather than loss.
const HALF: u32 = 1 << 31;

impl Sequences {
    /// Returns a tracker that has seen nothing.
    pub fn new() -> Sequences {
        Sequences::default()
    }

    /// The exporters (address, version, domain) seen so far.
    pub fn exporters(&self) -> usize {
        self.last.len()
    }

    /// Checks a datagram's number against the one expected and records it.
    pub fn check(&mut self, exporter: SocketAddr, d: &Datagram) -> Check {
        let key = (exporter, d.version, d.domain);
        let now = Last {
            sequence: d.sequence,
            flows: d.counted_records as u32,
            options: d.option_records as u32,
            candidates: 0b1111,
        };
        let Some(prev) = self.last.get(&key).copied() else {
            // Bounded: datagrams with forged source addresses cannot grow it without end.
            if self.last.len() < MAX_EXPORTERS {
                self.last.insert(key, now);
            }
            return Check::First;
        };
        // The number expected under each convention still held.
        let expected = |c: usize| -> u32 {
            match d.version {
                9 => prev.sequence.wrapping_add(1),
                5 => prev.sequence.wrapping_add(prev.flows),
                _ => {
                    let (inclusive, options) = CONVENTIONS[c];
                    let from = if inclusive { now } else { prev };
                    let n = from.flows + if options { from.options } else { 0 };
                    prev.sequence.wrapping_add(n)
                }
            }
        };
        let held: Vec<usize> = (0..CONVENTIONS.len())
            .filter(|&c| prev.candidates & (1 << c) != 0)
            .collect();
        let agreeing = held.iter().fold(0u8, |m, &c| {
            if expected(c) == d.sequence {
                m | 1 << c
            } else {
                m
            }
        });
        let first = held.first().copied().unwrap_or(0);
        // An IPFIX message with a set we could not read leaves its record count unknown: the
        // next number cannot be predicted, so the next datagram starts counting afresh.
        if d.version == 10 && d.sets_without_template > 0 {
            self.last.remove(&key);
        } else {
            let candidates = if agreeing != 0 {
                agreeing
            } else {
                prev.candidates
            };
            self.last.insert(key, Last { candidates, ..now });
        }
        if agreeing != 0 {
            return Check::InOrder;
        }
        let expected = expected(first);
        let ahead = d.sequence.wrapping_sub(expected);
        if ahead < HALF {
            Check::Gap {
                expected,
                missing: u64::from(ahead),
            }
        } else {
            Check::Behind { expected }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dgram(version: u16, sequence: u32, records: u64) -> Datagram {
        Datagram {
            version,
            sequence,
            counted_records: records,
            ..Datagram::default()
        }
    }

    #[test]
    fn v5_and_ipfix_count_records_v9_counts_datagrams() {
        let from: SocketAddr = "192.0.2.1:9".parse().unwrap();
        let mut s = Sequences::new();
        assert_eq!(s.check(from, &dgram(5, 100, 30)), Check::First);
        assert_eq!(s.check(from, &dgram(5, 130, 30)), Check::InOrder);
        assert_eq!(
            s.check(from, &dgram(5, 190, 30)),
            Check::Gap {
                expected: 160,
                missing: 30
            }
        );
        assert_eq!(s.check(from, &dgram(9, 7, 30)), Check::First);
        assert_eq!(
            s.check(from, &dgram(9, 10, 30)),
            Check::Gap {
                expected: 8,
                missing: 2
            }
        );
        assert_eq!(
            s.check(from, &dgram(9, 4, 30)),
            Check::Behind { expected: 11 }
        );
        assert_eq!(s.check(from, &dgram(9, 5, 30)), Check::InOrder);
        assert_eq!(s.exporters(), 2);
    }

    #[test]
    fn an_ipfix_exporter_counting_its_own_message_is_learned() {
        // softflowd 1.1.0: the number includes this message's flows, not options records.
        let from: SocketAddr = "192.0.2.1:9".parse().unwrap();
        let mut s = Sequences::new();
        let with_options = |seq, flows| Datagram {
            option_records: 1,
            ..dgram(10, seq, flows)
        };
        assert_eq!(s.check(from, &with_options(17, 17)), Check::First);
        assert_eq!(s.check(from, &dgram(10, 44, 27)), Check::InOrder);
        assert_eq!(s.check(from, &with_options(61, 17)), Check::InOrder);
        assert_eq!(s.check(from, &dgram(10, 88, 27)), Check::InOrder);
        // A message of 27 lost: the next one's number is 27 further.
        assert_eq!(
            s.check(from, &dgram(10, 142, 27)),
            Check::Gap {
                expected: 115,
                missing: 27
            }
        );
    }

    #[test]
    fn sequence_numbers_wrap() {
        let from: SocketAddr = "192.0.2.1:9".parse().unwrap();
        let mut s = Sequences::new();
        s.check(from, &dgram(10, u32::MAX - 1, 5));
        assert_eq!(s.check(from, &dgram(10, 3, 1)), Check::InOrder);
    }
}
