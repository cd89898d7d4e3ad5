"""Writes fragments.pcap: IP datagrams cut into fragments, for the flow meter's reassembly
(issue 14) and as a seed of the `pcap` fuzz target. Made-up documentation addresses (RFC 5737,
RFC 3849), checksums left zero. Run from this folder. The packets, in order:

1. a UDP datagram of 1,000 bytes (192.0.2.10:5000 -> 203.0.113.5:6000) in three fragments, in
   order, and its 10-byte answer whole;
2. a TCP connection to port 80 whose 1,200-byte data segment comes in three fragments, last
   first, and the middle one twice (an overlap with the same bytes);
3. an IPv6 UDP datagram of 1,500 bytes (2001:db8::a:40002 -> 2001:db8::b:9999) in three
   fragments, last first;
4. a UDP datagram (port 8100 -> 8101) in three fragments with a forged copy of the first
   (destination port 9999, after the real one: an inconsistent overlap, the first data kept)
   and a fragment past the datagram's end (rejected);
5. a UDP datagram (port 7000 -> 7001) missing its last fragment (unfinished at the end);
6. one ARP request.
"""
import struct

A, B = bytes([192, 0, 2, 10]), bytes([203, 0, 113, 5])
A6 = bytes.fromhex("20010db8000000000000000000000000"[:-1] + "a")
B6 = bytes.fromhex("20010db8000000000000000000000000"[:-1] + "b")
MAC_A, MAC_B = bytes([2, 0, 0, 0, 0, 0xA]), bytes([2, 0, 0, 0, 0, 0xB])
SYN, ACK, FIN, PSH = 0x02, 0x10, 0x01, 0x08


def ipv4(src, dst, proto, payload, ident=1, off=0, more=False):
    flags = (0x2000 if more else 0) | (off // 8)
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags, 64, proto, 0, src, dst) + payload


def ipv6(src, dst, nxt, payload):
    return struct.pack("!IHBB", 6 << 28, len(payload), nxt, 64) + src + dst + payload


def tcp(sport, dport, seq, ack, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 1024, 0, 0) + data


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def eth(src_mac, dst_mac, ethertype, payload):
    return dst_mac + src_mac + struct.pack("!H", ethertype) + payload


def v4_frags(src, dst, proto, payload, ident, cuts):
    """IPv4 fragments of `payload` cut at the offsets `cuts` (multiples of 8), in order."""
    bounds = [0] + cuts + [len(payload)]
    return [eth(MAC_A, MAC_B, 0x0800, ipv4(src, dst, proto, payload[a:b], ident, a, b < len(payload)))
            for a, b in zip(bounds, bounds[1:])]


def v6_frags(src, dst, nxt, payload, ident, cuts):
    bounds = [0] + cuts + [len(payload)]
    return [eth(MAC_A, MAC_B, 0x86DD, ipv6(src, dst, 44, struct.pack("!BBHI", nxt, 0, a | (b < len(payload)), ident) + payload[a:b]))
            for a, b in zip(bounds, bounds[1:])]


one = v4_frags(A, B, 17, udp(5000, 6000, bytes([7]) * 1000), 0x101, [400, 800])
seg = v4_frags(A, B, 6, tcp(40001, 80, 101, 501, PSH | ACK, bytes([ord("y")]) * 1200), 0x102, [512, 1024])
six = v6_frags(A6, B6, 17, udp(40002, 9999, bytes([3]) * 1500), 0xDEADBEEF, [512, 1024])
dg4 = udp(8100, 8101, bytes([5]) * 600)
four = v4_frags(A, B, 17, dg4, 0x104, [200, 400])
forged = v4_frags(A, B, 17, udp(8100, 9999, bytes([5]) * 600), 0x104, [200, 400])[0]
past = eth(MAC_A, MAC_B, 0x0800, ipv4(A, B, 17, dg4[400:] + bytes(16), 0x104, 400, True))
five = v4_frags(A, B, 17, udp(7000, 7001, bytes([1]) * 900), 0x105, [400, 800])
arp = bytes.fromhex("0001 0800 0604 0001") + MAC_A + A + bytes(6) + B

packets = [
    (0.000, one[0]), (0.000, one[1]), (0.000, one[2]),
    (0.500, eth(MAC_B, MAC_A, 0x0800, ipv4(B, A, 17, udp(6000, 5000, bytes([9]) * 10)))),
    (1.000, eth(MAC_A, MAC_B, 0x0800, ipv4(A, B, 6, tcp(40001, 80, 100, 0, SYN)))),
    (1.010, eth(MAC_B, MAC_A, 0x0800, ipv4(B, A, 6, tcp(80, 40001, 500, 101, SYN | ACK)))),
    (1.020, eth(MAC_A, MAC_B, 0x0800, ipv4(A, B, 6, tcp(40001, 80, 101, 501, ACK)))),
    (1.030, seg[2]), (1.030, seg[1]), (1.030, seg[1]), (1.030, seg[0]),
    (1.040, eth(MAC_B, MAC_A, 0x0800, ipv4(B, A, 6, tcp(80, 40001, 501, 1301, ACK)))),
    (1.050, eth(MAC_A, MAC_B, 0x0800, ipv4(A, B, 6, tcp(40001, 80, 1301, 501, FIN | ACK)))),
    (1.060, eth(MAC_B, MAC_A, 0x0800, ipv4(B, A, 6, tcp(80, 40001, 501, 1302, FIN | ACK)))),
    (2.000, six[2]), (2.000, six[1]), (2.000, six[0]),
    (3.000, four[0]), (3.000, forged), (3.000, four[2]), (3.000, past), (3.000, four[1]),
    (4.000, five[0]), (4.000, five[1]),
    (5.000, eth(MAC_A, b"\xff" * 6, 0x0806, arp)),
]
T0 = 1_700_000_000

with open("fragments.pcap", "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for t, data in packets:
        secs, usecs = T0 + int(t), round((t % 1) * 1e6)
        f.write(struct.pack("<IIII", secs, usecs, len(data), len(data)) + data)
