"""`BrainClient`: an async subscriber that keeps its subscriptions across
reconnects (docs/protocol.md: Connection lifecycle, History and recovery,
Close codes).

```python
async with BrainClient("ws://127.0.0.1:8000/ws/connect", token=jwt) as client:
    async for item in client.subscribe("missions"):
        if isinstance(item, StreamReset):
            ...  # events may be missing here: refetch state
        else:
            print(item.type, item.data)
```

What it does for the application:

* answers the server's `ping` with `pong`, and treats a server it has not
  heard from for `heartbeat_interval + heartbeat_grace` seconds as gone;
* reconnects with `Backoff` (exponential, full jitter) after every close
  code `should_reconnect` allows, and raises `ConnectionClosedTerminal` from
  every iterator after the others (1000, 1002, 1003, 1007, 1008,
  4500-4999) and after an upgrade refused with 401/403;
* subscribes again after a reconnect with `since: {epoch, offset}` of the
  last event it delivered, so missed events arrive once and in order;
  events at or below that offset in the same epoch (a replay overlapping
  what was delivered) are dropped as duplicates, and offsets are never
  compared across epochs;
* reports every place where events may be missing as a `StreamReset` item in
  the subscription's stream: a new epoch (the channel's history restarted),
  `recovered: false` (history no longer reaches back), or a reconnect on a
  channel without history; also while connected, when the server announces
  that a live subscription's stream restarted or has a gap it cannot fill
  (an unsolicited `subscribed{recovered: false}`): the position moves to
  the server's `{epoch, offset}`, so the new epoch's events (offsets from 1
  again) are delivered, not dropped as duplicates. Nothing is dropped
  silently.

Each subscription has a bounded queue (`queue_size`). When the application
does not keep up, the reader waits for room, stops reading the socket and
so stops answering pings: the server then closes the connection (4001 or
4000) and the client reconnects and recovers with `since`. Events are
delayed, not lost (within the server's history).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from .backoff import Backoff
from .errors import (
    BrainWSError,
    ConnectionClosedTerminal,
    ReconnectGaveUp,
    SubscriptionError,
)
from .generated.catalog import CATALOG
from .generated.close_codes import CloseCode, should_reconnect
from .generated.http.error_body import ErrorBody
from .generated.server_message import (
    Connected,
    ErrorMessage,
    Join,
    Leave,
    PresenceInfo,
    Subscribed,
)

__all__ = ["BrainClient", "CatalogEvent", "Event", "PresenceChange", "StreamReset", "Subscription"]

log = logging.getLogger("brain_ws.client")

RESERVED_TYPES = frozenset(
    {"connected", "ping", "pong", "subscribed", "unsubscribed", "error", "join", "leave"}
)
"""Server control messages; every other `type` is an event."""

# Upgrade refusals worth retrying: the node is full or shutting down (503),
# the user holds too many connections (429), or a proxy timed out (408).
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

Token = str | Callable[[], str | Awaitable[str]] | None


@dataclass(frozen=True)
class Event:
    """An event as received (docs/protocol.md, Event envelope).

    Attributes:
        type: the event type.
        channel: the channel, or `None` for send-to-user and broadcast-all.
        data: the payload, any JSON value.
        timestamp: when it was published, seconds since the Unix epoch.
        offset: its position in the channel's history, on history channels.
    """

    type: str
    channel: str | None
    data: Any
    timestamp: float
    offset: int | None


@dataclass(frozen=True)
class CatalogEvent(Event):
    """A catalogue event whose `data` fits its schema; `payload` is the typed
    model generated from `schemas/events/` (e.g. `MissionCreated`). A
    catalogue type whose data does not fit arrives as a plain `Event`."""

    payload: BaseModel


@dataclass(frozen=True)
class StreamReset:
    """A place in a subscription's stream where events may be missing.

    Attributes:
        channel: the subscription's channel.
        reason: `new_epoch` (the channel's history restarted: offsets start
            over), `history_gap` (same epoch, but the history no longer
            reaches back to `previous_offset`), or `not_recoverable` (the
            channel keeps no history, or the server could not say where it
            is, e.g. during a Redis outage).
        previous_epoch, previous_offset: the last position delivered.
        epoch, offset: where the stream continues (`offset` is the latest
            event before the next one delivered), when the server said.
    """

    channel: str
    reason: Literal["new_epoch", "history_gap", "not_recoverable"]
    previous_epoch: str | None
    previous_offset: int | None
    epoch: str | None
    offset: int | None


@dataclass(frozen=True)
class PresenceChange:
    """A member joined or left a presence channel (docs/protocol.md,
    Presence): only in a subscription made with `presence=True`, never about
    this connection itself.

    Attributes:
        kind: `join` or `leave`.
        channel: the subscription's channel.
        info: the member (`connection_id`, `user_id`, `node_id`, `joined_at`).
    """

    kind: Literal["join", "leave"]
    channel: str
    info: PresenceInfo


Item = Event | StreamReset | PresenceChange


def decode_event(message: dict[str, Any]) -> Event:
    """An event frame as `CatalogEvent` when its type is in the catalogue and
    its data fits, else as `Event`."""
    fields = (
        str(message["type"]),
        message.get("channel"),
        message.get("data"),
        float(message.get("timestamp", 0.0)),
        message.get("offset"),
    )
    entry = CATALOG.get(fields[0])
    if entry is not None:
        try:
            return CatalogEvent(*fields, payload=entry.model.model_validate(fields[2]))
        except ValidationError:
            pass
    return Event(*fields)


class Subscription:
    """One channel's stream: an async iterator of `Event` and `StreamReset`.

    Made by `BrainClient.subscribe`; lives until `unsubscribe()`, the client's
    exit or a terminal error (raised from the iterator).
    """

    def __init__(
        self, client: BrainClient, channel: str, queue_size: int, presence: bool = False
    ) -> None:
        self.channel = channel
        self.presence = presence
        """Whether `subscribe` asked for `join` and `leave` (`PresenceChange`)."""
        self.presence_enabled: bool | None = None
        """With `presence`: whether the channel keeps presence, from `subscribed`."""
        self._client = client
        self._queue: asyncio.Queue[Item | None] = asyncio.Queue(queue_size)
        self._confirmed = asyncio.Event()
        self._settled = asyncio.Event()  # confirmed, refused or ended
        self._error: BaseException | None = None
        self._ended = False
        self.epoch: str | None = None
        """The epoch of the last position delivered (history channels)."""
        self.offset: int | None = None
        """The offset of the last event delivered, or from `subscribed`."""
        self.resets = 0
        """How many `StreamReset` items this subscription produced."""
        self.duplicates = 0
        """Events dropped because their offset was already delivered (same epoch)."""
        self.replayed: int | None = None
        """For a subscribe with `rewind`: how many retained events the server
        replays first (docs/protocol.md, Rewind)."""
        self._rewind: int | None = None
        self._had_connection = False

    async def ready(self) -> None:
        """Wait for the server's first `subscribed`; raises `SubscriptionError`
        when the server refused the channel (or the client's terminal error)."""
        waiter = asyncio.ensure_future(self._settled.wait())
        failed = asyncio.ensure_future(self._client._finished.wait())
        try:
            await asyncio.wait({waiter, failed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            failed.cancel()
        if self._error is not None:
            raise self._error
        if not self._confirmed.is_set():
            self._client._raise_if_failed()
            raise BrainWSError("the client closed before the subscription was confirmed")

    async def unsubscribe(self) -> None:
        """Leave the channel; the iterator ends after the items already queued."""
        await self._client._unsubscribe(self)

    def __aiter__(self) -> AsyncIterator[Item]:
        return self

    async def __anext__(self) -> Item:
        while True:
            if self._queue.empty():
                if self._error is not None:
                    raise self._error
                if self._ended or self._client._finished.is_set():
                    self._client._raise_if_failed()
                    raise StopAsyncIteration
            item = await self._queue.get()
            if item is not None:
                return item

    # --- called by the client's reader ------------------------------------

    def _sent_position(self) -> dict[str, Any] | None:
        if self.epoch is None or self.offset is None:
            return None
        return {"epoch": self.epoch, "offset": self.offset}

    async def _on_subscribed(self, msg: Subscribed, asked_since: bool) -> None:
        reason: Literal["new_epoch", "history_gap", "not_recoverable"] | None = None
        if self._had_connection:
            if not asked_since:
                reason = "not_recoverable"
            elif msg.recovered is not True:
                if msg.epoch is None:
                    reason = "not_recoverable"
                elif msg.epoch != self.epoch:
                    reason = "new_epoch"
                else:
                    reason = "history_gap"
        if reason is not None:
            self.resets += 1
            await self._queue.put(
                StreamReset(self.channel, reason, self.epoch, self.offset, msg.epoch, msg.offset)
            )
        if reason is not None or not asked_since:
            # Continue from the server's latest position, or before the
            # events a rewind replays; with a recovered `since` the replay
            # continues from ours.
            replayed = msg.replayed if not self._had_connection else None
            self.replayed = replayed
            self.epoch, self.offset = msg.epoch, msg.offset
            if replayed and self.offset is not None:
                self.offset -= replayed
        self._had_connection = True
        if msg.presence is not None:
            self.presence_enabled = msg.presence
        self._confirmed.set()
        self._settled.set()

    async def _on_event(self, event: Event) -> None:
        # Offsets compare within one epoch only: a new epoch was reset by
        # `_on_subscribed` before any of its events arrive.
        if event.offset is not None and self.offset is not None and event.offset <= self.offset:
            self.duplicates += 1
            return
        if event.offset is not None:
            self.offset = event.offset
        await self._queue.put(event)

    def _fail(self, error: BaseException | None) -> None:
        if error is not None and self._error is None:
            self._error = error
        self._ended = True
        self._settled.set()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)


class BrainClient:
    """Async WebSocket subscriber with reconnect and recovery.

    Args:
        url: the WebSocket endpoint, e.g. `ws://127.0.0.1:8000/ws/connect`.
        token: a JWT, or a function (sync or async) returning a fresh one for
            each connection attempt (after 4002 `token_expired`); sent as
            `Authorization: Bearer <token>`.
        backoff: reconnect delays (defaults: 0.5 s up to 30 s, full jitter).
        heartbeat_grace: seconds of silence beyond the server's
            `heartbeat_interval` after which the server is treated as gone.
        connect_timeout: seconds for the TCP, TLS and WebSocket handshake.
        queue_size: items buffered per subscription (see the module doc).

    `async with` connects (retrying per `backoff`) and leaves with a normal
    close (1000). `ConnectionClosedTerminal` or `ReconnectGaveUp` is raised by
    `__aenter__`, by `Subscription.ready()` and by the iterators.
    """

    def __init__(
        self,
        url: str,
        token: Token = None,
        *,
        backoff: Backoff | None = None,
        heartbeat_grace: float = 10.0,
        connect_timeout: float = 10.0,
        queue_size: int = 1024,
    ) -> None:
        self.url = url
        self._token = token
        self.backoff = backoff or Backoff()
        self.heartbeat_grace = heartbeat_grace
        self.connect_timeout = connect_timeout
        self.queue_size = queue_size
        self._subs: dict[str, Subscription] = {}
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._finished = asyncio.Event()
        self._error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending_since: dict[str, bool] = {}
        # Channels whose presence upgrade (`_send_subscribe`) awaits
        # its `subscribed`.
        self._pending_upgrade: set[str] = set()
        self._background: set[asyncio.Future[None]] = set()
        self._direct: Subscription | None = None
        self.connection_id: str | None = None
        """The current connection's id from `connected`, if connected."""
        self.connections = 0
        """How many connections were established (1 + reconnects)."""
        self.heartbeat_interval = 30.0
        """The server's `heartbeat_interval` from the last `connected`, seconds."""
        self._last_frame = 0.0
        self.last_close_code: int | None = None
        """The close code that ended the last connection (1006 without a
        close frame), or `None` while the first is open."""

    async def __aenter__(self) -> BrainClient:
        self._task = asyncio.create_task(self._run(), name="brain-ws-client")
        connected = asyncio.ensure_future(self._connected.wait())
        finished = asyncio.ensure_future(self._finished.wait())
        try:
            await asyncio.wait({connected, finished}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            connected.cancel()
            finished.cancel()
        if not self._connected.is_set():
            await self.aclose()
            self._raise_if_failed()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close with 1000 and end every subscription's iterator."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        self._finish(None)

    def subscribe(
        self, channel: str, *, presence: bool = False, rewind: int | None = None
    ) -> Subscription:
        """Subscribe to `channel` (now if connected, else on connection) and
        return its stream. Subscribing twice to a channel returns the same
        `Subscription`. `await sub.ready()` waits for the server's answer.

        With `presence=True` the stream also yields `PresenceChange` items
        (the other members' `join` and `leave`) on a channel that keeps
        presence (`sub.presence_enabled` says, once ready). On a channel
        already subscribed without it, the same `Subscription` asks the
        server again with presence (a repeated `subscribe` delivers each event
        once, docs/protocol.md, Presence) and yields changes from then on.

        With `rewind`, the stream starts with the channel's last `rewind`
        retained events, then live ones, without gap or duplicate
        (docs/protocol.md, Rewind); `sub.replayed` says how many. At most the
        server's `history.max_rewind` (else the subscription fails with
        `SubscriptionError` `invalid_message`); only on the channel's first
        subscribe (a `ValueError` on one this client already holds)."""
        self._raise_if_failed()
        sub = self._subs.get(channel)
        if sub is not None and rewind is not None:
            raise ValueError(
                f"this client already subscribes to {channel}: "
                "rewind applies to a channel's first subscription only"
            )
        if rewind is not None and rewind < 0:
            raise ValueError(f"rewind must be 0 or more events, not {rewind}")
        if sub is not None and presence and not sub.presence:
            sub.presence = True
            sub.presence_enabled = None
            sub._settled.clear()  # `ready()` waits for the answer with presence
            if self._ws is not None and self._connected.is_set():
                self._spawn(self._send_subscribe(self._ws, sub, presence_upgrade=True))
        if sub is None:
            sub = Subscription(self, channel, self.queue_size, presence)
            sub._rewind = rewind
            self._subs[channel] = sub
            if self._ws is not None and self._connected.is_set():
                self._spawn(self._send_subscribe(self._ws, sub))
        return sub

    def direct(self) -> Subscription:
        """The stream of events without a channel: send-to-user (to this
        connection's user) and broadcast-all. Such events have no history,
        so each reconnect puts a `StreamReset("not_recoverable")` in it.
        Events of this kind that arrive before the first call are not kept."""
        self._raise_if_failed()
        if self._direct is None:
            self._direct = Subscription(self, "", self.queue_size)
            self._direct._confirmed.set()
            self._direct._settled.set()
            self._direct._had_connection = self._connected.is_set()
        return self._direct

    async def ping(self) -> None:
        """Send the protocol's `{"type": "ping"}` (the server answers `pong`).

        Raises `BrainWSError` when not connected (the iterators report why)."""
        ws = self._ws
        if ws is None:
            raise BrainWSError("not connected")
        try:
            await ws.send('{"type":"ping"}')
        except ConnectionClosed as exc:
            raise BrainWSError("not connected") from exc

    async def wait_reconnected(self, connections: int) -> None:
        """Wait until `connections` connections were established in total
        (for tests and health checks)."""
        while self.connections < connections:
            self._raise_if_failed()
            if self._finished.is_set():
                raise BrainWSError("the client closed")
            await asyncio.sleep(0.01)

    # --- internals -----------------------------------------------------------

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _finish(self, error: BaseException | None) -> None:
        if error is not None and self._error is None:
            self._error = error
        self._finished.set()
        for sub in [*self._subs.values(), *([self._direct] if self._direct else [])]:
            sub._fail(error)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_subscribe(
        self, ws: ClientConnection, sub: Subscription, *, presence_upgrade: bool = False
    ) -> None:
        """Sends `sub`'s subscribe on `ws`. A `presence_upgrade` subscribes a
        held channel again, with presence and without `since` or `rewind`:
        its answer only sets `presence_enabled` (a reconnect meanwhile
        subscribes with presence anyway)."""
        if ws is not self._ws or self._subs.get(sub.channel) is not sub:
            return  # a connection that ended, or a subscription left meanwhile
        message: dict[str, Any] = {"type": "subscribe", "channel": sub.channel}
        if sub.presence:
            message["presence"] = True
        if presence_upgrade:
            self._pending_upgrade.add(sub.channel)
        else:
            since = sub._sent_position()
            if since is not None:
                message["since"] = since
            elif sub._rewind is not None and not sub._had_connection:
                message["rewind"] = sub._rewind
            self._pending_since[sub.channel] = since is not None
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(message))

    async def _unsubscribe(self, sub: Subscription) -> None:
        if self._subs.get(sub.channel) is sub:
            del self._subs[sub.channel]
            if self._ws is not None:
                with contextlib.suppress(ConnectionClosed):
                    await self._ws.send(json.dumps({"type": "unsubscribe", "channel": sub.channel}))
        sub._fail(None)

    async def _headers(self) -> dict[str, str]:
        token = self._token
        if callable(token):
            value = token()
            token = await value if isinstance(value, Awaitable) else value
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def _run(self) -> None:
        failures = 0
        last: BaseException | None = None
        while True:
            started = time.monotonic()
            try:
                await self._connection(await self._headers())
                return  # the client closed
            except ConnectionClosedTerminal as exc:
                self._finish(exc)
                return
            # asyncio.TimeoutError is TimeoutError from 3.11 on, distinct in 3.10.
            except (OSError, asyncio.TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
                last = exc
                log.info("connection to %s lost: %r", self.url, exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must end the iterators, not hang them
                self._finish(exc)
                raise
            finally:
                self._connected.clear()
                self._ws = None
            if time.monotonic() - started >= self.backoff.reset_after:
                failures = 0
            failures += 1
            if self.backoff.exhausted(failures):
                self._finish(ReconnectGaveUp(failures, last))
                return
            await asyncio.sleep(self.backoff.delay(failures))

    async def _connection(self, headers: dict[str, str]) -> None:
        """One connection: handshake, resubscribe, read until it ends."""
        try:
            ws = await connect(
                self.url,
                additional_headers=headers,
                open_timeout=self.connect_timeout,
                ping_interval=None,  # the protocol's own heartbeat is used instead
                max_size=None,
                proxy=None,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in _RETRY_STATUSES:
                raise
            try:
                reason = ErrorBody.model_validate_json(exc.response.body or b"").error.code
            except ValidationError:
                reason = f"http_{status}"
            raise ConnectionClosedTerminal(None, reason, status) from exc
        self._ws = ws
        try:
            await self._read(ws)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else CloseCode.ABNORMAL
            reason = exc.rcvd.reason if exc.rcvd is not None else ""
            self.last_close_code = code
            if not should_reconnect(code):
                raise ConnectionClosedTerminal(code, reason) from exc
            raise
        finally:
            await ws.close()

    async def _read(self, ws: ClientConnection) -> None:
        # The first frame is `connected`; its heartbeat interval sets how
        # long silence may last before the server counts as gone.
        first = await asyncio.wait_for(ws.recv(), self.connect_timeout)
        try:
            welcome = Connected.model_validate_json(first)
        except ValidationError as exc:
            raise BrainWSError(f"not a brain.v1 server: the first frame is {first!r:.200}") from exc
        self.heartbeat_interval = welcome.heartbeat_interval
        self.connection_id = str(welcome.connection_id)
        self.connections += 1
        # Answers owed by the last connection never come.
        self._pending_since.clear()
        self._pending_upgrade.clear()
        for sub in list(self._subs.values()):
            await self._send_subscribe(ws, sub)
        if self._direct is not None:
            if self._direct._had_connection:
                self._direct.resets += 1
                await self._direct._queue.put(
                    StreamReset("", "not_recoverable", None, None, None, None)
                )
            self._direct._had_connection = True
        self._connected.set()
        # A watchdog instead of a timeout per recv(): wait_for costs a task
        # per frame, which was a tenth of the time per event (bench/subscriber.py).
        self._last_frame = time.monotonic()
        watchdog = asyncio.create_task(self._watchdog(ws))
        try:
            while True:  # recv() raises ConnectionClosed (with the code) at the end
                frame = await ws.recv()
                self._last_frame = time.monotonic()
                await self._dispatch(ws, frame)
        finally:
            watchdog.cancel()

    async def _watchdog(self, ws: ClientConnection) -> None:
        """Drop the connection when the server has been silent for its
        heartbeat interval plus the grace (a silent server answers no close
        handshake, so the transport is aborted: the reader sees 1006)."""
        silence = self.heartbeat_interval + self.heartbeat_grace
        while True:
            idle = time.monotonic() - self._last_frame
            if idle >= silence:
                log.warning("no frame from %s for %.1f s: reconnecting", self.url, idle)
                ws.transport.abort()
                return
            await asyncio.sleep(silence - idle)

    async def _dispatch(self, ws: ClientConnection, frame: str | bytes) -> None:
        try:
            await self._handle(ws, json.loads(frame))
        except (ValueError, TypeError, KeyError) as exc:  # ValidationError is a ValueError
            # A newer server's message this version cannot read: skip it
            # rather than drop the connection (receivers ignore what they
            # do not know, docs/protocol.md, Overview).
            log.warning("ignoring a frame this client cannot read (%s): %.200r", exc, frame)

    async def _handle(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "ping":
            await ws.send('{"type":"pong"}')
        elif kind == "subscribed":
            msg = Subscribed.model_validate(message)
            sub = self._subs.get(msg.channel)
            if (
                sub is not None
                and msg.channel not in self._pending_since
                and msg.channel in self._pending_upgrade
            ):
                self._pending_upgrade.discard(msg.channel)
                sub.presence_enabled = msg.presence
                sub._settled.set()
            elif sub is not None:
                # No subscribe of ours pending: the server's own notice of a
                # stream restart or an unfillable gap on a live subscription
                # (docs/protocol.md, Stream restarts). It answers, like a
                # `since`, where the stream stands relative to our position.
                await sub._on_subscribed(msg, self._pending_since.pop(msg.channel, True))
        elif kind in ("join", "leave"):
            change = (Join if kind == "join" else Leave).model_validate(message)
            sub = self._subs.get(change.channel)
            if sub is not None and sub.presence:
                await sub._queue.put(PresenceChange(kind, change.channel, change.info))
        elif kind == "error":
            error = ErrorMessage.model_validate(message)
            sub = self._subs.get(error.channel or "")
            if sub is not None and sub.channel in self._pending_since:
                # The answer to our subscribe: the channel is refused.
                del self._pending_since[sub.channel]
                del self._subs[sub.channel]
                sub._fail(SubscriptionError(error.code, error.message, sub.channel))
            else:
                log.warning("server error %s: %s", error.code, error.message)
        elif kind not in RESERVED_TYPES:
            event = decode_event(message)
            sub = self._subs.get(event.channel) if event.channel is not None else self._direct
            if sub is not None:
                await sub._on_event(event)
            else:
                log.debug("event %s on %s without a subscription", event.type, event.channel)
