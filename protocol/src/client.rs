//! Messages a WebSocket client sends (Channel System, Heartbeat).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ChannelName, EventType};

/// A position in a channel's history: the last event a client saw there
/// (docs/protocol.md, "History and recovery").
///
/// `epoch` names one incarnation of the channel's history; when the history is
/// lost (a restart of an in-memory node, a flushed Redis) the epoch changes and
/// offsets from the old epoch mean nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StreamPosition {
    /// The history incarnation the offset belongs to.
    pub epoch: String,
    /// The offset of the last event seen.
    pub offset: u64,
}

/// A message from a WebSocket client to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Channel System, "Subscribing to Channels": `{"type":"subscribe","channel":"missions"}`.
    /// With `since`, asks the server to replay what the client missed;
    /// with `rewind`, the channel's latest retained events (never both).
    Subscribe {
        /// The channel to subscribe to.
        channel: ChannelName,
        /// The last position seen, for recovery after a reconnect.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<StreamPosition>,
        /// Ask for the channel's `join` and `leave` messages (docs/protocol.md,
        /// "Presence"): honoured on channels with presence enabled, which
        /// `subscribed.presence` confirms. The subscriber's own join is not
        /// sent to it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        presence: bool,
        /// Replay the channel's last `rewind` retained events before live
        /// ones (docs/protocol.md, "Rewind"): at most the server's
        /// `history.max_rewind` (`GET /api/ws/info`), and not with `since`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rewind: Option<u64>,
    },
    /// Channel System, "Unsubscribing".
    Unsubscribe {
        /// The channel to leave.
        channel: ChannelName,
    },
    /// Connection Management, "Heartbeat": the answer to a server `ping`.
    Pong,
    /// A client-initiated liveness check; the server answers `pong`.
    Ping,
    /// Publish an event to a channel that allows client publishing.
    Publish {
        /// The channel to publish on.
        channel: ChannelName,
        /// The event type subscribers receive.
        event: EventType,
        /// The event payload.
        #[serde(default)]
        data: serde_json::Value,
    },
}

impl ClientMessage {
    /// The message's `type` on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientMessage::Subscribe { .. } => "subscribe",
            ClientMessage::Unsubscribe { .. } => "unsubscribe",
            ClientMessage::Pong => "pong",
            ClientMessage::Ping => "ping",
            ClientMessage::Publish { .. } => "publish",
        }
    }

    /// The JSON text of this message.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every key is a string and every
        // value is plain data.
        serde_json::to_string(self).unwrap_or_default()
    }
}
