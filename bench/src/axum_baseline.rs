//! The ordinary way to write this server: axum 0.8 with its default WebSocket
//! settings, one task per connection, a tokio broadcast channel per channel.
//! What a straightforward implementation costs, to compare ours against.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use brain_ws_protocol::ChannelName;
use brain_ws_protocol::http::BroadcastRequest;
use tokio::sync::broadcast;

use crate::envelope;

/// Frames a lagging connection may fall behind by before it loses some.
const CHANNEL_CAPACITY: usize = 1024;

#[derive(Clone, Default)]
struct AppState {
    channels: Arc<Mutex<HashMap<String, broadcast::Sender<Utf8Bytes>>>>,
}

impl AppState {
    fn sender(&self, channel: &str) -> Option<broadcast::Sender<Utf8Bytes>> {
        let mut channels = self.channels.lock().ok()?;
        Some(
            channels
                .entry(channel.to_owned())
                .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
                .clone(),
        )
    }
}

/// The baseline's routes: `GET /ws/channel/{channel}` and `POST /api/ws/broadcast`.
pub fn router() -> Router {
    Router::new()
        .route("/ws/channel/{channel}", get(upgrade))
        .route("/api/ws/broadcast", post(broadcast_handler))
        .with_state(AppState::default())
}

async fn upgrade(
    ws: WebSocketUpgrade,
    Path(channel): Path<String>,
    State(state): State<AppState>,
) -> Response {
    let Ok(name) = ChannelName::new(&channel) else {
        let body = envelope::error_body("invalid_channel", "invalid channel name");
        return (StatusCode::BAD_REQUEST, body).into_response();
    };
    ws.on_upgrade(move |socket| session(socket, name, state))
}

/// One task per connection: forwards the channel's frames and answers pings.
async fn session(mut socket: WebSocket, channel: ChannelName, state: AppState) {
    let Some(sender) = state.sender(channel.as_str()) else {
        return;
    };
    let mut rx = sender.subscribe();
    drop(sender);
    let hello = [
        envelope::connected_json(),
        envelope::subscribed_json(&channel),
    ];
    for text in hello {
        if socket.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            frame = rx.recv() => match frame {
                Ok(text) => {
                    if socket.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) if text.as_str().contains(r#""type":"ping""#) => {
                    let pong = format!(r#"{{"type":"pong","timestamp":{}}}"#, brain_ws_protocol::unix_timestamp());
                    if socket.send(Message::Text(pong.into())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn broadcast_handler(
    State(state): State<AppState>,
    Json(request): Json<BroadcastRequest>,
) -> Response {
    let Some(sender) = state.sender(request.channel.as_str()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let frame = Utf8Bytes::from(envelope::event_json(&request));
    let subscribers = sender.send(frame).unwrap_or(0);
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        envelope::broadcast_response_json(&request.channel, subscribers),
    )
        .into_response()
}
