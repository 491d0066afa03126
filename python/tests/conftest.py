"""Fixtures: the real `brain-ws-server` binary on a free port (`server.py`)
and raw WebSocket subscribers that record every frame."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from brain_ws import events

from .server import JWT_SECRET, REPO, Server, mint_token

__all__ = ["JWT_SECRET", "REPO", "Server", "mint_token"]

API_KEY = "python-tests-key"
REDIS_URL = os.environ.get("BRAIN_WS_TEST_REDIS", "redis://127.0.0.1:6379/0")


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
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test alone on the shared Redis; its keys (and
    only those) are deleted afterwards when `redis-cli` is installed (they
    expire within a day anyway). Request it before `server_factory`, so the
    servers stop before the keys go."""
    prefix = f"brain-ws-py-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield prefix
    cli = shutil.which("redis-cli")
    if cli is None:
        return
    scan = [cli, "-u", REDIS_URL, "--scan", "--pattern", f"{prefix}:*"]
    keys = subprocess.run(scan, capture_output=True, text=True, check=False).stdout.split()
    if keys:
        subprocess.run([cli, "-u", REDIS_URL, "del", *keys], capture_output=True, check=False)


class PrivateRedis:
    """A redis-server of the test's own on a free 127.0.0.1 port, without
    persistence, so `kill()` then `start()` brings it back *empty* on the
    same port (never the shared Redis, which tests must not restart)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            [self.binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1) as s,
            ):
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            time.sleep(0.05)
        raise RuntimeError("the private redis-server did not answer PING within 10 s")

    def kill(self) -> None:
        """SIGKILL (no shutdown save); only this test's own process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A `PrivateRedis`, killed at the end; request it before `server_factory`
    so the servers stop first."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    redis = PrivateRedis(binary)
    yield redis
    redis.kill()


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
