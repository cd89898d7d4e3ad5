//! From a packet's bytes to what a flow needs of it: addresses, transport, ports, TCP flags and
//! sequence number, and byte counts.

use std::net::IpAddr;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};

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
    /// Any other IP protocol, or a fragment after the first (no transport header).
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
pub fn decode(linktype: i32, data: &[u8]) -> Result<Decoded, Skip> {
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
    let (sport, dport, transport, payload_len, (head, head_len)) = match &sliced.transport {
        Some(TransportSlice::Tcp(t)) => {
            let header = u64::from(t.data_offset()) * 4;
            (
                t.source_port(),
                t.destination_port(),
                Transport::Tcp(TcpInfo {
                    syn: t.syn(),
                    ack: t.ack(),
                    fin: t.fin(),
                    rst: t.rst(),
                    seq: t.sequence_number(),
                }),
                after_ip.saturating_sub(header),
                head_of(t.payload()),
            )
        }
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
    };
    Ok(Decoded {
        src,
        dst,
        sport,
        dport,
        transport,
        ip_len,
        payload_len,
        head,
        head_len,
    })
}
