"""A FastAPI service whose own endpoints emit a mission lifecycle through
`brain_ws.events`, as the specification's backends do.

    pip install "./python[fastapi]" uvicorn
    BRAIN_WS_HTTP_URL=http://127.0.0.1:8000 BRAIN_WS_API_KEY=... \\
        uvicorn fastapi_app:app --app-dir python/examples --port 8080

    curl -X POST localhost:8080/missions -H 'content-type: application/json' \\
        -d '{"name": "Deploy Application", "priority": "high"}'
    curl -X POST localhost:8080/missions/<id>/start
    curl -X POST localhost:8080/missions/<id>/complete -d '{"result": {"status": "success"}}' \\
        -H 'content-type: application/json'

Subscribers of the BRAiN channel `missions` see `mission_created`,
`mission_started`, `mission_completed` (or `mission_failed`,
`mission_cancelled`). The server is read from `BRAIN_WS_HTTP_URL` and
`BRAIN_WS_API_KEY` (see `brain_ws.events`). When the BRAiN server refuses
or cannot be reached, the endpoint answers 502 with the server's error code.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from brain_ws import PublishError
from brain_ws.events import (
    aclose,
    emit_mission_cancelled,
    emit_mission_completed,
    emit_mission_created,
    emit_mission_failed,
    emit_mission_started,
)


class NewMission(BaseModel):
    name: str
    priority: Literal["low", "normal", "high"] = "normal"


class Completion(BaseModel):
    result: Any = None


class Failure(BaseModel):
    error: str


class Cancellation(BaseModel):
    reason: str | None = None


class Mission(BaseModel):
    mission_id: str
    name: str
    priority: str
    status: Literal["created", "running", "completed", "failed", "cancelled"]


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    await aclose()  # release the emitters' pooled connections


app = FastAPI(title="missions (brain-ws example)", lifespan=lifespan)
missions: dict[str, Mission] = {}


def _mission(mission_id: str) -> Mission:
    mission = missions.get(mission_id)
    if mission is None:
        raise HTTPException(404, f"no mission {mission_id}")
    return mission


@app.exception_handler(PublishError)
async def brain_ws_refused(_: Request, exc: PublishError) -> JSONResponse:
    """The BRAiN server refused the event or could not be reached: 502, with
    its error code, and the endpoint's state change is not made."""
    return JSONResponse({"detail": {"brain_ws": exc.code, "status": exc.status}}, status_code=502)


@app.post("/missions", status_code=201)
async def create_mission(body: NewMission) -> Mission:
    mission = Mission(
        mission_id=f"mission_{uuid.uuid4().hex[:8]}",
        name=body.name,
        priority=body.priority,
        status="created",
    )
    await emit_mission_created(
        mission_id=mission.mission_id,
        mission_data={"name": mission.name, "priority": mission.priority},
    )
    missions[mission.mission_id] = mission
    return mission


@app.post("/missions/{mission_id}/start")
async def start_mission(mission_id: str) -> Mission:
    mission = _mission(mission_id)
    await emit_mission_started(mission_id=mission_id)
    mission.status = "running"
    return mission


@app.post("/missions/{mission_id}/complete")
async def complete_mission(mission_id: str, body: Completion) -> Mission:
    mission = _mission(mission_id)
    await emit_mission_completed(mission_id=mission_id, result=body.result)
    mission.status = "completed"
    return mission


@app.post("/missions/{mission_id}/fail")
async def fail_mission(mission_id: str, body: Failure) -> Mission:
    mission = _mission(mission_id)
    await emit_mission_failed(mission_id=mission_id, error=body.error)
    mission.status = "failed"
    return mission


@app.post("/missions/{mission_id}/cancel")
async def cancel_mission(mission_id: str, body: Cancellation) -> Mission:
    mission = _mission(mission_id)
    await emit_mission_cancelled(mission_id=mission_id, reason=body.reason)
    mission.status = "cancelled"
    return mission
