"""Presence against the real server binary: `subscribe(..., presence=True)`
yields the other members' joins and leaves, and the publishers read the
members and counts (docs/protocol.md, Presence)."""

from __future__ import annotations

import asyncio

import pytest

from brain_ws import AsyncBrainPublisher, BrainClient, Event, PresenceChange, PublishError

from .conftest import API_KEY, JWT_SECRET, Server, mint_token


async def next_change(sub_iter: object, timeout: float = 10.0) -> PresenceChange:
    async def first() -> PresenceChange:
        async for item in sub_iter:  # type: ignore[attr-defined]
            if isinstance(item, PresenceChange):
                return item
        raise AssertionError("the subscription ended")

    return await asyncio.wait_for(first(), timeout)


async def test_presence_joins_leaves_and_reads(server_factory: type[Server]) -> None:
    server = server_factory(
        "--api-key", API_KEY, "--jwt-secret", JWT_SECRET, "--presence-channels", "agents"
    )
    async with (
        BrainClient(server.ws) as watcher,
        AsyncBrainPublisher(server.http, api_key=API_KEY) as publisher,
    ):
        sub = watcher.subscribe("agents", presence=True)
        await sub.ready()
        assert sub.presence_enabled is True
        async with BrainClient(server.ws, token=lambda: mint_token("user-42")) as other:
            joined = other.subscribe("agents")
            await joined.ready()
            change = await next_change(sub)
            assert (change.kind, change.channel) == ("join", "agents")
            assert change.info.user_id == "user-42"
            other_id = change.info.connection_id

            stats = await publisher.presence_stats("agents")
            assert (stats.connections, stats.users) == (2, 1)
            members = (await publisher.presence("agents")).members
            assert [m.user_id for m in members] == [None, "user-42"]
            assert members[1].connection_id == other_id
        change = await next_change(sub)
        assert (change.kind, change.info.connection_id) == ("leave", other_id)
        stats = await publisher.presence_stats("agents")
        assert (stats.connections, stats.users) == (1, 0)

        with pytest.raises(PublishError) as refused:
            await publisher.presence("missions")
        assert (refused.value.status, refused.value.code) == (404, "presence_disabled")

        off = watcher.subscribe("missions", presence=True)
        await off.ready()
        assert off.presence_enabled is False


async def test_presence_asked_on_a_held_channel_upgrades_the_same_subscription(
    server_factory: type[Server],
) -> None:
    server = server_factory("--api-key", API_KEY, "--presence-channels", "agents")
    async with (
        BrainClient(server.ws) as watcher,
        AsyncBrainPublisher(server.http, api_key=API_KEY) as publisher,
    ):
        plain = watcher.subscribe("agents")
        await plain.ready()
        assert (plain.presence, plain.presence_enabled) == (False, None)
        await publisher.broadcast("agents", "tick", {"n": 1})
        same = watcher.subscribe("agents", presence=True)
        assert same is plain
        await same.ready()
        assert (same.presence, same.presence_enabled) == (True, True)
        async with BrainClient(server.ws) as other:
            await other.subscribe("agents").ready()
            await publisher.broadcast("agents", "tick", {"n": 2})
            items = []
            async for item in same:
                items.append(item)
                if len(items) == 3:
                    break
        # Each event once, no reset, and the other member's join.
        assert [type(i).__name__ for i in items] == ["Event", "PresenceChange", "Event"]
        assert [i.data for i in items if isinstance(i, Event)] == [{"n": 1}, {"n": 2}]
        assert (same.resets, same.duplicates) == (0, 0)
