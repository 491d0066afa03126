//! Batched frames (`?batch=1`, docs/protocol.md): messages queued together
//! go out as one text frame, `\n`-separated, on both write paths (our own
//! accept loop's direct writes and axum's `WebSocket`); without the
//! parameter every frame is one message; a bad value is refused.
//!
//! A rewind is the deterministic way to queue many messages at once: the
//! session queues `subscribed` and every replayed event while it handles
//! the subscribe, and writes only afterwards.

use std::net::SocketAddr;

use brain_ws_protocol::{ChannelName, EventType};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

/// Events published before the subscriber arrives and replayed to it.
const EVENTS: u64 = 50;

async fn publish_history(server: &brain_ws_server::Server) {
    let channel = ChannelName::new("missions").expect("channel");
    let event = EventType::new("mission_update").expect("event type");
    for n in 1..=EVENTS {
        server
            .node()
            .publish(&channel, &event, json!({"n": n}))
            .await
            .expect("publish");
    }
}

/// Subscribes with rewind on `addr` (`query` appended to `/ws/connect`) and
/// reads until the last replayed event and a pong; returns the frames, each
/// as its messages.
async fn frames_of_a_rewind(addr: SocketAddr, query: &str) -> Vec<Vec<Value>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/connect{query}"))
        .await
        .expect("websocket connects");
    ws.send(Message::Text(
        json!({"type": "subscribe", "channel": "missions", "rewind": EVENTS})
            .to_string()
            .into(),
    ))
    .await
    .expect("send");
    let mut frames = Vec::new();
    let mut seen = 0;
    while seen < EVENTS {
        let message = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("frame");
        let Message::Text(text) = message else {
            continue;
        };
        let messages: Vec<Value> = text
            .split('\n')
            .map(|line| serde_json::from_str(line).expect("each line is one JSON message"))
            .collect();
        seen += messages
            .iter()
            .filter(|m| m["type"] == "mission_update")
            .count() as u64;
        frames.push(messages);
    }
    frames
}

/// Every message once, in order: the welcome, `subscribed` (replayed 50),
/// then events 1..=50.
fn assert_sequence(frames: &[Vec<Value>]) {
    let messages: Vec<&Value> = frames.iter().flatten().collect();
    assert_eq!(messages.len() as u64, 2 + EVENTS, "{messages:?}");
    assert_eq!(messages[0]["type"], "connected");
    assert_eq!(messages[1]["type"], "subscribed");
    assert_eq!(messages[1]["replayed"], EVENTS);
    let numbers: Vec<u64> = messages[2..]
        .iter()
        .map(|m| m["data"]["n"].as_u64().expect("n"))
        .collect();
    assert_eq!(numbers, (1..=EVENTS).collect::<Vec<_>>());
}

#[tokio::test]
async fn batched_frames_carry_what_was_queued_together_in_order_on_both_write_paths() {
    let server = start(|_| {}).await;
    publish_history(&server).await;
    let axum_addr = serve(brain_ws_server::router(server.node()), true).await;
    for (path, addr) in [("direct", server.local_addr()), ("axum", axum_addr)] {
        let frames = frames_of_a_rewind(addr, "?batch=1").await;
        assert_sequence(&frames);
        // The subscribe's answer and its whole replay were queued together:
        // one frame (the welcome may have gone out alone before).
        let last = frames.last().expect("a frame");
        assert_eq!(
            last.len() as u64,
            1 + EVENTS,
            "{path}: subscribed and the replay in one frame, got frames of {:?} messages",
            frames.iter().map(Vec::len).collect::<Vec<_>>()
        );
        assert_eq!(last[0]["type"], "subscribed", "{path}");
    }
}

#[tokio::test]
async fn without_batch_every_frame_is_one_message() {
    let server = start(|_| {}).await;
    publish_history(&server).await;
    for query in ["", "?batch=0", "?batch=false"] {
        let frames = frames_of_a_rewind(server.local_addr(), query).await;
        assert_sequence(&frames);
        assert_eq!(frames.len() as u64, 2 + EVENTS, "{query:?}");
    }
}

#[tokio::test]
async fn a_bad_batch_value_is_refused_before_the_upgrade() {
    let server = start(|_| {}).await;
    for path in ["/ws/connect?batch=yes", "/ws/channel/missions?batch=2"] {
        let (status, body) = refused(&server, path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["error"]["code"], "invalid_message", "{path}: {body}");
        let expected = format!(
            "query parameter batch must be 1 or 0 (true or false), got \"{}\"",
            path.rsplit('=').next().expect("value")
        );
        assert_eq!(body["error"]["message"], expected, "{path}: {body}");
    }
}
