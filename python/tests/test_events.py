"""`brain_ws.events`: the exact body each emitter puts on the wire (observed
by a subscriber of the real server), targets, payload refusal, configuration,
and the specification's snippets as written (module path changed)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from brain_ws import BrainWSError, PayloadError, PublishError, events
from brain_ws.events import EventChannel
from brain_ws.models import CATALOG, BroadcastResponse, SendToUserResponse

from .conftest import API_KEY, RawSubscriber, Server, mint_token, raw_subscriber

Emit = Callable[[], Awaitable[Any]]

# Every catalogue event: the call, and the exact (channel, type, data) on the wire.
CASES: list[tuple[Emit, str, str, Any]] = [
    (
        lambda: events.emit_mission_created(
            mission_id="mission_123",
            mission_data={"name": "Deploy Application", "priority": "high"},
        ),
        "missions",
        "mission_created",
        {"mission_id": "mission_123", "name": "Deploy Application", "priority": "high"},
    ),
    (
        lambda: events.emit_mission_started(mission_id="m1"),
        "missions",
        "mission_started",
        {"mission_id": "m1"},
    ),
    (
        lambda: events.emit_mission_completed(mission_id="m1", result={"status": "success"}),
        "missions",
        "mission_completed",
        {"mission_id": "m1", "result": {"status": "success"}},
    ),
    (
        lambda: events.emit_mission_completed(mission_id="m2"),
        "missions",
        "mission_completed",
        {"mission_id": "m2"},
    ),
    (
        lambda: events.emit_mission_failed(mission_id="m1", error="Deployment failed: timeout"),
        "missions",
        "mission_failed",
        {"mission_id": "m1", "error": "Deployment failed: timeout"},
    ),
    (
        lambda: events.emit_mission_cancelled(mission_id="m1", reason="superseded"),
        "missions",
        "mission_cancelled",
        {"mission_id": "m1", "reason": "superseded"},
    ),
    (
        lambda: events.emit_mission_cancelled(mission_id="m3"),
        "missions",
        "mission_cancelled",
        {"mission_id": "m3"},
    ),
    (
        lambda: events.emit_agent_started(agent_id="ops_agent"),
        "agents",
        "agent_started",
        {"agent_id": "ops_agent"},
    ),
    (
        lambda: events.emit_agent_stopped(agent_id="ops_agent"),
        "agents",
        "agent_stopped",
        {"agent_id": "ops_agent"},
    ),
    (
        lambda: events.emit_agent_heartbeat(
            agent_id="ops_agent", status={"health": "good", "tasks": 5}
        ),
        "agents",
        "agent_heartbeat",
        {"agent_id": "ops_agent", "status": {"health": "good", "tasks": 5}},
    ),
    (
        lambda: events.emit_agent_error(agent_id="ops_agent", error="Task execution failed"),
        "agents",
        "agent_error",
        {"agent_id": "ops_agent", "error": "Task execution failed"},
    ),
    (
        lambda: events.emit_system_startup(status="starting"),
        "system",
        "system_startup",
        {"status": "starting"},
    ),
    (
        lambda: events.emit_system_shutdown(status="stopping"),
        "system",
        "system_shutdown",
        {"status": "stopping"},
    ),
    (
        lambda: events.emit_system_health({"status": "healthy", "checks": {"db": "ok"}}),
        "system",
        "system_health",
        {"status": "healthy", "checks": {"db": "ok"}},
    ),
    (
        lambda: events.emit_system_alert(
            level="warning",
            message="High memory usage detected",
            details={"memory_percent": 92.5},
        ),
        "system",
        "system_alert",
        {
            "level": "warning",
            "message": "High memory usage detected",
            "details": {"memory_percent": 92.5},
        },
    ),
    (
        lambda: events.emit_system_alert(level="info", message="m"),
        "system",
        "system_alert",
        {"level": "info", "message": "m", "details": None},
    ),
    (
        lambda: events.emit_task_queued(task_id="t1", task_name="send_email"),
        "tasks",
        "task_queued",
        {"task_id": "t1", "task_name": "send_email"},
    ),
    (
        lambda: events.emit_task_started(task_id="task_abc123", task_name="send_email"),
        "tasks",
        "task_started",
        {"task_id": "task_abc123", "task_name": "send_email"},
    ),
    (
        lambda: events.emit_task_completed(
            task_id="task_abc123", task_name="send_email", result={"sent": True}
        ),
        "tasks",
        "task_completed",
        {"task_id": "task_abc123", "task_name": "send_email", "result": {"sent": True}},
    ),
    (
        lambda: events.emit_task_failed(task_id="t1", task_name="send_email", error="smtp down"),
        "tasks",
        "task_failed",
        {"task_id": "t1", "task_name": "send_email", "error": "smtp down"},
    ),
    (
        lambda: events.emit_metrics_update({"cpu_percent": 12.5, "connections": 3}),
        "metrics",
        "metrics_update",
        {"cpu_percent": 12.5, "connections": 3},
    ),
    (
        lambda: events.emit_audit_log(
            action="delete", user_id="user-7", resource="mission:m1", details={"why": "test"}
        ),
        "audit",
        "audit_log",
        {
            "action": "delete",
            "user_id": "user-7",
            "resource": "mission:m1",
            "details": {"why": "test"},
        },
    ),
    (
        lambda: events.emit_event(
            channel=EventChannel.SYSTEM, event_type="custom_event", data={"custom_field": "value"}
        ),
        "system",
        "custom_event",
        {"custom_field": "value"},
    ),
]


def test_every_catalogue_event_has_an_emitter_and_a_case() -> None:
    for event_type in CATALOG:
        assert inspect.iscoroutinefunction(getattr(events, f"emit_{event_type}")), event_type
    assert {case[2] for case in CASES} == {*CATALOG, "custom_event"}
    assert {c.value for c in EventChannel} == {entry.channel for entry in CATALOG.values()}


async def test_each_emitter_body_on_the_wire(configured: Server, raw: RawSubscriber) -> None:
    # Offsets continue from the channel's latest (the server itself emits
    # `system_startup` when it starts).
    offsets: dict[str, int] = {}
    for channel in EventChannel:
        offsets[channel.value] = (await raw.subscribe(channel.value))["offset"]
    assert offsets == {
        "missions": 0,
        "agents": 0,
        "system": 1,
        "tasks": 0,
        "audit": 0,
        "metrics": 0,
    }
    for emit, name, event_type, data in CASES:
        answer = await emit()
        assert answer == BroadcastResponse(status="broadcasted", channel=name, subscribers=1)
        frame = await raw.next()
        assert time.time() - 5 < frame.pop("timestamp") <= time.time()
        offsets[name] += 1
        assert frame == {
            "type": event_type,
            "channel": name,
            "data": data,
            "offset": offsets[name],
        }
    await raw.nothing()


async def test_user_id_target_sends_to_that_user_only(
    configured: Server, raw: RawSubscriber
) -> None:
    await raw.subscribe("missions")
    user = await raw_subscriber(configured.ws, mint_token("user-42"))
    try:
        answer = await events.emit_mission_started(mission_id="m1", user_id="user-42")
        assert answer == SendToUserResponse(status="sent", user_id="user-42", connections=1)
        frame = await user.next()
        frame.pop("timestamp")
        assert frame == {"type": "mission_started", "data": {"mission_id": "m1"}}
        answer = await events.emit_audit_log("login", "user-7", "session", to_user="user-42")
        assert isinstance(answer, SendToUserResponse)
        frame = await user.next()
        assert frame["data"] == {
            "action": "login",
            "user_id": "user-7",
            "resource": "session",
            "details": None,
        }
        await raw.nothing()
    finally:
        await user.ws.close()


@pytest.mark.parametrize(
    "emit",
    [
        lambda: events.emit_mission_failed(mission_id="m1", error=None),  # type: ignore[arg-type]
        lambda: events.emit_agent_started(agent_id=42),  # type: ignore[arg-type]
        lambda: events.emit_event(EventChannel.MISSIONS, "mission_failed", {"mission_id": "m1"}),
        lambda: events.emit_event("tasks", "task_queued", {"task_id": "t1"}),
        lambda: events.emit_system_alert(level="info", message=None),  # type: ignore[arg-type]
        lambda: events.emit_mission_created("m1", {"mission_id": "other"}),
    ],
)
async def test_bad_payload_is_refused_before_sending(
    configured: Server, raw: RawSubscriber, emit: Emit
) -> None:
    for channel in ("missions", "agents", "tasks", "system"):
        await raw.subscribe(channel)
    with pytest.raises(PayloadError):
        await emit()
    # Nothing was sent: the next frame is the marker published after.
    await events.emit_event("system", "marker", None)
    assert (await raw.next())["type"] == "marker"


async def test_emit_event_key_is_delivered_once(configured: Server, raw: RawSubscriber) -> None:
    await raw.subscribe("tasks")
    first = await events.emit_event("tasks", "custom_event", {"n": 1}, idempotency_key="job-7")
    again = await events.emit_event("tasks", "custom_event", {"n": 2}, idempotency_key="job-7")
    assert first == BroadcastResponse(status="broadcasted", channel="tasks", subscribers=1)
    assert again == BroadcastResponse(status="duplicate", channel="tasks", subscribers=0)
    # Without a key each emit is its own event.
    other = await events.emit_task_queued(task_id="t1", task_name="build")
    assert isinstance(other, BroadcastResponse)
    assert other.status == "broadcasted"
    assert [(await raw.next())["data"], (await raw.next())["data"]] == [
        {"n": 1},
        {"task_id": "t1", "task_name": "build"},
    ]
    await raw.nothing()


async def test_invalid_channel_or_type_is_the_servers_422(configured: Server) -> None:
    with pytest.raises(PublishError) as caught:
        await events.emit_event("no spaces", "custom_event", {})
    assert (caught.value.status, caught.value.code) == (422, "invalid_body")
    with pytest.raises(PublishError) as caught:
        await events.emit_event(EventChannel.SYSTEM, "ping", {})
    assert (caught.value.status, caught.value.code) == (422, "invalid_body")


async def test_environment_configuration(
    server: Server, raw: RawSubscriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "_settings", events._Settings())
    monkeypatch.delenv("BRAIN_WS_HTTP_URL", raising=False)
    with pytest.raises(BrainWSError, match="BRAIN_WS_HTTP_URL"):
        await events.emit_agent_started(agent_id="a")
    monkeypatch.setenv("BRAIN_WS_HTTP_URL", server.http)
    monkeypatch.setenv("BRAIN_WS_API_KEY", "wrong")
    with pytest.raises(PublishError) as caught:
        await events.emit_agent_started(agent_id="a")
    assert caught.value.status == 403
    await events.aclose()
    monkeypatch.setenv("BRAIN_WS_API_KEY", API_KEY)
    await raw.subscribe("agents")
    await events.emit_agent_started(agent_id="a")
    assert (await raw.next())["data"] == {"agent_id": "a"}
    await events.aclose()


def test_generated_models_refuse_bad_payloads() -> None:
    from pydantic import ValidationError

    from brain_ws.models import MissionCreated, MissionFailed, TaskCompleted

    with pytest.raises(ValidationError, match="error"):
        MissionFailed.model_validate({"mission_id": "m1"})
    with pytest.raises(ValidationError, match="task_name"):
        TaskCompleted.model_validate({"task_id": "t1", "result": 1})
    created = MissionCreated.model_validate({"mission_id": "m1", "name": "n"})
    assert created.model_dump() == {"mission_id": "m1", "name": "n"}  # extra fields kept
