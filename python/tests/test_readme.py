"""python/README.md's code blocks: every block passes pyflakes-level checks
(no undefined name, no `await` outside a function), and the emitter and
publisher blocks run as written against the real server (only the address
changes), delivering exactly the events they promise."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from brain_ws import AsyncBrainPublisher

from .conftest import API_KEY, REPO, RawSubscriber, Server, raw_subscriber

README = REPO / "python" / "README.md"
RUFF = Path(sys.executable).with_name("ruff")


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", README.read_text(), flags=re.S | re.M)


def block_starting(first_import: str) -> str:
    [block] = [b for b in python_blocks() if first_import in b]
    return block


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_every_block_defines_what_it_uses(index: int) -> None:
    block = python_blocks()[index]
    lint = subprocess.run(
        # F: undefined names and unused imports; PLE1142: await outside async.
        [
            *(str(RUFF), "check", "--isolated", "--no-cache", "--select", "F,E9,PLE1142"),
            *("--stdin-filename", f"readme_block_{index}.py", "-"),
        ],
        input=block,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def run_block(
    block: str, server: Server, api_key: str | None = API_KEY
) -> subprocess.CompletedProcess[str]:
    script = block.replace("http://127.0.0.1:8000", server.http)
    env = {k: v for k, v in os.environ.items() if k != "BRAIN_WS_API_KEY"}
    env["BRAIN_WS_HTTP_URL"] = server.http
    if api_key is not None:
        env["BRAIN_WS_API_KEY"] = api_key
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )


async def received(sub: RawSubscriber, count: int) -> list[tuple[str, dict[str, object]]]:
    return [(f["type"], f["data"]) for f in [await sub.next() for _ in range(count)]]


async def test_the_emitter_block_publishes_each_event_once(server_factory: type[Server]) -> None:
    server = server_factory("--api-key", API_KEY)
    missions = await raw_subscriber(server.ws)
    system = await raw_subscriber(server.ws)
    agents = await raw_subscriber(server.ws)
    try:
        await missions.subscribe("missions")
        await system.subscribe("system")
        await agents.subscribe("agents")
        done = run_block(block_starting("from brain_ws.events import ("), server)
        assert done.returncode == 0, done.stderr
        assert await received(missions, 2) == [
            (
                "mission_created",
                {
                    "mission_id": "mission_123",
                    "name": "Deploy Application",
                    "priority": "high",
                },
            ),
            ("mission_completed", {"mission_id": "mission_123", "result": {"status": "success"}}),
        ]
        assert await received(agents, 1) == [("agent_started", {"agent_id": "agent_7"})]
        [alert, health, custom] = await received(system, 3)
        assert alert == (
            "system_alert",
            {
                "level": "warning",
                "message": "High memory usage detected",
                "details": {"memory_percent": 92.5},
            },
        )
        assert health == ("system_health", {"status": "healthy", "checks": {"database": "ok"}})
        assert custom[0] == "custom_event"
        assert custom[1]["custom_field"] == "value"
        await missions.nothing()
    finally:
        for sub in (missions, system, agents):
            await sub.ws.close()


async def test_the_publisher_block_runs_as_written(server_factory: type[Server]) -> None:
    server = server_factory("--api-key", API_KEY)
    missions = await raw_subscriber(server.ws)
    try:
        await missions.subscribe("missions")
        done = run_block(block_starting("from brain_ws import BrainPublisher"), server)
        assert done.returncode == 0, done.stderr
        # The sync publisher's broadcast and broadcast_all (every connection),
        # then the async one's broadcast, and what it printed.
        assert await received(missions, 3) == [
            ("mission_update", {"mission_id": "m1"}),
            ("system_announcement", {"message": "maintenance in 5 minutes"}),
            ("mission_update", {"mission_id": "m1"}),
        ]
        assert done.stdout == "broadcasted 1\n"
    finally:
        await missions.ws.close()


@pytest.mark.parametrize(
    "first_import", ["from brain_ws.events import (", "from brain_ws import BrainPublisher"]
)
async def test_the_blocks_run_against_the_readme_server_without_a_key(
    server_factory: type[Server], first_import: str
) -> None:
    # The README's server has no --api-key and BRAIN_WS_API_KEY is unset in a
    # new user's shell: the admin API answers loopback peers, and the blocks
    # must not stop on a KeyError before they publish.
    server = server_factory()
    missions = await raw_subscriber(server.ws)
    try:
        await missions.subscribe("missions")
        done = run_block(block_starting(first_import), server, api_key=None)
        assert done.returncode == 0, done.stderr
        [(first_type, first_data)] = await received(missions, 1)
        if first_import.startswith("from brain_ws.events"):
            assert (first_type, first_data["mission_id"]) == ("mission_created", "mission_123")
        else:
            assert (first_type, first_data) == ("mission_update", {"mission_id": "m1"})
    finally:
        await missions.ws.close()


async def test_the_rewind_and_presence_block_runs_as_written(server_factory: type[Server]) -> None:
    server = server_factory("--presence-channels", "agents")
    async with AsyncBrainPublisher(server.http) as publisher:
        for n in range(1, 5):
            await publisher.broadcast("missions", "mission_started", {"mission_id": f"m{n}"})
    script = block_starting("import AsyncBrainPublisher, BrainClient, PresenceChange").replace(
        "127.0.0.1:8000", f"127.0.0.1:{server.port}"
    )
    env = {k: v for k, v in os.environ.items() if k != "BRAIN_WS_API_KEY"}
    block = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert block.stdout is not None
    lines = [(await asyncio.wait_for(block.stdout.readline(), 30)).decode() for _ in range(5)]
    # The member (the block's own connection) and the count were printed:
    # now another connection joins, and the block prints its join and the history.
    other = await raw_subscriber(server.ws)
    try:
        await other.subscribe("agents")
        out, err = await asyncio.wait_for(block.communicate(), 30)
    finally:
        await other.ws.close()
    assert block.returncode == 0, err.decode()
    rest = out.decode().splitlines()
    assert lines[:3] == [f"replayed {n} mission_started\n" for n in (2, 3, 4)]
    assert "connection_id=UUID(" in lines[3]
    assert lines[4] == "1\n"
    assert rest[0] == f"join {other.welcome['connection_id']}"
    assert "data={'mission_id': 'm3'}, offset=3" in rest[1]
    assert "data={'mission_id': 'm4'}, offset=4" in rest[1]
