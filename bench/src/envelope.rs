//! The JSON the bench sends and the baselines answer with, built from the
//! protocol crate's types so the three servers put the same bytes on the wire.

use brain_ws_protocol::http::{BroadcastRequest, BroadcastResponse, BroadcastStatus};
use brain_ws_protocol::{
    ChannelName, Connected, EventEnvelope, EventType, PROTOCOL_VERSION, ServerMessage, Subscribed,
    unix_timestamp,
};

/// The event type of every bench broadcast; clients recognise deliveries by it.
pub const BENCH_EVENT_TYPE: &str = "bench";

/// The `connected` welcome a baseline sends first. The baselines do not ping,
/// so `heartbeat_interval` is reported as 0.
pub fn connected_json() -> String {
    ServerMessage::Connected(Connected {
        connection_id: uuid::Uuid::new_v4(),
        timestamp: unix_timestamp(),
        user_id: None,
        heartbeat_interval: 0.0,
        protocol: PROTOCOL_VERSION.to_owned(),
    })
    .to_json()
}

/// The `subscribed` confirmation for `channel`.
pub fn subscribed_json(channel: &ChannelName) -> String {
    ServerMessage::Subscribed(Subscribed {
        channel: channel.clone(),
        timestamp: unix_timestamp(),
        epoch: None,
        offset: None,
        recovered: None,
        presence: None,
        replayed: None,
    })
    .to_json()
}

/// The event envelope a baseline delivers for a broadcast request, exactly the
/// shape `brain-ws-server` sends on a channel without history.
pub fn event_json(request: &BroadcastRequest) -> String {
    let event_type = request
        .event_type
        .clone()
        .unwrap_or_else(|| EventType::from_static(BroadcastRequest::DEFAULT_TYPE));
    ServerMessage::Event(EventEnvelope {
        event_type,
        channel: Some(request.channel.clone()),
        data: request.message.clone(),
        timestamp: unix_timestamp(),
        offset: None,
    })
    .to_json()
}

/// The `POST /api/ws/broadcast` answer.
pub fn broadcast_response_json(channel: &ChannelName, subscribers: usize) -> String {
    let response = BroadcastResponse {
        status: BroadcastStatus::Broadcasted,
        channel: channel.clone(),
        subscribers: subscribers as u64,
    };
    serde_json::to_string(&response).unwrap_or_default()
}

/// The body of an HTTP error, the same shape as the server's.
pub fn error_body(code: &str, message: &str) -> String {
    serde_json::json!({"error": {"code": code, "message": message}}).to_string()
}

/// A broadcast request body whose delivered frame is about `frame_bytes`
/// bytes (header included) on `channel`, carrying `seq`.
pub fn broadcast_body(channel: &str, seq: u64, frame_bytes: usize) -> String {
    typed_broadcast_body(channel, BENCH_EVENT_TYPE, seq, frame_bytes)
}

/// [`broadcast_body`] with another event type: clients time only
/// [`BENCH_EVENT_TYPE`] deliveries, so other types are background traffic.
pub fn typed_broadcast_body(
    channel: &str,
    event_type: &str,
    seq: u64,
    frame_bytes: usize,
) -> String {
    let extra = event_type.len().saturating_sub(BENCH_EVENT_TYPE.len());
    let pad = "x".repeat(pad_len(channel, frame_bytes).saturating_sub(extra));
    serde_json::json!({
        "channel": channel,
        "message": {"seq": seq, "pad": pad},
        "type": event_type,
    })
    .to_string()
}

/// The padding that makes the delivered frame about `frame_bytes` long: the
/// envelope with an empty pad, a typical 18-character timestamp and a
/// six-digit seq, plus the 2-byte frame header, leaves the rest to pad.
fn pad_len(channel: &str, frame_bytes: usize) -> usize {
    let bare = serde_json::json!({
        "type": BENCH_EVENT_TYPE,
        "channel": channel,
        "data": {"seq": 100_000, "pad": ""},
        "timestamp": 1_712_345_678.123_456_7,
    })
    .to_string();
    frame_bytes.saturating_sub(bare.len() + 2)
}

/// Where a delivered bench frame says it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// A bench event with its sequence number.
    Bench(u64),
    /// A server heartbeat that must be answered with a pong.
    Ping,
    /// The subscribe confirmation.
    Subscribed,
    /// Anything else (connected, pong, errors, other events).
    Other,
}

/// Classifies a text frame. The fast path looks for the compact JSON every
/// serde_json server writes; anything else falls back to a real parse, so a
/// server that adds spaces is still understood, only more slowly.
pub fn classify(text: &[u8]) -> Inbound {
    if let Some(rest) = find_after(text, br#""type":""#) {
        if rest.starts_with(br#"bench""#) {
            if let Some(seq) = find_after(text, br#""seq":"#).and_then(leading_u64) {
                return Inbound::Bench(seq);
            }
        } else if rest.starts_with(br#"ping""#) {
            return Inbound::Ping;
        } else if rest.starts_with(br#"subscribed""#) {
            return Inbound::Subscribed;
        } else {
            return Inbound::Other;
        }
    }
    classify_slow(text)
}

fn classify_slow(text: &[u8]) -> Inbound {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(text) else {
        return Inbound::Other;
    };
    match value.get("type").and_then(|t| t.as_str()) {
        Some(BENCH_EVENT_TYPE) => value
            .pointer("/data/seq")
            .and_then(|s| s.as_u64())
            .map_or(Inbound::Other, Inbound::Bench),
        Some("ping") => Inbound::Ping,
        Some("subscribed") => Inbound::Subscribed,
        _ => Inbound::Other,
    }
}

fn find_after<'a>(haystack: &'a [u8], needle: &[u8]) -> Option<&'a [u8]> {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| &haystack[i + needle.len()..])
}

fn leading_u64(bytes: &[u8]) -> Option<u64> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&bytes[..digits]).ok()?.parse().ok()
}
