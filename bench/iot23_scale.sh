#!/usr/bin/env bash
# IoT-23's scale on one machine (issue 16, item 4). IoT-23 is 325 M flows, about 90 % of them
# attacks, mostly horizontal port scans, Okiru and DDoS; the simulator is set to a mix like it
# (--devices 200 --infected-fraction 0.5 --attack-intensity 5; the script prints the mix).
#
#   1. train: plain `iotguard train` (the default forest, its default sample of 1 M rows) on
#      TRAIN_FLOWS flows of one stream (seed 1), written to a file first;
#   2. detect: FLOWS flows of another stream (seed 2) piped from `simulate` into plain `iotguard
#      detect` (explanations, the SQLite alert store, drift monitors: the defaults); the
#      simulator runs on the same cores;
#   3. the seeds' stack beside it: `iotguard features` writes PEER_FLOWS flows of each stream as
#      Parquet; scikit-learn's RandomForestClassifier (100 trees, n_jobs=2) and Spark MLlib's
#      (local[2], 100 trees, depth 20) fit on the first and score the second
#      (bench/iot23_scale_peers.py); iotguard trains on the same flows for comparison.
#
# Every step under /usr/bin/time: wall time, CPU time, peak RSS; disk of the files it makes.
#
#   bash bench/iot23_scale.sh [FLOWS] [TRAIN_FLOWS] [PEER_FLOWS]
#     defaults: 325000000 100000000 2000000. TMPDIR: where the files go (the 100 M-flow training
#     file takes about 14 GB). IOTGUARD_BIN: the binary (default: built here). PEERS=0 skips 3.
set -euo pipefail
cd "$(dirname "$0")/.."
FLOWS=${1:-325000000}
TRAIN_FLOWS=${2:-100000000}
PEER_FLOWS=${3:-2000000}
SIM=(--devices 200 --infected-fraction 0.5 --attack-intensity 5)
BIN=${IOTGUARD_BIN:-target/release/iotguard}
if [ -z "${IOTGUARD_BIN:-}" ]; then
  cargo build --release --quiet --locked -p iotguard-cli --bin iotguard
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/iot23_scale.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "== iot23_scale: $FLOWS flows detected, $TRAIN_FLOWS trained on, $PEER_FLOWS for the peers"
echo "   $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)"

# /usr/bin/time -v's fields as one line: wall s, CPU s, peak RSS MiB.
times() {
  awk -F': ' '/Elapsed \(wall/ {n = split($2, t, ":"); w = (n == 3) ? t[1] * 3600 + t[2] * 60 + t[3] : t[1] * 60 + t[2]}
    /User time/ {u = $2} /System time/ {s = $2} /Maximum resident/ {r = $2}
    END {printf "wall %.1f s, CPU %.1f s, peak RSS %.0f MiB", w, u + s, r / 1024}' "$1"
}

echo "-- the stream's mix (first 1,000,000 flows of the detected stream)"
"$BIN" simulate --seed 2 --flows 1000000 "${SIM[@]}" --out - 2>/dev/null \
  | awk -F'\t' '!/^#/ {n++; c[$(NF-1) " " $NF]++} END {for (k in c) printf "   %6.2f %%  %s\n", 100 * c[k] / n, k}' \
  | sort -rn

echo "-- 1. train on $TRAIN_FLOWS flows (seed 1)"
"$BIN" simulate --seed 1 --flows "$TRAIN_FLOWS" "${SIM[@]}" --out "$WORK/train.log" 2>/dev/null
echo "   input: $(du -h "$WORK/train.log" | cut -f1)"
/usr/bin/time -v "$BIN" train --out "$WORK/model.json" "$WORK/train.log" >"$WORK/train.out" 2>"$WORK/train.err" \
  || { tail -20 "$WORK/train.err"; exit 1; }
echo "   train: $(times "$WORK/train.err")"
grep -E "^iotguard: (trained|sample)" "$WORK/train.err" | sed 's/^/   /' || true
rm -f "$WORK/train.log"

echo "-- 2. detect $FLOWS flows (seed 2), piped from simulate"
set +e
"$BIN" simulate --seed 2 --flows "$FLOWS" "${SIM[@]}" --out - 2>"$WORK/sim.err" \
  | /usr/bin/time -v "$BIN" detect --model "$WORK/model.json" --alerts-db "$WORK/alerts.db" - \
    >"$WORK/detect.out" 2>"$WORK/detect.err"
status=("${PIPESTATUS[@]}")
set -e
if [ "${status[1]}" != 0 ] && [ "${status[1]}" != 1 ]; then
  tail -20 "$WORK/detect.err"; echo "detect exited ${status[1]}"; exit 1
fi
wall=$(awk -F': ' '/Elapsed \(wall/ {n = split($2, t, ":"); print (n == 3) ? t[1] * 3600 + t[2] * 60 + t[3] : t[1] * 60 + t[2]}' "$WORK/detect.err")
echo "   detect: $(times "$WORK/detect.err"), exit ${status[1]}; $(echo "$FLOWS / $wall" | bc) flows/s end to end"
echo "   alert store: $(du -h "$WORK/alerts.db" | cut -f1)"
grep -E "flows in .* alerting" "$WORK/detect.out" | sed 's/^/   /' || true

if [ "${PEERS:-1}" = 0 ]; then exit 0; fi
echo "-- 3. the peers on $PEER_FLOWS flows of each stream"
"$BIN" simulate --seed 1 --flows "$PEER_FLOWS" "${SIM[@]}" --out "$WORK/peer-train.log" 2>/dev/null
"$BIN" simulate --seed 2 --flows "$PEER_FLOWS" "${SIM[@]}" --out "$WORK/peer-score.log" 2>/dev/null
"$BIN" features --out "$WORK/f-train" "$WORK/peer-train.log" 2>/dev/null
"$BIN" features --out "$WORK/f-score" "$WORK/peer-score.log" 2>/dev/null
echo "   Parquet: $(du -sh "$WORK/f-train" | cut -f1) for $PEER_FLOWS rows"
/usr/bin/time -v "$BIN" train --out "$WORK/peer-model.json" "$WORK/peer-train.log" >/dev/null 2>"$WORK/peer-train.err" \
  || { tail -20 "$WORK/peer-train.err"; exit 1; }
echo "   iotguard train (the same flows; fits the forest once per time block for the threshold, then on every row): $(times "$WORK/peer-train.err")"
/usr/bin/time -v "$BIN" eval --model "$WORK/peer-model.json" "$WORK/peer-score.log" >"$WORK/peer-eval.out" 2>"$WORK/peer-eval.err" \
  || { tail -20 "$WORK/peer-eval.err"; exit 1; }
echo "   iotguard eval (score the other stream's flows): $(times "$WORK/peer-eval.err")"
grep -E "^flows  malicious|pooled$" "$WORK/peer-eval.out" | head -2 | sed 's/^/     /' || true
PY=$(python3 -c 'import sys; sys.path.insert(0, "bench"); import peers; print(peers.peer_python())')
"$PY" -c 'import pyspark' 2>/dev/null || "$(dirname "$PY")/pip" install --quiet --disable-pip-version-check pyspark==3.5.3 pandas
for engine in sklearn spark; do
  /usr/bin/time -v "$PY" bench/iot23_scale_peers.py "$engine" "$WORK/f-train" "$WORK/f-score" \
    >"$WORK/$engine.out" 2>"$WORK/$engine.err" || { tail -20 "$WORK/$engine.err"; echo "$engine failed"; continue; }
  echo "   $(cat "$WORK/$engine.out"); the python process: $(times "$WORK/$engine.err")"
done
