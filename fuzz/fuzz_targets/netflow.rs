//! Fuzz target: the NetFlow/IPFIX decoder on any sequence of datagrams (each after a two-byte
//! big-endian length, as in testdata/netflow), with templates carried from one to the next as
//! the collector carries them. Nothing may panic; every flow decoded becomes a record, and the
//! sequence tracker takes every datagram.
#![no_main]

use iotguard_netflow::record::to_record;
use iotguard_netflow::sequence::Sequences;
use iotguard_netflow::Decoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let from = std::net::SocketAddr::from(([127, 0, 0, 1], 2055));
    let mut decoder = Decoder::new();
    let mut sequences = Sequences::new();
    let mut rest = data;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let datagram = &rest[2..2 + n];
        rest = &rest[2 + n..];
        if let Ok(d) = decoder.decode(from, datagram) {
            assert_eq!(d.flows.len() as u64, d.counted_records);
            let _ = sequences.check(from, &d);
            for (i, f) in d.flows.iter().enumerate() {
                let r = to_record(f, i as u64);
                assert!(r.duration.is_some_and(|x| x.0 >= 0));
            }
        }
    }
});
