"""The real `brain-ws-server` binary as a child process on a free port
(used by the tests' fixtures and by bench/subscriber.py), and HS256 tokens.

The binary is `$BRAIN_WS_SERVER_BIN`, else `target/debug/brain-ws-server` at
the repository root (`cargo build -p brain-ws-server`; `.ci/run` builds it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("BRAIN_WS_SERVER_BIN", REPO / "target" / "debug" / "brain-ws-server"))
JWT_SECRET = "python-tests-secret-0123456789abcdef0123456789"


def mint_token(sub: str, secret: str = JWT_SECRET, lifetime: int = 3600) -> str:
    """An HS256 JWT for user `sub`, made with the standard library."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": sub, "exp": int(time.time()) + lifetime}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


class Server:
    """One `brain-ws-server` process; `restart()` brings it back on the same port."""

    def __init__(self, *args: str) -> None:
        if not BINARY.exists():
            raise RuntimeError(f"{BINARY} is missing: run `cargo build -p brain-ws-server`")
        self.args = list(args)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        # Kept open for the server's lifetime; closed and removed by `stop()`.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="brain-ws-py-", suffix=".log", delete=False
        )
        self.start()

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/connect"

    def start(self) -> None:
        self.log.seek(0, os.SEEK_END)
        offset = self.log.tell()
        self.proc = subprocess.Popen(
            [str(BINARY), "--bind", f"127.0.0.1:{self.port}", *self.args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1", "RUST_LOG": "info"},
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = Path(self.log.name).read_bytes()[offset:].decode(errors="replace")
            found = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
            if found:
                self.port = int(found.group(1))
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"brain-ws-server exited: {text}")
            time.sleep(0.05)
        raise RuntimeError("brain-ws-server did not report its address within 20 s")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc = None

    def restart(self) -> None:
        """Start again on the same port (the old process must be gone)."""
        self.kill()
        self.start()

    def stop(self) -> None:
        self.kill()
        self.log.close()
        os.unlink(self.log.name)
