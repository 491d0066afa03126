//! Messages a server sends to a WebSocket client: control messages and the
//! event envelope (Connection Management, Channel System, Event Broadcasting).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::{ChannelName, ErrorCode, EventType, RESERVED_TYPES};

/// Connection Management, "Welcome Message": the first message on every connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Connected {
    /// A UUID v4 naming this connection in stats and logs.
    pub connection_id: Uuid,
    /// Seconds since the Unix epoch.
    pub timestamp: f64,
    /// The authenticated user, when the connection carried a valid token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Seconds between server pings; a client that hears nothing for longer
    /// than this (plus a grace period) can treat the server as gone.
    pub heartbeat_interval: f64,
    /// The protocol identifier, `brain.v1`.
    pub protocol: String,
}

/// Connection Management, "Heartbeat": the server's periodic liveness probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ping {
    /// Seconds since the Unix epoch.
    pub timestamp: f64,
}

/// The server's answer to a client `ping`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pong {
    /// Seconds since the Unix epoch.
    pub timestamp: f64,
}

/// Channel System, "Confirmation" of a subscribe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Subscribed {
    /// The channel now subscribed.
    pub channel: ChannelName,
    /// Seconds since the Unix epoch.
    pub timestamp: f64,
    /// The channel history's epoch, when the channel keeps history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// The offset of the channel's latest event, when it keeps history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// For a subscribe with `since`: whether every missed event is replayed
    /// (true) or some were lost (false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<bool>,
    /// For a subscribe with `presence: true`: whether `join` and `leave`
    /// messages follow (true: the channel has presence enabled; false: it
    /// has not, and none will come). Absent when presence was not asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<bool>,
    /// For a subscribe with `rewind`: how many retained events are replayed
    /// before live ones (fewer than asked when the history holds fewer; 0
    /// on a channel without history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed: Option<u64>,
}

/// One subscriber of a presence channel (docs/protocol.md, "Presence"): in
/// `join` and `leave` messages and in `GET /api/ws/channels/{channel}/presence`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PresenceInfo {
    /// The subscribed connection (its `connected.connection_id`).
    pub connection_id: Uuid,
    /// The connection's authenticated user, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The node the connection is on.
    pub node_id: String,
    /// When it subscribed, in seconds since the Unix epoch.
    pub joined_at: f64,
}

/// Presence: a connection subscribed to a presence channel. Sent to the
/// channel's other subscribers that asked with `presence: true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Join {
    /// The presence channel.
    pub channel: ChannelName,
    /// Who joined.
    pub info: PresenceInfo,
    /// Seconds since the Unix epoch, when the server sent it.
    pub timestamp: f64,
}

/// Presence: a connection left a presence channel (unsubscribed,
/// disconnected, or its node stopped answering). Sent to the channel's
/// subscribers that asked with `presence: true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Leave {
    /// The presence channel.
    pub channel: ChannelName,
    /// Who left (as in its `join`).
    pub info: PresenceInfo,
    /// Seconds since the Unix epoch, when the server sent it.
    pub timestamp: f64,
}

/// Channel System, "Unsubscribing" confirmation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Unsubscribed {
    /// The channel left.
    pub channel: ChannelName,
    /// Seconds since the Unix epoch.
    pub timestamp: f64,
}

/// The answer to a client message the server could not honour. The connection
/// stays open (docs/protocol.md, "Error codes").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorMessage {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
    /// The channel the failed request named, when it named one (verbatim, so
    /// it may be an invalid name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// Event Broadcasting: an event as subscribers receive it.
///
/// Channel broadcasts carry `channel`; messages sent to one user and
/// broadcasts to every connection do not. `offset` is present on channels
/// that keep history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EventEnvelope {
    /// The event type, never one of the reserved control types.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The channel the event was published on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelName>,
    /// The event payload.
    pub data: serde_json::Value,
    /// Seconds since the Unix epoch, when the event was published.
    pub timestamp: f64,
    /// The event's position in the channel history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// The control messages, internally tagged by `type`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Control {
    Connected(Connected),
    Ping(Ping),
    Pong(Pong),
    Subscribed(Subscribed),
    Unsubscribed(Unsubscribed),
    Error(ErrorMessage),
    Join(Join),
    Leave(Leave),
}

/// Any message a server sends on a WebSocket.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// The welcome message.
    Connected(Connected),
    /// A server heartbeat.
    Ping(Ping),
    /// The answer to a client ping.
    Pong(Pong),
    /// A subscribe confirmation.
    Subscribed(Subscribed),
    /// An unsubscribe confirmation.
    Unsubscribed(Unsubscribed),
    /// An error answer.
    Error(ErrorMessage),
    /// A presence channel gained a subscriber.
    Join(Join),
    /// A presence channel lost a subscriber.
    Leave(Leave),
    /// An event.
    Event(EventEnvelope),
}

impl ServerMessage {
    /// The JSON text of this message.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Decodes one text frame from a server.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

impl Serialize for ServerMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Control messages borrow-free: cloning here would cost an allocation
        // per message, so serialize through a borrowed mirror.
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum ControlRef<'a> {
            Connected(&'a Connected),
            Ping(&'a Ping),
            Pong(&'a Pong),
            Subscribed(&'a Subscribed),
            Unsubscribed(&'a Unsubscribed),
            Error(&'a ErrorMessage),
            Join(&'a Join),
            Leave(&'a Leave),
        }
        match self {
            ServerMessage::Connected(m) => ControlRef::Connected(m).serialize(s),
            ServerMessage::Ping(m) => ControlRef::Ping(m).serialize(s),
            ServerMessage::Pong(m) => ControlRef::Pong(m).serialize(s),
            ServerMessage::Subscribed(m) => ControlRef::Subscribed(m).serialize(s),
            ServerMessage::Unsubscribed(m) => ControlRef::Unsubscribed(m).serialize(s),
            ServerMessage::Error(m) => ControlRef::Error(m).serialize(s),
            ServerMessage::Join(m) => ControlRef::Join(m).serialize(s),
            ServerMessage::Leave(m) => ControlRef::Leave(m).serialize(s),
            ServerMessage::Event(e) => e.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ServerMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let is_control = value
            .get("type")
            .and_then(|t| t.as_str())
            .map(|t| RESERVED_TYPES.contains(&t))
            .ok_or_else(|| D::Error::custom("message has no string `type`"))?;
        if is_control {
            let control = Control::deserialize(value).map_err(D::Error::custom)?;
            Ok(match control {
                Control::Connected(m) => ServerMessage::Connected(m),
                Control::Ping(m) => ServerMessage::Ping(m),
                Control::Pong(m) => ServerMessage::Pong(m),
                Control::Subscribed(m) => ServerMessage::Subscribed(m),
                Control::Unsubscribed(m) => ServerMessage::Unsubscribed(m),
                Control::Error(m) => ServerMessage::Error(m),
                Control::Join(m) => ServerMessage::Join(m),
                Control::Leave(m) => ServerMessage::Leave(m),
            })
        } else {
            EventEnvelope::deserialize(value)
                .map(ServerMessage::Event)
                .map_err(D::Error::custom)
        }
    }
}

impl JsonSchema for ServerMessage {
    fn schema_name() -> Cow<'static, str> {
        "ServerMessage".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let control = generator.subschema_for::<Control>();
        let event = generator.subschema_for::<EventEnvelope>();
        json_schema!({
            "description": "Any message a BRAiN server sends on a WebSocket: a control message or an event envelope.",
            "oneOf": [control, event]
        })
    }
}
