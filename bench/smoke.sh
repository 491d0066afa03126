#!/usr/bin/env bash
# CI smoke of the benchmark: 100 connections, 3 broadcasts; then a 1 s
# steady stream (20 subscribers, background traffic) and a two-step
# many-channels ramp (50 connections subscribed with messages to 10 of 50
# channels), about 5 s more. Fails only if a delivery is missing (or the
# server cannot be reached). Timing is printed, never asserted.
#
#   bench/smoke.sh ws://127.0.0.1:8000   # against a running server
#   bench/smoke.sh                       # builds and starts brain-ws-server itself
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE_DIR=target/${PROFILE:-debug}
flag=()
[ "${PROFILE:-debug}" = release ] && flag=(--release)

url=${1:-}
server_pid=
if [ -z "$url" ]; then
  cargo build -q "${flag[@]}" -p brain-ws-bench -p brain-ws-server
  port=${SMOKE_PORT:-18199}
  "$PROFILE_DIR/brain-ws-server" --bind "127.0.0.1:$port" --max-connections 1000 >/dev/null 2>&1 &
  server_pid=$!
  trap 'kill "$server_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  url="ws://127.0.0.1:$port"
else
  cargo build -q "${flag[@]}" -p brain-ws-bench
fi
"$PROFILE_DIR/brain-ws-bench" --url "$url" -n 100 --broadcasts 3 --timeout 10s --label smoke
"$PROFILE_DIR/brain-ws-bench" --url "$url" -n 20 --steady --duration 1s --background-connections 5 \
  --background-rate 50 --label smoke-steady
"$PROFILE_DIR/brain-ws-bench" --url "$url" -n 50 --throughput --subscriptions 10 --channels 50 \
  --start-rate 20 --max-steps 2 --step 500ms --p99-limit 5s --label smoke-many-channels
