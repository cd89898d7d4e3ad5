//! Flow records from messages rather than streams: one Kafka message (or any datagram) holds one
//! record, as zeek-kafka sends them, with no stream around it to give line numbers or headers.
//!
//! [`MessageDecoder`] takes Zeek JSON (flat, or the `{"conn": {...}}` wrapper) and Zeek TSV
//! lines. A message whose first non-blank byte is `{` is JSON; anything else is TSV, read with
//! the standard conn columns (the IoT-23 packed label column accepted) until a message carrying
//! its own `#fields` header changes them. Errors are the readers' [`ParseError`]s, named after
//! the message's source and position, carrying the message verbatim.

use std::sync::Arc;

use crate::detect::Format;
use crate::error::{ErrorKind, LineError, ParseError};
use crate::reader::{LineParser, Parsed, ReadOptions};
use crate::record::FlowRecord;

/// The conn columns a TSV message is read with until a `#fields` message says otherwise: Zeek's
/// standard conn log.
const CONN_HEADER: &[u8] = b"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents";

/// The same with IoT-23's label columns packed into the last one with runs of spaces.
const IOT23_HEADER: &[u8] = b"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents   label   detailed-label";

/// Decodes messages into flow records, keeping TSV header state between messages.
///
/// ```
/// use std::sync::Arc;
/// use iotguard_flow::{MessageDecoder, ReadOptions};
///
/// let mut decoder = MessageDecoder::new(&ReadOptions::default());
/// let source: Arc<str> = Arc::from("zeek/0@41");
/// let mut out = Vec::new();
/// decoder.decode(&source, 41, br#"{"ts":1.5,"id.orig_h":"10.0.0.1","id.resp_p":23,"proto":"tcp"}"#, &mut out);
/// assert_eq!(out.pop().unwrap().unwrap().resp_p, Some(23));
/// ```
pub struct MessageDecoder {
    json: Box<dyn LineParser>,
    tsv: Box<dyn LineParser>,
    iot23: Box<dyn LineParser>,
    /// Set once a message brought its own header: every TSV line is then read with `tsv`.
    own_header: bool,
    sensor: Option<Arc<str>>,
    max_len: usize,
}

impl MessageDecoder {
    /// Returns a decoder; `options.format` is ignored (each message's shape decides), the sensor
    /// is given to records that name none, and `max_line` bounds a message's size.
    pub fn new(options: &ReadOptions) -> Self {
        // A header only sets the columns; it yields no record.
        let mut tsv = Format::ZeekTsv.parser();
        let _ = tsv.parse(CONN_HEADER);
        let mut iot23 = Format::ZeekTsv.parser();
        let _ = iot23.parse(IOT23_HEADER);
        MessageDecoder {
            json: Format::ZeekJson.parser(),
            tsv,
            iot23,
            own_header: false,
            sensor: options.sensor.clone(),
            max_len: options.max_line.max(1),
        }
    }

    /// Decodes one message into `out`: a record, several (a TSV message of several lines), none
    /// (a header or blank message), or an error naming `source` and `position` (the offset).
    pub fn decode(
        &mut self,
        source: &Arc<str>,
        position: u64,
        payload: &[u8],
        out: &mut Vec<Result<FlowRecord, ParseError>>,
    ) {
        if payload.len() > self.max_len {
            let err = LineError::new(
                ErrorKind::LineTooLong,
                format!(
                    "message of {} bytes is over the {} byte limit",
                    payload.len(),
                    self.max_len
                ),
            );
            out.push(Err(err.at(source, position, &payload[..self.max_len])));
            return;
        }
        let first = payload.iter().find(|b| !b.is_ascii_whitespace());
        let json = first == Some(&b'{');
        for line in payload.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parser = if json {
                &mut self.json
            } else if line.starts_with(b"#") {
                self.own_header = true;
                &mut self.tsv
            } else if !self.own_header && packs_labels(line) {
                &mut self.iot23
            } else {
                &mut self.tsv
            };
            match parser.parse(line) {
                Parsed::Skip => {}
                Parsed::Record(mut rec) => {
                    if rec.sensor.is_none() {
                        rec.sensor.clone_from(&self.sensor);
                    }
                    out.push(Ok(*rec));
                }
                Parsed::Error(e) => out.push(Err(e.at(source, position, line))),
            }
        }
    }
}

/// Returns true if the line's last tab-separated column holds a run of spaces (IoT-23's labels).
fn packs_labels(line: &[u8]) -> bool {
    let last = line.rsplit(|&b| b == b'\t').next().unwrap_or(line);
    last.windows(2).any(|w| w == b"  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(decoder: &mut MessageDecoder, payload: &[u8]) -> Vec<Result<FlowRecord, ParseError>> {
        let mut out = Vec::new();
        decoder.decode(&Arc::from("t/0"), 7, payload, &mut out);
        out
    }

    #[test]
    fn json_flat_and_wrapped_and_tsv_give_the_same_record() {
        let mut d = MessageDecoder::new(&ReadOptions::default());
        let flat = br#"{"ts":1540469302.538640,"uid":"CGm6jB4dXK71ZDWUDh","id.orig_h":"192.168.1.132","id.orig_p":58687,"id.resp_h":"216.239.35.4","id.resp_p":123,"proto":"udp","duration":0.114184,"orig_bytes":48,"resp_bytes":48,"conn_state":"SF","missed_bytes":0,"history":"Dd","orig_pkts":1,"orig_ip_bytes":76,"resp_pkts":1,"resp_ip_bytes":76}"#;
        let mut wrapped = b"{\"conn\":".to_vec();
        wrapped.extend_from_slice(flat);
        wrapped.extend_from_slice(b",\"zeek_server\":\"sensor-1\"}");
        let tsv = b"1540469302.538640\tCGm6jB4dXK71ZDWUDh\t192.168.1.132\t58687\t216.239.35.4\t123\tudp\t-\t0.114184\t48\t48\tSF\t-\t-\t0\tDd\t1\t76\t1\t76\t-\n";
        let a = decode(&mut d, flat).pop().unwrap().unwrap();
        let b = decode(&mut d, &wrapped).pop().unwrap().unwrap();
        let c = decode(&mut d, tsv).pop().unwrap().unwrap();
        assert_eq!(a.resp_p, Some(123));
        assert_eq!(a.orig_ip_bytes, Some(76));
        assert_eq!(a.uid, b.uid);
        assert_eq!(a.orig_h, b.orig_h);
        assert_eq!(a, c);
    }

    #[test]
    fn tsv_with_iot23_labels_keeps_them() {
        let mut d = MessageDecoder::new(&ReadOptions::default());
        let line = b"1547150790.793723\tCGEJbl3RNkmXzmkEd4\t192.168.1.199\t59224\t46.101.251.172\t80\ttcp\t-\t3.081233\t0\t0\tS0\t-\t-\t0\tS\t3\t180\t0\t0\t-   Malicious   C&C";
        let rec = decode(&mut d, line).pop().unwrap().unwrap();
        let label = rec.label.expect("label");
        assert_eq!(label.class, crate::LabelClass::Malicious);
        assert_eq!(label.detailed.as_deref(), Some("C&C"));
    }

    #[test]
    fn a_fields_message_changes_the_tsv_columns() {
        let mut d = MessageDecoder::new(&ReadOptions::default());
        assert!(decode(&mut d, b"#fields\tts\tid.resp_p").is_empty());
        let rec = decode(&mut d, b"5.0\t8080").pop().unwrap().unwrap();
        assert_eq!(rec.resp_p, Some(8080));
    }

    #[test]
    fn bad_messages_are_errors_with_source_position_and_bytes() {
        let mut d = MessageDecoder::new(&ReadOptions {
            max_line: 64,
            ..ReadOptions::default()
        });
        let err = decode(&mut d, b"{\"ts\":").pop().unwrap().unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
        assert_eq!(&*err.input, "t/0");
        assert_eq!(err.line, 7);
        assert_eq!(err.raw, b"{\"ts\":");
        let long = vec![b'x'; 100];
        let err = decode(&mut d, &long).pop().unwrap().unwrap_err();
        assert_eq!(err.kind, ErrorKind::LineTooLong);
        assert_eq!(err.raw.len(), 64);
        assert!(decode(&mut d, b"  \n").is_empty());
    }
}
