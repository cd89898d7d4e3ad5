#!/usr/bin/env python3
"""Writes the three `explore` fixtures (IoT-23 labeled Zeek TSV) with planted label errors.

Run from the repository root: `python3 testdata/zeek/gen_explore_fixture.py`. Deterministic
(a fixed seed); every address, port and count is made up for these tests.

Capture a: a benign device (DNS, NTP, HTTPS) and an infected one whose C&C and download flows
are labeled malicious while its telnet scan (150 unanswered attempts, 150 addresses) is
labeled benign. Capture b: an infected device whose beacon to an external endpoint on port
4444 (120 connections every ~20 s for 40 min) is labeled benign, a device whose 12 'Attack'
flows are identical to its own benign CoAP flows, and a UDP tuple carrying 30 benign and 3
malicious flows. Capture c: an infected device whose C&C channel is labeled malicious (60
heartbeats to one external address) and whose heartbeat to its vendor's cloud on port 8883 (100
connections every ~20 s) is labeled benign, as it is: the beacon check finds it and asks for
review rather than proposing it outright; its 8 HTTP connections to the C&C channel's own
address, labeled benign, are what the channel check finds (also for review).
"""

import random

HEADER = """#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#open\t2020-09-13-12-26-40
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents   label   detailed-label
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]   string   string
"""


class Capture:
    def __init__(self, seed, t0):
        self.rng = random.Random(seed)
        self.t0 = t0
        self.rows = []

    def flow(self, t, orig, resp, rport, proto, state, label, detailed="-", service="-",
             ob=None, rb=None, dur=None, oport=None):
        r = self.rng
        oport = oport if oport is not None else r.randint(32768, 60999)
        if state == "S0":
            ob, rb, dur, hist, op, rp = 0, 0, None, "S" if proto == "tcp" else "D", 1, 0
        elif state == "REJ":
            ob, rb, dur, hist, op, rp = 0, 0, 0.0001, "Sr", 1, 1
        else:
            ob = ob if ob is not None else r.randint(40, 400)
            rb = rb if rb is not None else r.randint(40, 1400)
            dur = dur if dur is not None else round(r.uniform(0.01, 2.0), 6)
            hist = "ShADadFf" if proto == "tcp" else "Dd"
            op, rp = r.randint(2, 8), r.randint(2, 8)
        hdr = 40 if proto == "tcp" else 28
        cells = [
            f"{t:.6f}", f"C{len(self.rows):08d}x", orig, str(oport), resp, str(rport), proto,
            service, "-" if dur is None else f"{dur:.6f}", str(ob), str(rb), state, "-", "-",
            "0", hist, str(op), str(ob + hdr * op), str(rp), str(rb + hdr * rp),
            f"(empty)   {label}   {detailed}",
        ]
        self.rows.append((t, "\t".join(cells)))

    def write(self, path):
        self.rows.sort(key=lambda x: x[0])
        with open(path, "w") as f:
            f.write(HEADER)
            for _, line in self.rows:
                f.write(line + "\n")
            f.write("#close\t2020-09-13-13-26-40\n")


def capture_a():
    c = Capture(1, 1_600_000_000.0)
    t0 = c.t0
    for i in range(60):  # a benign device: DNS every minute, NTP every 5 min, HTTPS
        c.flow(t0 + 60 * i + 1.5, "10.0.0.2", "10.0.0.1", 53, "udp", "SF", "Benign", service="dns")
        if i % 5 == 0:
            c.flow(t0 + 60 * i + 7.25, "10.0.0.2", "203.0.113.10", 123, "udp", "SF", "Benign",
                   ob=48, rb=48, oport=123)
        if i % 2 == 0:
            c.flow(t0 + 60 * i + 20.125, "10.0.0.2", "198.51.100.20", 443, "tcp", "SF", "Benign",
                   service="ssl")
    for i in range(40):  # the infected device's C&C, labeled malicious
        c.flow(t0 + 90 * i + 3.0, "10.0.0.5", "203.0.113.66", 6667, "tcp", "SF", "Malicious",
               "C&C", service="irc")
    for i in range(3):
        c.flow(t0 + 2.0 + i, "10.0.0.5", "198.51.100.80", 80, "tcp", "SF", "Malicious",
               "FileDownload", service="http", rb=50_000 + i)
    for i in range(150):  # its telnet scan, labeled benign
        c.flow(t0 + 600 + 2 * i + c.rng.random(), "10.0.0.5", f"198.18.{i // 200}.{i % 200 + 1}",
               23, "tcp", "S0", "Benign")
    for i in range(10):
        c.flow(t0 + 300 * i + 11.0, "10.0.0.5", "10.0.0.1", 53, "udp", "SF", "Benign",
               service="dns")
    for i in range(2):
        c.flow(t0 + 1000 * i + 5.0, "10.0.0.3", "10.0.0.255", 137, "udp", "S0", "Background")
    return c


def capture_b():
    c = Capture(2, 1_600_100_000.0)
    t0 = c.t0
    for i in range(2):
        c.flow(t0 + 1.0 + i, "10.0.0.7", "198.51.100.80", 80, "tcp", "SF", "Malicious",
               "FileDownload", service="http", rb=60_000 + i)
    for i in range(120):  # the beacon, labeled benign
        state = "SF" if i % 3 else "S0"
        c.flow(t0 + 10 + 20 * i + c.rng.uniform(-4, 4), "10.0.0.7", "198.51.100.77", 4444, "tcp",
               state, "Benign")
    for i in range(20):
        c.flow(t0 + 120 * i + 9.0, "10.0.0.8", "203.0.113.10", 123, "udp", "SF", "Benign",
               ob=48, rb=48, oport=123)
        c.flow(t0 + 120 * i + 30.0, "10.0.0.8", "198.51.100.20", 443, "tcp", "SF", "Benign",
               service="ssl")
    for i in range(33):  # one UDP tuple, 30 flows benign and 3 malicious
        label, det = ("Malicious", "C&C") if i in (10, 20, 30) else ("Benign", "-")
        c.flow(t0 + 70 * i + 15.0, "10.0.0.8", "10.0.0.31", 9000, "udp", "SF", label, det,
               oport=5000)
    for i in range(52):  # CoAP requests that get no answer: 40 benign, 12 'Attack', identical
        label, det = ("Malicious", "Attack") if i >= 40 else ("Benign", "-")
        c.flow(t0 + 45 * i + 4.0, "10.0.0.9", "10.0.0.30", 5683, "udp", "S0", label, det)
    return c


def capture_c():
    c = Capture(3, 1_600_200_000.0)
    t0 = c.t0
    for i in range(60):  # the labeled C&C channel
        c.flow(t0 + 5 + 40 * i + c.rng.uniform(-2, 2), "10.0.0.11", "198.51.100.90", 6667, "tcp",
               "SF", "Malicious", "C&C-HeartBeat", ob=40, rb=60)
    for i in range(100):  # the vendor cloud's heartbeat, labeled benign
        c.flow(t0 + 12 + 20 * i + c.rng.uniform(-4, 4), "10.0.0.11", "198.51.100.91", 8883, "tcp",
               "SF", "Benign", ob=120, rb=80)
    for i in range(30):
        c.flow(t0 + 80 * i + 3.0, "10.0.0.11", "10.0.0.1", 53, "udp", "SF", "Benign", service="dns",
               ob=40, rb=90)
    for i in range(8):  # downloads from the C&C server's own address, labeled benign
        c.flow(t0 + 300 * i + 7.0, "10.0.0.11", "198.51.100.90", 80, "tcp",
               "SF" if i % 2 else "S0", "Benign", service="http" if i % 2 else "-",
               ob=90 if i % 2 else 0, rb=40_000 if i % 2 else 0)
    return c


if __name__ == "__main__":
    capture_a().write("testdata/zeek/explore_a.conn.log.labeled")
    capture_b().write("testdata/zeek/explore_b.conn.log.labeled")
    capture_c().write("testdata/zeek/explore_c.conn.log.labeled")
