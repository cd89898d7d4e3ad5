#!/usr/bin/env bash
# Issue 12's first acceptance check, as a user runs it: plain `iotguard train` on the six other
# IoT-23 captures of ../shared/data, and separately on all eight other labeled captures, then
# plain `iotguard eval` on capture 34-1 (labels as given). Prints each training's threshold and
# out-of-capture estimate and eval's line for 34-1 (recall, false-alert rate). The bar: recall
# >= 0.9 at a false-alert rate <= 6 % in both cases.
#   bash bench/transfer_34_1.sh      (IOTGUARD_BIN: the binary; default: built here)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${IOTGUARD_BIN:-target/release/iotguard}
if [ -z "${IOTGUARD_BIN:-}" ]; then
  cargo build --release --quiet --locked -p iotguard-cli --bin iotguard
fi
D=${IOTGUARD_DATA_DIR:-../shared/data}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SIX=("$D"/iot23/CTU-Honeypot-Capture-4-1.conn.log.labeled "$D"/iot23/CTU-Honeypot-Capture-5-1.conn.log.labeled
  "$D"/iot23/CTU-IoT-Malware-Capture-42-1.conn.log.labeled "$D"/iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled
  "$D"/iot23/CTU-IoT-Malware-Capture-8-1.conn.log.labeled "$D"/iot23/iot23-pool-dev.conn.log.labeled)
EIGHT=("${SIX[@]}" "$D"/stratosphere/CTU-Malware-Capture-Botnet-230-1-first1000.conn.log.labeled
  "$D"/stratosphere/CTU-Normal-40-day1.conn.log.labeled)
echo "== $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg)"
run() {
  local name=$1 target=$2 audit=$3; shift 3
  "$BIN" train --out "$WORK/$name.json" "$@" >"$WORK/$name.train" 2>&1
  echo "-- $name: $(grep -o 'threshold [0-9.]* for [^,]*' "$WORK/$name.train")"
  grep -E "pooled$" "$WORK/$name.train" | sed 's/^/   out-of-capture estimate: /'
  "$BIN" eval ${audit:+--label-audit "$audit"} --model "$WORK/$name.json" "$target" 2>/dev/null \
    | sed -n 2,3p | sed 's/^/   /'
}
T34=$D/iot23/CTU-IoT-Malware-Capture-34-1.conn.log.labeled
T42=$D/iot23/CTU-IoT-Malware-Capture-42-1.conn.log.labeled
OTHERS42=("$D"/iot23/CTU-Honeypot-Capture-4-1.conn.log.labeled "$D"/iot23/CTU-Honeypot-Capture-5-1.conn.log.labeled
  "$T34" "$D"/iot23/CTU-IoT-Malware-Capture-44-1.conn.log.labeled "$D"/iot23/CTU-IoT-Malware-Capture-8-1.conn.log.labeled
  "$D"/stratosphere/CTU-Malware-Capture-Botnet-230-1-first1000.conn.log.labeled "$D"/stratosphere/CTU-Normal-40-day1.conn.log.labeled)
run "34-1 after the six other IoT-23 captures" "$T34" "" "${SIX[@]}"
run "34-1 after the eight other captures" "$T34" "" "${EIGHT[@]}"
run "42-1 after the eight other captures" "$T42" bench/label-audit.json "${OTHERS42[@]}" "$D"/iot23/iot23-pool-dev.conn.log.labeled
run "42-1 after seven (pool-dev left out)" "$T42" bench/label-audit.json "${OTHERS42[@]}"
