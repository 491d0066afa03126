#!/usr/bin/env bash
# Instructions per event on a node (issue 17, docs/benchmarks.md "Where a
# node's CPU per event goes, and what was cut"): one release node under
# `valgrind --tool=callgrind`, on its own redis-server, with one subscriber
# per channel on that node, so each event is one HTTP publish, one Redis
# round trip, one reception from Redis and one delivery, all on the node
# measured. Two runs that differ only in how many fixed-rate steps they
# publish; the difference of their instruction totals divided by the
# difference of their events is the cost of one event, without start-up,
# connecting and idle time. Instruction counts do not depend on the
# machine's load, so this is the figure to compare builds with on a busy
# machine.
#
#   bench/callgrind.sh                          # this build, history off and on
#   BINS="main=/tmp/main-server this=target/release/brain-ws-server" bench/callgrind.sh
#
# Knobs: BINS (label=path ...), HISTORY ("off on"), CHANNELS (10), RATE
# (events/s, 50), STEP (3s), STEPS ("1 5": the two runs), PORT (19611),
# REDIS_PORT (19692), OUT (target/bench-results/callgrind). Keeps the
# callgrind files (`callgrind_annotate OUT/<file>` shows where it goes).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

BINS=${BINS:-"this=target/release/brain-ws-server"}
HISTORY=${HISTORY:-"off on"}
CHANNELS=${CHANNELS:-10}
RATE=${RATE:-50}
STEP=${STEP:-3s}
STEPS=${STEPS:-"1 5"}
PORT=${PORT:-19611}
REDIS_PORT=${REDIS_PORT:-19692}
OUT=${OUT:-target/bench-results/callgrind}
BENCH=${BENCH:-target/release/brain-ws-bench}
mkdir -p "$OUT"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap cleanup EXIT

start_redis "$REDIS_PORT" "$OUT/redis.log"
PIDS+=("$REDIS_PID")

# Instructions (Ir) of a callgrind file.
total() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }
# Events published in a bench JSON report.
events() { python3 -c 'import json,sys; print(sum(s["published"] for s in json.load(open(sys.argv[1]))["steps"]))' "$1"; }

printf '%-10s %-7s %12s %12s %14s\n' build history events "Ir total" "Ir per event"
for build in $BINS; do
  label=${build%%=*}
  bin=${build#*=}
  for history in $HISTORY; do
    history_flags=()
    [ "$history" = on ] && history_flags=(--history-channel 'bench-*')
    declare -A ir=() ev=()
    for steps in $STEPS; do
      name="$label-$history-$steps"
      RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$name" \
        "$bin" --bind "127.0.0.1:$PORT" --broker "redis://127.0.0.1:$REDIS_PORT" \
        --redis-prefix "callgrind-$name" --node-id n1 --heartbeat-interval 30s \
        --cluster-refresh 1s "${history_flags[@]}" >"$OUT/node-$name.log" 2>&1 &
      node=$!
      PIDS+=($node)
      wait_port "$PORT" 1200 # valgrind starts slowly
      history_arg=()
      [ "$history" = on ] && history_arg=(--history)
      "$BENCH" --nodes "ws://127.0.0.1:$PORT" "${history_arg[@]}" --label "$name" \
        -n "$CHANNELS" --channels "$CHANNELS" --publishers 2 --start-rate "$RATE" \
        --rate-factor 1 --step "$STEP" --max-steps "$steps" --p99-limit 60s --settle 2s \
        --timeout 30s --json "$OUT/$name.json" >"$OUT/bench-$name.log" 2>&1 || true
      kill -TERM "$node"
      wait "$node" 2>/dev/null || true
      PIDS=("${PIDS[@]/$node/}")
      ir[$steps]=$(total "$OUT/callgrind.$name")
      ev[$steps]=$(events "$OUT/$name.json")
      printf '%-10s %-7s %12s %12s\n' "$label" "$history" "${ev[$steps]}" "${ir[$steps]}"
    done
    read -r a b <<<"$STEPS"
    python3 -c 'import sys; a,b,ea,eb=map(int,sys.argv[1:5]); print("%-10s %-7s %12d %12d %14.0f" % (sys.argv[5], sys.argv[6], eb-ea, b-a, (b-a)/(eb-ea)))' \
      "${ir[$a]}" "${ir[$b]}" "${ev[$a]}" "${ev[$b]}" "$label" "$history"
    unset ir ev
  done
done
