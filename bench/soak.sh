#!/usr/bin/env bash
# Soak benchmark (not in CI): simulated traffic at a fixed rate through `detect --follow` with
# the API served and dashboards attached, for hours; the detector's resident memory, the flows
# it processed and the latency of /health are sampled every minute into a CSV, and a table per
# 10 minutes is printed at the end (BENCHMARKS.md, "Soak"). Run from the repository root:
#
#   bash bench/soak.sh                       # 24 h at 20 000 flows/s, 10 dashboards
#   SOAK_SECS=3600 nice bash bench/soak.sh   # one hour
#
# Settings (environment): SOAK_SECS (run length, default 86400), SOAK_RATE (flows/s the
# simulator writes, default 20000), SOAK_CLIENTS (dashboards, default 10), SOAK_DEVICES
# (simulated devices, default 200; the simulator's event time runs faster than the wall clock at
# such rates, so a day of event time passes every few minutes and --retention-days 1 prunes), SOAK_ROTATE_SECS
# (Zeek-like rotation of conn.log, default 600; rotated files are deleted two rotations later so
# the disk holds about three segments, ~2.5 GB at 20 k flows/s), SOAK_OUT (folder for the log,
# store, CSV and outputs, default target/soak-<UTC time>), SOAK_NO_BUILD=1 (use
# target/release/iotguard as it is; the run uses a copy of it in SOAK_OUT).
#
# Each dashboard is one `/api/v1/live` event stream held open plus, every 10 s, the GETs the
# dashboard page makes (alerts, stats, models). The CSV columns: UTC time, seconds since start,
# detector RSS (KiB), flows the simulator wrote, flows the detector took in / scored / rejected,
# alerts out, hosts in the tables, lag (s), /health status and latency (ms), load average,
# live streams connected.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SOAK_SECS:-86400}
RATE=${SOAK_RATE:-20000}
CLIENTS=${SOAK_CLIENTS:-10}
DEVICES=${SOAK_DEVICES:-200}
ROTATE=${SOAK_ROTATE_SECS:-600}
OUT=${SOAK_OUT:-target/soak-$(date -u +%Y%m%dT%H%M%S)}
mkdir -p "$OUT/zeek"
OUT=$(cd "$OUT" && pwd)
BIN=$(pwd)/target/release/iotguard
if [ "${SOAK_NO_BUILD:-0}" != 1 ]; then
  cargo build --release --locked -p iotguard-cli
fi
# The run uses a copy, so a rebuild during the soak does not change the binary under it.
cp "$BIN" "$OUT/iotguard"
BIN=$OUT/iotguard

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

echo "soak: $SECS s at $RATE flows/s, $CLIENTS dashboards, output in $OUT"
# The model: a random forest (the default kind) on 100 k simulated flows of another seed.
if [ ! -f "$OUT/model.json" ]; then
  "$BIN" simulate --seed 99 --flows 100000 --out "$OUT/train.log"
  "$BIN" train "$OUT/train.log" --out "$OUT/model.json" >"$OUT/train.out" 2>&1
  rm -f "$OUT/train.log"
fi

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
records_in() {
  curl -s --max-time 30 "$URL/api/v1/stats" | python3 -c \
    'import json, sys; print((json.load(sys.stdin).get("pipeline") or {}).get("records_in", 0))' 2>/dev/null || echo 0
}

# The simulated sensor: segments of ROTATE seconds written live to conn.log at RATE, each
# renamed away at its end (as Zeek rotates). A rotated segment is deleted two rotations later,
# once the detector has taken in every flow of it (so a detector that falls behind loses
# nothing; the CSV shows the lag as written minus records_in).
(
  sim=""
  trap '[ -n "$sim" ] && kill "$sim" 2>/dev/null; exit 0' TERM
  i=0
  while :; do
    i=$((i + 1))
    "$BIN" simulate --seed "$i" --rate "$RATE" --flows $((RATE * ROTATE)) --threads 1 \
      --devices "$DEVICES" --out "$OUT/zeek/conn.log" 2>>"$OUT/simulate.err" &
    sim=$!
    wait "$sim"
    sim=""
    mv "$OUT/zeek/conn.log" "$OUT/zeek/conn.$(printf %05d "$i").log"
    echo "$((RATE * ROTATE))" >>"$OUT/segments.done"
    old=$((i - 2))
    if [ "$old" -ge 1 ]; then
      while [ "$(records_in)" -lt $((old * RATE * ROTATE)) ]; do sleep 5; done
      rm -f "$OUT/zeek/conn.$(printf %05d "$old").log"
    fi
  done
) &
PIDS+=($!)

"$BIN" detect --model "$OUT/model.json" --follow "$OUT/zeek" --checkpoint "$OUT/checkpoint" \
  --alerts-db "$OUT/alerts.db" --retention-days 1 --serve "127.0.0.1:$PORT" --json \
  >"$OUT/detect.json" 2>"$OUT/detect.log" &
DETECT=$!
PIDS+=($DETECT)
for _ in $(seq 1 300); do
  curl -fs -o /dev/null "$URL/health" && break
  kill -0 "$DETECT" 2>/dev/null || { cat "$OUT/detect.log"; echo "detect exited early"; exit 1; }
  sleep 0.2
done

# The dashboards.
for c in $(seq 1 "$CLIENTS"); do
  (while :; do curl -sN "$URL/api/v1/live" >/dev/null 2>&1 || true; sleep 1; done) &
  PIDS+=($!)
  (
    while :; do
      for path in "/api/v1/alerts?limit=50" /api/v1/stats /api/v1/models; do
        curl -s -o /dev/null "$URL$path" || true
      done
      sleep 10
    done
  ) &
  PIDS+=($!)
done

HEADER_LINES=$(( $("$BIN" simulate --flows 1 2>/dev/null | grep -c "^#") - 1 ))
CSV=$OUT/soak.csv
echo "utc,secs,rss_kib,written,records_in,scored,rejected,alerts_out,hosts,lag_secs,health,health_ms,load1,live_streams" >"$CSV"
START=$(date +%s)
sample() {
  local now secs rss written stats health hms load streams
  now=$(date +%s)
  secs=$((now - START))
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$DETECT/status" 2>/dev/null || echo "")
  # Written = finished segments + lines in the live log (minus its header lines).
  live=$(wc -l <"$OUT/zeek/conn.log" 2>/dev/null || echo "$HEADER_LINES")
  live=$((live > HEADER_LINES ? live - HEADER_LINES : 0))
  written=$(( $(awk '{s += $1} END {print s + 0}' "$OUT/segments.done" 2>/dev/null || echo 0) + live ))
  stats=$(curl -s --max-time 30 "$URL/api/v1/stats" || echo '{}')
  read -r health hms < <(curl -s -o /dev/null --max-time 30 -w '%{http_code} %{time_total}\n' "$URL/health" || echo "000 0")
  hms=$(awk -v t="$hms" 'BEGIN {printf "%.1f", t * 1000}')
  load=$(cut -d' ' -f1 /proc/loadavg)
  streams=$(ss -Htn state established "( dport = :$PORT )" 2>/dev/null | wc -l)
  python3 - "$stats" "$(date -u +%H:%M:%S),$secs,$rss,$written" "$health,$hms,$load,$streams" >>"$CSV" <<'EOF'
import json, sys
try:
    p = json.loads(sys.argv[1]).get("pipeline") or {}
except ValueError:
    p = {}
lag = p.get("lag_secs")
cols = [p.get(k, "") for k in ("records_in", "scored", "rejected", "alerts_out", "hosts")]
cols.append("" if lag is None else f"{lag:.1f}")
print(sys.argv[2] + "," + ",".join(str(c) for c in cols) + "," + sys.argv[3])
EOF
}
sample
while [ $(($(date +%s) - START)) -lt "$SECS" ]; do
  left=$((SECS - ($(date +%s) - START)))
  step=$((60 - ($(date +%s) - START) % 60))
  sleep $((step < left ? step : left))
  kill -0 "$DETECT" 2>/dev/null || { echo "detect exited"; tail -20 "$OUT/detect.log"; break; }
  sample
done
tail -1 "$CSV"

# The table per 10 minutes: RSS at the window's start, min, max, end; flows; /health latency.
python3 - "$CSV" <<'EOF' | tee "$OUT/soak-table.md"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("| minutes | flows written | flows scored | rejected | RSS start / min / max / end (MiB) | /health ms (median / max) | load |")
print("|---|---:|---:|---:|---|---|---:|")
def mib(r):
    return int(r["rss_kib"]) / 1024 if r["rss_kib"] else float("nan")
for w in range(0, len(rows), 10):
    win = rows[w:w + 11]
    if len(win) < 2 and w:
        break
    rss = [mib(r) for r in win]
    hl = sorted(float(r["health_ms"]) for r in win)
    ld = [float(r["load1"]) for r in win]
    print(f"| {int(win[0]['secs']) // 60}–{int(win[-1]['secs']) // 60} | {win[-1]['written']} | "
          f"{win[-1]['scored']} | {win[-1]['rejected']} | "
          f"{rss[0]:.0f} / {min(rss):.0f} / {max(rss):.0f} / {rss[-1]:.0f} | "
          f"{hl[len(hl) // 2]:.1f} / {hl[-1]:.1f} | {sum(ld) / len(ld):.1f} |")
EOF
echo "soak: CSV $CSV, detector log $OUT/detect.log"
