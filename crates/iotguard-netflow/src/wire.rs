//! The export formats on the wire: NetFlow v5 (fixed records), NetFlow v9 (RFC 3954) and
//! IPFIX (RFC 7011), with their templates, decoded into [`ExportedFlow`]s: the few
//! information elements detection uses, read by element number.
//!
//! A [`Decoder`] keeps the templates each exporter announced, keyed by exporter address,
//! observation domain (v9's source id) and template id, as RFC 7011 §8 scopes them. Records
//! whose template has not been seen yet cannot even be counted (their length is unknown): the
//! set is counted in [`Datagram::sets_without_template`] and the caller reports it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The IANA enterprise number of RFC 5103's reverse information elements (biflows).
const REVERSE_PEN: u32 = 29305;

/// Why a datagram could not be decoded (it is rejected whole: counted and reported).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(pub String);

fn bad(why: impl Into<String>) -> WireError {
    WireError(why.into())
}

/// One flow as exported: the fields an exporter may send, each where it sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportedFlow {
    /// Source address.
    pub src: Option<IpAddr>,
    /// Destination address.
    pub dst: Option<IpAddr>,
    /// Source port.
    pub src_port: Option<u16>,
    /// Destination port.
    pub dst_port: Option<u16>,
    /// IP protocol number.
    pub proto: Option<u8>,
    /// ICMP type and code (`type << 8 | code`).
    pub icmp_type_code: Option<u16>,
    /// Forward packets.
    pub packets: Option<u64>,
    /// Forward IP bytes (headers included, as NetFlow counts them).
    pub octets: Option<u64>,
    /// Union of the forward TCP flags.
    pub tcp_flags: Option<u16>,
    /// Reverse packets (RFC 5103 biflows only).
    pub rev_packets: Option<u64>,
    /// Reverse IP bytes (biflows only).
    pub rev_octets: Option<u64>,
    /// Union of the reverse TCP flags (biflows only).
    pub rev_tcp_flags: Option<u16>,
    /// First packet, milliseconds since the Unix epoch.
    pub start_ms: Option<i64>,
    /// Last packet, milliseconds since the Unix epoch.
    pub end_ms: Option<i64>,
}

/// What one datagram held.
#[derive(Debug, Default)]
pub struct Datagram {
    /// 5, 9 or 10 (IPFIX).
    pub version: u16,
    /// The exporter's observation domain (v9 source id, IPFIX domain id; v5 engine type and id).
    pub domain: u32,
    /// The header's sequence number.
    pub sequence: u32,
    /// The flows decoded.
    pub flows: Vec<ExportedFlow>,
    /// Flow data records in the datagram (v5: the header's count).
    pub counted_records: u64,
    /// Options data records (exporter statistics, sampling): IPFIX's sequence numbers count
    /// them, though not every exporter does.
    pub option_records: u64,
    /// Data sets skipped because their template is unknown (their records are lost).
    pub sets_without_template: u64,
    /// Templates (re)defined by this datagram.
    pub templates: u64,
}

/// One field of a template: element id, length (65535: variable), enterprise number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Field {
    id: u16,
    len: u16,
    pen: u32,
}

/// A template: its fields, and whether it is an options template (records not flows).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Template {
    fields: Vec<Field>,
    options: bool,
}

/// Decodes datagrams, remembering each exporter's templates.
#[derive(Debug, Default)]
pub struct Decoder {
    templates: HashMap<(SocketAddr, u16, u32, u16), Template>,
    /// IPFIX exporters' boot time (systemInitTimeMilliseconds, from their options records),
    /// for flow times given relative to it (flowStart/EndSysUpTime).
    boot: HashMap<(SocketAddr, u32), i64>,
}

/// Caps the templates (and exporter boot times) kept, so a flood of bogus templates cannot grow
/// memory without bound.
const MAX_TEMPLATES: usize = 4096;

impl Decoder {
    /// Returns a decoder with no templates.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Decodes one datagram from `exporter`.
    pub fn decode(&mut self, exporter: SocketAddr, bytes: &[u8]) -> Result<Datagram, WireError> {
        let version = be16(bytes, 0).ok_or_else(|| bad("datagram shorter than 2 bytes"))?;
        match version {
            5 => decode_v5(bytes),
            9 => self.decode_v9(exporter, bytes),
            10 => self.decode_ipfix(exporter, bytes),
            v => Err(bad(format!(
                "version {v} is not NetFlow v5, v9 or IPFIX (10)"
            ))),
        }
    }

    fn decode_v9(&mut self, exporter: SocketAddr, b: &[u8]) -> Result<Datagram, WireError> {
        if b.len() < 20 {
            return Err(bad(format!(
                "NetFlow v9 header needs 20 bytes, got {}",
                b.len()
            )));
        }
        let uptime = i64::from(be32(b, 4).unwrap_or(0));
        let unix_secs = i64::from(be32(b, 8).unwrap_or(0));
        let boot_ms = unix_secs * 1000 - uptime;
        let mut d = Datagram {
            version: 9,
            sequence: be32(b, 12).unwrap_or(0),
            domain: be32(b, 16).unwrap_or(0),
            ..Datagram::default()
        };
        self.sets(exporter, 9, &b[20..], 20, boot_ms, &mut d)?;
        Ok(d)
    }

    fn decode_ipfix(&mut self, exporter: SocketAddr, b: &[u8]) -> Result<Datagram, WireError> {
        if b.len() < 16 {
            return Err(bad(format!("IPFIX header needs 16 bytes, got {}", b.len())));
        }
        let len = usize::from(be16(b, 2).unwrap_or(0));
        if len < 16 || len > b.len() {
            return Err(bad(format!(
                "IPFIX message length {len} does not fit the {}-byte datagram",
                b.len()
            )));
        }
        let export_ms = i64::from(be32(b, 4).unwrap_or(0)) * 1000;
        let mut d = Datagram {
            version: 10,
            sequence: be32(b, 8).unwrap_or(0),
            domain: be32(b, 12).unwrap_or(0),
            ..Datagram::default()
        };
        // IPFIX headers carry no uptime: times relative to boot (flowStart/EndSysUpTime) need
        // the systemInitTimeMilliseconds the exporter sends in an options record.
        let boot_ms = self
            .boot
            .get(&(exporter, d.domain))
            .copied()
            .unwrap_or(i64::MIN);
        self.sets(exporter, 10, &b[16..len], 16, boot_ms, &mut d)?;
        // A flow whose time could not be read is dated by the message that exported it.
        for f in &mut d.flows {
            if f.start_ms.is_none() {
                f.start_ms = Some(f.end_ms.unwrap_or(export_ms));
                f.end_ms = Some(f.end_ms.unwrap_or(export_ms));
            }
        }
        Ok(d)
    }

    /// Walks the sets (v9 flowsets) of a message body starting at byte `base`.
    fn sets(
        &mut self,
        exporter: SocketAddr,
        version: u16,
        mut body: &[u8],
        mut base: usize,
        mut boot_ms: i64,
        d: &mut Datagram,
    ) -> Result<(), WireError> {
        // v9 pads the datagram's end; a remainder shorter than a set header is padding.
        while body.len() >= 4 {
            let id = be16(body, 0).unwrap_or(0);
            let len = usize::from(be16(body, 2).unwrap_or(0));
            if len < 4 || len > body.len() {
                return Err(bad(format!(
                    "set at byte {base} claims {len} bytes, {} are left",
                    body.len()
                )));
            }
            let content = &body[4..len];
            let (template_set, options_set) = match version {
                9 => (0, 1),
                _ => (2, 3),
            };
            if id == template_set || id == options_set {
                self.templates(
                    exporter,
                    version,
                    d.domain,
                    id == options_set,
                    content,
                    base,
                )?;
                d.templates += 1;
            } else if id >= 256 {
                let key = (exporter, version, d.domain, id);
                match self.templates.get(&key) {
                    Some(t) => {
                        if let Some(boot) = data_set(t, content, boot_ms, base + 4, d)? {
                            boot_ms = boot;
                            let key = (exporter, d.domain);
                            if self.boot.len() < MAX_TEMPLATES || self.boot.contains_key(&key) {
                                self.boot.insert(key, boot);
                            }
                        }
                    }
                    None => d.sets_without_template += 1,
                }
            } else {
                return Err(bad(format!("set at byte {base} has the reserved id {id}")));
            }
            body = &body[len..];
            base += len;
        }
        Ok(())
    }

    /// Reads the (options) templates of one template set.
    fn templates(
        &mut self,
        exporter: SocketAddr,
        version: u16,
        domain: u32,
        options: bool,
        mut b: &[u8],
        base: usize,
    ) -> Result<(), WireError> {
        let head = if options { 6 } else { 4 };
        while b.len() >= head {
            let id = be16(b, 0).unwrap_or(0);
            let mut at = head;
            let count = if options && version == 9 {
                // v9 options templates give the scope and option lengths in bytes.
                (usize::from(be16(b, 2).unwrap_or(0)) + usize::from(be16(b, 4).unwrap_or(0))) / 4
            } else {
                usize::from(be16(b, 2).unwrap_or(0))
            };
            if id < 256 {
                if version == 10 && id == 0 && b.iter().all(|&x| x == 0) {
                    break; // padding
                }
                return Err(bad(format!(
                    "template at byte {base} has the reserved id {id}"
                )));
            }
            let mut fields = Vec::with_capacity(count.min(64));
            for _ in 0..count {
                let (Some(raw_id), Some(len)) = (be16(b, at), be16(b, at + 2)) else {
                    return Err(bad(format!("template {id} at byte {base} is cut short")));
                };
                at += 4;
                let mut pen = 0;
                let mut fid = raw_id;
                if version == 10 && raw_id & 0x8000 != 0 {
                    pen = be32(b, at)
                        .ok_or_else(|| bad(format!("template {id} at byte {base} is cut short")))?;
                    at += 4;
                    fid = raw_id & 0x7fff;
                }
                if version == 9 && len == 0xffff {
                    return Err(bad(format!(
                        "template {id}: NetFlow v9 has no variable-length fields"
                    )));
                }
                fields.push(Field { id: fid, len, pen });
            }
            // A withdrawal (IPFIX: field count 0) forgets the template.
            let key = (exporter, version, domain, id);
            if fields.is_empty() {
                self.templates.remove(&key);
            } else if self.templates.len() < MAX_TEMPLATES || self.templates.contains_key(&key) {
                self.templates.insert(key, Template { fields, options });
            }
            b = &b[at..];
        }
        Ok(())
    }
}

/// Decodes the records of one data set; returns the exporter's boot time if an options
/// record gave it.
fn data_set(
    t: &Template,
    mut b: &[u8],
    boot_ms: i64,
    base: usize,
    d: &mut Datagram,
) -> Result<Option<i64>, WireError> {
    let mut boot = None;
    let min = t
        .fields
        .iter()
        .map(|f| {
            if f.len == 0xffff {
                1
            } else {
                usize::from(f.len)
            }
        })
        .sum::<usize>()
        .max(1);
    while b.len() >= min {
        let mut flow = ExportedFlow::default();
        let mut at = 0;
        for f in &t.fields {
            let len = if f.len == 0xffff {
                let Some(&first) = b.get(at) else {
                    return Err(bad(format!("record at byte {base} is cut short")));
                };
                at += 1;
                if first == 255 {
                    let n = be16(b, at)
                        .ok_or_else(|| bad(format!("record at byte {base} is cut short")))?;
                    at += 2;
                    usize::from(n)
                } else {
                    usize::from(first)
                }
            } else {
                usize::from(f.len)
            };
            let Some(value) = b.get(at..at + len) else {
                return Err(bad(format!("record at byte {base} is cut short")));
            };
            at += len;
            if !t.options {
                set_field(&mut flow, f, value, boot_ms);
            } else if (f.pen, f.id) == (0, 160) {
                boot = uint(value).map(|ms| ms as i64);
            }
        }
        if t.options {
            d.option_records += 1;
        } else {
            d.counted_records += 1;
            d.flows.push(flow);
        }
        b = &b[at..];
        if at == 0 {
            break;
        }
    }
    Ok(boot)
}

/// Stores one field's value where detection uses it; other elements are ignored.
fn set_field(flow: &mut ExportedFlow, f: &Field, v: &[u8], boot_ms: i64) {
    let n = uint(v);
    match (f.pen, f.id) {
        (0, 1) | (0, 85) => flow.octets = n,
        (0, 2) | (0, 86) => flow.packets = n,
        (0, 4) => flow.proto = n.map(|x| x as u8),
        (0, 6) => flow.tcp_flags = n.map(|x| x as u16),
        (0, 7) => flow.src_port = n.map(|x| x as u16),
        (0, 11) => flow.dst_port = n.map(|x| x as u16),
        (0, 8) | (0, 27) => flow.src = addr(v),
        (0, 12) | (0, 28) => flow.dst = addr(v),
        (0, 32) | (0, 139) => flow.icmp_type_code = n.map(|x| x as u16),
        // flowStart/EndSysUpTime (v9 FIRST/LAST_SWITCHED): milliseconds since boot.
        (0, 22) if boot_ms != i64::MIN => {
            flow.start_ms = n.map(|x| boot_ms.saturating_add(x as i64))
        }
        (0, 21) if boot_ms != i64::MIN => flow.end_ms = n.map(|x| boot_ms.saturating_add(x as i64)),
        (0, 150) => flow.start_ms = n.map(|x| (x as i64).saturating_mul(1000)),
        (0, 151) => flow.end_ms = n.map(|x| (x as i64).saturating_mul(1000)),
        (0, 152) => flow.start_ms = n.map(|x| x as i64),
        (0, 153) => flow.end_ms = n.map(|x| x as i64),
        (0, 154) => flow.start_ms = ntp_ms(v),
        (0, 155) => flow.end_ms = ntp_ms(v),
        (REVERSE_PEN, 1) | (REVERSE_PEN, 85) => flow.rev_octets = n,
        (REVERSE_PEN, 2) | (REVERSE_PEN, 86) => flow.rev_packets = n,
        (REVERSE_PEN, 6) => flow.rev_tcp_flags = n.map(|x| x as u16),
        _ => {}
    }
}

/// NetFlow v5: a 24-byte header and `count` records of 48 bytes.
fn decode_v5(b: &[u8]) -> Result<Datagram, WireError> {
    if b.len() < 24 {
        return Err(bad(format!(
            "NetFlow v5 header needs 24 bytes, got {}",
            b.len()
        )));
    }
    let count = usize::from(be16(b, 2).unwrap_or(0));
    if b.len() < 24 + count * 48 {
        return Err(bad(format!(
            "NetFlow v5 header says {count} records ({} bytes), the datagram has {}",
            24 + count * 48,
            b.len()
        )));
    }
    let uptime = i64::from(be32(b, 4).unwrap_or(0));
    let boot_ms = i64::from(be32(b, 8).unwrap_or(0)) * 1000
        + i64::from(be32(b, 12).unwrap_or(0)) / 1_000_000
        - uptime;
    let mut d = Datagram {
        version: 5,
        sequence: be32(b, 16).unwrap_or(0),
        domain: u32::from(be16(b, 20).unwrap_or(0)),
        counted_records: count as u64,
        ..Datagram::default()
    };
    for r in b[24..24 + count * 48].chunks_exact(48) {
        let v4 = |at: usize| {
            Some(IpAddr::V4(Ipv4Addr::new(
                r[at],
                r[at + 1],
                r[at + 2],
                r[at + 3],
            )))
        };
        d.flows.push(ExportedFlow {
            src: v4(0),
            dst: v4(4),
            packets: be32(r, 16).map(u64::from),
            octets: be32(r, 20).map(u64::from),
            start_ms: be32(r, 24).map(|x| boot_ms + i64::from(x)),
            end_ms: be32(r, 28).map(|x| boot_ms + i64::from(x)),
            src_port: be16(r, 32),
            dst_port: be16(r, 34),
            tcp_flags: Some(u16::from(r[37])),
            proto: Some(r[38]),
            ..ExportedFlow::default()
        });
    }
    Ok(d)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// An unsigned integer of 1 to 8 bytes (IPFIX reduced-size encoding).
fn uint(v: &[u8]) -> Option<u64> {
    (!v.is_empty() && v.len() <= 8).then(|| v.iter().fold(0u64, |n, &x| n << 8 | u64::from(x)))
}

fn addr(v: &[u8]) -> Option<IpAddr> {
    match v.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]))),
        16 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(v);
            Some(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => None,
    }
}

/// dateTimeMicroseconds: NTP format (seconds since 1900, then a 32-bit fraction).
fn ntp_ms(v: &[u8]) -> Option<i64> {
    if v.len() != 8 {
        return None;
    }
    let secs = i64::from(be32(v, 0)?) - 2_208_988_800;
    let frac = i64::from(be32(v, 4)?);
    Some(secs * 1000 + ((frac * 1000) >> 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exporter() -> SocketAddr {
        "192.0.2.1:40000".parse().unwrap()
    }

    #[test]
    fn v5_records_are_read_at_their_offsets() {
        let mut b = vec![0, 5, 0, 1];
        b.extend(1_000u32.to_be_bytes()); // uptime ms
        b.extend(1_600_000_000u32.to_be_bytes()); // unix secs
        b.extend(0u32.to_be_bytes()); // nsecs
        b.extend(77u32.to_be_bytes()); // sequence
        b.extend([0, 0, 0, 0]); // engine, sampling
        b.extend([10, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0, 0]);
        b.extend([0, 0, 0, 0]); // ifaces
        b.extend(3u32.to_be_bytes());
        b.extend(180u32.to_be_bytes());
        b.extend(400u32.to_be_bytes()); // first
        b.extend(900u32.to_be_bytes()); // last
        b.extend(5555u16.to_be_bytes());
        b.extend(23u16.to_be_bytes());
        b.extend([0, 0x02, 6, 0]);
        b.extend([0u8; 8]);
        let d = Decoder::new().decode(exporter(), &b).unwrap();
        assert_eq!((d.version, d.sequence, d.counted_records), (5, 77, 1));
        let f = &d.flows[0];
        assert_eq!(f.src, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(
            (f.src_port, f.dst_port, f.proto),
            (Some(5555), Some(23), Some(6))
        );
        assert_eq!(
            (f.packets, f.octets, f.tcp_flags),
            (Some(3), Some(180), Some(2))
        );
        assert_eq!(f.start_ms, Some(1_600_000_000_000 - 1_000 + 400));
        assert_eq!(f.end_ms, Some(1_600_000_000_000 - 1_000 + 900));
    }

    #[test]
    fn a_short_v5_datagram_is_an_error_naming_the_sizes() {
        let mut b = vec![0, 5, 0, 2];
        b.extend([0u8; 20 + 48]);
        let e = Decoder::new().decode(exporter(), &b).unwrap_err();
        assert_eq!(
            e.to_string(),
            "NetFlow v5 header says 2 records (120 bytes), the datagram has 72"
        );
    }

    /// An IPFIX message: a template with a reverse (RFC 5103) element, then one record.
    fn ipfix(with_template: bool, seq: u32) -> Vec<u8> {
        let mut sets = Vec::new();
        if with_template {
            let mut t = vec![0, 2, 0, 0, 1, 0, 0, 5];
            for (id, len) in [(8u16, 4u16), (12, 4), (4, 1), (2, 8)] {
                t.extend(id.to_be_bytes());
                t.extend(len.to_be_bytes());
            }
            t.extend((0x8000u16 | 2).to_be_bytes());
            t.extend(4u16.to_be_bytes());
            t.extend(REVERSE_PEN.to_be_bytes());
            let len = t.len() as u16;
            t[2..4].copy_from_slice(&len.to_be_bytes());
            sets.extend(t);
        }
        let mut data = vec![1, 0, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 17];
        data.extend(9u64.to_be_bytes());
        data.extend(4u32.to_be_bytes());
        let len = data.len() as u16;
        data[2..4].copy_from_slice(&len.to_be_bytes());
        sets.extend(data);
        let mut m = vec![0, 10, 0, 0];
        m.extend(1_600_000_000u32.to_be_bytes());
        m.extend(seq.to_be_bytes());
        m.extend(3u32.to_be_bytes());
        m.extend(sets);
        let len = m.len() as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        m
    }

    #[test]
    fn ipfix_templates_carry_over_and_reverse_elements_are_read() {
        let mut dec = Decoder::new();
        let d = dec.decode(exporter(), &ipfix(true, 0)).unwrap();
        assert_eq!((d.templates, d.counted_records, d.domain), (1, 1, 3));
        assert_eq!(d.flows[0].packets, Some(9));
        assert_eq!(d.flows[0].rev_packets, Some(4));
        assert_eq!(d.flows[0].proto, Some(17));
        let d = dec.decode(exporter(), &ipfix(false, 1)).unwrap();
        assert_eq!((d.sequence, d.flows.len()), (1, 1));
    }

    #[test]
    fn data_before_its_template_is_counted_not_guessed() {
        let d = Decoder::new().decode(exporter(), &ipfix(false, 0)).unwrap();
        assert_eq!((d.flows.len(), d.sets_without_template), (0, 1));
    }

    #[test]
    fn templates_are_per_exporter() {
        let mut dec = Decoder::new();
        dec.decode(exporter(), &ipfix(true, 0)).unwrap();
        let other: SocketAddr = "192.0.2.2:40000".parse().unwrap();
        let d = dec.decode(other, &ipfix(false, 0)).unwrap();
        assert_eq!(d.sets_without_template, 1);
    }

    #[test]
    fn every_truncation_is_an_error_or_fewer_records_never_a_panic() {
        let full = ipfix(true, 0);
        for cut in 0..full.len() {
            let _ = Decoder::new().decode(exporter(), &full[..cut]);
        }
        let e = Decoder::new()
            .decode(exporter(), &full[..full.len() - 3])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "IPFIX message length {} does not fit the {}-byte datagram",
                full.len(),
                full.len() - 3
            )
        );
    }
}
