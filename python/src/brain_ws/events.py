"""The specification's backend event emitters ("Event Broadcasting",
"Backend Event Emitters"), by the same names and keywords:

```python
from brain_ws.events import emit_mission_created, emit_event, EventChannel

await emit_mission_created(
    mission_id="mission_123",
    mission_data={"name": "Deploy Application", "priority": "high"},
)
await emit_event(channel=EventChannel.SYSTEM, event_type="custom_event", data={"k": "v"})
```

Each emitter builds the catalogue payload (docs/protocol.md, Event
catalogue), checks it against the model generated from `schemas/events/`
(a payload that does not fit raises `PayloadError` and nothing is sent), and
publishes it on its standard channel with `POST /api/ws/broadcast`, or to
one user's connections with `POST /api/ws/users/{user_id}/send` when the
keyword-only target `user_id=` is given (`to_user=` for `emit_audit_log`,
whose payload has its own `user_id`). Each returns the server's answer
(`BroadcastResponse` or `SendToUserResponse`) and raises `PublishError` on
failure; retries as `AsyncBrainPublisher`: a channel broadcast sends one
`idempotency_key` per emitter call (a uuid4; `emit_event` takes yours), so a
retried emit is delivered once and a repeat answers `status="duplicate"`; a
`user_id=` send has no key, so an ambiguous retry may deliver it twice.

The publisher is set once per process by `configure(base_url, api_key)`, or
read from the environment: `BRAIN_WS_HTTP_URL` (the server's HTTP origin, e.g.
`http://127.0.0.1:8000`) and `BRAIN_WS_API_KEY`.
"""

from __future__ import annotations

import asyncio
import enum
import os
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .errors import BrainWSError, PayloadError
from .generated.catalog import CATALOG
from .generated.http.broadcast_response import BroadcastResponse
from .generated.http.send_to_user_response import SendToUserResponse
from .publisher import AsyncBrainPublisher

__all__ = [
    "EmitResult",
    "EventChannel",
    "aclose",
    "configure",
    "emit_agent_error",
    "emit_agent_heartbeat",
    "emit_agent_started",
    "emit_agent_stopped",
    "emit_audit_log",
    "emit_event",
    "emit_metrics_update",
    "emit_mission_cancelled",
    "emit_mission_completed",
    "emit_mission_created",
    "emit_mission_failed",
    "emit_mission_started",
    "emit_system_alert",
    "emit_system_health",
    "emit_system_shutdown",
    "emit_system_startup",
    "emit_task_completed",
    "emit_task_failed",
    "emit_task_queued",
    "emit_task_started",
    "get_publisher",
]

EmitResult = BroadcastResponse | SendToUserResponse
"""What an emitter returns: the broadcast's or the send-to-user's answer."""


class EventChannel(str, enum.Enum):
    """The six standard channels (the specification's `EventChannel`)."""

    MISSIONS = "missions"
    AGENTS = "agents"
    SYSTEM = "system"
    TASKS = "tasks"
    AUDIT = "audit"
    METRICS = "metrics"

    def __str__(self) -> str:
        return self.value


@dataclass
class _Settings:
    base_url: str | None = None
    api_key: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # httpx's async pool belongs to the event loop that created it, so each
    # loop gets its own publisher.
    per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncBrainPublisher] = field(
        default_factory=weakref.WeakKeyDictionary
    )


_settings = _Settings()


def configure(base_url: str, api_key: str | None = None, **publisher_options: Any) -> None:
    """Set the server the emitters publish to.

    Args:
        base_url: the server's HTTP origin, e.g. `http://127.0.0.1:8000`.
        api_key: the admin API key, if the server has keys.
        publisher_options: passed to `AsyncBrainPublisher` (`timeout`,
            `retries`, `retry_backoff`, `retry_ambiguous`, `transport`).

    Replaces earlier settings; publishers made from them are dropped (close
    them first with `aclose()` to release their connections at once).
    """
    _settings.base_url = base_url
    _settings.api_key = api_key
    _settings.options = dict(publisher_options)
    _settings.per_loop = weakref.WeakKeyDictionary()


def get_publisher() -> AsyncBrainPublisher:
    """The emitters' publisher for the running event loop.

    From `configure(...)`, else from `BRAIN_WS_HTTP_URL` / `BRAIN_WS_API_KEY`.
    Raises `BrainWSError` when neither is set.
    """
    loop = asyncio.get_running_loop()
    publisher = _settings.per_loop.get(loop)
    if publisher is None:
        base_url = _settings.base_url or os.environ.get("BRAIN_WS_HTTP_URL")
        if not base_url:
            raise BrainWSError(
                "no BRAiN server configured: call brain_ws.events.configure(base_url, api_key) "
                "or set BRAIN_WS_HTTP_URL"
            )
        api_key = _settings.api_key if _settings.base_url else os.environ.get("BRAIN_WS_API_KEY")
        publisher = AsyncBrainPublisher(base_url, api_key, **_settings.options)
        _settings.per_loop[loop] = publisher
    return publisher


async def aclose() -> None:
    """Close the running loop's emitter publisher (e.g. in an app's shutdown)."""
    publisher = _settings.per_loop.pop(asyncio.get_running_loop(), None)
    if publisher is not None:
        await publisher.aclose()


def _check(event_type: str, data: Any) -> None:
    """Refuse a catalogue event whose payload does not fit its model."""
    entry = CATALOG.get(event_type)
    if entry is None:
        return
    try:
        entry.model.model_validate(data)
    except ValidationError as exc:
        raise PayloadError(f"{event_type}: payload does not fit the catalogue: {exc}") from exc


async def _publish(
    channel: str,
    event_type: str,
    data: Any,
    user_id: str | None,
    idempotency_key: str | None = None,
) -> EmitResult:
    _check(event_type, data)
    publisher = get_publisher()
    if user_id is not None:
        return await publisher.send_to_user(user_id, event_type, data)
    return await publisher.broadcast(channel, event_type, data, idempotency_key=idempotency_key)


def _flatten(
    event_type: str, key: str, value: str, fields: Mapping[str, Any] | None
) -> dict[str, Any]:
    """`{key: value, **fields}`, refusing a `fields` that would overwrite `key`."""
    fields = dict(fields or {})
    if key in fields:
        raise PayloadError(f"{event_type}: the flattened fields must not contain {key!r}")
    return {key: value, **fields}


def _with_optional(payload: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """Optional catalogue fields are omitted when `None` (docs/protocol.md)."""
    payload.update({k: v for k, v in optional.items() if v is not None})
    return payload


# --- missions ---------------------------------------------------------------


async def emit_mission_created(
    mission_id: str, mission_data: Mapping[str, Any] | None = None, *, user_id: str | None = None
) -> EmitResult:
    """`mission_created` on `missions`: `{"mission_id", **mission_data}`
    (the mission's fields flattened next to `mission_id`)."""
    data = _flatten("mission_created", "mission_id", mission_id, mission_data)
    return await _publish(EventChannel.MISSIONS.value, "mission_created", data, user_id)


async def emit_mission_started(mission_id: str, *, user_id: str | None = None) -> EmitResult:
    """`mission_started` on `missions`: `{"mission_id"}`."""
    data = {"mission_id": mission_id}
    return await _publish(EventChannel.MISSIONS.value, "mission_started", data, user_id)


async def emit_mission_completed(
    mission_id: str, result: Any = None, *, user_id: str | None = None
) -> EmitResult:
    """`mission_completed` on `missions`: `{"mission_id", "result"?}`."""
    data = _with_optional({"mission_id": mission_id}, result=result)
    return await _publish(EventChannel.MISSIONS.value, "mission_completed", data, user_id)


async def emit_mission_failed(
    mission_id: str, error: str, *, user_id: str | None = None
) -> EmitResult:
    """`mission_failed` on `missions`: `{"mission_id", "error"}`."""
    data = {"mission_id": mission_id, "error": error}
    return await _publish(EventChannel.MISSIONS.value, "mission_failed", data, user_id)


async def emit_mission_cancelled(
    mission_id: str, reason: str | None = None, *, user_id: str | None = None
) -> EmitResult:
    """`mission_cancelled` on `missions`: `{"mission_id", "reason"?}`."""
    data = _with_optional({"mission_id": mission_id}, reason=reason)
    return await _publish(EventChannel.MISSIONS.value, "mission_cancelled", data, user_id)


# --- agents -----------------------------------------------------------------


async def emit_agent_started(agent_id: str, *, user_id: str | None = None) -> EmitResult:
    """`agent_started` on `agents`: `{"agent_id"}`."""
    return await _publish(
        EventChannel.AGENTS.value, "agent_started", {"agent_id": agent_id}, user_id
    )


async def emit_agent_stopped(agent_id: str, *, user_id: str | None = None) -> EmitResult:
    """`agent_stopped` on `agents`: `{"agent_id"}`."""
    return await _publish(
        EventChannel.AGENTS.value, "agent_stopped", {"agent_id": agent_id}, user_id
    )


async def emit_agent_heartbeat(
    agent_id: str, status: Any, *, user_id: str | None = None
) -> EmitResult:
    """`agent_heartbeat` on `agents`: `{"agent_id", "status"}`; `status` is
    any JSON value (e.g. `{"health": "good", "tasks": 5}`)."""
    data = {"agent_id": agent_id, "status": status}
    return await _publish(EventChannel.AGENTS.value, "agent_heartbeat", data, user_id)


async def emit_agent_error(agent_id: str, error: str, *, user_id: str | None = None) -> EmitResult:
    """`agent_error` on `agents`: `{"agent_id", "error"}`."""
    data = {"agent_id": agent_id, "error": error}
    return await _publish(EventChannel.AGENTS.value, "agent_error", data, user_id)


# --- system -----------------------------------------------------------------


async def emit_system_startup(status: str, *, user_id: str | None = None) -> EmitResult:
    """`system_startup` on `system`: `{"status"}`."""
    return await _publish(EventChannel.SYSTEM.value, "system_startup", {"status": status}, user_id)


async def emit_system_shutdown(status: str, *, user_id: str | None = None) -> EmitResult:
    """`system_shutdown` on `system`: `{"status"}`."""
    return await _publish(EventChannel.SYSTEM.value, "system_shutdown", {"status": status}, user_id)


async def emit_system_health(
    health: Mapping[str, Any], *, user_id: str | None = None
) -> EmitResult:
    """`system_health` on `system`: the health report's fields, flattened
    (the specification calls `emit_system_health({"status": ..., "checks": ...})`)."""
    return await _publish(EventChannel.SYSTEM.value, "system_health", dict(health), user_id)


async def emit_system_alert(
    level: str, message: str, details: Any = None, *, user_id: str | None = None
) -> EmitResult:
    """`system_alert` on `system`: `{"level", "message", "details"}`;
    `level` is `info`, `warning`, `error` or `critical`; `details` is `null`
    when absent."""
    data = {"level": level, "message": message, "details": details}
    return await _publish(EventChannel.SYSTEM.value, "system_alert", data, user_id)


# --- tasks ------------------------------------------------------------------


async def emit_task_queued(
    task_id: str, task_name: str, *, user_id: str | None = None
) -> EmitResult:
    """`task_queued` on `tasks`: `{"task_id", "task_name"}`."""
    data = {"task_id": task_id, "task_name": task_name}
    return await _publish(EventChannel.TASKS.value, "task_queued", data, user_id)


async def emit_task_started(
    task_id: str, task_name: str, *, user_id: str | None = None
) -> EmitResult:
    """`task_started` on `tasks`: `{"task_id", "task_name"}`."""
    data = {"task_id": task_id, "task_name": task_name}
    return await _publish(EventChannel.TASKS.value, "task_started", data, user_id)


async def emit_task_completed(
    task_id: str, task_name: str, result: Any = None, *, user_id: str | None = None
) -> EmitResult:
    """`task_completed` on `tasks`: `{"task_id", "task_name", "result"?}`."""
    data = _with_optional({"task_id": task_id, "task_name": task_name}, result=result)
    return await _publish(EventChannel.TASKS.value, "task_completed", data, user_id)


async def emit_task_failed(
    task_id: str, task_name: str, error: str, *, user_id: str | None = None
) -> EmitResult:
    """`task_failed` on `tasks`: `{"task_id", "task_name", "error"}`."""
    data = {"task_id": task_id, "task_name": task_name, "error": error}
    return await _publish(EventChannel.TASKS.value, "task_failed", data, user_id)


# --- metrics and audit ------------------------------------------------------


async def emit_metrics_update(
    metrics: Mapping[str, Any], *, user_id: str | None = None
) -> EmitResult:
    """`metrics_update` on `metrics`: the metrics (names -> values), flattened."""
    return await _publish(EventChannel.METRICS.value, "metrics_update", dict(metrics), user_id)


async def emit_audit_log(
    action: str, user_id: str, resource: str, details: Any = None, *, to_user: str | None = None
) -> EmitResult:
    """`audit_log` on `audit`: `{"action", "user_id", "resource", "details"}`;
    `user_id` is the audited user (a payload field), `to_user` the optional
    target; `details` is `null` when absent."""
    data = {"action": action, "user_id": user_id, "resource": resource, "details": details}
    return await _publish(EventChannel.AUDIT.value, "audit_log", data, to_user)


# --- any event --------------------------------------------------------------


async def emit_event(
    channel: EventChannel | str,
    event_type: str,
    data: Any = None,
    *,
    user_id: str | None = None,
    idempotency_key: str | None = None,
) -> EmitResult:
    """Any event on any channel (the specification's custom events).

    A catalogue `event_type` is checked against its model like the named
    emitters (`PayloadError` before sending); other types are sent as given.
    An invalid channel or event type is refused by the server with
    `PublishError(422, "invalid_body")`. `idempotency_key`: see
    `BrainPublisher.broadcast` (default a uuid4 per call; not sent with
    `user_id=`, whose endpoint takes no key).
    """
    name = channel.value if isinstance(channel, EventChannel) else channel
    return await _publish(name, event_type, data, user_id, idempotency_key)
