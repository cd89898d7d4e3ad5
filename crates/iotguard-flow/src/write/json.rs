//! Zeek JSON lines out, in the shape of Zeek's JSON writer (`LogAscii::use_json=T`, and what
//! zeek-kafka sends with `tag_json=F`).
//!
//! One flat object per line with dotted keys in Zeek's field order; `ts` is epoch seconds
//! (`TS_EPOCH`) and `duration` seconds, both printed with their exact digits (at least six
//! fraction digits, more only where the value has them); unset fields are omitted, as with
//! Zeek's default `json_include_unset_fields=F`; `tunnel_parents` is an array of strings. After
//! the conn fields come `label` and `detailed-label`, then `orig_l2_addr`, `resp_l2_addr`,
//! `community_id` and the sensor as `_system_name`, each only where set.

use std::io::{self, Write};

use super::{push_int, push_ip, Sink};
use crate::record::FlowRecord;
use crate::time::push_decimal_nanos;

/// Writes flow records as Zeek JSON lines.
///
/// ```
/// use iotguard_flow::{FlowRecord, Timestamp, ZeekJsonWriter};
///
/// let mut writer = ZeekJsonWriter::new(Vec::new());
/// writer.write(&FlowRecord { ts: Timestamp(1_664_462_456_755_299_000), orig_p: Some(40042), ..FlowRecord::default() })?;
/// let text = writer.finish()?;
/// assert_eq!(text, br#"{"ts":1664462456.755299,"id.orig_p":40042,"proto":"unknown_transport"}
/// "#);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ZeekJsonWriter<W: Write> {
    sink: Sink<W>,
}

impl<W: Write> ZeekJsonWriter<W> {
    /// Returns a writer to `w`. JSON lines have no header, so nothing is written yet.
    pub fn new(w: W) -> Self {
        ZeekJsonWriter { sink: Sink::new(w) }
    }

    /// Writes one record as one line.
    pub fn write(&mut self, rec: &FlowRecord) -> io::Result<()> {
        let out = &mut self.sink.buf;
        out.extend_from_slice(b"{\"ts\":");
        push_decimal_nanos(rec.ts.0, out);
        if let Some(uid) = &rec.uid {
            key_str(out, "uid", uid);
        }
        if let Some(ip) = rec.orig_h {
            key(out, "id.orig_h");
            out.push(b'"');
            push_ip(out, ip);
            out.push(b'"');
        }
        key_int(out, "id.orig_p", rec.orig_p);
        if let Some(ip) = rec.resp_h {
            key(out, "id.resp_h");
            out.push(b'"');
            push_ip(out, ip);
            out.push(b'"');
        }
        key_int(out, "id.resp_p", rec.resp_p);
        key_str(out, "proto", rec.proto.as_str());
        if let Some(service) = &rec.service {
            key_str(out, "service", service);
        }
        if let Some(d) = rec.duration {
            key(out, "duration");
            push_decimal_nanos(d.0, out);
        }
        key_int(out, "orig_bytes", rec.orig_bytes);
        key_int(out, "resp_bytes", rec.resp_bytes);
        if let Some(state) = &rec.conn_state {
            key_str(out, "conn_state", state.as_str());
        }
        key_bool(out, "local_orig", rec.local_orig);
        key_bool(out, "local_resp", rec.local_resp);
        key_int(out, "missed_bytes", rec.missed_bytes);
        if let Some(history) = &rec.history {
            key_str(out, "history", history);
        }
        key_int(out, "orig_pkts", rec.orig_pkts);
        key_int(out, "orig_ip_bytes", rec.orig_ip_bytes);
        key_int(out, "resp_pkts", rec.resp_pkts);
        key_int(out, "resp_ip_bytes", rec.resp_ip_bytes);
        if let Some(set) = &rec.tunnel_parents {
            key(out, "tunnel_parents");
            out.push(b'[');
            for (i, item) in set.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_json_str(out, item);
            }
            out.push(b']');
        }
        if let Some(label) = &rec.label {
            key_str(out, "label", &label.name);
            if let Some(detailed) = &label.detailed {
                key_str(out, "detailed-label", detailed);
            }
        }
        if let Some(mac) = &rec.orig_l2_addr {
            key_str(out, "orig_l2_addr", mac);
        }
        if let Some(mac) = &rec.resp_l2_addr {
            key_str(out, "resp_l2_addr", mac);
        }
        if let Some(id) = &rec.community_id {
            key_str(out, "community_id", id);
        }
        if let Some(sensor) = &rec.sensor {
            key_str(out, "_system_name", sensor);
        }
        out.extend_from_slice(b"}\n");
        self.sink.record_done()
    }

    /// Writes out what is buffered and flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }

    /// Writes out what is buffered, flushes, and returns the writer. A writer that is dropped
    /// instead writes what is buffered and ignores errors.
    pub fn finish(self) -> io::Result<W> {
        self.sink.finish()
    }
}

/// Appends `,"name":` (keys are fixed ASCII names that need no escaping).
fn key(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

fn key_str(out: &mut Vec<u8>, name: &str, value: &str) {
    key(out, name);
    push_json_str(out, value);
}

fn key_int(out: &mut Vec<u8>, name: &str, value: Option<impl itoa::Integer>) {
    if let Some(n) = value {
        key(out, name);
        push_int(out, n);
    }
}

fn key_bool(out: &mut Vec<u8>, name: &str, value: Option<bool>) {
    if let Some(b) = value {
        key(out, name);
        out.extend_from_slice(if b { b"true" } else { b"false" });
    }
}

/// Appends a JSON string: quotes, backslashes and control characters escaped, other text
/// (UTF-8 included) as it is.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::detect::Format;
    use crate::reader::{FlowReader, ReadOptions};
    use crate::write::tests::full_record;

    fn write(records: &[FlowRecord]) -> String {
        let mut w = ZeekJsonWriter::new(Vec::new());
        for r in records {
            w.write(r).unwrap();
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    fn read(text: &str) -> Vec<FlowRecord> {
        let options = ReadOptions {
            format: Some(Format::ZeekJson),
            ..ReadOptions::default()
        };
        FlowReader::open("test", Cursor::new(text.as_bytes().to_vec()), &options)
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    #[test]
    fn writes_zeek_json_shape() {
        let text = write(&[full_record()]);
        assert_eq!(
            text,
            concat!(
                r#"{"ts":1547150790.793723,"uid":"CGEJbl3RNkmXzmkEd4","id.orig_h":"192.168.1.199","#,
                r#""id.orig_p":59224,"id.resp_h":"2001:db8::1","id.resp_p":80,"proto":"tcp","#,
                r#""service":"http,-ssl","duration":3.081233001,"orig_bytes":0,"#,
                r#""resp_bytes":18446744073709551615,"conn_state":"S0","local_orig":true,"#,
                r#""local_resp":false,"missed_bytes":0,"history":"ShADadFf","orig_pkts":3,"#,
                r#""orig_ip_bytes":180,"resp_pkts":0,"resp_ip_bytes":0,"#,
                r#""tunnel_parents":["CsaP1","Cb"],"label":"Malicious","detailed-label":"C&C","#,
                r#""orig_l2_addr":"08:00:27:5b:df:e1","resp_l2_addr":"52:54:00:12:35:02","#,
                r#""community_id":"1:YTl/F5GgJFkeqMFbjo7cdzkXtpg=","_system_name":"sensor-1"}"#,
                "\n"
            )
        );
        assert_eq!(read(&text), vec![full_record()]);
    }

    #[test]
    fn omits_unset_fields_and_keeps_empty_ones() {
        let rec = FlowRecord {
            ts: crate::time::Timestamp(-1),
            service: Some("".into()),
            tunnel_parents: Some(vec![]),
            ..FlowRecord::default()
        };
        let text = write(std::slice::from_ref(&rec));
        assert_eq!(
            text,
            "{\"ts\":-0.000000001,\"proto\":\"unknown_transport\",\"service\":\"\",\"tunnel_parents\":[]}\n"
        );
        assert_eq!(read(&text), vec![rec]);
    }

    #[test]
    fn escapes_strings() {
        let mut out = Vec::new();
        push_json_str(&mut out, "a\"b\\c\n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f}é/");
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#""a\"b\\c\n\t\r\b\f\u0001\u001f"#.to_owned() + "\u{7f}é/\""
        );
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "a\"b\\c\n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f}é/");
    }
}
