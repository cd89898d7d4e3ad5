#!/usr/bin/env bash
# The flow meter alone (pcap reader and meter, no writer, file in memory), best of RUNS runs, on
# capture 42-1 as it is and on a copy with every IPv4 packet over 576 bytes split into IP
# fragments (bench/fragment_pcap.py), so the cost of reassembly shows on its own; then a SYN
# flood from spoofed sources (bench/flood_pcap.py, FLOOD packets, default 1,500,000, each a new
# connection), which fills the table (1,000,000 connections) and makes every later packet evict
# one. Builds the example in release; set METER_BENCH_BIN to time another build of it (a
# baseline's).
#
#   bash bench/meter_bench.sh [RUNS]   (default 200; the flood runs 3 times)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-200}
FLOOD=${FLOOD:-1500000}
DATA=${IOTGUARD_DATA_DIR:-../shared/data}
SRC=$DATA/iot23/CTU-IoT-Malware-Capture-42-1.pcap
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 bench/fragment_pcap.py "$SRC" "$WORK/fragmented.pcap" 576
python3 bench/flood_pcap.py "$WORK/flood.pcap" "$FLOOD"
if [ -z "${METER_BENCH_BIN:-}" ]; then
  cargo build --release --locked -p iotguard-packets --example meter_bench
  METER_BENCH_BIN=target/release/examples/meter_bench
fi
"$METER_BENCH_BIN" "$SRC" "$RUNS"
"$METER_BENCH_BIN" "$WORK/fragmented.pcap" "$RUNS"
"$METER_BENCH_BIN" "$WORK/flood.pcap" 3
