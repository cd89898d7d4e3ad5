#!/usr/bin/env bash
# One detector over Kafka against the same detector reading the file: 300,000 flows of the
# attack-heavy stream (`simulate --seed 9 --devices 200`) in a topic of one partition on tansu
# (SQLite engine, this machine), the default kind (forest) and logreg, each read to its end
# (--stop-at-end). Says whether the broker or the model limits Kafka detection.
# Usage: bash bench/kafka_one_detector.sh [FLOWS]   (default 300000)
set -euo pipefail
cd "$(dirname "$0")/.."
FLOWS=${1:-300000}

. bench/kafka_tansu.sh
tansu_ensure
WORK=$(mktemp -d)
trap 'tansu_stop; rm -rf "$WORK"' EXIT
tansu_start "$WORK/tansu"
B=$IOTGUARD_KAFKA_BROKER

cargo build --release --quiet -p iotguard-cli --bin iotguard
BIN=target/release/iotguard

$BIN simulate --seed 2 --flows 50000 --out "$WORK/train.log" 2>/dev/null
$BIN simulate --seed 9 --devices 200 --flows "$FLOWS" --out "$WORK/flows.log" 2>/dev/null
$BIN train --out "$WORK/forest.json" "$WORK/train.log" >/dev/null 2>&1
$BIN train --model logreg --out "$WORK/logreg.json" "$WORK/train.log" >/dev/null 2>&1
$BIN replay "$WORK/flows.log" --kafka "$B" --topic one --partitions 1 2>/dev/null
for m in forest logreg; do
  echo "== $m, from the file"
  /usr/bin/time -f "%e s wall, %U s user, %S s system" \
    $BIN detect --model "$WORK/$m.json" --no-alerts-db "$WORK/flows.log" 2>&1 | tail -2
  echo "== $m, from Kafka"
  /usr/bin/time -f "%e s wall, %U s user, %S s system" \
    $BIN detect --model "$WORK/$m.json" --no-alerts-db --kafka "$B" --topic one \
    --group "one-$m" --stop-at-end 2>&1 | tail -2
done
