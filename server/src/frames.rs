//! Outgoing messages as shareable frames: [`Frame`] (serialized and
//! WebSocket-encoded once, cloned by reference count for each recipient)
//! and the encoders of every server message.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;

use brain_ws_protocol::{
    ChannelName, ErrorCode, ErrorMessage, EventEnvelope, EventType, Ping, Pong, ServerMessage,
    Subscribed, Unsubscribed, unix_timestamp,
};

/// A frame shared by every recipient: serialized and WebSocket-encoded once,
/// cloned by reference count (one atomic increment per recipient).
///
/// It carries both forms: the JSON text, for sessions that write through
/// axum's `WebSocket`, and the complete unmasked server frame (header and
/// payload), which a direct-write connection hands to the kernel as is.
#[derive(Clone)]
pub struct Frame(Arc<FrameInner>);

struct FrameInner {
    text: Utf8Bytes,
    wire: Bytes,
}

impl Frame {
    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.text.as_str()
    }

    /// The text as axum's message payload (a reference-count increment).
    pub(crate) fn text(&self) -> Utf8Bytes {
        self.0.text.clone()
    }

    /// The whole WebSocket frame as it goes on the wire.
    pub(crate) fn wire(&self) -> &Bytes {
        &self.0.wire
    }
}

impl From<String> for Frame {
    /// One buffer holds both forms: the text is the wire frame's payload
    /// (a slice of it), so a frame costs one copy of its bytes, not two.
    fn from(text: String) -> Self {
        let wire = encode_text_frame(text.as_bytes());
        let payload = wire.slice(wire.len() - text.len()..);
        let text = match Utf8Bytes::try_from(payload) {
            Ok(t) => t,
            // Not reached: the payload is `text`'s own bytes.
            Err(_) => Utf8Bytes::from(text),
        };
        Self(Arc::new(FrameInner { text, wire }))
    }
}

impl From<&str> for Frame {
    fn from(text: &str) -> Self {
        Self::from(text.to_owned())
    }
}

/// Frames read as their JSON text (the broker and history code treat them as text).
impl std::ops::Deref for Frame {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Frame {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl std::fmt::Display for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// An unmasked, final text frame (RFC 6455 section 5.2): servers never mask,
/// so the frame is the same bytes for every recipient.
fn encode_text_frame(payload: &[u8]) -> Bytes {
    let mut out = text_frame_header(payload.len());
    out.extend_from_slice(payload);
    Bytes::from(out)
}

/// The header of an unmasked, final text frame of `len` payload bytes, in a
/// buffer with room for exactly the payload: a full `Vec` becomes `Bytes`
/// without a separate allocation for its shared state.
fn text_frame_header(len: usize) -> Vec<u8> {
    let header = match len {
        0..126 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    };
    let mut out = Vec::with_capacity(header + len);
    out.push(0x81); // FIN + text opcode
    if len < 126 {
        out.push(len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out
}

/// Message batching: most messages, and most payload bytes, in one batched
/// frame (a larger message goes alone). Both write paths follow this rule
/// ([`batch_count`]): a frame far larger would be refused by clients with
/// frame limits, and on axum's path by tungstenite's write buffer bound.
const BATCH_MESSAGES: usize = 256;
const BATCH_BYTES: usize = 64 * 1024;

/// How many of the leading messages, given their JSON text lengths, go in
/// one batched frame: at most [`BATCH_MESSAGES`], and at most
/// [`BATCH_BYTES`] of payload (newlines included) unless the first message
/// alone is larger. 0 only for no messages.
pub(crate) fn batch_count(lengths: impl IntoIterator<Item = usize>) -> usize {
    let mut count = 0;
    let mut bytes = 0;
    for len in lengths {
        if count == BATCH_MESSAGES || (count > 0 && bytes + len > BATCH_BYTES) {
            break;
        }
        count += 1;
        bytes += len + 1;
    }
    count
}

/// Message batching (docs/protocol.md, Batched frames): the JSON texts of
/// several messages as one text payload, in order, separated by `\n`. A
/// compact JSON text never holds a raw newline, so the client splits on it.
pub(crate) fn batch_text<'a>(texts: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for text in texts {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(text);
    }
    out
}

/// [`batch_text`] as one complete wire frame, for direct writes: the
/// payloads are copied once, straight behind the header.
pub(crate) fn batch_wire<'a>(texts: impl Iterator<Item = &'a str> + Clone) -> Bytes {
    let (count, bytes) = texts
        .clone()
        .fold((0usize, 0), |(n, b), t| (n + 1, b + t.len()));
    let mut out = text_frame_header(bytes + count.saturating_sub(1));
    for (i, text) in texts.enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(text.as_bytes());
    }
    Bytes::from(out)
}

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
    presence: Option<bool>,
    replayed: Option<u64>,
) -> Frame {
    encode(&ServerMessage::Subscribed(Subscribed {
        channel: channel.clone(),
        timestamp: unix_timestamp(),
        epoch: position.map(|p| p.epoch.to_string()),
        offset: position.map(|p| p.offset),
        recovered,
        presence,
        replayed,
    }))
}

/// A `join` or `leave` about `info` on a presence channel.
pub(crate) fn presence(
    change: crate::presence::Change,
    channel: &ChannelName,
    info: &brain_ws_protocol::PresenceInfo,
) -> Frame {
    let (channel, info, timestamp) = (channel.clone(), info.clone(), unix_timestamp());
    encode(&match change {
        crate::presence::Change::Join => ServerMessage::Join(brain_ws_protocol::Join {
            channel,
            info,
            timestamp,
        }),
        crate::presence::Change::Leave => ServerMessage::Leave(brain_ws_protocol::Leave {
            channel,
            info,
            timestamp,
        }),
    })
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
