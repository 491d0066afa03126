#!/usr/bin/env bash
# CI step for the Python package (brain-ws): a fresh venv, the package with
# its test extras (pinned generator, ruff, mypy, pytest), then
#   1. src/brain_ws/generated is fresh against schemas/ (datamodel-code-generator),
#   2. ruff check, 3. mypy --strict, 4. pytest against the real server binary
#      (the Redis tests use $BRAIN_WS_TEST_REDIS, default the local 6379/0,
#      under a unique key prefix).
#
#   bash python/ci.sh       # from the repository root
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -p brain-ws-server
export BRAIN_WS_SERVER_BIN="$PWD/${CARGO_TARGET_DIR:-target}/debug/brain-ws-server"

cd python
venv="${BRAIN_WS_PY_VENV:-.venv}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -e ".[test]"

"$venv/bin/python" scripts/generate.py --check
"$venv/bin/ruff" check src tests scripts examples bench
"$venv/bin/ruff" format --check src tests scripts examples bench
"$venv/bin/mypy"
"$venv/bin/pytest" -q
