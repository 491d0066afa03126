//! Bodies of the HTTP API (API Reference, "HTTP API Endpoints"), with the
//! exact key names of the seed.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ChannelName, ErrorCode, EventType, PresenceInfo};

/// `POST /api/ws/broadcast` request: publish `message` on `channel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BroadcastRequest {
    /// The channel to publish on.
    pub channel: ChannelName,
    /// The event payload; subscribers receive it as the envelope's `data`.
    pub message: serde_json::Value,
    /// The event type; `"broadcast"` when absent.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<EventType>,
    /// A key chosen by the publisher (1 to 128 bytes of UTF-8), the same on
    /// every retry of one event: within the idempotency window (10 minutes)
    /// of a publication with the same key, on any node of the cluster, the
    /// event is not delivered again and the answer's status is `duplicate`.
    /// The limit is in bytes (`x-max-bytes`); `maxLength` counts
    /// characters, so a key of 128 characters or fewer that takes more than
    /// 128 bytes is still refused (`422 invalid_body`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), extend("x-max-bytes" = 128))]
    pub idempotency_key: Option<String>,
}

impl BroadcastRequest {
    /// The event type used when the request names none.
    pub const DEFAULT_TYPE: &'static str = "broadcast";
}

/// The `status` of a broadcast response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BroadcastStatus {
    /// The event was delivered (one node) or handed to the cluster broker,
    /// which delivers it on every node.
    Broadcasted,
    /// An event with the same `idempotency_key` was published within the
    /// window: this one was not delivered again.
    Duplicate,
}

/// The `status` of a send-to-user response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    /// The message was handed to the broker.
    Sent,
}

/// `POST /api/ws/broadcast` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BroadcastResponse {
    /// Always `broadcasted`.
    pub status: BroadcastStatus,
    /// The channel published on.
    pub channel: ChannelName,
    /// How many subscribers the channel had (cluster-wide) when published.
    pub subscribers: u64,
}

/// `POST /api/ws/broadcast/all` request: an event to every connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BroadcastAllRequest {
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The event payload.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// `POST /api/ws/broadcast/all` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BroadcastAllResponse {
    /// Always `broadcasted`.
    pub status: BroadcastStatus,
    /// How many connections there were (cluster-wide) when published.
    pub total_connections: u64,
}

/// `POST /api/ws/users/{user_id}/send` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SendToUserRequest {
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The event payload.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// `POST /api/ws/users/{user_id}/send` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SendToUserResponse {
    /// Always `sent`.
    pub status: SendStatus,
    /// The user addressed.
    pub user_id: String,
    /// How many connections the user had (cluster-wide) when sent.
    pub connections: u64,
}

/// `GET /api/ws/stats` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatsResponse {
    /// Open WebSocket connections.
    pub total_connections: u64,
    /// Distinct authenticated users with at least one connection.
    pub total_users: u64,
    /// Channels with at least one subscriber.
    pub total_channels: u64,
    /// Subscribers per channel.
    pub channels: BTreeMap<String, u64>,
    /// Per-node breakdown, when several nodes share a broker.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeStats>,
}

/// One node's part of [`StatsResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodeStats {
    /// The node's id.
    pub node_id: String,
    /// Open connections on the node.
    pub total_connections: u64,
    /// Distinct users connected to the node.
    pub total_users: u64,
    /// Subscribers per channel on the node.
    pub channels: BTreeMap<String, u64>,
}

/// `GET /api/ws/channels/{channel}` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChannelSubscribersResponse {
    /// The channel asked about.
    pub channel: ChannelName,
    /// Its subscriber count.
    pub subscribers: u64,
    /// The subscribed connections' ids.
    pub connection_ids: Vec<Uuid>,
}

/// How a server treats tokens on WebSocket connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Tokens are ignored; every connection is anonymous.
    None,
    /// A valid token identifies the user; no token means anonymous; an
    /// invalid token is refused.
    Optional,
    /// Every connection needs a valid token.
    Required,
}

/// Optional features a server supports, read by clients and the conformance suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Features {
    /// Tokens are verified (auth mode optional or required).
    pub authentication: bool,
    /// Some channels keep history and support `subscribe.since` recovery.
    pub history: bool,
    /// Some channels accept `publish` from clients.
    pub client_publish: bool,
    /// History channels support `subscribe.rewind` (docs/protocol.md,
    /// "Rewind"); absent (false) on servers that predate it.
    #[serde(default)]
    pub rewind: bool,
    /// `GET /api/ws/channels/{channel}/history` is served; absent (false)
    /// on servers that predate it.
    #[serde(default)]
    pub history_read: bool,
    /// The server shares a broker with other nodes.
    pub multi_node: bool,
    /// Some channels keep presence: `subscribe.presence`, `join` and
    /// `leave`, and `GET /api/ws/channels/{channel}/presence`.
    #[serde(default)]
    pub presence: bool,
}

/// The endpoints a server serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Endpoints {
    /// WebSocket endpoints.
    pub websocket: Vec<String>,
    /// HTTP endpoints.
    pub http: Vec<String>,
}

/// History settings, as reported by `GET /api/ws/info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HistoryInfo {
    /// Whether any channel keeps history.
    pub enabled: bool,
    /// Events kept per channel.
    pub size: u64,
    /// Seconds an event is kept.
    pub ttl_seconds: u64,
    /// Channel names or patterns that keep history.
    pub channels: Vec<String>,
    /// The largest `subscribe.rewind` accepted: the history size, or half
    /// the connection's outbound queue when that is smaller (a replay must
    /// fit it); absent (0) on servers that predate rewind. The history
    /// read's `limit` goes up to `size`.
    #[serde(default)]
    pub max_rewind: u64,
}

/// `GET /api/ws/channels/{channel}/history` response (docs/protocol.md,
/// "GET /api/ws/channels/{channel}/history"): retained events of a history channel, oldest
/// first, newest last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HistoryResponse {
    /// The channel asked about.
    pub channel: ChannelName,
    /// The stream's current epoch.
    pub epoch: String,
    /// The offset of the channel's latest event (0 before the first): the
    /// `offset` a subscriber would be answered with now.
    pub offset: u64,
    /// The events, each an event envelope with its `offset`, oldest first.
    /// Without `since`: the latest `limit`. With `since`: the first `limit`
    /// after it (or the oldest retained when `since` is outside the
    /// retained window).
    pub events: Vec<crate::EventEnvelope>,
    /// True when no event between the requested start and the first one
    /// returned was lost: `since` is in this epoch and the history still
    /// reaches back to it, or (without `since`) the history holds the
    /// latest `limit` events or every event of the epoch. False: the
    /// reader missed events it cannot get back.
    pub complete: bool,
}

/// `GET /api/ws/info` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InfoResponse {
    /// Server name.
    pub name: String,
    /// Server version.
    pub version: String,
    /// Protocol identifier, `brain.v1`.
    pub protocol: String,
    /// This node's id.
    pub node_id: String,
    /// Optional features.
    pub features: Features,
    /// Served endpoints.
    pub endpoints: Endpoints,
    /// Seconds between server pings.
    pub heartbeat_interval: f64,
    /// Seconds a connection may stay silent after a ping before it is closed.
    pub heartbeat_timeout: f64,
    /// Largest accepted frame or HTTP body, in bytes.
    pub max_message_size: u64,
    /// Most subscriptions one connection may hold.
    pub max_subscriptions: u64,
    /// Token handling.
    pub auth: AuthMode,
    /// `memory` or `redis`.
    pub broker: String,
    /// History settings.
    pub history: HistoryInfo,
    /// Channel names or patterns that accept client `publish`.
    pub client_publish_channels: Vec<String>,
    /// Channel names or patterns that keep presence (empty: presence off).
    #[serde(default)]
    pub presence_channels: Vec<String>,
}

/// `GET /api/ws/channels/{channel}/presence` response: every subscriber of
/// a presence channel, across the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PresenceResponse {
    /// The channel asked about.
    pub channel: ChannelName,
    /// Its subscribers, oldest join first.
    pub members: Vec<PresenceInfo>,
}

/// `GET /api/ws/channels/{channel}/presence/stats` response: counts kept as
/// subscribers join and leave, so reading them costs the same for 10 or
/// 100,000 subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PresenceStatsResponse {
    /// The channel asked about.
    pub channel: ChannelName,
    /// Subscribed connections, across the cluster.
    pub connections: u64,
    /// Distinct authenticated users among them (a user connected to two
    /// nodes counts once; anonymous connections count in none).
    pub users: u64,
}

/// `GET /health` and `GET /ready` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HealthResponse {
    /// `ok`, or `unavailable` (with 503) when not ready.
    pub status: String,
    /// Named checks and their state, for `/ready`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, String>,
}

/// The JSON body of every 4xx and 5xx HTTP answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The `error` of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

impl ErrorBody {
    /// An error body with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }
}
