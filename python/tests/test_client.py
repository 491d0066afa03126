"""`BrainClient` against the real server: typed events, pings, a silent
server, restarts (Redis broker: recovery exactly once and in order; memory
broker: a new epoch reported, not dropped), terminal codes, refusals."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from typing import Any

import httpx
import pytest

from brain_ws import (
    AsyncBrainPublisher,
    Backoff,
    BrainClient,
    BrainPublisher,
    BrainWSError,
    CatalogEvent,
    CloseCode,
    ConnectionClosedTerminal,
    Event,
    PresenceChange,
    ReconnectGaveUp,
    StreamReset,
    Subscription,
    SubscriptionError,
    should_reconnect,
)
from brain_ws.client import Item
from brain_ws.generated.close_codes import RECONNECT, TERMINAL_CODES, TERMINAL_RANGE
from brain_ws.models import MissionCreated

from .conftest import (
    API_KEY,
    JWT_SECRET,
    REDIS_URL,
    REPO,
    PrivateRedis,
    Server,
    mint_token,
    raw_subscriber,
)

FAST = Backoff(initial=0.05, max=0.3)


async def take(sub: Subscription, n: int, timeout: float = 10.0) -> list[Item]:
    """The next `n` items of `sub`."""
    out: list[Item] = []

    async def collect() -> None:
        async for item in sub:
            out.append(item)
            if len(out) == n:
                return

    await asyncio.wait_for(collect(), timeout)
    return out


async def nothing_more(sub: Subscription, within: float = 0.3) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await take(sub, 1, within)


def summary(items: list[Item]) -> list[Any]:
    """(type, mission id, offset) per event; the reason per reset."""
    return [
        ("reset", i.reason)
        if isinstance(i, StreamReset)
        else ("presence", i.kind)
        if isinstance(i, PresenceChange)
        else (i.type, i.data["n"], i.offset)
        for i in items
    ]


def publish(server: Server, *ns: int) -> None:
    with BrainPublisher(server.http, API_KEY) as publisher:
        for n in ns:
            publisher.broadcast("missions", "step", {"n": n})


def test_close_code_rule_is_the_schema_table() -> None:
    table = json.loads((REPO / "schemas" / "close-codes.json").read_text())
    for row in table["codes"]:
        assert should_reconnect(row["code"]) is row["reconnect"], row
        assert CloseCode[row["name"].upper()] == row["code"]
        assert RECONNECT[row["code"]] is row["reconnect"]
    assert {1000, 1002, 1003, 1007, 1008} == TERMINAL_CODES
    assert TERMINAL_RANGE == (4500, 4999)
    assert [should_reconnect(c) for c in (1003, 1007, 1008, 4499, 4500, 4999, 5000, 3000)] == [
        False, False, False, True, False, False, True, True,
    ]  # fmt: skip


async def test_typed_and_generic_events(server: Server) -> None:
    async with BrainClient(server.ws) as client:
        sub = client.subscribe("missions")
        await sub.ready()
        assert (sub.epoch is not None, sub.offset) == (True, 0)
        with BrainPublisher(server.http, API_KEY) as publisher:
            publisher.broadcast("missions", "mission_created", {"mission_id": "m1", "name": "x"})
            publisher.broadcast("missions", "mission_started", {"wrong": "shape"})
            publisher.broadcast("missions", "custom", [1, 2])
        created, misfit, custom = await take(sub, 3)
    assert isinstance(created, CatalogEvent)
    assert created.payload == MissionCreated(mission_id="m1", name="x")
    assert (created.type, created.channel, created.offset) == ("mission_created", "missions", 1)
    assert type(misfit) is Event and misfit.data == {"wrong": "shape"}
    assert type(custom) is Event and (custom.type, custom.data, custom.offset) == (
        "custom",
        [1, 2],
        3,
    )
    assert not isinstance(misfit, CatalogEvent)  # a misfit stays generic


async def test_direct_events_and_token(server: Server) -> None:
    async with BrainClient(server.ws, token=lambda: mint_token("user-42")) as client:
        direct = client.direct()
        with BrainPublisher(server.http, API_KEY) as publisher:
            assert publisher.send_to_user("user-42", "notification", {"text": "t"}).connections == 1
            publisher.broadcast_all("announcement", None)
        note, everyone = await take(direct, 2)
    assert isinstance(note, Event) and (note.type, note.channel, note.data) == (
        "notification",
        None,
        {"text": "t"},
    )
    assert isinstance(everyone, Event) and (everyone.type, everyone.data) == ("announcement", None)


async def test_answers_pings(server_factory: type[Server]) -> None:
    server = server_factory(
        "--api-key", API_KEY, "--heartbeat-interval", "500ms", "--heartbeat-timeout", "500ms"
    )
    async with BrainClient(server.ws, backoff=FAST) as client:
        sub = client.subscribe("missions")
        await sub.ready()
        await asyncio.sleep(2.5)  # five pings, each to be answered within 0.5 s
        publish(server, 1)
        items = await take(sub, 1)
        assert (client.connections, summary(items)) == (1, [("step", 1, 1)])


async def test_silent_server_is_detected(server_factory: type[Server]) -> None:
    server = server_factory(
        "--api-key", API_KEY, "--heartbeat-interval", "500ms", "--heartbeat-timeout", "5s"
    )
    assert server.proc is not None
    client = BrainClient(server.ws, backoff=FAST, heartbeat_grace=0.5, connect_timeout=1.0)
    async with client:
        sub = client.subscribe("missions")
        await sub.ready()
        publish(server, 1)
        assert summary(await take(sub, 1)) == [("step", 1, 1)]
        server.proc.send_signal(signal.SIGSTOP)  # silent, with the TCP connection open
        try:
            await asyncio.sleep(2.0)  # > 0.5 s interval + 0.5 s grace
        finally:
            server.proc.send_signal(signal.SIGCONT)
        await asyncio.wait_for(client.wait_reconnected(2), 10)
        publish(server, 2)
        # Recovered with `since` on the same (running) server: no reset.
        assert summary(await take(sub, 1)) == [("step", 2, 2)]
        await nothing_more(sub)


async def test_restart_with_redis_recovers_exactly_once_in_order(
    redis_prefix: str, server_factory: type[Server]
) -> None:
    flags = ("--api-key", API_KEY, "--broker", REDIS_URL, "--redis-prefix", redis_prefix)
    node = server_factory(*flags)  # the client's node, killed and restarted
    other = server_factory(*flags)  # publishes while the client's node is down
    async with BrainClient(node.ws, backoff=FAST) as client:
        sub = client.subscribe("missions")
        await sub.ready()
        epoch = sub.epoch
        publish(other, 1, 2, 3)
        first = await take(sub, 3)
        node.kill(signal.SIGKILL)  # no close frame: 1006, reconnect
        publish(other, 4, 5, 6)
        node.start()  # same port
        await asyncio.wait_for(client.wait_reconnected(2), 15)
        assert client.last_close_code == CloseCode.ABNORMAL
        publish(other, 7)
        rest = await take(sub, 4)
        await nothing_more(sub)
    assert summary(first + rest) == [("step", n, n) for n in range(1, 8)]
    assert (sub.epoch, sub.resets, sub.duplicates) == (epoch, 0, 0)


def assert_new_epoch(items: list[Item], old_epoch: str | None, sub: Subscription) -> None:
    """Steps 1-3 (offsets 1-3), a `new_epoch` reset from (old_epoch, 3) to
    offset 0 of `sub`'s new epoch, then steps 4-5 at offsets 1 and 2: the new
    epoch's offsets are delivered, not taken for the old epoch's 1 and 2."""
    assert summary(items) == [
        ("step", 1, 1),
        ("step", 2, 2),
        ("step", 3, 3),
        ("reset", "new_epoch"),
        ("step", 4, 1),
        ("step", 5, 2),
    ]
    reset = items[3]
    assert isinstance(reset, StreamReset)
    assert (reset.previous_epoch, reset.previous_offset, reset.offset) == (old_epoch, 3, 0)
    assert reset.epoch is not None and reset.epoch != old_epoch and reset.epoch == sub.epoch


async def test_memory_restart_reports_a_new_epoch(server_factory: type[Server]) -> None:
    node = server_factory("--api-key", API_KEY)
    async with BrainClient(node.ws, backoff=FAST) as client:
        sub = client.subscribe("missions")
        await sub.ready()
        publish(node, 1, 2, 3)
        first = await take(sub, 3)
        old_epoch = sub.epoch
        node.kill(signal.SIGTERM)  # graceful: close 1001, reconnect
        node.start()
        await asyncio.wait_for(client.wait_reconnected(2), 15)
        assert client.last_close_code == CloseCode.GOING_AWAY
        publish(node, 4, 5)
        rest = await take(sub, 3)
    assert_new_epoch(first + rest, old_epoch, sub)


async def test_history_gap_is_reported(redis_prefix: str, server_factory: type[Server]) -> None:
    flags = ("--api-key", API_KEY, "--broker", REDIS_URL, "--redis-prefix", redis_prefix)
    node = server_factory(*flags, "--history-size", "2")
    other = server_factory(*flags, "--history-size", "2")
    async with BrainClient(node.ws, backoff=FAST) as client:
        sub = client.subscribe("missions")
        await sub.ready()
        publish(other, 1)
        first = await take(sub, 1)
        node.kill()
        publish(other, 2, 3, 4, 5)  # the history keeps 4 and 5 only
        node.start()
        await asyncio.wait_for(client.wait_reconnected(2), 15)
        publish(other, 6)
        rest = await take(sub, 2)
    assert summary(first + rest) == [("step", 1, 1), ("reset", "history_gap"), ("step", 6, 6)]


def wait_ready(server: Server, status: int) -> None:
    """Poll `/ready` until it answers `status` (503 while Redis is away)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.http}/ready", timeout=1).status_code == status:
                return
        time.sleep(0.02)
    raise AssertionError(f"/ready never answered {status}")


async def test_live_stream_restart_is_a_stream_reset(
    private_redis: PrivateRedis, server_factory: type[Server]
) -> None:
    node = server_factory("--api-key", API_KEY, "--broker", private_redis.url)
    async with BrainClient(node.ws, backoff=FAST) as client:
        sub = client.subscribe("missions")
        await sub.ready()
        publish(node, 1, 2, 3)
        first = await take(sub, 3)
        old_epoch = sub.epoch
        private_redis.kill()  # SIGKILL; it comes back empty: a new epoch
        wait_ready(node, 503)
        private_redis.start()
        wait_ready(node, 200)
        publish(node, 4, 5)
        rest = await take(sub, 3)
        await nothing_more(sub)
        # The WebSocket stayed up: the server announced the restart itself.
        assert client.connections == 1
    assert_new_epoch(first + rest, old_epoch, sub)
    assert (sub.offset, sub.resets, sub.duplicates) == (2, 1, 0)


async def test_refused_token_is_terminal(server: Server) -> None:
    client = BrainClient(server.ws, token="not-a-jwt", backoff=FAST)
    with pytest.raises(ConnectionClosedTerminal) as caught:
        await asyncio.wait_for(client.__aenter__(), 5)
    assert (caught.value.status, caught.value.reason, caught.value.code) == (
        401,
        "unauthorized",
        None,
    )
    expired = BrainClient(server.ws, token=mint_token("u", JWT_SECRET, lifetime=-3600))
    with pytest.raises(ConnectionClosedTerminal):
        await expired.__aenter__()


async def test_policy_violation_4501_is_raised_not_retried(server: Server) -> None:
    async with BrainClient(server.ws, backoff=FAST) as client:
        sub = client.subscribe("missions")
        await sub.ready()
        # A burst of 200 is allowed, then the 50th dropped frame closes the
        # connection; pings after the close fail (`BrainWSError`).
        with contextlib.suppress(BrainWSError):
            for _ in range(400):
                await client.ping()
        with pytest.raises(ConnectionClosedTerminal) as caught:
            await take(sub, 1)
    assert (caught.value.code, caught.value.reason) == (4501, "policy_violation")
    assert client.connections == 1


async def test_refused_subscription(server: Server) -> None:
    async with BrainClient(server.ws) as client:
        sub = client.subscribe("bad channel")
        with pytest.raises(SubscriptionError) as caught:
            await sub.ready()
        assert (caught.value.code, caught.value.channel) == ("invalid_channel", "bad channel")
        with pytest.raises(SubscriptionError):
            await take(sub, 1)
        ok = client.subscribe("missions")  # the connection stays usable
        await ok.ready()


async def test_gives_up_after_max_attempts(server_factory: type[Server]) -> None:
    node = server_factory()
    async with BrainClient(node.ws, backoff=Backoff(initial=0.01, max=0.02, max_attempts=3)) as c:
        sub = c.subscribe("missions")
        await sub.ready()
        node.kill()
        with pytest.raises(ReconnectGaveUp) as caught:
            await take(sub, 1)
    assert caught.value.attempts == 3


async def test_token_expiry_4002_reconnects_with_a_fresh_token(
    server_factory: type[Server],
) -> None:
    node = server_factory(
        "--api-key", API_KEY, "--auth", "required", "--jwt-secret", JWT_SECRET,
        "--jwt-leeway", "0s",
    )  # fmt: skip
    minted: list[str] = []

    def fresh_token() -> str:
        # Lives 2 s: the server closes with 4002 once `exp` passes.
        minted.append(mint_token("user-42", lifetime=2))
        return minted[-1]

    async with BrainClient(node.ws, token=fresh_token, backoff=FAST) as client:
        sub = client.subscribe("missions")
        await sub.ready()
        publish(node, 1)
        await asyncio.wait_for(client.wait_reconnected(2), 10)
        publish(node, 2)
        items = await take(sub, 2)
    assert summary(items) == [("step", 1, 1), ("step", 2, 2)]
    assert client.last_close_code == 4002  # CloseCode.TOKEN_EXPIRED
    assert len(minted) >= 2  # one token per connection attempt


async def test_full_node_503_is_retried_not_terminal(server_factory: type[Server]) -> None:
    node = server_factory("--api-key", API_KEY, "--max-connections", "1")
    holder = await raw_subscriber(node.ws)  # takes the node's only connection
    client = BrainClient(node.ws, backoff=FAST)
    entering = asyncio.create_task(client.__aenter__())
    await asyncio.sleep(0.5)  # refused with 503 connection_limit, again and again
    assert not entering.done()
    await holder.ws.close()
    await asyncio.wait_for(entering, 10)
    try:
        assert client.connections == 1
    finally:
        await client.aclose()


async def test_slow_consumer_is_closed_and_recovers_every_event(
    server_factory: type[Server],
) -> None:
    node = server_factory(
        "--api-key", API_KEY, "--outbound-queue", "16",
        "--history-channel", "bulk", "--history-size", "10000",
    )  # fmt: skip
    total, pad = 600, "x" * 16_000  # ~10 MB: more than the socket buffers hold
    async with BrainClient(node.ws, backoff=FAST, queue_size=4) as client:
        sub = client.subscribe("bulk")
        await sub.ready()
        async with AsyncBrainPublisher(node.http, API_KEY) as publisher:
            for n in range(total):  # nobody consumes meanwhile
                await publisher.broadcast("bulk", "e", {"n": n, "p": pad})
        items = await take(sub, total, timeout=60)
        await nothing_more(sub)
    assert [i.data["n"] for i in items if isinstance(i, Event)] == list(range(total))
    assert not any(isinstance(i, StreamReset) for i in items)
    # The server closes a slow consumer with 4001, but its close frame waits
    # behind the full socket, so the client may see the TCP drop (1006) first.
    assert client.last_close_code in (CloseCode.SLOW_CONSUMER, CloseCode.ABNORMAL)
    assert client.connections >= 2
