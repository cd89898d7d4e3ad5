#!/usr/bin/env bash
# Detection scaled the standard way: 1, 2 and 4 `iotguard detect --kafka` processes in one
# consumer group on one topic of 4 partitions, pre-filled with the attack-heavy simulated
# stream of issue 16 (`simulate --seed 9 --devices 200`), default model kind (forest). Each
# group reads the whole topic once (--stop-at-end); the rate is every flow the group's members
# consumed, over the wall time from the first member's start to the last member's exit.
# tansu (SQLite engine) on a free local port, release build, all on this machine.
# Usage: bash bench/kafka_scale.sh [FLOWS]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
FLOWS=${1:-1000000}
PARTITIONS=4

. bench/kafka_tansu.sh
tansu_ensure
WORK=$(mktemp -d)
trap 'tansu_stop; rm -rf "$WORK"' EXIT
tansu_start "$WORK/tansu"
B=$IOTGUARD_KAFKA_BROKER

cargo build --release --quiet -p iotguard-cli --bin iotguard
BIN=target/release/iotguard

echo "== data: $FLOWS flows (seed 9, 200 devices), model: the default kind, trained on seed 2"
$BIN simulate --seed 2 --flows 50000 --out "$WORK/train.log" 2>/dev/null
$BIN simulate --seed 9 --devices 200 --flows "$FLOWS" --out "$WORK/flows.log" 2>/dev/null
$BIN train --out "$WORK/model.json" "$WORK/train.log" >/dev/null 2>&1
$BIN replay "$WORK/flows.log" --kafka "$B" --topic scale --partitions $PARTITIONS 2>/dev/null

echo "| detectors | flows consumed | wall s | flows/s (group) | per detector |"
echo "|---|---:|---:|---:|---|"
for n in 1 2 4; do
  start=$(date +%s.%N)
  pids=()
  for i in $(seq 1 "$n"); do
    $BIN detect --model "$WORK/model.json" --kafka "$B" --topic scale --group "scale-$n" \
      --no-alerts-db --stop-at-end --json >"$WORK/d$n-$i.json" 2>"$WORK/d$n-$i.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { echo "a detector failed:"; cat "$WORK"/d$n-*.err; exit 1; }; done
  end=$(date +%s.%N)
  python3 - "$n" "$start" "$end" "$FLOWS" "$WORK" <<'PY'
import json, sys
n, start, end, flows, work = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
each = [json.load(open(f"{work}/d{n}-{i}.json"))["kafka"]["detect"]["consumed"] for i in range(1, n + 1)]
total, wall = sum(each), end - start
note = "" if total == flows else f" (expected {flows:,}: a rebalance re-read some)"
print(f"| {n} | {total:,}{note} | {wall:.1f} | {total / wall:,.0f} | {', '.join(f'{c:,}' for c in each)} |")
PY
done
