#!/usr/bin/env bash
# Replays are deterministic: the same file through `detect` three times gives the same incidents
# (count and ids), whatever the wall clock did. Also prints each run's flows/s with the default
# model and default sinks (SQLite store, drift monitors). Results in BENCHMARKS.md
# ("Explanations of the default forest"). Run from the repository root:
#   bash bench/replay_determinism.sh [FLOWS]   (default 1,000,000)
set -euo pipefail
flows=${1:-1000000}
cargo build --release -p iotguard-cli
bin=target/release/iotguard
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The default model (forest), trained on another seed's network.
"$bin" simulate --seed 1 --devices 50 --flows 200000 --out "$work/train.log"
"$bin" train --out "$work/model.json" "$work/train.log" >/dev/null
# The issue's attack-heavy stream.
"$bin" simulate --seed 9 --devices 200 --flows "$flows" --out "$work/stream.log"
for run in 1 2 3; do
    rm -f "$work/alerts.db"
    "$bin" detect --model "$work/model.json" --alerts-db "$work/alerts.db" --json \
        "$work/stream.log" >"$work/run$run.json" 2>"$work/run$run.err"
    python3 - "$work/run$run.json" "$work/alerts.db" "$run" <<'PY'
import hashlib, json, sqlite3, sys
r = json.load(open(sys.argv[1]))["report"]
c = sqlite3.connect(sys.argv[2])
ids = "\n".join(row[0] for row in c.execute("select id from alerts order by id"))
n = c.execute("select count(*) from alerts").fetchone()[0]
print(f"run {sys.argv[3]}: {r['flows']} flows in {r['elapsed_secs']:.1f} s "
      f"({r['flows'] / r['elapsed_secs']:,.0f} flows/s), {r['alert_flows']} alerting, "
      f"{r['incidents']} incidents, {r['alerts_sent']} documents; stored {n}, "
      f"ids sha256 {hashlib.sha256(ids.encode()).hexdigest()[:16]}")
PY
done
