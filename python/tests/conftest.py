"""Fixtures: the real `brain-ws-server` binary on a free port (`server.py`)
and raw WebSocket subscribers that record every frame."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
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
