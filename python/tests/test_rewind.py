"""Rewind (`BrainClient.subscribe(..., rewind=N)`) and history reads
(`BrainPublisher.history`) against the real server."""

from __future__ import annotations

import asyncio

import pytest

from brain_ws import BrainClient, BrainPublisher, Event, PublishError, SubscriptionError

from .conftest import API_KEY, Server


def publish(server: Server, first: int, last: int) -> None:
    with BrainPublisher(server.http, API_KEY) as publisher:
        for n in range(first, last + 1):
            publisher.broadcast("missions", "mission_created", {"mission_id": f"m-{n}"})


async def test_rewind_replays_the_last_events_then_live_ones(server_factory: type[Server]) -> None:
    server = server_factory("--api-key", API_KEY, "--history-size", "10")
    publish(server, 1, 5)
    async with BrainClient(server.ws) as client:
        missions = client.subscribe("missions", rewind=3)
        await missions.ready()
        assert missions.replayed == 3
        with pytest.raises(ValueError, match="first subscription"):
            client.subscribe("missions", rewind=2)
        await asyncio.to_thread(publish, server, 6, 6)
        got = []
        async for item in missions:
            assert isinstance(item, Event)
            got.append((item.offset, item.data["mission_id"]))
            if len(got) == 4:
                break
        assert got == [(3, "m-3"), (4, "m-4"), (5, "m-5"), (6, "m-6")]
        assert missions.duplicates == 0
        too_many = client.subscribe("agents", rewind=11)
        with pytest.raises(SubscriptionError) as refused:
            await too_many.ready()
        assert refused.value.code == "invalid_message"


def test_history_pages(server_factory: type[Server]) -> None:
    server = server_factory("--api-key", API_KEY, "--history-size", "4")
    publish(server, 1, 6)
    with BrainPublisher(server.http, API_KEY) as publisher:
        latest = publisher.history("missions")
        assert (latest.offset, latest.complete) == (6, True)
        assert [e.offset for e in latest.events] == [3, 4, 5, 6]
        page = publisher.history("missions", limit=2, since=(latest.epoch, 3))
        assert ([e.offset for e in page.events], page.complete) == ([4, 5], True)
        gone = publisher.history("missions", limit=2, since=(latest.epoch, 1))
        assert ([e.offset for e in gone.events], gone.complete) == ([3, 4], False)
        with pytest.raises(PublishError) as no_history:
            publisher.history("chat-x")
        assert (no_history.value.status, no_history.value.code) == (404, "not_found")
        with pytest.raises(PublishError) as bad_limit:
            publisher.history("missions", limit=5)
        assert (bad_limit.value.status, bad_limit.value.code) == (400, "invalid_message")
