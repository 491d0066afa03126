#!/usr/bin/env bash
# Browser test of /static/websocket_test.html: builds and starts a
# brain-ws-server (debug build, free port, 1 s heartbeat), drives the page in
# headless Chromium (playwright-core, pinned in package-lock.json), stops the
# server. Exits non-zero when a check fails; exits 0 with a SKIP message when
# Chromium or Node cannot be had.
#
#   bash server/tests/browser/run.sh          # from anywhere
#   CHROMIUM=/path/to/chrome bash run.sh      # another browser binary
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
skip() { echo "SKIP browser test: $*"; exit 0; }

chromium_bin="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium_bin" ]; then
  echo "chromium not found at $chromium_bin; installing it with apt-get"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/tmp/brain-ws-browser-apt.log 2>&1; then
    tail -5 /tmp/brain-ws-browser-apt.log || true
    skip "chromium is not installed and apt-get could not install it"
  fi
  [ -x "$chromium_bin" ] || skip "apt-get ran but $chromium_bin is still missing"
fi
command -v node >/dev/null && command -v npm >/dev/null || skip "node and npm are needed"

(cd "$here" && npm ci --no-audit --no-fund --silent)

(cd "$root" && cargo build -q -p brain-ws-server --bin brain-ws-server)
server_bin="${CARGO_TARGET_DIR:-$root/target}/debug/brain-ws-server"

log="$(mktemp /tmp/brain-ws-browser-server.XXXXXX)"
"$server_bin" --bind 127.0.0.1:0 --heartbeat-interval 1s --heartbeat-timeout 1s \
  --log-format json >"$log" 2>&1 &
server_pid=$!
stop_server() {
  if kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid" 2>/dev/null || true; fi
}
trap stop_server EXIT

addr=""
for _ in $(seq 100); do
  addr="$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$log" | head -1 | sed 's/listening on //')" || true
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "the server exited before listening"; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { cat "$log"; echo "the server did not report its address"; exit 1; }
echo "server at http://$addr (pid $server_pid)"

# A second server that requires a token, for the refused-token step.
auth_log="$(mktemp /tmp/brain-ws-browser-auth.XXXXXX)"
"$server_bin" --bind 127.0.0.1:0 --auth required \
  --jwt-secret browser-test-secret-0123456789abcdef --log-format json >"$auth_log" 2>&1 &
auth_pid=$!
trap 'stop_server; kill -TERM "$auth_pid" 2>/dev/null || true' EXIT
auth_addr=""
for _ in $(seq 100); do
  auth_addr="$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$auth_log" | head -1 | sed 's/listening on //')" || true
  [ -n "$auth_addr" ] && break
  kill -0 "$auth_pid" 2>/dev/null || { cat "$auth_log"; echo "the auth server exited before listening"; exit 1; }
  sleep 0.1
done
[ -n "$auth_addr" ] || { cat "$auth_log"; echo "the auth server did not report its address"; exit 1; }

status=0
(cd "$here" && BRAIN_WS_HTTP="http://$addr" BRAIN_WS_HTTP_AUTH="http://$auth_addr" CHROMIUM="$chromium_bin" \
  SCREENSHOT="${SCREENSHOT:-$here/test-page.png}" node test_page.mjs) || status=$?

# Graceful shutdown: SIGTERM must end the server with exit code 0.
kill -TERM "$auth_pid" 2>/dev/null || true
kill -TERM "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
trap - EXIT
if [ "$server_status" -ne 0 ]; then
  echo "the server exited with $server_status after SIGTERM"; tail -20 "$log"; status=1
fi
[ "$status" -eq 0 ] || { echo "server log: $log"; tail -20 "$log"; }
exit "$status"
