"""The specification's Python code, as written, with only the import path
(`backend.app.core.events` -> `brain_ws.events`) and the server address
changed, against the real server. The same snippets are in README.md."""

from __future__ import annotations

import asyncio
import json
import textwrap
from typing import Any

from brain_ws import events

from .conftest import RawSubscriber, Server

# "Event Broadcasting" -> "Backend Event Emitters" and "Custom Events".
# One change beyond the import: the specification's `"checks": {...}` is a
# placeholder (in Python, a set holding Ellipsis, which is not JSON).
EMITTERS = """
from brain_ws.events import (
    emit_mission_created,
    emit_mission_completed,
    emit_agent_started,
    emit_system_alert
)
from brain_ws.events import emit_mission_failed, emit_agent_heartbeat, emit_agent_error
from brain_ws.events import emit_system_health, emit_task_started, emit_task_completed
import time

async def main():
    # Mission created
    await emit_mission_created(
        mission_id="mission_123",
        mission_data={
            "name": "Deploy Application",
            "priority": "high"
        }
    )

    # Mission completed
    await emit_mission_completed(
        mission_id="mission_123",
        result={"status": "success"}
    )

    # Mission failed
    await emit_mission_failed(
        mission_id="mission_123",
        error="Deployment failed: timeout"
    )

    # Agent started
    await emit_agent_started(agent_id="ops_agent")

    # Agent heartbeat
    await emit_agent_heartbeat(
        agent_id="ops_agent",
        status={"health": "good", "tasks": 5}
    )

    # Agent error
    await emit_agent_error(
        agent_id="ops_agent",
        error="Task execution failed"
    )

    # System alert
    await emit_system_alert(
        level="warning",
        message="High memory usage detected",
        details={"memory_percent": 92.5}
    )

    # System health
    await emit_system_health({
        "status": "healthy",
        "checks": {"database": "ok"}
    })

    # Task started
    await emit_task_started(
        task_id="task_abc123",
        task_name="send_email"
    )

    # Task completed
    await emit_task_completed(
        task_id="task_abc123",
        task_name="send_email",
        result={"sent": True}
    )

    from brain_ws.events import emit_event, EventChannel

    await emit_event(
        channel=EventChannel.SYSTEM,
        event_type="custom_event",
        data={
            "custom_field": "value",
            "timestamp": time.time()
        }
    )
"""

# "Testing" -> "Manual Testing" -> "Using Python", with `uri` pointing at the
# test server; `asyncio.run(...)` is left to the test.
TEST_CLIENT = """
import asyncio
import websockets
import json

async def test_websocket():
    uri = "ws://localhost:8000/ws/connect"

    async with websockets.connect(uri) as websocket:
        # Receive welcome message
        message = await websocket.recv()
        print(f"Received: {message}")

        # Subscribe to channel
        await websocket.send(json.dumps({
            "type": "subscribe",
            "channel": "missions"
        }))

        # Listen for messages
        while True:
            message = await websocket.recv()
            data = json.loads(message)
            print(f"Received: {data}")

            # Respond to ping
            if data.get("type") == "ping":
                await websocket.send(json.dumps({"type": "pong"}))
"""


async def test_backend_emitters_as_written(configured: Server, raw: RawSubscriber) -> None:
    for channel in ("missions", "agents", "system", "tasks"):
        await raw.subscribe(channel)
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(EMITTERS), namespace)
    await namespace["main"]()
    received = [await raw.next() for _ in range(11)]
    assert [(f["channel"], f["type"]) for f in received] == [
        ("missions", "mission_created"),
        ("missions", "mission_completed"),
        ("missions", "mission_failed"),
        ("agents", "agent_started"),
        ("agents", "agent_heartbeat"),
        ("agents", "agent_error"),
        ("system", "system_alert"),
        ("system", "system_health"),
        ("tasks", "task_started"),
        ("tasks", "task_completed"),
        ("system", "custom_event"),
    ]
    assert received[0]["data"] == {
        "mission_id": "mission_123",
        "name": "Deploy Application",
        "priority": "high",
    }
    assert received[7]["data"] == {"status": "healthy", "checks": {"database": "ok"}}
    assert set(received[10]["data"]) == {"custom_field", "timestamp"}
    await raw.nothing()


async def test_python_test_client_as_written(server_factory: type[Server]) -> None:
    # A 1 s heartbeat, so the client's hand-written pong is exercised.
    server = server_factory("--heartbeat-interval", "1s", "--heartbeat-timeout", "1s")
    events.configure(server.http)
    source = TEST_CLIENT.replace("ws://localhost:8000/ws/connect", server.ws)
    printed: list[str] = []
    namespace: dict[str, Any] = {"print": printed.append}
    exec(textwrap.dedent(source), namespace)
    client = asyncio.create_task(namespace["test_websocket"]())
    try:
        while len(printed) < 2:  # the welcome and `subscribed`
            await asyncio.sleep(0.02)
        await asyncio.sleep(2.5)  # two heartbeats answered by hand
        await events.emit_mission_started(mission_id="m1")
        while not any("mission_started" in line for line in printed):
            await asyncio.sleep(0.02)
        assert not client.done()  # still connected: pongs were accepted
    finally:
        client.cancel()
        await asyncio.gather(client, return_exceptions=True)
        await events.aclose()
    assert json.loads(printed[0].removeprefix("Received: "))["type"] == "connected"
    assert "'type': 'subscribed'" in printed[1]
    assert sum("'type': 'ping'" in line for line in printed) >= 2
