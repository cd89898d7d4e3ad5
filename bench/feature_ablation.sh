#!/usr/bin/env bash
# The feature ablation of BENCHMARKS.md ("Features for the families the forest missed",
# issue 12 item 4): leave-one-capture-out over ../shared/data with the default forest and the
# default objective, for the baseline, each network-context group added alone, and all of them,
# with labels audited (bench/label-audit.json) and as given, with `train`'s default 20,000
# simulated clean flows as training-only rows (AUGMENT_SIM=0 for none, as before 2026-12-04). Writes
# bench/out/feature_ablation.{audited,given}.md and prints wall times.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${DATA:-../shared/data}
variants=${VARIANTS:-baseline,pair,dst,port,service,all}
augment_sim=${AUGMENT_SIM:-20000}
mkdir -p bench/out
cargo build --release --locked -p iotguard-runtime --example feature_ablation
bin=target/release/examples/feature_ablation
inputs=("$data"/iot23/*.labeled "$data"/stratosphere/*.labeled)
for mode in audited given; do
    audit=()
    [ "$mode" = audited ] && audit=(--label-audit bench/label-audit.json)
    echo "== $mode: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
    start=$(date +%s)
    "$bin" "${audit[@]}" --augment-sim "$augment_sim" --variants "$variants" "${inputs[@]}" > "bench/out/feature_ablation.$mode.md"
    echo "== $mode done in $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
