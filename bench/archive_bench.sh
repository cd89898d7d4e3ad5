#!/usr/bin/env bash
# Flow archive write throughput: the same simulated stream through `detect` with and without
# --archive (release build, nice), and the archive's bytes per flow beside the Zeek TSV's.
# Usage: bash bench/archive_bench.sh [FLOWS]   (BENCHMARKS.md, "Flow archive")
set -euo pipefail
FLOWS=${1:-1000000}
BIN=${IOTGUARD_BIN:-target/release/iotguard}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$BIN" simulate --seed 11 --flows 20000 --out "$TMP/train.log" 2>/dev/null
"$BIN" train --model logreg --out "$TMP/model.json" "$TMP/train.log" >/dev/null 2>&1
"$BIN" simulate --seed 12 --flows "$FLOWS" --out "$TMP/live.log" 2>/dev/null
for run in 1 2; do
  echo "run $run without --archive:"
  nice "$BIN" detect --model "$TMP/model.json" --no-alerts-db "$TMP/live.log" 2>&1 | tail -1
  rm -rf "$TMP/archive"
  echo "run $run with --archive:"
  nice "$BIN" detect --model "$TMP/model.json" --no-alerts-db --archive "$TMP/archive" "$TMP/live.log" 2>&1 | tail -1
done
tsv=$(stat -c %s "$TMP/live.log")
arch=$(du -sb "$TMP/archive" | cut -f1)
files=$(find "$TMP/archive" -name '*.parquet' | wc -l)
echo "Zeek TSV: $tsv bytes, $(echo "scale=1; $tsv / $FLOWS" | bc) bytes/flow"
echo "archive: $arch bytes in $files files, $(echo "scale=1; $arch / $FLOWS" | bc) bytes/flow"
