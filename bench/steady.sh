#!/usr/bin/env bash
# Steady-stream latency: one subscriber, small events (1 KiB) every 10 ms,
# p50/p99 over every delivery. This is the case that showed the missing
# TCP_NODELAY (issue 14, item 5): Nagle's algorithm held each event back
# until the client's delayed ACK of the previous one (p50 14 ms, p90 42 ms
# where under 1 ms is possible). Prints a side-by-side table, ratios
# against the first server.
#
#   bench/steady.sh                                   # ours, release build
#   bench/steady.sh before=/tmp/old-server after=target/debug/brain-ws-server
#
# Knobs (environment): EVENTS (300), GAP (10ms), FRAME_BYTES (1024),
# PROFILE (release: the build used when no binaries are given), OUT
# (target/bench-results/steady).
#
# CI runs a short smoke of it (`PROFILE=debug EVENTS=100`, about 1 s per
# server): it fails only when a delivery is missing (the bench's exit
# status); the latencies are printed, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-300}
GAP=${GAP:-10ms}
FRAME_BYTES=${FRAME_BYTES:-1024}
PROFILE=${PROFILE:-release}
OUT=${OUT:-target/bench-results/steady}
mkdir -p "$OUT"
flag=(); [ "$PROFILE" = release ] && flag=(--release)
cargo build "${flag[@]}" -p brain-ws-bench -p brain-ws-server
BENCH=target/$PROFILE/brain-ws-bench
servers=("$@")
[ ${#servers[@]} -eq 0 ] && servers=("ours=target/$PROFILE/brain-ws-server")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
reports=()
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null || true' EXIT
for entry in "${servers[@]}"; do
  label=${entry%%=*}; bin=${entry#*=}
  port=$(free_port)
  "$bin" --bind "127.0.0.1:$port" --log-format text >"$OUT/$label.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  "$BENCH" --url "ws://127.0.0.1:$port" --server-pid "$pid" --label "$label" -n 1 \
    --broadcasts "$EVENTS" --gap "$GAP" --frame-bytes "$FRAME_BYTES" --settle 200ms \
    --json "$OUT/$label.json" >"$OUT/$label.txt"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  pid=
  reports+=("$OUT/$label.json")
done
"$BENCH" --compare "${reports[@]}"
