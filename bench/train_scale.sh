#!/usr/bin/env bash
# Training in bounded memory (issue 16, item 2): simulate FLOWS flows into a file, run plain
# `iotguard train` on it (defaults: the forest, --max-train-rows 1,000,000, unless more train
# arguments are given) under /usr/bin/time -v, and print wall time, CPU time, peak RSS and what
# the sample kept. The simulated file (about 136 bytes a flow) is deleted at the end.
# Usage: bash bench/train_scale.sh FLOWS [TRAIN ARGS...]
#   TMPDIR: where the file goes (default /tmp); IOTGUARD_BIN: the binary (default: built here).
set -euo pipefail
cd "$(dirname "$0")/.."
FLOWS=${1:?usage: bash bench/train_scale.sh FLOWS [TRAIN ARGS...]}
shift
BIN=${IOTGUARD_BIN:-target/release/iotguard}
if [ -z "${IOTGUARD_BIN:-}" ]; then
  cargo build --release --quiet -p iotguard-cli --bin iotguard
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/train_scale.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "== $FLOWS flows, train $* ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
/usr/bin/time -f "simulate: %e s wall" \
  "$BIN" simulate --seed 1 --flows "$FLOWS" --out "$WORK/flows.log" 2>&1 | tail -1
echo "input: $(du -h "$WORK/flows.log" | cut -f1)"
/usr/bin/time -v "$BIN" train --out "$WORK/model.json" "$@" "$WORK/flows.log" \
  >"$WORK/stdout" 2>"$WORK/stderr" || { cat "$WORK/stderr"; exit 1; }
grep -E "^iotguard: (trained|sample|--memory-limit)" "$WORK/stderr" || true
grep -E "^iotguard:   .* seen, " "$WORK/stderr" || true
head -1 "$WORK/stdout"
grep -E "Elapsed \(wall|Maximum resident|User time|System time" "$WORK/stderr" | sed 's/^\s*//'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
