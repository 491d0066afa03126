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
# STEADY (1: steady stream, REPEAT rounds, STEADY_N=1000 subscribers, STEADY_RATE=20 events/s
# for STEADY_DURATION=10s of 150 B and of 1 KiB, with background traffic of
# the other size at STEADY_BACKGROUND_RATE=200/s to 100 more clients; floor,
# axum, ours), MANY (1: many channels, ours only: MANY_N=10000 connections
# each subscribed with messages to 10 of MANY_CHANNELS=1000 channels, rising
# publish rate until p99 passes 100 ms), MEMORY (1: ours, idle cost per
# connection at MEMORY_NS="10000 19000" by path and by /ws/connect +
# subscribe; and with 1, 10 and 100 subscriptions at MEMORY_SUBS_N=5000),
# BASELINE_BIN (unset: none; a brain-ws-server binary of another build, run
# as "base" with ours' flags next to every server in the latency and steady
# runs, e.g. the build an issue was filed against: the "within 5%" checks;
# BASELINE_LABEL names it in the tables),
# PORT_BASE (18100: servers listen on PORT_BASE+1..+5, so two runs with
# different bases can share a machine), OUT (target/bench-results),
# REPORT_ONLY (1: run nothing, rebuild $OUT/summary.md from the JSON already
# in $OUT, e.g. OUT=docs/bench-results/2026-11-30 REPORT_ONLY=1 bench/run.sh;
# give the same knobs as the run).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

NS=${NS-"1000 10000"}
BROADCASTS=${BROADCASTS:-20}
REPEAT=${REPEAT:-3}
THROUGHPUT=${THROUGHPUT:-1}
THROUGHPUT_N=${THROUGHPUT_N:-1000}
CHANNELS=${CHANNELS:-10}
HOLD=${HOLD:-300s}
HOLD_N=${HOLD_N:-19000}
STEADY=${STEADY:-1}
STEADY_N=${STEADY_N:-1000}
STEADY_RATE=${STEADY_RATE:-20}
STEADY_DURATION=${STEADY_DURATION:-10s}
STEADY_BACKGROUND_RATE=${STEADY_BACKGROUND_RATE:-200}
MANY=${MANY:-1}
MANY_N=${MANY_N:-10000}
MANY_CHANNELS=${MANY_CHANNELS:-1000}
MEMORY=${MEMORY:-1}
MEMORY_NS=${MEMORY_NS:-"10000 19000"}
MEMORY_SUBS_N=${MEMORY_SUBS_N:-5000}
PORT_BASE=${PORT_BASE:-18100}
OUT=${OUT:-target/bench-results}
BIN=target/release
REPORT_ONLY=${REPORT_ONLY:-0}
mkdir -p "$OUT"
[ "$REPORT_ONLY" = 1 ] || rm -f "$OUT"/*.json "$OUT"/*.txt

packages=(-p brain-ws-bench)
have_ours=0
if [ -f server/src/main.rs ]; then
  packages+=(-p brain-ws-server)
  have_ours=1
fi
cargo build --release "${packages[@]}"

# name -> port and command line.
declare -A PORT=([floor]=$((PORT_BASE + 1)) [axum]=$((PORT_BASE + 2)) [ours]=$((PORT_BASE + 3)) [floor2]=$((PORT_BASE + 4)) [base]=$((PORT_BASE + 5)))
BASELINE_BIN=${BASELINE_BIN:-}
OURS_FLAGS="--max-connections 20000 --heartbeat-interval 30s"
server_cmd() {
  case $1 in
    floor) echo "$BIN/bench-floor --bind 127.0.0.1:${PORT[floor]}" ;;
    floor2) echo "$BIN/bench-floor --bind 127.0.0.1:${PORT[floor2]} --threads 2" ;;
    axum) echo "$BIN/bench-axum --bind 127.0.0.1:${PORT[axum]}" ;;
    ours) echo "$BIN/brain-ws-server --bind 127.0.0.1:${PORT[ours]} $OURS_FLAGS" ;;
    base) echo "$BASELINE_BIN --bind 127.0.0.1:${PORT[base]} $OURS_FLAGS" ;;
  esac
}
# floor2 splits each large broadcast's write loop over two threads: the floor
# for time to last delivery on two cores. It matters only for the one-channel
# fan-out, so the throughput ramp (100 subscribers per channel) skips it.
SERVERS=(floor axum)
[ -n "$BASELINE_BIN" ] && SERVERS+=(base)
[ "$have_ours" = 1 ] && SERVERS+=(ours)
LATENCY_SERVERS=(floor floor2 "${SERVERS[@]:1}")

SERVER_PID=
start_server() {
  ulimit -n "$(ulimit -Hn)"
  # shellcheck disable=SC2046
  $(server_cmd "$1") >"$OUT/$1.log" 2>&1 &
  SERVER_PID=$!
  wait_port "${PORT[$1]}" 200 && return 0
  echo "server $1 did not start; see $OUT/$1.log" >&2
  return 1
}
stop_server() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  sleep 1 # let the kernel retire the sockets before the next run
}
trap stop_server EXIT

label_of() { # name -> the name tables show (the baseline: BASELINE_LABEL, default "base")
  if [ "$1" = base ]; then echo "${BASELINE_LABEL:-base}"; else echo "$1"; fi
}
bench() { # name json-file args... (LABEL=... names the run in tables; default: name)
  local name=$1 json=$2
  shift 2
  echo "== $name: brain-ws-bench $*" >&2
  start_server "$name"
  local rc=0
  "$BIN/brain-ws-bench" --url "ws://127.0.0.1:${PORT[$name]}" --server-pid "$SERVER_PID" \
    --label "${LABEL:-$(label_of "$name")}" --json "$json" "$@" >"${json%.json}.txt" || rc=$?
  stop_server
  cat "${json%.json}.txt"
  [ "$rc" = 0 ] || echo "!! $name: brain-ws-bench exited $rc" >&2
}

# Servers take turns, REPEAT rounds, so a neighbour's burst on the shared
# machine hits one round of every server rather than all runs of one.
if [ "$REPORT_ONLY" = 1 ]; then
  NS_RUN=""
  THROUGHPUT_RUN=0 HOLD_RUN=0 STEADY_RUN=0 MANY_RUN=0 MEMORY_RUN=0
else
  NS_RUN=$NS
  THROUGHPUT_RUN=$THROUGHPUT HOLD_RUN=$HOLD STEADY_RUN=$STEADY MANY_RUN=$MANY MEMORY_RUN=$MEMORY
fi
for n in $NS_RUN; do
  for r in $(seq "$REPEAT"); do
    for s in "${LATENCY_SERVERS[@]}"; do
      bench "$s" "$OUT/latency-$n-$s-$r.json" -n "$n" --broadcasts "$BROADCASTS"
    done
  done
done
if [ "$THROUGHPUT_RUN" = 1 ]; then
  for s in "${SERVERS[@]}"; do
    bench "$s" "$OUT/throughput-$s.json" -n "$THROUGHPUT_N" --throughput --channels "$CHANNELS" --publishers 16
  done
fi
if [ "$HOLD_RUN" != 0 ] && [ "$have_ours" = 1 ]; then
  bench ours "$OUT/hold-ours.json" -n "$HOLD_N" --hold "$HOLD"
fi
if [ "$STEADY_RUN" = 1 ]; then
  for r in $(seq "$REPEAT"); do
    for bytes in 150 1024; do
      background=$((bytes == 150 ? 1024 : 150))
      for s in "${SERVERS[@]}"; do
        bench "$s" "$OUT/steady-$bytes-$s-$r.json" -n "$STEADY_N" --steady --rate "$STEADY_RATE" \
          --duration "$STEADY_DURATION" --frame-bytes "$bytes" \
          --background-rate "$STEADY_BACKGROUND_RATE" --background-frame-bytes "$background"
      done
    done
  done
fi
if [ "$MANY_RUN" = 1 ] && [ "$have_ours" = 1 ]; then
  # The floor cannot serve this shape (one channel per connection, by path).
  bench ours "$OUT/many-ours.json" -n "$MANY_N" --throughput --subscriptions 10 \
    --channels "$MANY_CHANNELS" --publishers 16 --p99-limit 100ms --timeout 30s
fi
if [ "$MEMORY_RUN" = 1 ] && [ "$have_ours" = 1 ]; then
  for n in $MEMORY_NS; do
    LABEL="ours /ws/channel" bench ours "$OUT/memory-$n-path.json" -n "$n" --broadcasts 1 --settle 2s
    LABEL="ours /ws/connect, 1 sub" bench ours "$OUT/memory-$n-connect1.json" -n "$n" --broadcasts 1 --settle 2s --subscriptions 1
  done
  for k in 1 10 100; do
    LABEL="ours /ws/connect, $k subs" bench ours "$OUT/memory-subs-$k.json" -n "$MEMORY_SUBS_N" --broadcasts 1 \
      --settle 2s --subscriptions "$k" --channels 1000 --timeout 30s
  done
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
      "$OUT/latency-$n-floor-*.json" "$OUT/latency-$n-floor2-*.json" "$OUT/latency-$n-axum-*.json" "$OUT/latency-$n-base-*.json" "$OUT/latency-$n-ours-*.json"
    compare "Broadcast to $n subscribers (ratios vs the two-thread floor)" \
      "$OUT/latency-$n-floor2-*.json" "$OUT/latency-$n-axum-*.json" "$OUT/latency-$n-base-*.json" "$OUT/latency-$n-ours-*.json"
  done
  if [ "$THROUGHPUT" = 1 ]; then
    compare "Sustained throughput, $THROUGHPUT_N clients on $CHANNELS channels (ratios vs the floor)" \
      "$OUT/throughput-floor.json" "$OUT/throughput-axum.json" "$OUT/throughput-base.json" "$OUT/throughput-ours.json"
  fi
  if [ "$HOLD" != 0 ]; then
    compare "Hold: $HOLD_N connections for $HOLD with 30 s heartbeats" "$OUT/hold-ours.json"
  fi
  if [ "$STEADY" = 1 ]; then
    for bytes in 150 1024; do
      compare "Steady stream: $STEADY_N subscribers, $STEADY_RATE events/s of $bytes B for $STEADY_DURATION, background $STEADY_BACKGROUND_RATE/s (median of $REPEAT runs; ratios vs the floor)" \
        "$OUT/steady-$bytes-floor-*.json" "$OUT/steady-$bytes-axum-*.json" "$OUT/steady-$bytes-base-*.json" "$OUT/steady-$bytes-ours-*.json"
    done
  fi
  if [ "$MANY" = 1 ]; then
    compare "Many channels: $MANY_N connections x 10 of $MANY_CHANNELS channels (ours)" "$OUT/many-ours.json"
    [ -f "$OUT/many-ours.json" ] && "$BIN/brain-ws-bench" --steps "$OUT/many-ours.json"
  fi
  if [ "$MEMORY" = 1 ]; then
    for n in $MEMORY_NS; do
      compare "Idle memory at $n connections: by path, then /ws/connect + 1 subscribe (ours)" \
        "$OUT/memory-$n-path.json" "$OUT/memory-$n-connect1.json"
    done
    compare "Subscriptions per connection at $MEMORY_SUBS_N connections: 1, 10, 100 (ours)" \
      "$OUT/memory-subs-1.json" "$OUT/memory-subs-10.json" "$OUT/memory-subs-100.json"
  fi
} | tee "$OUT/summary.md"
