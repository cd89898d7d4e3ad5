#!/usr/bin/env bash
# Drift monitor overhead: detection throughput with and without the monitors on the same flows
# (held in memory, alternately, median of rounds, CPU time of the detecting thread). Results go
# in BENCHMARKS.md ("Drift monitors"). Run from the repository root: bash bench/monitor_bench.sh
set -euo pipefail
cargo build --release -p iotguard-detect --example monitor_overhead
bin=target/release/examples/monitor_overhead
"$bin" --kind gbdt --flows 1000000 --rounds 3
"$bin" --kind forest --flows 300000 --rounds 3
