"""`examples/fastapi_app.py` driven with FastAPI's test client, its events
observed by a subscriber of the real server."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient

from brain_ws import events

from .conftest import API_KEY, RawSubscriber, Server

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fastapi_app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fastapi_app"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def example(server: Server, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # The example reads the server from the environment, as a deployment would.
    monkeypatch.setattr(events, "_settings", events._Settings())
    monkeypatch.setenv("BRAIN_WS_HTTP_URL", server.http)
    monkeypatch.setenv("BRAIN_WS_API_KEY", API_KEY)
    return load_example()


async def test_mission_lifecycle(example: ModuleType, raw: RawSubscriber) -> None:
    await raw.subscribe("missions")
    with TestClient(example.app) as http:
        created = http.post("/missions", json={"name": "Deploy Application", "priority": "high"})
        assert created.status_code == 201
        mission_id = created.json()["mission_id"]
        assert created.json() == {
            "mission_id": mission_id,
            "name": "Deploy Application",
            "priority": "high",
            "status": "created",
        }
        assert http.post(f"/missions/{mission_id}/start").json()["status"] == "running"
        done = http.post(f"/missions/{mission_id}/complete", json={"result": {"status": "success"}})
        assert done.json()["status"] == "completed"
        assert http.post("/missions/nope/start").status_code == 404
    frames = [await raw.next() for _ in range(3)]
    for frame in frames:
        assert frame.pop("timestamp") > 0
    assert frames == [
        {
            "type": "mission_created",
            "channel": "missions",
            "data": {"mission_id": mission_id, "name": "Deploy Application", "priority": "high"},
            "offset": 1,
        },
        {
            "type": "mission_started",
            "channel": "missions",
            "data": {"mission_id": mission_id},
            "offset": 2,
        },
        {
            "type": "mission_completed",
            "channel": "missions",
            "data": {"mission_id": mission_id, "result": {"status": "success"}},
            "offset": 3,
        },
    ]
    await raw.nothing()


async def test_refused_publish_is_a_502(
    example: ModuleType, raw: RawSubscriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    await raw.subscribe("missions")
    monkeypatch.setenv("BRAIN_WS_API_KEY", "wrong")
    with TestClient(example.app) as http:
        answer = http.post("/missions", json={"name": "x"})
    assert answer.status_code == 502
    assert answer.json() == {"detail": {"brain_ws": "forbidden", "status": 403}}
    await raw.nothing()
