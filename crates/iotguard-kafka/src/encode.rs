//! One flow record to one message value, as zeek-kafka writes it: a flat Zeek JSON conn object
//! (`iotguard_flow::ZeekJsonWriter`'s line without its newline).

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use iotguard_flow::{FlowRecord, ZeekJsonWriter};

/// The bytes of the record just written, shared between the writer and the encoder.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Encodes records as zeek-kafka message values, reusing its buffers.
pub(crate) struct JsonEncoder {
    writer: ZeekJsonWriter<Shared>,
    line: Shared,
    message: Vec<u8>,
}

impl JsonEncoder {
    pub(crate) fn new() -> Self {
        let line = Shared::default();
        JsonEncoder {
            writer: ZeekJsonWriter::new(line.clone()),
            line,
            message: Vec::with_capacity(512),
        }
    }

    /// Returns the message value for `rec`.
    pub(crate) fn encode(&mut self, rec: &FlowRecord) -> &[u8] {
        // Writing into memory cannot fail; the writer hands the line over at flush.
        let _ = self.writer.write(rec).and_then(|()| self.writer.flush());
        let mut line = self.line.0.lock().unwrap_or_else(|p| p.into_inner());
        self.message.clear();
        self.message
            .extend_from_slice(line.strip_suffix(b"\n").unwrap_or(&line));
        line.clear();
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotguard_flow::Timestamp;

    #[test]
    fn one_record_is_one_flat_json_object_without_newline() {
        let mut encoder = JsonEncoder::new();
        let rec = FlowRecord {
            ts: Timestamp(1_591_367_999_430_166_000),
            resp_p: Some(80),
            ..FlowRecord::default()
        };
        assert_eq!(
            encoder.encode(&rec),
            br#"{"ts":1591367999.430166,"id.resp_p":80,"proto":"unknown_transport"}"#
        );
        let again = encoder.encode(&rec).to_vec();
        assert_eq!(
            again,
            br#"{"ts":1591367999.430166,"id.resp_p":80,"proto":"unknown_transport"}"#
        );
    }
}
