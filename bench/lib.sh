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
