#!/usr/bin/env bash
# Reproduces every figure in docs/benchmarks.md: builds release, starts each
# server in turn on loopback (the floor, the axum baseline, then ours when it
# is built), runs brain-ws-bench against each (a fresh server process per
# run, so RSS starts clean), and prints side-by-side tables with ratios
# against the floor. JSON reports land in $OUT.
#
#   bench/run.sh                      # everything (about 15 minutes on 2 cores)
#   NS=1000 REPEAT=1 THROUGHPUT=0 HOLD=0 bench/run.sh   # quick latency-only pass
#
# Knobs (environment): NS (connection counts, default "1000 10000"),
# BROADCASTS (20), REPEAT (3: latency runs per server, interleaved, tables
# show the median run), THROUGHPUT (1: ramp with THROUGHPUT_N=1000 clients on
# CHANNELS=10 channels, 100 subscribers each),
# HOLD (300s: ours holds HOLD_N=19000 connections with heartbeats; 0 skips),
# OUT (target/bench-results).
set -euo pipefail
cd "$(dirname "$0")/.."

NS=${NS:-"1000 10000"}
BROADCASTS=${BROADCASTS:-20}
REPEAT=${REPEAT:-3}
THROUGHPUT=${THROUGHPUT:-1}
THROUGHPUT_N=${THROUGHPUT_N:-1000}
CHANNELS=${CHANNELS:-10}
HOLD=${HOLD:-300s}
HOLD_N=${HOLD_N:-19000}
OUT=${OUT:-target/bench-results}
BIN=target/release
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.txt

packages=(-p brain-ws-bench)
have_ours=0
if [ -f server/src/main.rs ]; then
  packages+=(-p brain-ws-server)
  have_ours=1
fi
cargo build --release "${packages[@]}"

# name -> port and command line.
declare -A PORT=([floor]=18101 [axum]=18102 [ours]=18103 [floor2]=18104)
server_cmd() {
  case $1 in
    floor) echo "$BIN/bench-floor --bind 127.0.0.1:${PORT[floor]}" ;;
    floor2) echo "$BIN/bench-floor --bind 127.0.0.1:${PORT[floor2]} --threads 2" ;;
    axum) echo "$BIN/bench-axum --bind 127.0.0.1:${PORT[axum]}" ;;
    ours) echo "$BIN/brain-ws-server --bind 127.0.0.1:${PORT[ours]} --max-connections 20000 --heartbeat-interval 30s" ;;
  esac
}
# floor2 splits each large broadcast's write loop over two threads: the floor
# for time to last delivery on two cores. It matters only for the one-channel
# fan-out, so the throughput ramp (100 subscribers per channel) skips it.
SERVERS=(floor axum)
[ "$have_ours" = 1 ] && SERVERS+=(ours)
LATENCY_SERVERS=(floor floor2 "${SERVERS[@]:1}")

SERVER_PID=
start_server() {
  ulimit -n "$(ulimit -Hn)"
  # shellcheck disable=SC2046
  $(server_cmd "$1") >"$OUT/$1.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/${PORT[$1]}") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server $1 did not start; see $OUT/$1.log" >&2
  return 1
}
stop_server() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  sleep 1 # let the kernel retire the sockets before the next run
}
trap stop_server EXIT

bench() { # name json-file args...
  local name=$1 json=$2
  shift 2
  echo "== $name: brain-ws-bench $*" >&2
  start_server "$name"
  local rc=0
  "$BIN/brain-ws-bench" --url "ws://127.0.0.1:${PORT[$name]}" --server-pid "$SERVER_PID" \
    --label "$name" --json "$json" "$@" >"${json%.json}.txt" || rc=$?
  stop_server
  cat "${json%.json}.txt"
  [ "$rc" = 0 ] || echo "!! $name: brain-ws-bench exited $rc" >&2
}

# Servers take turns, REPEAT rounds, so a neighbour's burst on the shared
# machine hits one round of every server rather than all runs of one.
for n in $NS; do
  for r in $(seq "$REPEAT"); do
    for s in "${LATENCY_SERVERS[@]}"; do
      bench "$s" "$OUT/latency-$n-$s-$r.json" -n "$n" --broadcasts "$BROADCASTS"
    done
  done
done
if [ "$THROUGHPUT" = 1 ]; then
  for s in "${SERVERS[@]}"; do
    bench "$s" "$OUT/throughput-$s.json" -n "$THROUGHPUT_N" --throughput --channels "$CHANNELS" --publishers 16
  done
fi
if [ "$HOLD" != 0 ] && [ "$have_ours" = 1 ]; then
  bench ours "$OUT/hold-ours.json" -n "$HOLD_N" --hold "$HOLD"
fi

compare() { # title files-or-globs...
  local title=$1
  shift
  local files=()
  for pattern in "$@"; do
    for f in $pattern; do [ -f "$f" ] && files+=("$f"); done
  done
  [ ${#files[@]} -gt 0 ] || return 0
  printf '\n### %s\n\n' "$title"
  "$BIN/brain-ws-bench" --compare "${files[@]}"
}
{
  for n in $NS; do
    compare "Broadcast to $n subscribers (median of $BROADCASTS broadcasts, median of $REPEAT runs; ratios vs the one-thread floor)" \
      "$OUT/latency-$n-floor-*.json" "$OUT/latency-$n-floor2-*.json" "$OUT/latency-$n-axum-*.json" "$OUT/latency-$n-ours-*.json"
    compare "Broadcast to $n subscribers (ratios vs the two-thread floor)" \
      "$OUT/latency-$n-floor2-*.json" "$OUT/latency-$n-axum-*.json" "$OUT/latency-$n-ours-*.json"
  done
  if [ "$THROUGHPUT" = 1 ]; then
    compare "Sustained throughput, $THROUGHPUT_N clients on $CHANNELS channels (ratios vs the floor)" \
      "$OUT/throughput-floor.json" "$OUT/throughput-axum.json" "$OUT/throughput-ours.json"
  fi
  if [ "$HOLD" != 0 ]; then
    compare "Hold: $HOLD_N connections for $HOLD with 30 s heartbeats" "$OUT/hold-ours.json"
  fi
} | tee "$OUT/summary.md"
