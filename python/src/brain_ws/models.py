"""The pydantic v2 models generated from `schemas/` (do not edit those; run
`python scripts/generate.py`), re-exported under stable names.

Payloads (`data`) of the catalogue events, HTTP request and response bodies,
and `CATALOG` (event type -> channel and payload model).
"""

from .generated.catalog import CATALOG, CatalogEntry
from .generated.events.agents import AgentError, AgentHeartbeat, AgentRef
from .generated.events.audit import AuditLog
from .generated.events.metrics import MetricsUpdate
from .generated.events.missions import (
    MissionCancelled,
    MissionCompleted,
    MissionCreated,
    MissionFailed,
    MissionRef,
)
from .generated.events.system import SystemAlert, SystemHealth, SystemStatus
from .generated.events.tasks import TaskCompleted, TaskFailed, TaskRef
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
from .generated.server_message import PresenceInfo

__all__ = [
    "CATALOG",
    "AgentError",
    "AgentHeartbeat",
    "AgentRef",
    "AuditLog",
    "BroadcastAllResponse",
    "BroadcastResponse",
    "CatalogEntry",
    "ChannelSubscribersResponse",
    "ErrorBody",
    "HistoryResponse",
    "InfoResponse",
    "MetricsUpdate",
    "MissionCancelled",
    "MissionCompleted",
    "MissionCreated",
    "MissionFailed",
    "MissionRef",
    "PresenceInfo",
    "PresenceResponse",
    "PresenceStatsResponse",
    "SendToUserResponse",
    "StatsResponse",
    "SystemAlert",
    "SystemHealth",
    "SystemStatus",
    "TaskCompleted",
    "TaskFailed",
    "TaskRef",
]
