#!/usr/bin/env bash
# Flow archive write throughput: the same simulated stream through `detect` with and without
# --archive (release build, nice), and the archive's bytes per flow beside the Zeek TSV's; with
# ARCHIVE_S3=1 also into an S3 server (moto, started here through bench/s3_server.sh), timed to
# the last upload, and read back by `inspect` from the bucket.
# Usage: [ARCHIVE_S3=1] bash bench/archive_bench.sh [FLOWS]   (BENCHMARKS.md, "Flow archive")
set -euo pipefail
FLOWS=${1:-1000000}
BIN=${IOTGUARD_BIN:-target/release/iotguard}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
if [ "${ARCHIVE_S3:-0}" = 1 ]; then
  # shellcheck source=bench/s3_server.sh
  . bench/s3_server.sh
  s3_ensure
  s3_start "$TMP/s3"
  trap 's3_stop; rm -rf "$TMP"' EXIT
fi
"$BIN" simulate --seed 11 --flows 20000 --out "$TMP/train.log" 2>/dev/null
"$BIN" train --model logreg --out "$TMP/model.json" "$TMP/train.log" >/dev/null 2>&1
"$BIN" simulate --seed 12 --flows "$FLOWS" --out "$TMP/live.log" 2>/dev/null
for run in 1 2; do
  echo "run $run without --archive:"
  nice "$BIN" detect --model "$TMP/model.json" --no-alerts-db "$TMP/live.log" 2>&1 | tail -1
  rm -rf "$TMP/archive"
  echo "run $run with --archive:"
  nice "$BIN" detect --model "$TMP/model.json" --no-alerts-db --archive "$TMP/archive" "$TMP/live.log" 2>&1 | tail -1
  if [ "${ARCHIVE_S3:-0}" = 1 ]; then
    echo "run $run with --archive s3://$IOTGUARD_S3_BUCKET/run$run (wall time includes the last upload):"
    start=$(date +%s.%N)
    nice "$BIN" detect --model "$TMP/model.json" --no-alerts-db --archive "s3://$IOTGUARD_S3_BUCKET/run$run" \
      --archive-spool "$TMP/spool$run" "$TMP/live.log" 2>&1 | tail -1
    end=$(date +%s.%N)
    echo "  wall $(echo "$end - $start" | bc) s, $(echo "$FLOWS / ($end - $start)" | bc) flows/s end to end"
    "$BIN" inspect --json "s3://$IOTGUARD_S3_BUCKET/run$run" 2>/dev/null | python3 -c \
      'import json, sys; d = json.load(sys.stdin); print("  read back from the bucket: %d records, %d bad" % (d["records"], d["bad_records"]))'
  fi
done
tsv=$(stat -c %s "$TMP/live.log")
arch=$(du -sb "$TMP/archive" | cut -f1)
files=$(find "$TMP/archive" -name '*.parquet' | wc -l)
echo "Zeek TSV: $tsv bytes, $(echo "scale=1; $tsv / $FLOWS" | bc) bytes/flow"
echo "archive: $arch bytes in $files files, $(echo "scale=1; $arch / $FLOWS" | bc) bytes/flow"
