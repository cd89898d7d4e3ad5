#!/usr/bin/env python3
"""Runs every shell code block of README.md, in order, against real files.

The README's commands name files a user has (capture.conn.log, captures/, model.json, ...).
This script makes them in a fresh folder from the simulator and ../shared/data (IoT-23's
capture 34-1 where the README means a real capture), puts the iotguard binary on PATH, and runs
each ```sh block there with bash -e (standard input: capture.conn.log). A block fails the run if
it exits non-zero; model.json, baseline.json and the like are made by the blocks before the ones
that use them, as for a reader going down the page.

A block that needs a service (Kafka, a running server, ssh), runs until stopped (demo, serve,
--follow) or takes minutes is marked in README.md by an HTML comment on a line before it:

    <!-- readme-test: skip (needs Kafka) -->

and a block whose last command exits 1 by design (retrain: not promoted) by

    <!-- readme-test: allow-exit 1 (retrain exits 1 when the shadow is not better) -->

Every skipped block is printed with its reason. Usage:

    python3 tests/readme_commands.py [--bin target/release/iotguard] [--keep] [--only LINE]
"""

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = re.compile(r"<!--\s*readme-test:\s*(skip|allow-exit\s+(\d+))\s*(?:\((.*)\))?\s*-->")


def blocks(readme):
    """Yields (line, code, mark, reason, allowed_exit) for each ```sh block."""
    lines = open(readme, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            start = i + 1
            # The mark is the nearest comment above, with only blank lines between.
            mark, reason, allowed = None, None, 0
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            m = MARK.search(lines[j]) if j >= 0 else None
            if m:
                mark = "skip" if m.group(1) == "skip" else "allow-exit"
                reason = m.group(3) or "no reason given"
                allowed = int(m.group(2) or 0)
            i += 1
            code = []
            while i < len(lines) and lines[i].strip() != "```":
                code.append(lines[i])
                i += 1
            yield start + 1, "\n".join(code) + "\n", mark, reason, allowed
        i += 1


def run(cmd, cwd, env, stdin=None):
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdin=stdin,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def fixtures(work, data, env):
    """Makes the files the README names, in `work`."""
    sim = lambda seed, out, flows=5000: run(
        ["iotguard", "simulate", "--seed", str(seed), "--flows", str(flows), "--out", out],
        work, env)
    for d in ["captures/train", "captures/test", "logs", "zeek/first-week"]:
        os.makedirs(os.path.join(work, d), exist_ok=True)
    sim(1, "captures/train/sim-1.conn.log")
    sim(2, "captures/train/sim-2.conn.log")
    sim(3, "captures/test/sim-3.conn.log")
    sim(4, "capture.conn.log")
    sim(5, "zeek/first-week/conn.log")
    shutil.copy(os.path.join(work, "capture.conn.log"), os.path.join(work, "conn.log"))
    shutil.copy(os.path.join(work, "captures/test/sim-3.conn.log"),
                os.path.join(work, "logs/conn.log"))
    with open(os.path.join(work, "capture.conn.log"), "rb") as f, \
            gzip.open(os.path.join(work, "conn.log.gz"), "wb") as g:
        shutil.copyfileobj(f, g)
    real = os.path.join(data, "iot23", "CTU-IoT-Malware-Capture-34-1.conn.log.labeled")
    real_csv = os.path.join(data, "iot23", "CTU-IoT-Malware-Capture-34-1.csv")
    if os.path.exists(real):
        shutil.copy(real, os.path.join(work, "capture.conn.log.labeled"))
        shutil.copy(real, os.path.join(work, "logs/34-1.conn.log.labeled"))
    else:
        print("readme-test: no shared data at %s: the simulator stands in for it" % data)
        shutil.copy(os.path.join(work, "capture.conn.log"),
                    os.path.join(work, "capture.conn.log.labeled"))
    if os.path.exists(real_csv):
        shutil.copy(real_csv, os.path.join(work, "capture.csv"))
    else:
        shutil.copy(os.path.join(ROOT, "testdata/ton-iot/ton_iot_network.csv"),
                    os.path.join(work, "capture.csv"))
    # TON_IoT for `compare --split family`: 200 flows of each type of the real file (it is
    # grouped by type), or, without it, a simulated capture (its attack types stand in).
    ton = os.path.join(os.path.dirname(data), "seed-datasets", "ton-iot",
                       "train_test_network.csv.gz")
    if os.path.exists(ton):
        per_type = {}
        with gzip.open(ton, "rt", encoding="utf-8-sig", newline="") as f, \
                open(os.path.join(work, "ton_iot.csv"), "w", newline="") as out:
            out.write(f.readline())
            for line in f:
                kind = line.rstrip("\r\n").rsplit(",", 1)[-1]
                if per_type.get(kind, 0) < 200:
                    per_type[kind] = per_type.get(kind, 0) + 1
                    out.write(line)
    else:
        sim(6, "ton_iot.csv")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_bin = os.path.join(ROOT, "target/release/iotguard")
    if not os.path.exists(default_bin):
        default_bin = os.path.join(ROOT, "target/debug/iotguard")
    ap.add_argument("--bin", default=default_bin, help="the iotguard binary to put on PATH")
    ap.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--only", type=int, action="append",
                    help="run only the block starting at this README line (repeatable)")
    args = ap.parse_args()

    shared = os.path.abspath(os.path.join(ROOT, "..", "shared"))
    data = os.environ.get("IOTGUARD_DATA_DIR", os.path.join(shared, "data"))
    top = tempfile.mkdtemp(prefix="readme-test-")
    # The README's relative paths (../shared/data/...) resolve from the work folder as from
    # the repository's root.
    work = os.path.join(top, "repo")
    os.makedirs(work)
    os.symlink(shared, os.path.join(top, "shared"))
    bindir = os.path.join(top, "bin")
    os.makedirs(bindir)
    os.symlink(os.path.abspath(args.bin), os.path.join(bindir, "iotguard"))
    env = dict(os.environ)
    path = [bindir]
    # `python -c "import duckdb ..."`: the CI virtualenv (or the team's) when there is one.
    for venv in [os.environ.get("IOTGUARD_CI_VENV"), os.path.join(ROOT, "target/ci-venv"),
                 "/work/team/venv"]:
        if venv and os.path.exists(os.path.join(venv, "bin", "python")):
            path.append(os.path.join(venv, "bin"))
            break
    env["PATH"] = os.pathsep.join(path + [env.get("PATH", "")])
    env["IOTGUARD_DATA_DIR"] = data
    env.pop("IOTGUARD_API_TOKEN", None)

    fixtures(work, data, env)
    ran, skipped, failed = 0, [], []
    for line, code, mark, reason, allowed in blocks(args.readme):
        if args.only and line not in args.only:
            continue
        if mark == "skip":
            skipped.append((line, reason))
            print("SKIPPED README.md:%d (%s)" % (line, reason))
            continue
        t = time.time()
        with open(os.path.join(work, "capture.conn.log"), "rb") as stdin:
            p = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], cwd=work, env=env,
                               stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        ok = p.returncode == 0 or (allowed and p.returncode == allowed)
        ran += 1
        print("%s README.md:%d (%.1f s, exit %d)" % ("ok  " if ok else "FAIL", line,
                                                    time.time() - t, p.returncode))
        if not ok:
            failed.append(line)
            print("---- the block:\n" + code + "---- its output (last 40 lines):")
            print("\n".join(p.stdout.decode("utf-8", "replace").splitlines()[-40:]))
    print("readme-test: %d block(s) ran, %d failed, %d skipped:" % (ran, len(failed),
                                                                    len(skipped)))
    for line, reason in skipped:
        print("  README.md:%d skipped: %s" % (line, reason))
    if args.keep:
        print("readme-test: work folder kept at " + work)
    else:
        shutil.rmtree(top)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
