"""`brain_ws`: Python client of the BRAiN WebSocket server.

* `brain_ws.events`: the specification's emitters (`emit_mission_created`,
  ..., `emit_event`, `EventChannel`) over a default publisher;
* `BrainPublisher` / `AsyncBrainPublisher`: the HTTP API;
* `BrainClient`: the async subscriber with reconnect and recovery;
* `brain_ws.models`: the pydantic models generated from `schemas/`;
* `CloseCode`, `should_reconnect`: the close codes, generated from
  `schemas/close-codes.json`.
"""

from .backoff import Backoff
from .client import BrainClient, CatalogEvent, Event, PresenceChange, StreamReset, Subscription
from .errors import (
    BrainWSError,
    ConnectionClosedTerminal,
    PayloadError,
    PublishError,
    ReconnectGaveUp,
    SubscriptionError,
)
from .generated.close_codes import CloseCode, should_reconnect
from .publisher import AsyncBrainPublisher, BrainPublisher

__version__ = "0.1.0"

__all__ = [
    "AsyncBrainPublisher",
    "Backoff",
    "BrainClient",
    "BrainPublisher",
    "BrainWSError",
    "CatalogEvent",
    "CloseCode",
    "ConnectionClosedTerminal",
    "Event",
    "PayloadError",
    "PresenceChange",
    "PublishError",
    "ReconnectGaveUp",
    "StreamReset",
    "Subscription",
    "SubscriptionError",
    "should_reconnect",
]
