#!/usr/bin/env bash
# Start and stop tansu, the Kafka-protocol broker the Kafka tests and benchmark run against.
# Source this file, then:
#   tansu_ensure            # find tansu 0.6.0 (PATH, ~/.cargo/bin) or install it (~9 min)
#   tansu_start DIR         # start it on a free 127.0.0.1 port with SQLite storage in DIR;
#                           # exports IOTGUARD_KAFKA_BROKER=127.0.0.1:PORT and TANSU_PID
#   tansu_stop              # stop it (also safe to call twice)
# The SQLite engine only: tansu 0.6.0's memory:// engine misdelivers after a resume.

tansu_ensure() {
  TANSU_BIN=${TANSU_BIN:-}
  if [ -z "$TANSU_BIN" ]; then
    if command -v tansu >/dev/null 2>&1; then
      TANSU_BIN=$(command -v tansu)
    elif [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/tansu" ]; then
      TANSU_BIN=${CARGO_HOME:-$HOME/.cargo}/bin/tansu
    fi
  fi
  if [ -z "$TANSU_BIN" ]; then
    echo "installing tansu 0.6.0 (SQLite engine; about 9 minutes on 2 cores)"
    cargo install tansu --version 0.6.0 --locked --no-default-features --features libsql --quiet
    TANSU_BIN=${CARGO_HOME:-$HOME/.cargo}/bin/tansu
  fi
  export TANSU_BIN
}

tansu_start() {
  local dir=$1
  mkdir -p "$dir"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  (cd "$dir" && exec "$TANSU_BIN" broker \
    --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine sqlite://tansu.db >"$dir/tansu.log" 2>&1) &
  TANSU_PID=$!
  export TANSU_PID
  local i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      export IOTGUARD_KAFKA_BROKER=127.0.0.1:$port
      echo "tansu listening on $IOTGUARD_KAFKA_BROKER (pid $TANSU_PID, data in $dir)"
      return 0
    fi
    if ! kill -0 "$TANSU_PID" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  echo "tansu did not start; its log:"
  cat "$dir/tansu.log"
  return 1
}

tansu_stop() {
  if [ -n "${TANSU_PID:-}" ]; then
    kill "$TANSU_PID" 2>/dev/null || true
    wait "$TANSU_PID" 2>/dev/null || true
    TANSU_PID=
  fi
}
