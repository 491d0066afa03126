#!/usr/bin/env bash
# What TLS costs per delivery: brain-ws-server with and without
# --tls-cert/--tls-key, measured by brain-ws-bench in the same run, servers
# taking turns (a fresh process per run, each on a free port), then a
# side-by-side table with ratios against plain TCP. The TLS server is the
# same binary; over TLS its sessions write through axum's WebSocket instead
# of the direct-write path (docs/operations.md#tls), so the ratio is the
# whole cost of serving wss:// directly.
#
#   bench/tls.sh                                    # release, N=1000, 3 rounds
#   PROFILE=debug N=100 BROADCASTS=3 REPEAT=1 bench/tls.sh   # CI smoke
#
# Knobs: N (connections, 1000), BROADCASTS (20), REPEAT (3), PROFILE
# (release), OUT (target/bench-tls). Fails if any delivery is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000}
BROADCASTS=${BROADCASTS:-20}
REPEAT=${REPEAT:-3}
PROFILE=${PROFILE:-release}
OUT=${OUT:-target/bench-tls}
BIN=target/$PROFILE
flag=()
[ "$PROFILE" = release ] && flag=(--release)
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.txt "$OUT"/*.log

cargo build -q "${flag[@]}" -p brain-ws-server -p brain-ws-bench
certs="$OUT/certs"
cargo run -q -p brain-ws-server --example test_certs -- "$certs" >/dev/null

SERVER_PID=
ADDR=
start_server() { # name flags...
  local name=$1
  shift
  ulimit -n "$(ulimit -Hn)"
  NO_COLOR=1 "$BIN/brain-ws-server" --bind 127.0.0.1:0 --max-connections 20000 \
    --heartbeat-interval 30s "$@" >"$OUT/$name.log" 2>&1 &
  SERVER_PID=$!
  ADDR=
  for _ in $(seq 100); do
    ADDR="$(grep -oE 'listening on 127\.0\.0\.1:[0-9]+' "$OUT/$name.log" | head -n1 | cut -d' ' -f3 || true)"
    [ -n "$ADDR" ] && return 0
    sleep 0.1
  done
  echo "server $name did not start; see $OUT/$name.log" >&2
  return 1
}
stop_server() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  sleep 1 # let the kernel retire the sockets before the next run
}
trap stop_server EXIT

rc=0
for r in $(seq "$REPEAT"); do
  start_server plain
  "$BIN/brain-ws-bench" --url "ws://$ADDR" --server-pid "$SERVER_PID" --label "plain (ws://)" \
    -n "$N" --broadcasts "$BROADCASTS" --json "$OUT/plain-$r.json" >"$OUT/plain-$r.txt" || rc=$?
  stop_server
  start_server tls --tls-cert "$certs/server.pem" --tls-key "$certs/server-key.pem"
  "$BIN/brain-ws-bench" --url "wss://$ADDR" --ca-file "$certs/ca.pem" --server-pid "$SERVER_PID" \
    --label "TLS (wss://)" -n "$N" --broadcasts "$BROADCASTS" --json "$OUT/tls-$r.json" >"$OUT/tls-$r.txt" || rc=$?
  stop_server
done
printf '\n### Broadcast to %s subscribers, plain TCP vs TLS (median of %s broadcasts, median of %s runs; ratios vs plain)\n\n' \
  "$N" "$BROADCASTS" "$REPEAT"
"$BIN/brain-ws-bench" --compare "$OUT"/plain-*.json "$OUT"/tls-*.json | tee "$OUT/summary.md"
[ "$rc" = 0 ] || echo "FAILED: a bench run exited $rc (see $OUT/*.txt)" >&2
exit "$rc"
