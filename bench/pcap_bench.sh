#!/usr/bin/env bash
# Packets to flows, side by side in one run: iotguard's flow meter and Debian's argus on the same
# capture, CTU-IoT-Malware-Capture-42-1.pcap repeated (each copy shifted by the capture's span,
# so flows stay apart) to at least TARGET_MB megabytes. Needs the release binary and argus
# (`apt-get install argus-server`). Prints one table row per tool.
#
#   bash bench/pcap_bench.sh [TARGET_MB]   (default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_MB=${1:-1024}
BIN=${IOTGUARD_BIN:-target/release/iotguard}
DATA=${IOTGUARD_DATA_DIR:-../shared/data}
SRC=$DATA/iot23/CTU-IoT-Malware-Capture-42-1.pcap
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BIG=$WORK/big.pcap

python3 - "$SRC" "$BIG" "$TARGET_MB" <<'PY'
import struct, sys
src, out, target = sys.argv[1], sys.argv[2], int(sys.argv[3]) << 20
data = open(src, "rb").read()
header, body = data[:24], data[24:]
# Whole records only (the file's last one is cut), as (seconds, rest of the record).
recs, p = [], 0
while p + 16 <= len(body):
    secs, usecs, caplen, origlen = struct.unpack_from("<IIII", body, p)
    if p + 16 + caplen > len(body):
        break
    recs.append((secs, body[p + 4:p + 16 + caplen]))
    p += 16 + caplen
span = recs[-1][0] - recs[0][0] + 3600
with open(out, "wb") as f:
    f.write(header)
    size, copy = 24, 0
    while size < target:
        shift = copy * span
        for secs, rest in recs:
            f.write(struct.pack("<I", secs + shift))
            f.write(rest)
        size += sum(4 + len(r) for _, r in recs)
        copy += 1
print("capture: %d copies, %d packets, %.0f MB" % (copy, copy * len(recs), size / 1e6))
PY

PACKETS=$(python3 -c "
import struct,sys
d=open(sys.argv[1],'rb'); d.seek(24); n=0
while True:
    h=d.read(16)
    if len(h)<16: break
    n+=1; d.seek(struct.unpack('<IIII',h)[2],1)
print(n)" "$BIG")
SIZE=$(stat -c %s "$BIG")
cat "$BIG" > /dev/null  # warm the page cache for both

run() {
  local name=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || true
  read -r secs rss_kb user sys < "$WORK/time"
  local cpu
  cpu=$(echo "$user + $sys" | bc -l)
  printf "| %s | %s | %.1f | %.1f | %.2f | %.2f | %.0f | %.0f |\n" "$name" "$PACKETS" "$secs" "$cpu" \
    "$(echo "$PACKETS / $secs / 1000000" | bc -l)" "$(echo "$PACKETS / $cpu / 1000000" | bc -l)" \
    "$(echo "$SIZE / $secs / 1000000" | bc -l)" "$(echo "$rss_kb / 1024" | bc -l)"
}

echo "| tool | packets | seconds | CPU seconds | M packets/s | M packets per CPU second | MB/s | max RSS MiB |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
run "iotguard convert --to zeek-tsv (flows to /dev/null)" "$BIN" convert "$BIG" --to zeek-tsv --out /dev/null
grep -o "converted [0-9]* records" "$WORK/err" || cat "$WORK/err"
run "argus -r (flow records to /dev/null)" argus -r "$BIG" -w /dev/null
