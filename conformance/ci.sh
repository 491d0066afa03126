#!/usr/bin/env bash
# Conformance step for .ci/run: build the reference server and the suite,
# start the server on a free port with a 1 s heartbeat (so the heartbeat
# scenarios run), an API key and client publish on `chat:*`, run every
# scenario against it, stop the server, and fail on any failure.
#
#   bash conformance/ci.sh            # from the repository root
#
# Writes the JUnit report to $CONFORMANCE_JUNIT when that is set.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -p brain-ws-server -p brain-ws-conformance
bin="${CARGO_TARGET_DIR:-target}/debug"

log="$(mktemp)"
key="conformance-ci-key-$$-$RANDOM$RANDOM"
NO_COLOR=1 RUST_LOG=info "$bin/brain-ws-server" \
  --bind 127.0.0.1:0 \
  --heartbeat-interval 1s --heartbeat-timeout 1s \
  --api-key "$key" \
  --client-publish 'chat:*' >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

# Port 0: the server picks a free port and logs "listening on <addr>".
addr=""
for _ in $(seq 100); do
  addr="$(grep -oE 'listening on 127\.0\.0\.1:[0-9]+' "$log" | head -n1 | cut -d' ' -f3 || true)"
  [ -n "$addr" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "brain-ws-server exited before listening:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$addr" ]; then
  echo "brain-ws-server did not report its address within 10 s:" >&2
  cat "$log" >&2
  exit 1
fi

if [ -n "${CONFORMANCE_JUNIT:-}" ]; then
  "$bin/brain-ws-conformance" --url "ws://$addr" --api-key "$key" --format junit >"$CONFORMANCE_JUNIT" || true
fi
"$bin/brain-ws-conformance" --url "ws://$addr" --api-key "$key"
