#!/usr/bin/env bash
# Detection through Kafka, measured: tansu (SQLite engine) on a free local port, release builds.
#   1. throughput: a topic pre-filled with simulated flows read to its end by a bare consumer
#      (no decoding, no processing) and by `iotguard detect --kafka --stop-at-end`, both timed
#      from their first message to their last; detection should keep up with >= 90 % of it;
#   2. latency: a detector following a topic while `iotguard replay --rate R` feeds it, at
#      several rates; flow->alert latency = the wall clock when the flow's alerts were sent
#      minus the flow message's Kafka timestamp (p50/p95/p99 over every flow).
# Usage: bash bench/kafka_bench.sh [FLOWS] [SECONDS_PER_RATE]   (defaults 300000, 10)
set -euo pipefail
cd "$(dirname "$0")/.."
FLOWS=${1:-300000}
SECS=${2:-10}
PARTITIONS=3

. bench/kafka_tansu.sh
tansu_ensure
WORK=$(mktemp -d)
trap 'tansu_stop; rm -rf "$WORK"' EXIT
tansu_start "$WORK/tansu"
B=$IOTGUARD_KAFKA_BROKER

cargo build --release --quiet -p iotguard-cli -p iotguard-kafka --bin iotguard --example kafka_bench
BIN=target/release/iotguard
EX=target/release/examples/kafka_bench

echo "== data: simulated IoT network (seed 1 to detect, seed 2 to train), model gbdt"
$BIN simulate --seed 2 --flows 50000 --out "$WORK/train.log" 2>/dev/null
$BIN simulate --seed 1 --flows "$FLOWS" --out "$WORK/flows.log" 2>/dev/null
$BIN train --model gbdt --out "$WORK/model.json" "$WORK/train.log" 2>/dev/null

echo "== 1. throughput over $FLOWS flows, $PARTITIONS partitions"
start=$(date +%s.%N)
$BIN replay "$WORK/flows.log" --kafka "$B" --topic fill --partitions $PARTITIONS 2>"$WORK/replay.err"
end=$(date +%s.%N)
produce=$(python3 -c "print(round($FLOWS / ($end - $start)))")
bare=$($EX bare "$B" fill)
$BIN detect --model "$WORK/model.json" --kafka "$B" --topic fill --group bench-detect \
  --no-alerts-db --alerts-jsonl "$WORK/fill.jsonl" --stop-at-end --json >"$WORK/fill.json" 2>"$WORK/fill.err"
python3 - "$bare" "$WORK/fill.json" "$produce" >"$WORK/throughput.txt" <<'PY'
import json, sys
bare = json.loads(sys.argv[1]); det = json.load(open(sys.argv[2])); produce = int(sys.argv[3])
k = det["kafka"]["detect"]
rate = k["consumed"] / max(k["consume_secs"], 1e-9)
print(f"| replay (produce, acks=all) | {produce:,} flows/s | |")
print(f"| bare consumer | {bare['per_sec']:,} msg/s | {bare['messages']:,} messages in {bare['secs']:.2f} s |")
print(f"| detect --kafka | {rate:,.0f} flows/s | {k['consumed']:,} flows in {k['consume_secs']:.2f} s, {det['report']['alerts_sent']} alert documents; {100 * rate / bare['per_sec']:.0f} % of the bare consumer |")
print(f"BARE={bare['per_sec']}")
PY
grep -v '^BARE=' "$WORK/throughput.txt"
BARE=$(grep '^BARE=' "$WORK/throughput.txt" | cut -d= -f2)

echo "== 2. flow->alert latency at rates (fraction of the bare consumer's $BARE msg/s), ${SECS} s each"
echo "| rate (flows/s) | of bare | flows | detect p50 ms | p95 ms | p99 ms | max ms | bare consumer p50 ms | p95 ms | p99 ms |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for frac in 0.1 0.2 0.4 0.6 0.8 1.0; do
  rate=$(python3 -c "print(int($BARE * $frac))")
  n=$((rate * SECS))
  if [ "$n" -gt "$FLOWS" ]; then n=$FLOWS; fi
  topic=live-$frac
  group=bench-live-$frac
  # The first n flows of the capture (header lines included).
  awk -v n="$n" '/^#/ {print; next} c < n {print; c++}' "$WORK/flows.log" >"$WORK/live.log"
  $EX create "$B" "$topic" $PARTITIONS
  $BIN detect --model "$WORK/model.json" --kafka "$B" --topic "$topic" --group "$group" \
    --no-alerts-db --alerts-jsonl "$WORK/$topic.jsonl" --json >"$WORK/$topic.json" 2>"$WORK/$topic.err" &
  det=$!
  until grep -q "assigned partitions \[0, 1, 2\]" "$WORK/$topic.err"; do sleep 0.1; done
  # A bare consumer follows the same topic at the same time: the broker's own latency.
  $EX bare-latency "$B" "$topic" "$n" >"$WORK/$topic.bare" &
  bare_pid=$!
  sleep 3  # let it join its group
  $BIN replay "$WORK/live.log" --kafka "$B" --topic "$topic" --rate "$rate" 2>/dev/null
  wait $bare_pid
  until [ "$($EX progress "$B" "$group" "$topic" | cut -d' ' -f1)" -ge "$n" ]; do sleep 0.2; done
  kill -TERM $det; wait $det || true
  python3 - "$WORK/$topic.json" "$rate" "$frac" "$WORK/$topic.bare" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); l = d["kafka"]["detect"]["flow_to_alert"]
b = json.load(open(sys.argv[4]))
print(f"| {int(sys.argv[2]):,} | {float(sys.argv[3]):.0%} | {l['count']:,} | {l['p50_ms']:.1f} | {l['p95_ms']:.1f} | {l['p99_ms']:.1f} | {l['max_ms']:.1f} | {b['p50_ms']:.1f} | {b['p95_ms']:.1f} | {b['p99_ms']:.1f} |")
PY
done
