#!/usr/bin/env bash
# Conformance step for .ci/run: build the reference server and the suite,
# start the server on a free port with a 1 s heartbeat (so the heartbeat
# scenarios run), an API key, client publish on `chat:*` and presence on
# `presence:*` (so the presence scenarios run), run every
# scenario against it, stop the server, and fail on any failure.
#
#   bash conformance/ci.sh            # from the repository root
#   bash conformance/ci.sh --broker redis://127.0.0.1:6379/0   # extra server flags
#   bash conformance/ci.sh --tls      # over wss:// and https:// (first argument)
#
# With --tls, a throwaway CA and a certificate for 127.0.0.1 are made by
# `cargo run -p brain-ws-server --example test_certs`, the server gets
# --tls-cert/--tls-key and the suite --ca-file, so every scenario runs over TLS.
#
# The server verifies HS256 tokens with a throwaway secret, and the suite gets
# a token for it and the secret itself (--jwt-secret, to sign an expired
# token), so the authentication and send-to-user scenarios run too.
#
# Writes the JUnit report to $CONFORMANCE_JUNIT when that is set.
set -euo pipefail
cd "$(dirname "$0")/.."

scheme=ws
tls_server=()
tls_suite=()
certs=""
if [ "${1:-}" = "--tls" ]; then
  shift
  scheme=wss
  certs="$(mktemp -d)"
  cargo run -q -p brain-ws-server --example test_certs -- "$certs" >/dev/null
  tls_server=(--tls-cert "$certs/server.pem" --tls-key "$certs/server-key.pem")
  tls_suite=(--ca-file "$certs/ca.pem")
fi

cargo build -p brain-ws-server -p brain-ws-conformance
bin="${CARGO_TARGET_DIR:-target}/debug"

log="$(mktemp)"
key="conformance-ci-key-$$-$RANDOM$RANDOM"
secret="conformance-ci-secret-$$-$RANDOM$RANDOM-0123456789abcdef"
# A one-hour HS256 token for user "conformance", minted with the standard library.
token="$(python3 - "$secret" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": "conformance", "exp": int(time.time()) + 3600}).encode())
sig = hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
print(f"{head}.{body}.{b64(sig)}")
PY
)"
NO_COLOR=1 RUST_LOG=info "$bin/brain-ws-server" \
  --bind 127.0.0.1:0 \
  --heartbeat-interval 1s --heartbeat-timeout 1s \
  --api-key "$key" \
  --auth optional --jwt-secret "$secret" \
  --client-publish 'chat:*' --presence-channel 'presence:*' "${tls_server[@]}" "$@" >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -f "$log"
  [ -n "$certs" ] && rm -rf "$certs"
  return 0
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
  "$bin/brain-ws-conformance" --url "$scheme://$addr" "${tls_suite[@]}" --api-key "$key" --token "$token" --jwt-secret "$secret" --format junit >"$CONFORMANCE_JUNIT" || true
fi
"$bin/brain-ws-conformance" --url "$scheme://$addr" "${tls_suite[@]}" --api-key "$key" --token "$token" --jwt-secret "$secret"
