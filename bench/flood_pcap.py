#!/usr/bin/env python3
"""Writes a SYN flood from spoofed sources as a pcap: N TCP SYNs, each from a new source
address and port, to one victim (192.168.1.1:23), one microsecond apart, none answered. Every
packet opens a connection, so past the flow meter's cap (1,000,000 open connections by
default) every packet makes the meter evict one: bench/meter_bench.sh times that case.

    python3 bench/flood_pcap.py OUT.pcap N
"""
import struct
import sys


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    dst = bytes([192, 168, 1, 1])
    eth = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x00"
    t0 = 1_700_000_000 * 1_000_000
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            src = bytes([10, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])
            sport = 1024 + (i >> 24)
            tcp = struct.pack("!HHIIBBHHH", sport, 23, i, 0, 5 << 4, 0x02, 1024, 0, 0)
            pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
            tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xFFFF, 0, 64, 6, 0, src, dst)
            ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
            frame = eth + ip + tcp
            us = t0 + i
            f.write(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(frame), len(frame)))
            f.write(frame)


if __name__ == "__main__":
    main()
