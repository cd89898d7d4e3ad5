#!/usr/bin/env python3
"""Read throughput of iotguard's readers next to pandas and pyarrow, in one run.

Generates a large simulated capture (`iotguard simulate`) as Zeek TSV, Zeek JSON lines and
Zeek-named CSV, then reads each file with:
  - iotguard (Rust), 1 thread and all cores;
  - pandas.read_csv / pandas.read_json(lines=True) (single-threaded by design);
  - pyarrow.csv.read_csv / pyarrow.json.read_json, 1 thread and all cores.
Every reader runs in its own process; wall time and that process's peak RSS (wait4) are recorded.
The page cache is warmed before each file's first measurement. Prints a Markdown table and writes
JSON to bench/out/read_bench.json.

Usage: python3 bench/read_bench.py [--rows N] [--skip-generate]
The Python peers are installed into bench/.venv from PyPI by this script.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
VENV = os.path.join(ROOT, "bench", ".venv")
ZEEK_FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
               "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp",
               "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
               "tunnel_parents", "label", "detailed-label"]

PEER = r'''
import sys, time
kind, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = sys.argv[4].split(",")
t = time.perf_counter()
if kind == "pandas-tsv":
    import pandas as pd
    df = pd.read_csv(path, sep="\t", comment="#", header=None, names=names, na_values=["-", "(empty)"],
                     keep_default_na=False, low_memory=False)
elif kind == "pandas-csv":
    import pandas as pd
    df = pd.read_csv(path, na_values=["-"], low_memory=False)
elif kind == "pandas-json":
    import pandas as pd
    rows = 0
    for chunk in pd.read_json(path, lines=True, chunksize=1_000_000):
        rows += len(chunk)
    print(f"ROWS {rows} {time.perf_counter() - t:.4f}")
    sys.exit(0)
elif kind == "pyarrow-tsv":
    import pyarrow as pa, pyarrow.csv as pc
    pa.set_cpu_count(max(threads, 1)); pa.set_io_thread_count(max(threads, 1))
    df = pc.read_csv(path,
        read_options=pc.ReadOptions(column_names=names, use_threads=threads > 1, block_size=1 << 24),
        parse_options=pc.ParseOptions(delimiter="\t", invalid_row_handler=lambda row: "skip"),
        convert_options=pc.ConvertOptions(null_values=["-", "(empty)"]))
elif kind == "pyarrow-csv":
    import pyarrow as pa, pyarrow.csv as pc
    pa.set_cpu_count(max(threads, 1)); pa.set_io_thread_count(max(threads, 1))
    df = pc.read_csv(path, read_options=pc.ReadOptions(use_threads=threads > 1, block_size=1 << 24),
                     convert_options=pc.ConvertOptions(null_values=["-", ""]))
elif kind == "pyarrow-json":
    import pyarrow as pa, pyarrow.json as pj
    pa.set_cpu_count(max(threads, 1)); pa.set_io_thread_count(max(threads, 1))
    df = pj.read_json(path, read_options=pj.ReadOptions(use_threads=threads > 1, block_size=1 << 24))
print(f"ROWS {len(df)} {time.perf_counter() - t:.4f}")
'''


def run_measured(cmd):
    """Runs cmd; returns (stdout, wall seconds, peak RSS in MiB of that process)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{err.decode(errors='replace')[-2000:]}")
    return out.decode(), wall, usage.ru_maxrss / 1024


def sh(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--skip-generate", action="store_true")
    ap.add_argument("--formats", default="tsv,csv,json")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    os.makedirs(OUT, exist_ok=True)

    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        sh([sys.executable, "-m", "venv", VENV])
    sh([os.path.join(VENV, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check", "pandas", "pyarrow"])
    py = os.path.join(VENV, "bin", "python")
    versions = subprocess.run([py, "-c", "import pandas, pyarrow; print(pandas.__version__, pyarrow.__version__)"],
                              capture_output=True, text=True, check=True).stdout.split()

    sh(["cargo", "build", "--release", "--quiet", "-p", "iotguard-cli", "-p", "iotguard-flow", "--example", "read_throughput"], cwd=ROOT)
    iotguard = os.path.join(ROOT, "target", "release", "iotguard")
    reader = os.path.join(ROOT, "target", "release", "examples", "read_throughput")

    files = {"tsv": os.path.join(OUT, "sim.conn.log"), "json": os.path.join(OUT, "sim.conn.json"),
             "csv": os.path.join(OUT, "sim.conn.csv")}
    formats = args.formats.split(",")
    if not args.skip_generate:
        t = time.perf_counter()
        sh([iotguard, "simulate", "--seed", "1", "--flows", str(args.rows), "--out", files["tsv"]])
        print(f"simulate: {args.rows} flows as Zeek TSV in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        if "json" in formats:
            sh([iotguard, "convert", files["tsv"], "--to", "zeek-json", "--out", files["json"]])
        if "csv" in formats:
            # The IoT-23 CSV layout: a header of Zeek names, then the TSV's data lines with commas
            # (simulated values hold no commas; `-` stays the unset marker, which readers accept).
            with open(files["csv"], "w") as f:
                f.write(",".join(ZEEK_FIELDS) + "\n")
            sh(["bash", "-c", f"grep -v '^#' {files['tsv']} | tr '\\t' ',' >> {files['csv']}"])

    results = []
    for fmt in formats:
        path = files[fmt]
        size = os.path.getsize(path)
        subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        runs = [("iotguard", 1, [reader, path, "--threads", "1"]),
                ("iotguard", cores, [reader, path, "--threads", str(cores)])]
        pandas_kind = {"tsv": "pandas-tsv", "csv": "pandas-csv", "json": "pandas-json"}[fmt]
        arrow_kind = {"tsv": "pyarrow-tsv", "csv": "pyarrow-csv", "json": "pyarrow-json"}[fmt]
        names = ",".join(ZEEK_FIELDS)
        runs.append(("pandas", 1, [py, "-c", PEER, pandas_kind, path, "1", names]))
        runs.append(("pyarrow", 1, [py, "-c", PEER, arrow_kind, path, "1", names]))
        runs.append(("pyarrow", cores, [py, "-c", PEER, arrow_kind, path, str(cores), names]))
        for name, threads, cmd in runs:
            out, wall, rss = run_measured(cmd)
            if name == "iotguard":
                r = json.loads(out.strip().splitlines()[-1])
                rows, secs = r["records"], r["seconds"]
                assert r["bad"] == 0, f"iotguard rejected {r['bad']} records of {path}"
            else:
                line = [l for l in out.splitlines() if l.startswith("ROWS")][-1].split()
                rows, secs = int(line[1]), float(line[2])
            results.append({"format": fmt, "reader": name, "threads": threads, "rows": rows, "bytes": size,
                            "seconds": round(secs, 3), "wall_seconds": round(wall, 3),
                            "mb_s": round(size / 1e6 / secs, 1), "rows_s": round(rows / secs),
                            "peak_rss_mib": round(rss)})
            print(json.dumps(results[-1]), file=sys.stderr)

    meta = {"rows": args.rows, "cores": cores, "pandas": versions[0], "pyarrow": versions[1],
            "cpu": cpu_model(), "date": time.strftime("%Y-%m-%d")}
    with open(os.path.join(OUT, "read_bench.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    print(f"\n{args.rows:,} simulated flows; {meta['cpu']}, {cores} cores; pandas {versions[0]}, pyarrow {versions[1]}\n")
    print("| format | file | reader | threads | seconds | MB/s | rows/s | peak RSS MiB | vs pandas |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fmt in formats:
        base = next(r for r in results if r["format"] == fmt and r["reader"] == "pandas")
        for r in (x for x in results if x["format"] == fmt):
            print(f"| {fmt} | {r['bytes'] / 1e9:.2f} GB | {r['reader']} | {r['threads']} | {r['seconds']:.2f} | "
                  f"{r['mb_s']:.0f} | {r['rows_s'] / 1e6:.2f} M | {r['peak_rss_mib']:,} | "
                  f"{base['seconds'] / r['seconds']:.1f}× |")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
