//! Serialization of outgoing messages into shareable frames. Every frame is
//! built once and cloned by reference count for each recipient.

use brain_ws_protocol::{
    ChannelName, ErrorCode, ErrorMessage, EventEnvelope, EventType, Ping, Pong, ServerMessage,
    Subscribed, Unsubscribed, unix_timestamp,
};

use crate::connection::Frame;

pub(crate) fn encode(msg: &ServerMessage) -> Frame {
    Frame::from(msg.to_json())
}

/// An event envelope as a frame. `serde_json` cannot fail on these types
/// (string keys, plain data), so the fallback is never used.
pub(crate) fn event(
    event_type: &EventType,
    channel: Option<&ChannelName>,
    data: &serde_json::Value,
    timestamp: f64,
    offset: Option<u64>,
) -> Frame {
    #[derive(serde::Serialize)]
    struct EnvelopeRef<'a> {
        #[serde(rename = "type")]
        event_type: &'a EventType,
        #[serde(skip_serializing_if = "Option::is_none")]
        channel: Option<&'a ChannelName>,
        data: &'a serde_json::Value,
        timestamp: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        offset: Option<u64>,
    }
    // Mirrors EventEnvelope field for field, borrowing instead of cloning the payload.
    let _shape_check = |e: EventEnvelope| (e.event_type, e.channel, e.data, e.timestamp, e.offset);
    let text = serde_json::to_string(&EnvelopeRef {
        event_type,
        channel,
        data,
        timestamp,
        offset,
    })
    .unwrap_or_default();
    Frame::from(text)
}

pub(crate) fn ping() -> Frame {
    encode(&ServerMessage::Ping(Ping {
        timestamp: unix_timestamp(),
    }))
}

pub(crate) fn pong() -> Frame {
    encode(&ServerMessage::Pong(Pong {
        timestamp: unix_timestamp(),
    }))
}

pub(crate) fn subscribed(
    channel: &ChannelName,
    position: Option<&crate::history::Position>,
    recovered: Option<bool>,
) -> Frame {
    encode(&ServerMessage::Subscribed(Subscribed {
        channel: channel.clone(),
        timestamp: unix_timestamp(),
        epoch: position.map(|p| p.epoch.to_string()),
        offset: position.map(|p| p.offset),
        recovered,
    }))
}

pub(crate) fn unsubscribed(channel: &ChannelName) -> Frame {
    encode(&ServerMessage::Unsubscribed(Unsubscribed {
        channel: channel.clone(),
        timestamp: unix_timestamp(),
    }))
}

pub(crate) fn error(code: ErrorCode, message: impl Into<String>, channel: Option<&str>) -> Frame {
    encode(&ServerMessage::Error(ErrorMessage {
        code,
        message: message.into(),
        channel: channel.map(str::to_owned),
    }))
}
