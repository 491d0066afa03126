//! Servers the runs are measured against: the two baselines on port 0, and a
//! scripted server that misbehaves on purpose (starves or closes a client)
//! and counts the heartbeat answers it gets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::routing::{get, post};
use axum::{Json, Router};
use brain_ws_bench::{axum_baseline, floor};
use tokio::sync::broadcast;

pub(crate) fn start_floor(threads: usize) -> SocketAddr {
    let listener = floor::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || floor::serve(listener, threads));
    addr
}

pub(crate) async fn start_axum() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum_baseline::router()).await });
    addr
}

#[derive(Clone, Default)]
pub(crate) struct Script {
    /// Connection 0 never gets broadcasts.
    pub starve_first: bool,
    /// Connection 0 is closed with code 4000 after this long.
    pub close_first_after: Option<Duration>,
}

#[derive(Clone)]
struct ScriptState {
    script: Script,
    tx: broadcast::Sender<String>,
    next_id: Arc<AtomicUsize>,
    json_pongs: Arc<AtomicUsize>,
    ws_pongs: Arc<AtomicUsize>,
}

pub(crate) struct Scripted {
    pub addr: SocketAddr,
    pub json_pongs: Arc<AtomicUsize>,
    pub ws_pongs: Arc<AtomicUsize>,
}

/// A server that greets like ours, sends one JSON ping and one WebSocket
/// ping to each client, then forwards broadcasts as the script says.
pub(crate) async fn start_scripted(script: Script) -> Scripted {
    let state = ScriptState {
        script,
        tx: broadcast::channel(64).0,
        next_id: Arc::default(),
        json_pongs: Arc::default(),
        ws_pongs: Arc::default(),
    };
    let scripted = Scripted {
        addr: "127.0.0.1:0".parse().unwrap(),
        json_pongs: state.json_pongs.clone(),
        ws_pongs: state.ws_pongs.clone(),
    };
    let app = Router::new()
        .route("/ws/channel/{channel}", get(upgrade))
        .route("/api/ws/broadcast", post(broadcast_handler))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Scripted { addr, ..scripted }
}

async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<ScriptState>,
) -> axum::response::Response {
    let id = state.next_id.fetch_add(1, Ordering::SeqCst);
    ws.on_upgrade(move |socket| session(socket, id, state))
}

async fn session(mut socket: WebSocket, id: usize, state: ScriptState) {
    let mut rx = state.tx.subscribe();
    for text in [
        r#"{"type":"connected","connection_id":"00000000-0000-4000-8000-000000000000","timestamp":1.0,"heartbeat_interval":1.0,"protocol":"brain.v1"}"#,
        r#"{"type":"subscribed","channel":"bench","timestamp":1.0}"#,
        r#"{"type":"ping","timestamp":1.0}"#,
    ] {
        socket.send(Message::Text(text.into())).await.unwrap();
    }
    socket.send(Message::Ping("hb".into())).await.unwrap();
    let close_at = state
        .script
        .close_first_after
        .filter(|_| id == 0)
        .map(|d| tokio::time::Instant::now() + d);
    loop {
        tokio::select! {
            () = async { tokio::time::sleep_until(close_at.unwrap()).await }, if close_at.is_some() => {
                let frame = CloseFrame { code: 4000, reason: "heartbeat timeout".into() };
                let _ = socket.send(Message::Close(Some(frame))).await;
                return;
            }
            frame = rx.recv() => {
                let Ok(frame) = frame else { return };
                if !(state.script.starve_first && id == 0)
                    && socket.send(Message::Text(frame.into())).await.is_err()
                {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(t))) if t.as_str() == r#"{"type":"pong"}"# => {
                    state.json_pongs.fetch_add(1, Ordering::SeqCst);
                }
                Some(Ok(Message::Pong(p))) if p.as_ref() == b"hb" => {
                    state.ws_pongs.fetch_add(1, Ordering::SeqCst);
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

async fn broadcast_handler(
    State(state): State<ScriptState>,
    Json(body): Json<serde_json::Value>,
) -> Json<serde_json::Value> {
    let frame = serde_json::json!({
        "type": body["type"], "channel": body["channel"], "data": body["message"], "timestamp": 1.0
    });
    let subscribers = state.tx.send(frame.to_string()).unwrap_or(0);
    Json(
        serde_json::json!({"status": "broadcasted", "channel": body["channel"], "subscribers": subscribers}),
    )
}
