//! A server that subscribes with messages, like ours on `/ws/connect`:
//! `connected`, then a `subscribed` for every `subscribe` message, and each
//! broadcast only to the connections subscribed to its channel. The floor
//! and the axum baseline subscribe by path only.

use std::collections::HashSet;
use std::net::SocketAddr;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::broadcast;

type Events = broadcast::Sender<(String, String)>;

pub(crate) async fn start_subscribing() -> SocketAddr {
    let app = Router::new()
        .route("/ws/connect", get(upgrade))
        .route("/api/ws/broadcast", post(broadcast_handler))
        .with_state(broadcast::channel::<(String, String)>(1024).0);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn upgrade(ws: WebSocketUpgrade, State(events): State<Events>) -> axum::response::Response {
    ws.on_upgrade(move |socket| session(socket, events))
}

async fn session(mut socket: WebSocket, events: Events) {
    let mut rx = events.subscribe();
    let connected = r#"{"type":"connected","connection_id":"00000000-0000-4000-8000-000000000000","timestamp":1.0,"heartbeat_interval":0.0,"protocol":"brain.v1"}"#;
    if socket.send(Message::Text(connected.into())).await.is_err() {
        return;
    }
    let mut channels: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Ok((channel, frame)) = event else { return };
                if channels.contains(&channel) && socket.send(Message::Text(frame.into())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(t))) => {
                    let message: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                    assert_eq!(message["type"], "subscribe", "{message}");
                    let channel = message["channel"].as_str().unwrap().to_owned();
                    let answer = serde_json::json!({"type": "subscribed", "channel": channel, "timestamp": 1.0});
                    channels.insert(channel);
                    if socket.send(Message::Text(answer.to_string().into())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

async fn broadcast_handler(
    State(events): State<Events>,
    Json(body): Json<serde_json::Value>,
) -> Json<serde_json::Value> {
    let channel = body["channel"].as_str().unwrap().to_owned();
    let frame = serde_json::json!({
        "type": body["type"], "channel": channel, "data": body["message"], "timestamp": 1.0
    });
    let _ = events.send((channel.clone(), frame.to_string()));
    Json(serde_json::json!({"status": "broadcasted", "channel": channel, "subscribers": 0}))
}
