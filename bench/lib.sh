# Shell helpers shared by the bench scripts (sourced, not run).

# wait_port PORT [TRIES]: waits (TRIES x 50 ms, default 200) until
# 127.0.0.1:PORT accepts a connection.
wait_port() {
  for _ in $(seq "${2:-200}"); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# start_redis PORT LOG: starts a throwaway redis-server (no persistence) in
# the background, sets REDIS_PID, and waits until it answers.
start_redis() {
  redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no \
    --loglevel warning >"$2" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 100); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "redis-server on port $1 did not start; see $2" >&2
  return 1
}

# limit_cpu PID CORES: caps process PID at CORES of CPU time (e.g. 0.2) with
# a cgroup CPU quota (v1 `cpu.cfs_quota_us` or v2 `cpu.max`; needs root),
# in a cgroup of its own that `unlimit_cpu` removes. Sets LIMIT_CG.
limit_cpu() {
  local period=100000 quota
  quota=$(awk -v c="$2" -v p="$period" 'BEGIN { printf "%d", c * p }')
  if [ -d /sys/fs/cgroup/cpu ] && [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
    LIMIT_CG=/sys/fs/cgroup/cpu/brain-ws-bench-$$
    mkdir -p "$LIMIT_CG"
    echo "$period" >"$LIMIT_CG/cpu.cfs_period_us"
    echo "$quota" >"$LIMIT_CG/cpu.cfs_quota_us"
  elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    LIMIT_CG=/sys/fs/cgroup/brain-ws-bench-$$
    mkdir -p "$LIMIT_CG"
    echo "$quota $period" >"$LIMIT_CG/cpu.max"
  else
    echo "no cgroup CPU controller: cannot limit CPU" >&2
    return 1
  fi
  echo "$1" >"$LIMIT_CG/cgroup.procs"
}

# unlimit_cpu PID: moves PID back to the root cgroup and removes LIMIT_CG.
unlimit_cpu() {
  [ -n "${LIMIT_CG:-}" ] || return 0
  echo "$1" >"$(dirname "$LIMIT_CG")/cgroup.procs" 2>/dev/null || true
  rmdir "$LIMIT_CG" 2>/dev/null || true
  LIMIT_CG=
}
