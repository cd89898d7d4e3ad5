#!/usr/bin/env bash
# Detection benchmark: sustained flows/s end to end with explanations, latency per stage, and
# resident memory with 10 k, 100 k and 1 M active hosts. Results go in BENCHMARKS.md
# ("Real-time detection"). Run from the repository root: bash bench/detect_bench.sh
set -euo pipefail
cargo build --release -p iotguard-detect --example detect_throughput
bin=target/release/examples/detect_throughput
model=$(mktemp -d)/model.json
# One model for every run: trained once (gbdt on 100 k simulated flows), saved, reused.
"$bin" --flows 1000000 --kind gbdt --save-model "$model"
for hosts in 10000 100000 1000000; do
    "$bin" --model "$model" --hosts "$hosts"
done
# The feature tables' cap raised to hold every host: memory then grows with the hosts.
"$bin" --model "$model" --hosts 1000000 --max-hosts 1000000
