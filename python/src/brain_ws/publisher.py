"""Publishers: the HTTP API of docs/protocol.md (HTTP API) on httpx.

`BrainPublisher` is synchronous, `AsyncBrainPublisher` asynchronous; both
expose the same calls, return the generated response models and raise
`PublishError` (status, code, message) for every failure.

Retries and duplicates: a call is retried (with `Backoff`, full jitter) after
a connection error and after HTTP 503. Each `broadcast` call sends one
`idempotency_key` (a fresh uuid4, or the caller's), the same on every retry
of that call: the server delivers an event with a key it has seen within
its idempotency window (10 minutes, cluster-wide) nowhere and answers
`status="duplicate"`, so a retried broadcast is delivered once, even when
the first attempt failed *after the request was sent* (read or write error,
read timeout, the server closing mid-answer). It can be delivered twice only
if a retry comes after the key's window expired (not with the default
retries), or when the same event is published by two calls with different
keys. `broadcast_all` and `send_to_user` have no key (the server takes none):
a retry after an ambiguous failure may deliver those twice. Pass
`retry_ambiguous=False` to get `PublishError(status=None,
code="unreachable")` instead of those retries. A connection refused, connect
timeout, no free pooled connection, or a 503 answer (the server did not
publish) is always safe to retry.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from .backoff import Backoff
from .errors import PublishError
from .generated.http.broadcast_all_response import BroadcastAllResponse
from .generated.http.broadcast_response import BroadcastResponse
from .generated.http.channel_subscribers_response import ChannelSubscribersResponse
from .generated.http.error_body import ErrorBody
from .generated.http.history_response import HistoryResponse
from .generated.http.info_response import InfoResponse
from .generated.http.presence_response import PresenceResponse
from .generated.http.presence_stats_response import PresenceStatsResponse
from .generated.http.send_to_user_response import SendToUserResponse
from .generated.http.stats_response import StatsResponse

M = TypeVar("M", bound=BaseModel)

DEFAULT_TIMEOUT = 10.0
"""Seconds for each of connect, read, write and pool acquisition."""

DEFAULT_RETRIES = 3
"""Retries after the first attempt (so at most 4 attempts)."""

DEFAULT_RETRY_BACKOFF = Backoff(initial=0.2, max=2.0)
"""Delays between publisher retries: ceilings 0.2, 0.4, 0.8 s, full jitter."""

# Failures where the request never reached the server: retrying cannot
# publish twice, even without an idempotency key.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class _Call(Generic[M]):
    """One API call: what to send and which model the 2xx answer decodes to."""

    method: str
    path: str
    body: dict[str, Any] | None
    model: type[M]


def _broadcast(
    channel: str, type: str, message: Any, idempotency_key: str | None
) -> _Call[BroadcastResponse]:
    # One key per call, built here once so that every retry of the call
    # sends the same body (docs/protocol.md, POST /api/ws/broadcast).
    key = idempotency_key if idempotency_key is not None else str(uuid.uuid4())
    body = {"channel": channel, "type": type, "message": message, "idempotency_key": key}
    return _Call("POST", "/api/ws/broadcast", body, BroadcastResponse)


def _broadcast_all(type: str, data: Any) -> _Call[BroadcastAllResponse]:
    return _Call(
        "POST", "/api/ws/broadcast/all", {"type": type, "data": data}, BroadcastAllResponse
    )


def _send_to_user(user_id: str, type: str, data: Any) -> _Call[SendToUserResponse]:
    path = f"/api/ws/users/{quote(user_id, safe='')}/send"
    return _Call("POST", path, {"type": type, "data": data}, SendToUserResponse)


def _stats() -> _Call[StatsResponse]:
    return _Call("GET", "/api/ws/stats", None, StatsResponse)


def _channel_subscribers(channel: str) -> _Call[ChannelSubscribersResponse]:
    path = f"/api/ws/channels/{quote(channel, safe='')}"
    return _Call("GET", path, None, ChannelSubscribersResponse)


def _presence(channel: str) -> _Call[PresenceResponse]:
    path = f"/api/ws/channels/{quote(channel, safe='')}/presence"
    return _Call("GET", path, None, PresenceResponse)


def _presence_stats(channel: str) -> _Call[PresenceStatsResponse]:
    path = f"/api/ws/channels/{quote(channel, safe='')}/presence/stats"
    return _Call("GET", path, None, PresenceStatsResponse)


def _history(
    channel: str, limit: int | None, since: tuple[str, int] | None
) -> _Call[HistoryResponse]:
    query = []
    if limit is not None:
        query.append(f"limit={limit}")
    if since is not None:
        query.append(f"since={quote(since[0], safe='')}:{since[1]}")
    path = f"/api/ws/channels/{quote(channel, safe='')}/history"
    if query:
        path += "?" + "&".join(query)
    return _Call("GET", path, None, HistoryResponse)


def _info() -> _Call[InfoResponse]:
    return _Call("GET", "/api/ws/info", None, InfoResponse)


def _decode(call: _Call[M], response: httpx.Response) -> M:
    """The 2xx answer as `call.model`, or `PublishError` with the server's code."""
    if response.is_success:
        try:
            return call.model.model_validate_json(response.content)
        except ValidationError as exc:
            raise PublishError(
                response.status_code, "invalid_response", f"unexpected answer: {exc}"
            ) from exc
    try:
        error = ErrorBody.model_validate_json(response.content).error
        code, message = error.code, error.message
    except ValidationError:
        code, message = f"http_{response.status_code}", response.text[:200]
    raise PublishError(response.status_code, code, message)


def _headers(api_key: str | None) -> dict[str, str]:
    headers = {"User-Agent": "brain-ws-python/0.1"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


class _RetryPolicy:
    """Which failures are retried, and how long to wait before the next try."""

    def __init__(self, retries: int, backoff: Backoff, retry_ambiguous: bool) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.retries = retries
        self.backoff = backoff
        self.retry_ambiguous = retry_ambiguous

    def settle(
        self, call: _Call[M], attempt: int, outcome: httpx.Response | Exception
    ) -> M | float:
        """After attempt `attempt` (from 1): the decoded answer, or the delay
        (s) before retrying; raises `PublishError` when done failing."""
        if isinstance(outcome, httpx.Response):
            if outcome.status_code == 503 and attempt <= self.retries:
                return self.backoff.delay(attempt)
            return _decode(call, outcome)
        retry = self.retry_ambiguous or isinstance(outcome, _UNSENT)
        if retry and attempt <= self.retries:
            return self.backoff.delay(attempt)
        raise PublishError(None, "unreachable", f"{type(outcome).__name__}: {outcome}") from outcome


class BrainPublisher:
    """Synchronous client of the HTTP API (`POST /api/ws/broadcast`, ...).

    ```python
    publisher = BrainPublisher("http://127.0.0.1:8000", api_key="secret")
    publisher.broadcast("missions", "mission_update", {"mission_id": "m1"})
    ```

    Args:
        base_url: the server's HTTP origin, e.g. `http://127.0.0.1:8000`.
        api_key: sent as `Authorization: Bearer <key>` (needed when the
            server has API keys; without keys it serves loopback peers only).
        timeout: seconds for each of connect, read, write, pool.
        retries: retries after the first attempt, on connection errors and
            503 (a retried `broadcast` is delivered once: see the module
            docstring).
        retry_backoff: delays between retries.
        retry_ambiguous: also retry failures after the request was sent
            (default true); safe for `broadcast` (idempotency key), may
            deliver a `broadcast_all` or `send_to_user` twice.
        transport: an httpx transport (tests, proxies).

    Raises `PublishError` on every failure. Use as a context manager or call
    `close()`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        retries: int = DEFAULT_RETRIES,
        retry_backoff: Backoff = DEFAULT_RETRY_BACKOFF,
        retry_ambiguous: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._policy = _RetryPolicy(retries, retry_backoff, retry_ambiguous)
        self._http = httpx.Client(
            base_url=base_url, headers=_headers(api_key), timeout=timeout, transport=transport
        )

    def __enter__(self) -> BrainPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def _call(self, call: _Call[M]) -> M:
        attempt = 0
        while True:
            attempt += 1
            outcome: httpx.Response | httpx.TransportError
            try:
                outcome = self._http.request(call.method, call.path, json=call.body)
            except httpx.TransportError as exc:
                outcome = exc
            result = self._policy.settle(call, attempt, outcome)
            if not isinstance(result, float):
                return result
            time.sleep(result)

    def broadcast(
        self,
        channel: str,
        type: str = "broadcast",
        message: Any = None,
        *,
        idempotency_key: str | None = None,
    ) -> BroadcastResponse:
        """Publish `message` as event `type` on `channel` (`POST /api/ws/broadcast`).

        Subscribers receive `{"type": type, "channel": channel, "data":
        message, "timestamp": .., "offset"?: ..}`. An invalid channel or type
        is refused by the server: `PublishError(422, "invalid_body")`.

        `idempotency_key` (1 to 128 bytes; default a fresh uuid4 per call) is
        sent on every retry of this call; pass your own to make repeated
        calls for one event (e.g. after a process restart) deliver it once
        within the server's 10-minute window. The answer's `status` is
        `"broadcasted"`, or `"duplicate"` when the key was already published
        (then nothing was delivered and `subscribers` is 0).
        """
        return self._call(_broadcast(channel, type, message, idempotency_key))

    def broadcast_all(self, type: str, data: Any = None) -> BroadcastAllResponse:
        """Send event `type` to every connection (`POST /api/ws/broadcast/all`);
        the envelope has no `channel` and no `offset`."""
        return self._call(_broadcast_all(type, data))

    def send_to_user(self, user_id: str, type: str, data: Any = None) -> SendToUserResponse:
        """Send event `type` to every connection of `user_id`
        (`POST /api/ws/users/{user_id}/send`); `connections` is 0 if none."""
        return self._call(_send_to_user(user_id, type, data))

    def stats(self) -> StatsResponse:
        """Connection and channel counts (`GET /api/ws/stats`)."""
        return self._call(_stats())

    def channel_subscribers(self, channel: str) -> ChannelSubscribersResponse:
        """A channel's subscriber count and this node's connection ids
        (`GET /api/ws/channels/{channel}`)."""
        return self._call(_channel_subscribers(channel))

    def presence(self, channel: str) -> PresenceResponse:
        """Every member of a presence channel across the cluster, oldest join
        first (`GET /api/ws/channels/{channel}/presence`); `PublishError` with
        code `presence_disabled` (404) on a channel without presence."""
        return self._call(_presence(channel))

    def presence_stats(self, channel: str) -> PresenceStatsResponse:
        """A presence channel's connections and distinct users across the
        cluster (`GET /api/ws/channels/{channel}/presence/stats`)."""
        return self._call(_presence_stats(channel))

    def history(
        self, channel: str, limit: int | None = None, since: tuple[str, int] | None = None
    ) -> HistoryResponse:
        """A history channel's retained events, oldest first, newest last
        (`GET /api/ws/channels/{channel}/history`): without `since` the
        latest `limit` (default: the server's history size), with `since`
        (`(epoch, offset)` of the last event read) the first `limit` after
        it. `complete` is False when events before the first returned are
        lost. Raises `PublishError` 404 `not_found` for a channel without
        history, 400 `invalid_message` for a `limit` outside 1 to the
        history size."""
        return self._call(_history(channel, limit, since))

    def info(self) -> InfoResponse:
        """The server's settings and features (`GET /api/ws/info`, public)."""
        return self._call(_info())


class AsyncBrainPublisher:
    """Asynchronous client of the HTTP API; the same calls, arguments and
    errors as `BrainPublisher`, as coroutines.

    ```python
    async with AsyncBrainPublisher("http://127.0.0.1:8000", api_key="secret") as publisher:
        await publisher.broadcast("missions", "mission_update", {"mission_id": "m1"})
    ```
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        retries: int = DEFAULT_RETRIES,
        retry_backoff: Backoff = DEFAULT_RETRY_BACKOFF,
        retry_ambiguous: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._policy = _RetryPolicy(retries, retry_backoff, retry_ambiguous)
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=_headers(api_key), timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncBrainPublisher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def _call(self, call: _Call[M]) -> M:
        attempt = 0
        while True:
            attempt += 1
            outcome: httpx.Response | httpx.TransportError
            try:
                outcome = await self._http.request(call.method, call.path, json=call.body)
            except httpx.TransportError as exc:
                outcome = exc
            result = self._policy.settle(call, attempt, outcome)
            if not isinstance(result, float):
                return result
            await asyncio.sleep(result)

    async def broadcast(
        self,
        channel: str,
        type: str = "broadcast",
        message: Any = None,
        *,
        idempotency_key: str | None = None,
    ) -> BroadcastResponse:
        """See `BrainPublisher.broadcast`."""
        return await self._call(_broadcast(channel, type, message, idempotency_key))

    async def broadcast_all(self, type: str, data: Any = None) -> BroadcastAllResponse:
        """See `BrainPublisher.broadcast_all`."""
        return await self._call(_broadcast_all(type, data))

    async def send_to_user(self, user_id: str, type: str, data: Any = None) -> SendToUserResponse:
        """See `BrainPublisher.send_to_user`."""
        return await self._call(_send_to_user(user_id, type, data))

    async def stats(self) -> StatsResponse:
        """See `BrainPublisher.stats`."""
        return await self._call(_stats())

    async def channel_subscribers(self, channel: str) -> ChannelSubscribersResponse:
        """See `BrainPublisher.channel_subscribers`."""
        return await self._call(_channel_subscribers(channel))

    async def presence(self, channel: str) -> PresenceResponse:
        """See `BrainPublisher.presence`."""
        return await self._call(_presence(channel))

    async def presence_stats(self, channel: str) -> PresenceStatsResponse:
        """See `BrainPublisher.presence_stats`."""
        return await self._call(_presence_stats(channel))

    async def history(
        self, channel: str, limit: int | None = None, since: tuple[str, int] | None = None
    ) -> HistoryResponse:
        """See `BrainPublisher.history`."""
        return await self._call(_history(channel, limit, since))

    async def info(self) -> InfoResponse:
        """See `BrainPublisher.info`."""
        return await self._call(_info())
