#!/usr/bin/env bash
# `iotguard explore` speed and memory: flows/s and peak resident memory on the largest dev input
# (iot23-pool-dev), on every labeled shared capture together, and on simulated captures of
# 200 k and 2 M flows (memory must stay bounded as the input grows). Results go in BENCHMARKS.md
# ("Data exploration and label checks"). Run from the repository root:
#   bash bench/explore_bench.sh [DATA_DIR]
set -euo pipefail
data=${1:-../shared/data}
cargo build --release -q -p iotguard-cli
bin=target/release/iotguard
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "load: $(uptime)"
run() { # name, flows, inputs...
    local name=$1 flows=$2
    shift 2
    /usr/bin/time -f "%e %M" -o "$work/time" "$bin" explore --threads 1 --out "$work/out" "$@" 2>/dev/null
    read -r secs kib < "$work/time"
    awk -v n="$name" -v f="$flows" -v s="$secs" -v k="$kib" \
        'BEGIN { printf "%-28s %10d flows %7.2f s %10.0f flows/s %7.0f MiB peak RSS\n", n, f, s, f / s, k / 1024 }'
}
run iot23-pool-dev 26930 "$data/iot23/iot23-pool-dev.conn.log.labeled"
all=("$data"/iot23/*.labeled "$data"/stratosphere/*.labeled)
total=$(cat "${all[@]}" | grep -vc '^#')
run "shared labeled captures" "$total" "${all[@]}"
for n in 200000 2000000; do
    "$bin" simulate --seed 3 --flows "$n" --out "$work/sim-$n.log" 2>/dev/null
    run "simulated $n" "$n" "$work/sim-$n.log"
    rm -f "$work/sim-$n.log"
done
