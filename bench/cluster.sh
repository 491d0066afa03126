#!/usr/bin/env bash
# The cluster benchmark (issue 17.1c, docs/benchmarks.md "Multi-node"): starts
# its own redis-server, then for each node count, channel count and history
# setting starts that many release nodes on it, runs `brain-ws-bench --nodes`
# (subscribers spread over the nodes, publishers on every node, a rising
# rate), and prints each run's steps and one side-by-side table of the
# sustained events/s (delivery p99 under P99_LIMIT), with CPU per event on
# the nodes and on Redis.
#
#   bench/cluster.sh                                   # this build
#   BASELINE_BIN=target/baseline/brain-ws-server bench/cluster.sh   # baseline vs this build
#
# Knobs (environment): NODES ("2 3"), CHANNELS ("10 1000"), HISTORY ("off on"),
# N (subscribers; default one per channel per node, so every event is pushed
# to every node and delivered once on each: the Redis path, not the fan-out,
# is what is measured), PUBLISHERS (per node, 64: each posts one request at a time,
# so fewer cap the rate at publishers / publish latency, see docs/benchmarks.md), FRAME (bytes, 150),
# START_RATE (1000), RATE_FACTOR (1.5), STEP (2s), MAX_STEPS (12),
# P99_LIMIT (100ms), PORT_BASE (19600: nodes on PORT_BASE+1..), REDIS_PORT
# (19690), BIN (this build's server, target/release/brain-ws-server),
# BASELINE_BIN (unset: no baseline), OUT (target/bench-results/cluster),
# REDIS_RTT_MS (unset: the nodes talk to Redis directly; e.g. "0 1 5": for
# each value the nodes talk to Redis through `bench-delay-proxy` on
# PROXY_PORT (19691), which adds that many milliseconds per round trip, half
# each way, and the runs are labelled `<build> rtt+<N>ms`; 0 runs through
# the proxy too, so the proxy's own cost is in every row),
# REDIS_CPU (unset: Redis may use a whole core; e.g. "0.1 0.2 0.4": for each
# value Redis is capped at that many cores with a cgroup CPU quota (needs
# root) and the runs are labelled `<build> redis <N> core`: is the sustained
# rate bounded by Redis's CPU once Redis is the scarce resource?).
#
# The round-trip check (docs/benchmarks.md, "Is the Redis path bound by
# round trips?"), a few minutes:
#   REDIS_RTT_MS="0 1 5" NODES=3 CHANNELS=10 HISTORY="off on" bench/cluster.sh
# The Redis CPU check (docs/benchmarks.md, "Bounded by Redis's CPU"):
#   REDIS_CPU="0.1 0.2 0.4" NODES=2 CHANNELS=10 HISTORY=on bench/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

NODES=${NODES:-"2 3"}
CHANNELS=${CHANNELS:-"10 1000"}
HISTORY=${HISTORY:-"off on"}
N=${N:-}
PUBLISHERS=${PUBLISHERS:-64}
FRAME=${FRAME:-150}
START_RATE=${START_RATE:-1000}
RATE_FACTOR=${RATE_FACTOR:-1.5}
STEP=${STEP:-2s}
MAX_STEPS=${MAX_STEPS:-12}
P99_LIMIT=${P99_LIMIT:-100ms}
PORT_BASE=${PORT_BASE:-19600}
REDIS_PORT=${REDIS_PORT:-19690}
BIN=${BIN:-target/release/brain-ws-server}
BASELINE_BIN=${BASELINE_BIN:-}
OUT=${OUT:-target/bench-results/cluster}
REDIS_RTT_MS=${REDIS_RTT_MS:-}
PROXY_PORT=${PROXY_PORT:-19691}
REDIS_CPU=${REDIS_CPU:-}
mkdir -p "$OUT"
rm -f "$OUT"/*.json

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -p brain-ws-bench -p brain-ws-server
fi
BENCH=target/release/brain-ws-bench
PROXY=target/release/bench-delay-proxy

declare -a BUILDS=()
[ -n "$BASELINE_BIN" ] && BUILDS+=("baseline=$BASELINE_BIN")
BUILDS+=("this=$BIN")
# One empty entry: no proxy.
read -r -a RTTS <<<"${REDIS_RTT_MS:-}"
[ ${#RTTS[@]} -eq 0 ] && RTTS=("")
read -r -a CPUS <<<"${REDIS_CPU:-}"
[ ${#CPUS[@]} -eq 0 ] && CPUS=("")

PIDS=()
REDIS_PID=
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
stop_redis() {
  if [ -n "$REDIS_PID" ]; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=
  fi
}
trap 'cleanup; [ -n "$REDIS_PID" ] && unlimit_cpu "$REDIS_PID"; stop_redis' EXIT

ulimit -n "$(ulimit -Hn)"
start_redis "$REDIS_PORT" "$OUT/redis.log"

run=0
for nodes in $NODES; do
  for channels in $CHANNELS; do
    for history in $HISTORY; do
      # Builds interleaved per configuration: drift on a shared machine hits both.
      for cpu in "${CPUS[@]}"; do
      for rtt in "${RTTS[@]}"; do
      for build in "${BUILDS[@]}"; do
        label=${build%%=*}
        bin=${build#*=}
        run=$((run + 1))
        broker_port=$REDIS_PORT
        if [ -n "$cpu" ]; then
          label="$label redis ${cpu} core"
          limit_cpu "$REDIS_PID" "$cpu"
        fi
        if [ -n "$rtt" ]; then
          label="$label rtt+${rtt}ms"
          "$PROXY" --listen "127.0.0.1:$PROXY_PORT" --upstream "127.0.0.1:$REDIS_PORT" \
            --rtt "${rtt}ms" >"$OUT/proxy-$run.log" 2>&1 &
          PIDS+=($!)
          wait_port "$PROXY_PORT"
          broker_port=$PROXY_PORT
        fi
        prefix="bench-cluster-$run"
        history_flags=()
        [ "$history" = on ] && history_flags=(--history-channel 'bench-*')
        urls=()
        for i in $(seq "$nodes"); do
          port=$((PORT_BASE + i))
          RUST_LOG=warn "$bin" --bind "127.0.0.1:$port" --broker "redis://127.0.0.1:$broker_port" \
            --redis-prefix "$prefix" --node-id "n$i" --max-connections 20000 \
            --heartbeat-interval 30s --cluster-refresh 1s "${history_flags[@]}" \
            >"$OUT/node-$run-$i.log" 2>&1 &
          PIDS+=($!)
          urls+=("ws://127.0.0.1:$port")
        done
        for i in $(seq "$nodes"); do wait_port $((PORT_BASE + i)); done
        history_arg=()
        [ "$history" = on ] && history_arg=(--history)
        echo "== $label: $nodes nodes, $channels channels, history $history" >&2
        "$BENCH" --nodes "$(IFS=,; echo "${urls[*]}")" --redis "127.0.0.1:$REDIS_PORT" \
          "${history_arg[@]}" --label "$label" -n "${N:-$((channels * nodes))}" --channels "$channels" \
          --publishers "$PUBLISHERS" --frame-bytes "$FRAME" --start-rate "$START_RATE" \
          --rate-factor "$RATE_FACTOR" --step "$STEP" --max-steps "$MAX_STEPS" \
          --p99-limit "$P99_LIMIT" --settle 2s --client-threads 1 \
          --json "$OUT/$run-${label// /-}-$nodes-$channels-$history.json" || true
        cleanup
        unlimit_cpu "$REDIS_PID"
        redis-cli -p "$REDIS_PORT" flushall >/dev/null
      done
      done
      done
    done
  done
done

echo
"$BENCH" --cluster-compare "$OUT"/*.json
