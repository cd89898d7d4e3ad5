//! From a packet's bytes to what a flow needs of it: addresses, transport, ports, TCP flags and
//! sequence number, and byte counts; or, for an IP fragment, what its reassembly needs
//! ([`Fragment`]; the meter reassembles datagrams in `frag.rs`).

use std::net::IpAddr;

use etherparse::{
    Icmpv4Slice, Icmpv6Slice, IpNumber, Ipv6ExtensionSlice, NetSlice, SlicedPacket, TcpSlice,
    TransportSlice, UdpSlice,
};

/// Link types this meter decodes (the numbers of tcpdump.org's list).
pub mod linktype {
    /// BSD loopback: a 4-byte address family, then IP.
    pub const NULL: i32 = 0;
    /// Ethernet II, with VLAN tags.
    pub const ETHERNET: i32 = 1;
    /// Raw IP (the two numbers in use).
    pub const RAW: i32 = 101;
    /// Raw IP, the older number some tools write.
    pub const RAW_OLD: i32 = 12;
    /// Linux cooked capture (`-i any`).
    pub const LINUX_SLL: i32 = 113;
    /// OpenBSD loopback.
    pub const LOOP: i32 = 108;
    /// Raw IPv4.
    pub const IPV4: i32 = 228;
    /// Raw IPv6.
    pub const IPV6: i32 = 229;
}

/// The transport of a decoded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TCP, with its flags and sequence numbers.
    Tcp(TcpInfo),
    /// UDP.
    Udp,
    /// ICMP or ICMPv6: ports carry the type and code, as Zeek's do.
    Icmp,
    /// Any other IP protocol.
    Other,
}

/// What a TCP segment says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpInfo {
    /// SYN.
    pub syn: bool,
    /// ACK.
    pub ack: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
    /// The sequence number.
    pub seq: u32,
}

/// One IP packet, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (ICMP: the type).
    pub sport: u16,
    /// Destination port (ICMP: the code).
    pub dport: u16,
    /// The transport.
    pub transport: Transport,
    /// The IP packet's length as its header gives it (header included).
    pub ip_len: u64,
    /// Transport payload bytes in the packet as sent (from the IP lengths, so a short snap
    /// length does not shrink it).
    pub payload_len: u64,
    /// The payload's first bytes as captured (zeros past [`Decoded::head_len`]), for telling
    /// the application protocol.
    pub head: [u8; 8],
    /// How many of `head` were captured.
    pub head_len: u8,
}

fn head_of(payload: &[u8]) -> ([u8; 8], u8) {
    let mut head = [0u8; 8];
    let n = payload.len().min(8);
    head[..n].copy_from_slice(&payload[..n]);
    (head, n as u8)
}

/// An IP packet: a whole datagram, or a fragment of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ip<'a> {
    /// A whole datagram, decoded to its transport.
    Whole(Decoded),
    /// A fragment (IPv4 with MF set or an offset, IPv6 with a fragment header that fragments):
    /// it has a flow only once its datagram is reassembled.
    Fragment(Fragment<'a>),
}

/// One fragment of an IP datagram, as reassembly needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The identification (IPv4's 16 bits, IPv6's fragment header's 32).
    pub id: u32,
    /// The protocol of the datagram's payload (IPv6: the fragment header's next header).
    pub proto: u8,
    /// Where this fragment's data starts in the datagram's payload, in bytes.
    pub offset: u16,
    /// More fragments follow (MF).
    pub more: bool,
    /// The length of the IP header the reassembled datagram gets from this fragment, as
    /// Zeek counts it: IPv4's header with its options, IPv6's fixed header and the extension
    /// headers before the fragment header (not the fragment header itself).
    pub header_len: u16,
    /// The fragment's data (the part of the datagram's payload it carries).
    pub data: &'a [u8],
}

/// Why a packet has no flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Not IP (ARP, LLDP, ...).
    NotIp,
    /// A link type this meter does not decode.
    Linktype,
    /// Too short or malformed for its headers.
    Malformed,
}

/// Decodes one packet of link type `linktype`.
pub fn decode(linktype: i32, data: &[u8]) -> Result<Ip<'_>, Skip> {
    let sliced = match linktype {
        linktype::ETHERNET => SlicedPacket::from_ethernet(data),
        linktype::LINUX_SLL => SlicedPacket::from_linux_sll(data),
        linktype::RAW | linktype::RAW_OLD | linktype::IPV4 | linktype::IPV6 => {
            SlicedPacket::from_ip(data)
        }
        linktype::NULL | linktype::LOOP => {
            SlicedPacket::from_ip(data.get(4..).ok_or(Skip::Malformed)?)
        }
        _ => return Err(Skip::Linktype),
    }
    .map_err(|_| Skip::Malformed)?;
    if sliced.is_ip_payload_fragmented() {
        return fragment(data, &sliced).map(Ip::Fragment);
    }
    let (src, dst, ip_len, header_len) = match &sliced.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                u64::from(h.total_len()),
                u64::from(h.ihl()) * 4,
            )
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            let ext = ip.extensions().slice().len() as u64;
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                40 + u64::from(h.payload_length()),
                40 + ext,
            )
        }
        _ => return Err(Skip::NotIp),
    };
    let after_ip = ip_len.saturating_sub(header_len);
    let (sport, dport, transport, payload_len, (head, head_len)) =
        transport_fields(sliced.transport.as_ref(), after_ip);
    Ok(Ip::Whole(Decoded {
        src,
        dst,
        sport,
        dport,
        transport,
        ip_len,
        payload_len,
        head,
        head_len,
    }))
}

/// What reassembly needs of a fragment.
fn fragment<'a>(buf: &'a [u8], sliced: &SlicedPacket<'a>) -> Result<Fragment<'a>, Skip> {
    match &sliced.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header();
            Ok(Fragment {
                src: IpAddr::V4(h.source_addr()),
                dst: IpAddr::V4(h.destination_addr()),
                id: u32::from(h.identification()),
                proto: ip.payload().ip_number.0,
                offset: h.fragments_offset().byte_offset(),
                more: h.more_fragments(),
                header_len: u16::from(h.ihl()) * 4,
                data: ip.payload().payload,
            })
        }
        Some(NetSlice::Ipv6(ip)) => {
            // The headers before the fragment header are the datagram's own; what follows it is
            // the fragment's data (extension headers after it included: etherparse parses them,
            // but they belong to the fragmentable part).
            let exts = ip.extensions();
            let mut before = 0usize;
            let mut frag = None;
            for ext in exts.clone().into_iter() {
                match ext {
                    Ipv6ExtensionSlice::Fragment(f) => {
                        frag = Some(f);
                        break;
                    }
                    Ipv6ExtensionSlice::HopByHop(e)
                    | Ipv6ExtensionSlice::Routing(e)
                    | Ipv6ExtensionSlice::DestinationOptions(e) => before += e.slice().len(),
                    Ipv6ExtensionSlice::Authentication(e) => before += e.slice().len(),
                }
            }
            let f = frag.ok_or(Skip::Malformed)?;
            // The data runs from after the fragment header to the end of the payload: two
            // slices of the packet, one after the other.
            let after = &exts.slice()[before + f.slice().len()..];
            let payload = ip.payload().payload;
            let data = if after.is_empty() {
                payload
            } else {
                joined(buf, after, payload).ok_or(Skip::Malformed)?
            };
            let h = ip.header();
            Ok(Fragment {
                src: IpAddr::V6(h.source_addr()),
                dst: IpAddr::V6(h.destination_addr()),
                id: f.identification(),
                proto: f.next_header().0,
                offset: f.fragment_offset().byte_offset(),
                more: f.more_fragments(),
                header_len: u16::try_from(40 + before).map_err(|_| Skip::Malformed)?,
                data,
            })
        }
        _ => Err(Skip::NotIp),
    }
}

/// Two slices of `buf`, the second right after the first, as one slice of it; `None` if they
/// are not adjacent parts of `buf`.
fn joined<'a>(buf: &'a [u8], first: &[u8], second: &[u8]) -> Option<&'a [u8]> {
    let base = buf.as_ptr() as usize;
    let start = (first.as_ptr() as usize).checked_sub(base)?;
    let next = (second.as_ptr() as usize).checked_sub(base)?;
    if next != start + first.len() {
        return None;
    }
    buf.get(start..next + second.len())
}

/// A reassembled datagram decoded to its transport, as [`decode`] decodes a whole packet:
/// `header_len` is the IP header's length Zeek gives it, `payload` the whole reassembled payload.
pub fn decode_datagram(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    header_len: u16,
    payload: &[u8],
) -> Result<Decoded, Skip> {
    let after_ip = payload.len() as u64;
    let slice = match IpNumber(proto) {
        IpNumber::TCP => Some(TransportSlice::Tcp(
            TcpSlice::from_slice(payload).map_err(|_| Skip::Malformed)?,
        )),
        IpNumber::UDP => Some(TransportSlice::Udp(
            UdpSlice::from_slice(payload).map_err(|_| Skip::Malformed)?,
        )),
        IpNumber::ICMP if src.is_ipv4() => Some(TransportSlice::Icmpv4(
            Icmpv4Slice::from_slice(payload).map_err(|_| Skip::Malformed)?,
        )),
        IpNumber::IPV6_ICMP if src.is_ipv6() => Some(TransportSlice::Icmpv6(
            Icmpv6Slice::from_slice(payload).map_err(|_| Skip::Malformed)?,
        )),
        _ => None,
    };
    let (sport, dport, transport, payload_len, (head, head_len)) =
        transport_fields(slice.as_ref(), after_ip);
    Ok(Decoded {
        src,
        dst,
        sport,
        dport,
        transport,
        ip_len: u64::from(header_len) + after_ip,
        payload_len,
        head,
        head_len,
    })
}

/// Ports (ICMP: type and code), transport, payload length and the payload's first bytes of a
/// transport header, for a whole packet and a reassembled datagram alike; `after_ip` is what
/// follows the IP header(s).
// Inlined into both callers: called out of line it cost 2 % more instructions a packet on
// capture 42-1 (callgrind, `examples/meter_bench.rs`).
#[inline(always)]
fn transport_fields(
    slice: Option<&TransportSlice<'_>>,
    after_ip: u64,
) -> (u16, u16, Transport, u64, ([u8; 8], u8)) {
    match slice {
        Some(TransportSlice::Tcp(t)) => (
            t.source_port(),
            t.destination_port(),
            Transport::Tcp(TcpInfo {
                syn: t.syn(),
                ack: t.ack(),
                fin: t.fin(),
                rst: t.rst(),
                seq: t.sequence_number(),
            }),
            after_ip.saturating_sub(u64::from(t.data_offset()) * 4),
            head_of(t.payload()),
        ),
        Some(TransportSlice::Udp(u)) => (
            u.source_port(),
            u.destination_port(),
            Transport::Udp,
            after_ip.saturating_sub(8),
            head_of(u.payload()),
        ),
        Some(TransportSlice::Icmpv4(i)) => (
            u16::from(i.type_u8()),
            u16::from(i.code_u8()),
            Transport::Icmp,
            after_ip.saturating_sub(8),
            ([0; 8], 0),
        ),
        Some(TransportSlice::Icmpv6(i)) => (
            u16::from(i.type_u8()),
            u16::from(i.code_u8()),
            Transport::Icmp,
            after_ip.saturating_sub(8),
            ([0; 8], 0),
        ),
        _ => (0, 0, Transport::Other, after_ip, ([0; 8], 0)),
    }
}
