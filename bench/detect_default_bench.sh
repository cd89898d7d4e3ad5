#!/usr/bin/env bash
# Detection at speed with the default model (issue 16, item 1): the issue's attack-heavy stream
# (`simulate --seed 9 --devices 200`, 3 M flows by default) through `detect` with the default
# sinks (SQLite alert store, drift monitors, live explanations), for the default model kind
# (forest, trained with the defaults on 200,000 flows of `simulate --seed 2 --devices 200`) and,
# beside it, gbdt and the ensemble. Prints each run's flows/s (the detector's own report),
# wall and CPU seconds and peak RSS (`/usr/bin/time -v`), and the load average before each run.
# Results in BENCHMARKS.md ("Explanations of the default forest"). Run from anywhere:
#   bash bench/detect_default_bench.sh [FLOWS] [KINDS]   (defaults 3000000, "forest gbdt ensemble")
# Set IOTGUARD_BIN to time a binary built elsewhere (say, before a change); otherwise the
# release CLI of this checkout is built.
set -euo pipefail
cd "$(dirname "$0")/.."
flows=${1:-3000000}
kinds=${2:-forest gbdt ensemble}
if [ -z "${IOTGUARD_BIN:-}" ]; then
    nice cargo build --release --quiet -p iotguard-cli --bin iotguard
    IOTGUARD_BIN=target/release/iotguard
    built="built from $(git rev-parse --short HEAD)"
else
    built="given by IOTGUARD_BIN"
fi
bin=$IOTGUARD_BIN
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" simulate --seed 2 --devices 200 --flows 200000 --out "$work/train.log" 2>/dev/null
"$bin" simulate --seed 9 --devices 200 --flows "$flows" --out "$work/stream.log" 2>/dev/null
echo "binary: $bin ($built), $(nproc) cores, $flows flows"
for kind in $kinds; do
    "$bin" train --model "$kind" --out "$work/$kind.json" "$work/train.log" >/dev/null 2>&1
    rm -f "$work/alerts.db"*
    echo "== $kind: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    /usr/bin/time -v "$bin" detect --model "$work/$kind.json" --alerts-db "$work/alerts.db" \
        --json "$work/stream.log" >"$work/$kind.out" 2>"$work/$kind.time"
    python3 - "$work/$kind.out" "$work/$kind.time" "$work/alerts.db" <<'PY'
import json, re, sqlite3, sys
r = json.load(open(sys.argv[1]))["report"]
t = open(sys.argv[2]).read()
def field(name):
    return re.search(re.escape(name) + r": (.*)", t).group(1).strip()
rss = int(field("Maximum resident set size (kbytes)")) / 1024
cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
c = sqlite3.connect(sys.argv[3])
stored = c.execute("select count(*) from alerts").fetchone()[0]
print(f"{r['flows']:,} flows in {r['elapsed_secs']:.1f} s: {r['flows'] / r['elapsed_secs']:,.0f} flows/s; "
      f"{r['alert_flows']:,} alerting, {r['incidents']:,} incidents, {r['alerts_sent']:,} documents "
      f"({stored:,} stored); wall {field('Elapsed (wall clock) time (h:mm:ss or m:ss)')}, "
      f"CPU {cpu:.1f} s, peak RSS {rss:,.0f} MiB")
PY
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
