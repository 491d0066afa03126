"""Fixtures: the real `brain-ws-server` binary on a free port, raw WebSocket
subscribers that record every frame, and HS256 tokens.

The binary is `$BRAIN_WS_SERVER_BIN`, else `target/debug/brain-ws-server` at
the repository root (`cargo build -p brain-ws-server`; `.ci/run` builds it).
"""

from __future__ import annotations

import asyncio
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
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from brain_ws import events

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("BRAIN_WS_SERVER_BIN", REPO / "target" / "debug" / "brain-ws-server"))
API_KEY = "python-tests-key"
JWT_SECRET = "python-tests-secret-0123456789abcdef0123456789"
REDIS_URL = os.environ.get("BRAIN_WS_TEST_REDIS", "redis://127.0.0.1:6379/0")


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


@pytest.fixture
def server_factory() -> Iterator[type[Server]]:
    """Start servers with any flags; all are killed at the end of the test."""
    started: list[Server] = []

    class Tracked(Server):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Tracked
    for server in started:
        server.stop()


@pytest.fixture
def server(server_factory: type[Server]) -> Server:
    """A server with an API key and HS256 tokens (auth `optional`)."""
    return server_factory("--api-key", API_KEY, "--auth", "optional", "--jwt-secret", JWT_SECRET)


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of this test alone on the shared Redis."""
    return f"brain-ws-py-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def configured(server: Server) -> Iterator[Server]:
    """`brain_ws.events` configured for `server`."""
    events.configure(server.http, API_KEY)
    yield server
    events.configure("http://127.0.0.1:9", None)


class RawSubscriber:
    """A plain `websockets` connection that records every frame, as the
    specification's Python test client does (pongs answered by hand)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome: dict[str, Any] = {}

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame other than `ping` (answered with `pong`)."""
        while True:
            frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if frame["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            return frame

    async def subscribe(self, channel: str) -> dict[str, Any]:
        await self.send({"type": "subscribe", "channel": channel})
        answer = await self.next()
        assert answer["type"] == "subscribed", answer
        return answer

    async def nothing(self, within: float = 0.3) -> None:
        """Assert no frame arrives within `within` seconds."""
        with pytest.raises(asyncio.TimeoutError):
            await self.next(timeout=within)


@pytest.fixture
async def raw(server: Server) -> AsyncIterator[RawSubscriber]:
    async with connect(server.ws, proxy=None) as ws:
        sub = RawSubscriber(ws)
        sub.welcome = await sub.next()
        yield sub


async def raw_subscriber(url: str, token: str | None = None) -> RawSubscriber:
    """A connected `RawSubscriber` (the caller closes `.ws`)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    ws = await connect(url, additional_headers=headers, proxy=None)
    sub = RawSubscriber(ws)
    sub.welcome = await sub.next()
    return sub
