#!/usr/bin/env python3
"""Writes a copy of a pcap (Ethernet, classic format) with every IPv4 packet longer than MTU
bytes split into IP fragments of at most MTU bytes, in order, at the packet's timestamp (the
header, options included, copied into each fragment; checksums recomputed). Other records are
copied as they are; a record cut at the file's end is dropped. Prints what it did.

    python3 bench/fragment_pcap.py IN OUT [MTU]   (MTU default 576)
"""
import struct
import sys


def checksum(header):
    s = sum(struct.unpack("!%dH" % (len(header) // 2), header))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def fragments(frame, mtu):
    """The frame's fragments, or None to keep it whole."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    flags_off = struct.unpack("!H", ip[6:8])[0]
    if total <= mtu or flags_off & 0x3FFF or total > len(ip) or ihl < 20:
        return None
    header, data = bytearray(ip[:ihl]), ip[ihl:total]
    step = (mtu - ihl) // 8 * 8
    out = []
    for off in range(0, len(data), step):
        part = data[off:off + step]
        more = off + step < len(data)
        h = bytearray(header)
        struct.pack_into("!H", h, 2, ihl + len(part))
        struct.pack_into("!H", h, 6, (0x2000 if more else 0) | (off // 8))  # DF cleared
        struct.pack_into("!H", h, 10, 0)
        struct.pack_into("!H", h, 10, checksum(bytes(h)))
        out.append(frame[:14] + bytes(h) + part)
    return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    mtu = int(sys.argv[3]) if len(sys.argv) > 3 else 576
    data = open(src, "rb").read()
    header, p = data[:24], 24
    if struct.unpack("<I", header[:4])[0] != 0xA1B2C3D4 or struct.unpack("<I", header[20:24])[0] != 1:
        sys.exit("only little-endian microsecond pcap of Ethernet")
    records = split = made = 0
    with open(dst, "wb") as f:
        f.write(header)
        while p + 16 <= len(data):
            secs, usecs, caplen, origlen = struct.unpack_from("<IIII", data, p)
            frame = data[p + 16:p + 16 + caplen]
            if len(frame) < caplen:
                break
            p += 16 + caplen
            records += 1
            frags = fragments(frame, mtu) if caplen == origlen else None
            for fr in frags or [frame]:
                f.write(struct.pack("<IIII", secs, usecs, len(fr), len(fr)) + fr)
            if frags:
                split += 1
                made += len(frags)
    print("%d packets; %d split into %d fragments; %d packets written" % (records, split, made, records - split + made))


main()
