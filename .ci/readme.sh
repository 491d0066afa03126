#!/usr/bin/env bash
# Runs every command the README shows, against a real server, so the README
# cannot drift from the build: each command is taken from README.md itself
# (``` sh blocks and `inline` spans starting with cargo, curl, npm, bench/*.sh or
# UPDATE_SCHEMAS=) and must be one this script knows how to check; an unknown
# command fails the step. The only change to a command is the address: the
# server listens on a free port instead of 127.0.0.1:8000.
#
#   bash .ci/readme.sh     # from the repository root; builds the server in release mode
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

tmp="$(mktemp -d)"
server=""
cleanup() {
  local status=$?
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
fail() { echo "readme: $*" >&2; exit 1; }

# The README's commands, one a line, without trailing comments.
{
  awk '/^```sh/{f=1;next} /^```/{f=0} f' README.md
  grep -oE '`[^`]+`' README.md | tr -d '`'
} | sed -E 's/[[:space:]]+#.*$//; s/[[:space:]]+$//' \
  | grep -E '^(cargo |curl |npm |bench/[^ ]+\.sh|UPDATE_SCHEMAS=)' | sort -u >"$tmp/commands"

start_server() { # the README's server command on a free port
  cargo run -q --release -p brain-ws-server -- --bind 127.0.0.1:0 >"$tmp/server.log" 2>&1 &
  server=$!
  for _ in $(seq 200); do
    addr="$(grep -oE 'listening on 127\.0\.0\.1:[0-9]+' "$tmp/server.log" | head -n1 | cut -d' ' -f3 || true)"
    [ -n "$addr" ] && return
    kill -0 "$server" 2>/dev/null || { cat "$tmp/server.log" >&2; fail "the server exited"; }
    sleep 0.25
  done
  fail "the server did not report its address"
}

# Build first, so the waits below are for start-up only.
cargo build -q --release -p brain-ws-server
# One package a build, as `cargo run -p` builds it (the same features).
cargo build -q -p brain-ws-server
cargo build -q -p brain-ws-conformance
cargo build -q -p brain-ws-client --examples

addr=""
while read -r command <&3; do
  local_command="${command//127.0.0.1:8000/$addr}"
  local_command="${local_command/curl /curl -sS }"
  echo "== $command"
  case "$command" in
    "cargo run --release -p brain-ws-server")
      start_server
      echo "   listening on $addr"
      # The page the README tells a reader to open next.
      grep -q 'http://127.0.0.1:8000/static/websocket_test.html' README.md
      # To a file first: `curl | grep -q` fails under pipefail when grep
      # stops reading at its match before curl has written everything.
      curl -fsS "http://$addr/static/websocket_test.html" -o "$tmp/page.html" \
        && grep -q '<html' "$tmp/page.html" \
        || fail "/static/websocket_test.html is not served"
      ;;
    "cargo test --workspace")
      echo "   run by .ci/run's tests step" ;;
    "npm ci && npm run build && cargo build -p brain-ws-server" | "npm test -w @brain/ws-client" | "npm ci")
      echo "   run by .ci/run's typescript step" ;;
    "npm run generate -w @brain/ws-protocol")
      # Needs the typescript step's npm ci; regenerating must change nothing.
      eval "$command" >/dev/null
      git diff --exit-code -- typescript/src/generated || fail "the committed TypeScript types are stale" ;;
    "bench/run.sh")
      echo "   not run in CI (about 15 minutes); bench/smoke.sh runs the same program" ;;
    "curl http://127.0.0.1:8000/api/ws/info")
      [ -n "$addr" ] || fail "curl before the server command"
      eval "$local_command" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["protocol"]=="brain.v1" and d["broker"]=="memory", d' ;;
    "curl -d '{\"channel\":\"missions\","*"}' http://127.0.0.1:8000/api/ws/broadcast")
      [ -n "$addr" ] || fail "broadcast before the server command"
      eval "$local_command" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"]=="broadcasted" and d["channel"]=="missions", d' ;;
    "cargo run -p brain-ws-server -- --help")
      eval "$local_command" >"$tmp/help.txt" && grep -q -- '--broker' "$tmp/help.txt" \
        || fail "--help does not list --broker" ;;
    "cargo run -p brain-ws-conformance -- --url ws://127.0.0.1:8000")
      [ -n "$addr" ] || fail "conformance before the server command"
      eval "$local_command" >"$tmp/conformance.log" 2>&1 \
        || { cat "$tmp/conformance.log" >&2; fail "the conformance suite failed"; }
      tail -n1 "$tmp/conformance.log" ;;
    "cargo run -p brain-ws-client --example subscribe")
      [ -n "$addr" ] || fail "subscribe before the server command"
      # Exits after one event; the publish example below sends it.
      BRAIN_WS_URL="ws://$addr" BRAIN_WS_MAX_EVENTS=1 cargo run -q -p brain-ws-client --example subscribe \
        >"$tmp/subscribe.log" 2>&1 &
      subscriber=$!
      for _ in $(seq 1200); do
        grep -q 'subscribed' "$tmp/subscribe.log" && break
        kill -0 "$subscriber" 2>/dev/null || { cat "$tmp/subscribe.log" >&2; fail "subscribe exited"; }
        sleep 0.25
      done ;;
    "cargo run -p brain-ws-client --example publish")
      [ -n "${subscriber:-}" ] || fail "publish before subscribe"
      BRAIN_WS_HTTP_URL="http://$addr" cargo run -q -p brain-ws-client --example publish | tee "$tmp/publish.log"
      grep -q '^published mission_created on missions: 1 subscriber(s)$' "$tmp/publish.log" \
        || fail "publish did not reach the subscriber"
      wait "$subscriber" || { cat "$tmp/subscribe.log" >&2; fail "subscribe failed"; }
      grep -q 'mission_created' "$tmp/subscribe.log" || { cat "$tmp/subscribe.log" >&2; fail "no event printed"; } ;;
    "UPDATE_SCHEMAS=1 cargo test -p brain-ws-protocol --test schemas")
      eval "$command" >/dev/null
      git diff --exit-code -- schemas/ || fail "the committed schemas are stale" ;;
    *)
      fail "a README command this script does not run: $command (teach .ci/readme.sh to check it)" ;;
  esac
done 3< <(
  # The server first, then subscribe before publish; the rest in any order.
  grep -x 'cargo run --release -p brain-ws-server' "$tmp/commands"
  grep -vx 'cargo run --release -p brain-ws-server' "$tmp/commands" | sort -r
)
echo "readme: every command ran"
