#!/usr/bin/env bash
# Rewind under load (issue 16): 1,000 clients subscribe at once with
# `rewind: 100` to one channel while it publishes 100 events/s, against the
# same clients subscribing without rewind, in one run (rounds alternate).
# Prints time until all are live, server CPU and memory, side by side.
#
#   bench/rewind.sh                 # release build, port 18105
#   PROFILE=debug bench/rewind.sh   # quicker to build, slower to run
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
flag=()
[ "$profile" = release ] && flag=(--release)
cargo build -q "${flag[@]}" -p brain-ws-server -p brain-ws-bench
port=${REWIND_PORT:-18105}
"target/$profile/brain-ws-server" --bind "127.0.0.1:$port" --history-size 100 \
  --max-connections 2000 >/dev/null 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
"target/$profile/bench-rewind" --url "ws://127.0.0.1:$port" --server-pid "$server_pid" \
  -n "${CLIENTS:-1000}" --rewind 100 --rate 100 --rounds "${ROUNDS:-3}"
