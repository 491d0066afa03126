"""The exceptions of `brain_ws`.

Everything the package raises on purpose derives from `BrainWSError`.
"""

from __future__ import annotations


class BrainWSError(Exception):
    """Base class of every error raised by `brain_ws`."""


class PublishError(BrainWSError):
    """An HTTP API call failed: the one exception type of the publishers.

    Attributes:
        status: the HTTP status (401, 403, 404, 413, 422, 503, ...), or `None`
            when no answer arrived (connection refused, timeout) after the
            retries.
        code: the server's error code from the body
            `{"error": {"code", "message"}}` (docs/protocol.md, Error codes),
            e.g. `unauthorized`, `forbidden`, `invalid_body`,
            `message_too_large`, `unavailable`. When the answer has no such
            body it is `http_<status>`; with no answer at all it is
            `unreachable`.
        message: the server's message (for people; match on `code`).
    """

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class PayloadError(BrainWSError, ValueError):
    """A catalogue event's payload does not fit its schema; nothing was sent.

    Raised by the emitters of `brain_ws.events` (and `emit_event` with a
    catalogue type) before any request. `__cause__` is the pydantic
    `ValidationError` with the details.
    """


class ConnectionClosedTerminal(BrainWSError):
    """The server closed the connection with a code after which a client must
    not reconnect (`should_reconnect(code)` is false: 1000, 1002, 1003, 1007,
    1008, 4500-4999), or refused the WebSocket upgrade with 401/403 (the
    credentials or origin were refused; retrying would fail the same way).

    Attributes:
        code: the close code, or `None` for a refused upgrade.
        reason: the close reason (the code's name with `brain-ws-server`), or
            the refused upgrade's error code.
        status: the HTTP status of a refused upgrade, else `None`.
    """

    def __init__(self, code: int | None, reason: str, status: int | None = None) -> None:
        what = f"close code {code}" if code is not None else f"upgrade refused with HTTP {status}"
        super().__init__(f"{what}: {reason}")
        self.code = code
        self.reason = reason
        self.status = status


class ReconnectGaveUp(BrainWSError):
    """`Backoff.max_attempts` reconnect attempts in a row failed.

    Attributes:
        attempts: how many attempts failed.
    """

    def __init__(self, attempts: int, last: BaseException | None) -> None:
        super().__init__(f"gave up after {attempts} failed connection attempts: {last!r}")
        self.attempts = attempts


class SubscriptionError(BrainWSError):
    """The server refused a subscribe with an `error` message
    (`forbidden`, `subscription_limit`, `invalid_channel`, ...).

    Attributes:
        code: the server's error code.
        message: the server's message.
        channel: the channel named in the request.
    """

    def __init__(self, code: str, message: str, channel: str) -> None:
        super().__init__(f"subscribe to {channel!r} refused: {code}: {message}")
        self.code = code
        self.message = message
        self.channel = channel
