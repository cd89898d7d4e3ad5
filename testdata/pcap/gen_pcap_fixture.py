"""Writes handshake.pcap and handshake.pcapng: the same nine packets (a TCP connection with a
handshake, data both ways and a FIN exchange, a DNS query and answer over UDP, and one ARP
request), made-up documentation addresses (RFC 5737), checksums left zero. Run from this folder."""
import struct

A, B, DNS = bytes([192, 0, 2, 10]), bytes([203, 0, 113, 5]), bytes([198, 51, 100, 53])
MAC_A, MAC_B = bytes([2, 0, 0, 0, 0, 0xA]), bytes([2, 0, 0, 0, 0, 0xB])


def ipv4(src, dst, proto, payload):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, src, dst)
    return header + payload


def tcp(sport, dport, seq, ack, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 1024, 0, 0) + data


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def eth(src_mac, dst_mac, ethertype, payload):
    return dst_mac + src_mac + struct.pack("!H", ethertype) + payload


SYN, ACK, FIN, PSH = 0x02, 0x10, 0x01, 0x08
query = bytes.fromhex("1234 0100 0001 0000 0000 0000") + b"\x07example\x03com\x00\x00\x01\x00\x01"
answer = bytes.fromhex("1234 8180 0001 0001 0000 0000") + query[12:] + bytes.fromhex("c00c 0001 0001 0000 0e10 0004 c0000201")
arp = bytes.fromhex("0001 0800 0604 0001") + MAC_A + A + bytes(6) + B

packets = [
    (0.000, eth(MAC_A, MAC_B, 0x0800, ipv4(A, B, 6, tcp(40000, 80, 100, 0, SYN)))),
    (0.010, eth(MAC_B, MAC_A, 0x0800, ipv4(B, A, 6, tcp(80, 40000, 500, 101, SYN | ACK)))),
    (0.020, eth(MAC_A, MAC_B, 0x0800, ipv4(A, B, 6, tcp(40000, 80, 101, 501, ACK)))),
    (0.030, eth(MAC_A, MAC_B, 0x0800, ipv4(A, B, 6, tcp(40000, 80, 101, 501, PSH | ACK, b"GET / HTTP/1.1\r\nHost: b\r\n\r\n")))),
    (0.050, eth(MAC_B, MAC_A, 0x0800, ipv4(B, A, 6, tcp(80, 40000, 501, 128, PSH | ACK, b"HTTP/1.1 204 No Content\r\n\r\n")))),
    (0.060, eth(MAC_A, MAC_B, 0x0800, ipv4(A, B, 6, tcp(40000, 80, 128, 529, FIN | ACK)))),
    (0.070, eth(MAC_B, MAC_A, 0x0800, ipv4(B, A, 6, tcp(80, 40000, 529, 129, FIN | ACK)))),
    (1.000, eth(MAC_A, MAC_B, 0x0800, ipv4(A, DNS, 17, udp(53000, 53, query)))),
    (1.020, eth(MAC_B, MAC_A, 0x0800, ipv4(DNS, A, 17, udp(53, 53000, answer)))),
    (2.000, eth(MAC_A, b"\xff" * 6, 0x0806, arp)),
]
T0 = 1_700_000_000

with open("handshake.pcap", "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for t, data in packets:
        secs, usecs = T0 + int(t), round((t % 1) * 1e6)
        f.write(struct.pack("<IIII", secs, usecs, len(data), len(data)) + data)


def block(kind, body):
    body += bytes(-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", kind, n) + body + struct.pack("<I", n)


with open("handshake.pcapng", "wb") as f:
    f.write(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
    # Interface 0: Ethernet, microseconds (the default if_tsresol).
    f.write(block(1, struct.pack("<HHI", 1, 0, 65535)))
    for t, data in packets:
        units = (T0 * 1_000_000) + round(t * 1e6)
        f.write(block(6, struct.pack("<IIIII", 0, units >> 32, units & 0xFFFFFFFF, len(data), len(data)) + data))
