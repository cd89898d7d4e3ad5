//! Writers: flow records out as Zeek conn logs, TSV ([`ZeekTsvWriter`]) or JSON lines
//! ([`ZeekJsonWriter`]), in the shapes Zeek's own writers use, so any Zeek tooling (and this
//! crate's readers) reads them back.
//!
//! Both writers read back to identical records, and both are built for volume (simulations
//! write tens of millions of flows): each record is formatted into one reused buffer with
//! `itoa` and the allocation-free time printer, and the buffer goes to the sink in large writes.
//! No writer opens a file: they take any `Write`.

mod json;
mod tsv;

use std::io::{self, Write};
use std::net::IpAddr;

pub use json::ZeekJsonWriter;
pub use tsv::{TsvWriteOptions, ZeekTsvWriter};

/// The buffer is handed to the sink once it holds this much.
const FLUSH_AT: usize = 64 * 1024;

/// A sink behind a reused buffer: records are formatted into `buf`, which is written out in
/// large pieces. Dropping it writes what is buffered (ignoring errors), like `BufWriter`.
struct Sink<W: Write> {
    /// `None` only after `finish` has taken it.
    inner: Option<W>,
    buf: Vec<u8>,
}

impl<W: Write> Sink<W> {
    fn new(inner: W) -> Self {
        Sink {
            inner: Some(inner),
            buf: Vec::with_capacity(FLUSH_AT + 4096),
        }
    }

    /// Writes the buffer out once it is full; called after each record.
    fn record_done(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.write_buf()?;
        }
        Ok(())
    }

    fn write_buf(&mut self) -> io::Result<()> {
        let result = match &mut self.inner {
            Some(w) => w.write_all(&self.buf),
            None => Ok(()),
        };
        // After a failed write the buffer's fate is unknown; it is not written twice.
        self.buf.clear();
        result
    }

    /// Writes out everything buffered and flushes the sink.
    fn flush(&mut self) -> io::Result<()> {
        self.write_buf()?;
        match &mut self.inner {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }

    /// Flushes and returns the sink.
    fn finish(mut self) -> io::Result<W> {
        self.flush()?;
        self.inner
            .take()
            .ok_or_else(|| io::Error::other("writer already finished"))
    }
}

impl<W: Write> Drop for Sink<W> {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.write_buf();
        }
    }
}

/// Appends an integer's decimal digits.
fn push_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends an address as Zeek writes it: dotted quad, or RFC 5952 IPv6 text.
fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            push_int(out, a);
            out.push(b'.');
            push_int(out, b);
            out.push(b'.');
            push_int(out, c);
            out.push(b'.');
            push_int(out, d);
        }
        // Writing into a Vec cannot fail; IPv6 is rare enough for the formatter.
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::label::Label;
    use crate::record::{ConnState, FlowRecord, Protocol};
    use crate::time::{Interval, Timestamp};

    /// A record with every field set, shared by the writers' tests.
    pub(super) fn full_record() -> FlowRecord {
        FlowRecord {
            ts: Timestamp(1_547_150_790_793_723_000),
            untimed: false,
            native: None,
            uid: Some("CGEJbl3RNkmXzmkEd4".into()),
            orig_h: Some("192.168.1.199".parse().unwrap()),
            orig_p: Some(59224),
            resp_h: Some("2001:db8::1".parse().unwrap()),
            resp_p: Some(80),
            proto: Protocol::Tcp,
            service: Some("http,-ssl".into()),
            duration: Some(Interval(3_081_233_001)),
            orig_bytes: Some(0),
            resp_bytes: Some(u64::MAX),
            conn_state: Some(ConnState::S0),
            local_orig: Some(true),
            local_resp: Some(false),
            missed_bytes: Some(0),
            history: Some("ShADadFf".into()),
            orig_pkts: Some(3),
            orig_ip_bytes: Some(180),
            resp_pkts: Some(0),
            resp_ip_bytes: Some(0),
            tunnel_parents: Some(vec!["CsaP1".into(), "Cb".into()]),
            orig_l2_addr: Some("08:00:27:5b:df:e1".into()),
            resp_l2_addr: Some("52:54:00:12:35:02".into()),
            community_id: Some("1:YTl/F5GgJFkeqMFbjo7cdzkXtpg=".into()),
            sensor: Some(Arc::from("sensor-1")),
            label: Some(Label::new("Malicious", Some("C&C"))),
        }
    }

    #[test]
    fn addresses_print_like_display() {
        for ip in [
            "0.0.0.0",
            "192.168.1.199",
            "255.255.255.255",
            "fe80::1",
            "::ffff:1.2.3.4",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut out = Vec::new();
            push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string().as_bytes());
        }
    }

    /// A sink that fails every write.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn sink_errors_surface_and_drop_writes_the_rest() {
        let mut sink = Sink::new(Broken);
        sink.buf.extend_from_slice(b"x");
        assert!(sink.flush().is_err());
        assert!(sink.buf.is_empty());
        let mut out = Vec::new();
        {
            let mut sink = Sink::new(&mut out);
            sink.buf.extend_from_slice(b"kept");
        }
        assert_eq!(out, b"kept");
    }
}
