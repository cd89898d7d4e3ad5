#!/usr/bin/env bash
# Start and stop the S3-protocol server the S3 archive tests and benchmark run against: moto's
# server mode (PyPI `moto[server]`; ARCHITECTURE.md says why moto rather than s3s-fs).
# Source this file, then:
#   s3_ensure            # find moto_server (IOTGUARD_S3_VENV, default ~/.cache/iotguard/moto-venv)
#                        # or install moto[server] 5.2.5 into that venv (~1 minute)
#   s3_start DIR         # start it on a free 127.0.0.1 port (log in DIR), create the bucket
#                        # iotguard-test; exports IOTGUARD_S3_ENDPOINT=http://127.0.0.1:PORT,
#                        # IOTGUARD_S3_BUCKET, IOTGUARD_S3_SERVER_BIN (the fault test starts a
#                        # server of its own with it), S3_PID, and the AWS variables iotguard
#                        # reads (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
#                        # AWS_REGION, AWS_ALLOW_HTTP)
#   s3_stop              # stop it (also safe to call twice)
# moto keeps objects in memory: a stopped server forgets its buckets.

S3_MOTO_VERSION=5.2.5

s3_ensure() {
  IOTGUARD_S3_VENV=${IOTGUARD_S3_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/iotguard/moto-venv}
  if [ ! -x "$IOTGUARD_S3_VENV/bin/moto_server" ]; then
    echo "installing moto[server] $S3_MOTO_VERSION into $IOTGUARD_S3_VENV"
    python3 -m venv "$IOTGUARD_S3_VENV" || return 1
    "$IOTGUARD_S3_VENV/bin/pip" install --quiet "moto[server]==$S3_MOTO_VERSION" || return 1
  fi
  export IOTGUARD_S3_VENV
  export IOTGUARD_S3_SERVER_BIN=$IOTGUARD_S3_VENV/bin/moto_server
}

s3_start() {
  local dir=$1
  mkdir -p "$dir"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$IOTGUARD_S3_SERVER_BIN" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  S3_PID=$!
  export S3_PID
  local i
  for i in $(seq 1 150); do
    if python3 -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1], method="PUT"), timeout=2)' \
      "http://127.0.0.1:$port/iotguard-test" 2>/dev/null; then
      export IOTGUARD_S3_ENDPOINT=http://127.0.0.1:$port
      export IOTGUARD_S3_BUCKET=iotguard-test
      export AWS_ENDPOINT_URL=$IOTGUARD_S3_ENDPOINT
      export AWS_ACCESS_KEY_ID=testing
      export AWS_SECRET_ACCESS_KEY=testing
      export AWS_REGION=us-east-1
      export AWS_ALLOW_HTTP=true
      echo "moto S3 server on $IOTGUARD_S3_ENDPOINT (pid $S3_PID, bucket $IOTGUARD_S3_BUCKET, log in $dir)"
      return 0
    fi
    if ! kill -0 "$S3_PID" 2>/dev/null; then
      break
    fi
    sleep 0.2
  done
  echo "the S3 server did not start; its log:"
  cat "$dir/moto.log"
  return 1
}

s3_stop() {
  if [ -n "${S3_PID:-}" ]; then
    kill "$S3_PID" 2>/dev/null || true
    wait "$S3_PID" 2>/dev/null || true
    S3_PID=
  fi
}
