#!/usr/bin/env bash
# Live capture: the packet rate `detect --interface` sustains with no kernel drops. A veth pair,
# one end in a network namespace; tcpreplay plays capture 42-1 (its whole records) LOOPS times
# onto it, new addresses each loop (--unique-ip, so every loop's connections are new flows;
# UNIQUE=0 replays the same connections, a table of 3,172), at each packets/s rate given ("top"
# for --topspeed), while detect captures on the host's end.
# Prints one table row per rate: tcpreplay's packets and achieved rate, what the kernel passed
# and dropped, the meter's packets and flows. Needs root, iproute2, tcpreplay and the binary.
#
#   sudo bash bench/live_capture.sh [RATE...]   (default: 50000 100000 200000 400000 top)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${IOTGUARD_BIN:-target/release/iotguard}")
DATA=${IOTGUARD_DATA_DIR:-../shared/data}
LOOPS=${LOOPS:-20}
UNIQUE=${UNIQUE:-1}
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(50000 100000 200000 400000 top)
WORK=$(mktemp -d)
NS=iotg-bench-$$
HOST=igb$$a
PEER=igb$$b
cleanup() {
  [ -n "${DETECT:-}" ] && kill "$DETECT" 2>/dev/null || true
  ip link del "$HOST" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

head -c 2908099 "$DATA/iot23/CTU-IoT-Malware-Capture-42-1.pcap" >"$WORK/42-1.pcap"
"$BIN" simulate --seed 3 --flows 3000 --out "$WORK/sim.log" >/dev/null 2>&1
"$BIN" train --model logreg --out "$WORK/model.json" "$WORK/sim.log" >/dev/null 2>&1

ip netns add "$NS"
ip link add "$HOST" type veth peer name "$PEER"
ip link set "$PEER" netns "$NS"
sysctl -qw "net.ipv6.conf.$HOST.disable_ipv6=1"
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$PEER.disable_ipv6=1"
ip link set "$HOST" mtu 9000 up
ip netns exec "$NS" ip link set "$PEER" mtu 9000 up

echo "| asked | sent | tcpreplay packets/s | kernel received | kernel dropped | meter packets | flows | drop notices | detect exit |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for rate in "${RATES[@]}"; do
  "$BIN" detect --model "$WORK/model.json" --interface "$HOST" --json --no-alerts-db \
    >"$WORK/out.json" 2>"$WORK/err.txt" &
  DETECT=$!
  until grep -q "capture: on" "$WORK/err.txt" 2>/dev/null; do sleep 0.1; done
  if [ "$rate" = top ]; then speed=(--topspeed); else speed=(--pps="$rate"); fi
  [ "$UNIQUE" = 1 ] && speed+=(--unique-ip)
  ip netns exec "$NS" tcpreplay "${speed[@]}" --preload-pcap --loop="$LOOPS" \
    --intf1="$PEER" "$WORK/42-1.pcap" >"$WORK/replay.txt" 2>&1
  sleep 2
  kill -INT "$DETECT"
  code=0
  wait "$DETECT" || code=$?
  DETECT=
  sent=$(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' "$WORK/replay.txt")
  pps=$(sed -n 's/.*Rated: .*, \([0-9.]*\) pps.*/\1/p' "$WORK/replay.txt")
  notices=$(grep -c "dropped before the meter saw them" "$WORK/err.txt" || true)
  python3 - "$WORK/out.json" "$rate" "$sent" "$pps" "$notices" "$code" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["capture"]
rate, sent, pps, notices, code = sys.argv[2:]
print(f"| {rate} | {int(sent):,} | {float(pps):,.0f} | {c['received']:,} | {c['dropped']:,} "
      f"| {c['packets']:,} | {c['flows']:,} | {notices} | {code} |")
PY
done
