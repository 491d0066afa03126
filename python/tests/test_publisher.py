"""The publishers against the real server: exact answers, exact wire bodies
seen by a subscriber, every error status and code, and the retry rules."""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any

import httpx
import pytest

from brain_ws import AsyncBrainPublisher, Backoff, BrainPublisher, PublishError
from brain_ws.models import (
    BroadcastAllResponse,
    BroadcastResponse,
    ChannelSubscribersResponse,
    SendToUserResponse,
    StatsResponse,
)

from .conftest import API_KEY, REDIS_URL, RawSubscriber, Server, mint_token, raw_subscriber

NO_WAIT = Backoff(initial=0.0, max=0.0)


def test_info_is_typed_and_public(server: Server) -> None:
    with BrainPublisher(server.http) as publisher:  # no key: /api/ws/info is public
        info = publisher.info()
    assert info.protocol == "brain.v1"
    assert info.name == "brain-ws-server"
    assert info.auth == "optional"
    assert info.broker == "memory"
    assert info.features.authentication is True
    assert info.max_message_size == 65536
    assert info.history.channels == ["missions", "agents", "system", "tasks", "audit", "metrics"]


async def test_broadcast_body_on_the_wire(server: Server, raw: RawSubscriber) -> None:
    subscribed = await raw.subscribe("missions")
    assert subscribed["offset"] == 0
    with BrainPublisher(server.http, API_KEY) as publisher:
        answer = publisher.broadcast(
            "missions", "mission_update", {"mission_id": "mission_123", "status": "completed"}
        )
    assert answer == BroadcastResponse(status="broadcasted", channel="missions", subscribers=1)
    event = await raw.next()
    assert time.time() - 5 < event.pop("timestamp") <= time.time()
    assert event == {
        "type": "mission_update",
        "channel": "missions",
        "data": {"mission_id": "mission_123", "status": "completed"},
        "offset": 1,
    }


async def test_async_publisher_every_call(server: Server, raw: RawSubscriber) -> None:
    token = mint_token("user-42")
    user = await raw_subscriber(server.ws, token)
    try:
        await raw.subscribe("chat:1")
        async with AsyncBrainPublisher(server.http, API_KEY) as publisher:
            assert await publisher.broadcast("chat:1", message={"text": "hi"}) == (
                BroadcastResponse(status="broadcasted", channel="chat:1", subscribers=1)
            )
            event = await raw.next()
            assert (event["type"], event["data"], "offset" in event) == (
                "broadcast",
                {"text": "hi"},
                False,  # chat:1 keeps no history
            )

            everyone = await publisher.broadcast_all("system_announcement", {"message": "m"})
            assert everyone == BroadcastAllResponse(status="broadcasted", total_connections=2)
            for sub in (raw, user):
                got = await sub.next()
                got.pop("timestamp")
                assert got == {"type": "system_announcement", "data": {"message": "m"}}

            sent = await publisher.send_to_user("user-42", "notification", {"text": "ready"})
            assert sent == SendToUserResponse(status="sent", user_id="user-42", connections=1)
            got = await user.next()
            got.pop("timestamp")
            assert got == {"type": "notification", "data": {"text": "ready"}}
            await raw.nothing()
            nobody = await publisher.send_to_user("nobody", "notification")
            assert nobody.connections == 0

            stats = await publisher.stats()
            assert stats == StatsResponse(
                total_connections=2, total_users=1, total_channels=1, channels={"chat:1": 1}
            )
            subscribers = await publisher.channel_subscribers("chat:1")
            assert subscribers == ChannelSubscribersResponse(
                channel="chat:1",
                subscribers=1,
                connection_ids=[raw.welcome["connection_id"]],
            )
    finally:
        await user.ws.close()


@pytest.mark.parametrize(
    ("key", "call", "status", "code"),
    [
        (None, lambda p: p.stats(), 401, "unauthorized"),
        ("wrong-key", lambda p: p.stats(), 403, "forbidden"),
        (API_KEY, lambda p: p.broadcast("bad channel", "x", {}), 422, "invalid_body"),
        (API_KEY, lambda p: p.broadcast("missions", "subscribed", {}), 422, "invalid_body"),
        (API_KEY, lambda p: p.broadcast("missions", "x", "a" * 70_000), 413, "message_too_large"),
        (API_KEY, lambda p: p.channel_subscribers("bad channel"), 400, "invalid_channel"),
    ],
)
def test_error_status_and_code(
    server: Server, key: str | None, call: Any, status: int, code: str
) -> None:
    with BrainPublisher(server.http, key) as publisher, pytest.raises(PublishError) as caught:
        call(publisher)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.message  # the server's text, for people


async def test_async_error_carries_server_message(server: Server) -> None:
    async with AsyncBrainPublisher(server.http, API_KEY) as publisher:
        with pytest.raises(PublishError) as caught:
            await publisher.broadcast("", "x", {})
    assert caught.value.status == 422
    assert caught.value.code == "invalid_body"
    assert "channel name is empty" in caught.value.message


def test_unreachable_after_retries() -> None:
    # A port nothing listens on (the discard port is not served here).
    attempts: list[float] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(time.monotonic())
        raise httpx.ConnectError("connection refused", request=request)

    publisher = BrainPublisher(
        "http://127.0.0.1:9",
        retries=2,
        retry_backoff=NO_WAIT,
        transport=httpx.MockTransport(refuse),
    )
    with pytest.raises(PublishError) as caught:
        publisher.broadcast("missions", "x", {})
    assert (caught.value.status, caught.value.code) == (None, "unreachable")
    assert len(attempts) == 3
    # And with the real network stack: a closed port.
    real = BrainPublisher("http://127.0.0.1:9", retries=1, retry_backoff=NO_WAIT)
    with pytest.raises(PublishError) as caught:
        real.info()
    assert caught.value.code == "unreachable"


class Forwarder:
    """An httpx transport that forwards to the real server, failing the
    first attempts the way a network does: before sending, or after the
    server has answered (the answer is lost)."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        self.real = httpx.HTTPTransport()
        self.attempts = 0
        self.keys: list[str] = []  # the idempotency_key of each attempt

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        body = json.loads(request.content) if request.content else {}
        self.keys.append(body.get("idempotency_key", ""))
        failure = self.failures.pop(0) if self.failures else None
        if failure == "connect":
            raise httpx.ConnectError("refused", request=request)
        if failure == "503":
            return httpx.Response(
                503, json={"error": {"code": "unavailable", "message": "broker refused"}}
            )
        response = self.real.handle_request(request)
        response.read()
        if failure == "answer_lost":
            raise httpx.ReadError("connection reset after the request was sent", request=request)
        return response


async def test_retry_before_sending_delivers_once(server: Server, raw: RawSubscriber) -> None:
    await raw.subscribe("missions")
    forward = Forwarder(["connect", "503"])
    with BrainPublisher(
        server.http, API_KEY, retry_backoff=NO_WAIT, transport=httpx.MockTransport(forward)
    ) as publisher:
        answer = publisher.broadcast("missions", "mission_started", {"mission_id": "m1"})
    assert (forward.attempts, answer.subscribers) == (3, 1)
    assert (await raw.next())["offset"] == 1
    await raw.nothing()


async def test_retry_after_sending_delivers_once(server: Server, raw: RawSubscriber) -> None:
    await raw.subscribe("missions")
    forward = Forwarder(["answer_lost"])
    with BrainPublisher(
        server.http, API_KEY, retry_backoff=NO_WAIT, transport=httpx.MockTransport(forward)
    ) as publisher:
        answer = publisher.broadcast("missions", "mission_started", {"mission_id": "m1"})
    # The first attempt was published and its answer lost; the retry carried
    # the same idempotency key, so the server did not deliver it again.
    assert forward.attempts == 2
    assert forward.keys[0] == forward.keys[1]
    assert uuid.UUID(forward.keys[0]).version == 4
    assert answer == BroadcastResponse(status="duplicate", channel="missions", subscribers=0)
    assert (await raw.next())["offset"] == 1
    await raw.nothing()

    forward = Forwarder(["answer_lost"])
    with (
        BrainPublisher(
            server.http,
            API_KEY,
            retry_backoff=NO_WAIT,
            retry_ambiguous=False,
            transport=httpx.MockTransport(forward),
        ) as publisher,
        pytest.raises(PublishError) as caught,
    ):
        publisher.broadcast("missions", "mission_started", {"mission_id": "m2"})
    assert (caught.value.code, forward.attempts) == ("unreachable", 1)
    assert (await raw.next())["data"] == {"mission_id": "m2"}
    await raw.nothing()


async def test_each_call_has_its_own_key(server: Server, raw: RawSubscriber) -> None:
    await raw.subscribe("missions")
    forward = Forwarder([])
    with BrainPublisher(server.http, API_KEY, transport=httpx.MockTransport(forward)) as publisher:
        for _ in range(2):
            answer = publisher.broadcast("missions", "mission_started", {"mission_id": "m1"})
            assert answer.status == "broadcasted"
    assert len(set(forward.keys)) == 2
    assert [(await raw.next())["offset"], (await raw.next())["offset"]] == [1, 2]


async def test_same_key_twice_is_delivered_once_across_the_cluster(
    redis_prefix: str, server_factory: type[Server]
) -> None:
    flags = ("--api-key", API_KEY, "--broker", REDIS_URL, "--redis-prefix", redis_prefix)
    node_a, node_b = server_factory(*flags), server_factory(*flags)
    sub = await raw_subscriber(node_b.ws)
    try:
        await sub.subscribe("missions")
        key = f"order-{uuid.uuid4()}"
        async with (
            AsyncBrainPublisher(node_a.http, API_KEY) as on_a,
            AsyncBrainPublisher(node_b.http, API_KEY) as on_b,
        ):
            first = await on_b.broadcast(
                "missions", "mission_started", {"n": 1}, idempotency_key=key
            )
            again = await on_a.broadcast(
                "missions", "mission_started", {"n": 2}, idempotency_key=key
            )
        assert first == BroadcastResponse(status="broadcasted", channel="missions", subscribers=1)
        assert again == BroadcastResponse(status="duplicate", channel="missions", subscribers=0)
        event = await sub.next()
        assert (event["type"], event["data"], event["offset"]) == ("mission_started", {"n": 1}, 1)
        await sub.nothing(within=0.5)
    finally:
        await sub.ws.close()


def test_invalid_idempotency_key_is_refused(server: Server) -> None:
    with BrainPublisher(server.http, API_KEY) as publisher, pytest.raises(PublishError) as caught:
        publisher.broadcast("missions", "x", {}, idempotency_key="k" * 129)
    assert (caught.value.status, caught.value.code) == (422, "invalid_body")


def test_503_is_retried_then_raised(server: Server) -> None:
    forward = Forwarder(["503", "503", "503"])
    with (
        BrainPublisher(
            server.http,
            API_KEY,
            retries=2,
            retry_backoff=NO_WAIT,
            transport=httpx.MockTransport(forward),
        ) as publisher,
        pytest.raises(PublishError) as caught,
    ):
        publisher.stats()
    assert (caught.value.status, caught.value.code, forward.attempts) == (503, "unavailable", 3)


def test_wrong_base_url_is_the_servers_404(server: Server) -> None:
    with (
        BrainPublisher(f"{server.http}/not-here", API_KEY) as publisher,
        pytest.raises(PublishError) as caught,
    ):
        publisher.stats()
    assert (caught.value.status, caught.value.code) == (404, "not_found")


def test_backoff_full_jitter_and_ceilings() -> None:
    backoff = Backoff()
    assert [backoff.ceiling(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.ceiling(10_000) == 30  # no overflow on long outages
    rng = random.Random(7)
    delays = [backoff.delay(3, rng) for _ in range(2000)]
    assert all(0 <= d <= 2 for d in delays)
    assert min(delays) < 0.1 and max(delays) > 1.9  # spread over the whole window
    assert Backoff(jitter=False).delay(3) == 2
    assert not Backoff().exhausted(10**6)
    assert Backoff(max_attempts=3).exhausted(3)
    with pytest.raises(ValueError, match="factor"):
        Backoff(factor=0.5)
