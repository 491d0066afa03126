//! A small in-test BRAiN server with switchable defects. Without defects it
//! implements just enough of the protocol for every core scenario to pass;
//! each defect breaks one behaviour, so a test can check the suite catches
//! exactly that.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use brain_ws_protocol::http::{
    AuthMode, BroadcastAllRequest, BroadcastAllResponse, BroadcastRequest, BroadcastResponse,
    BroadcastStatus, ChannelSubscribersResponse, Endpoints, ErrorBody, Features, HealthResponse,
    HistoryInfo, InfoResponse, SendStatus, SendToUserRequest, SendToUserResponse, StatsResponse,
};
use brain_ws_protocol::{
    ChannelName, ClientMessage, Connected, ErrorCode, ErrorMessage, EventEnvelope, EventType,
    PROTOCOL_VERSION, Ping, Pong, ServerMessage, Subscribed, Unsubscribed, decode_client_message,
    unix_timestamp,
};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::mpsc;
use uuid::Uuid;

pub(crate) const HEARTBEAT: Duration = Duration::from_secs(1);
pub(crate) const MAX_MESSAGE_SIZE: usize = 4096;
pub(crate) const MAX_SUBSCRIPTIONS: usize = 10;

/// The behaviours a stub can get wrong.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Defects {
    /// Never sends `subscribed`.
    pub(crate) no_subscribe_confirm: bool,
    /// Pings but never closes a silent client.
    pub(crate) no_heartbeat_timeout: bool,
    /// Closes the connection on invalid JSON instead of answering an error.
    pub(crate) close_on_bad_json: bool,
    /// Channel events are sent without `channel`.
    pub(crate) envelope_without_channel: bool,
    /// `unsubscribed` lacks its required `timestamp` (a schema violation).
    pub(crate) unsubscribed_without_timestamp: bool,
    /// Pings four times per announced interval.
    pub(crate) fast_pings: bool,
}

/// How the stub is configured.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    pub(crate) defects: Defects,
    /// Tokens `valid:<user>` authenticate `<user>`; any other token is refused.
    pub(crate) auth: bool,
}

pub(crate) struct Stub {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Stub {
    pub(crate) async fn start(options: Options) -> Stub {
        let state = Arc::new(Hub {
            options,
            peers: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/ws/connect", get(ws_connect))
            .route("/ws/channel/{channel}", get(ws_channel))
            .route("/api/ws/broadcast", post(broadcast))
            .route("/api/ws/broadcast/all", post(broadcast_all))
            .route("/api/ws/users/{user}/send", post(send_to_user))
            .route("/api/ws/stats", get(stats))
            .route("/api/ws/channels/{channel}", get(channel_info))
            .route("/api/ws/info", get(info))
            .route("/health", get(health))
            .fallback(|| async {
                error(StatusCode::NOT_FOUND, ErrorCode::NOT_FOUND, "no such route")
            })
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Stub { addr, task }
    }

    pub(crate) fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Peer {
    tx: mpsc::UnboundedSender<String>,
    channels: HashSet<String>,
    user: Option<String>,
}

struct Hub {
    options: Options,
    peers: Mutex<HashMap<Uuid, Peer>>,
}

type Shared = State<Arc<Hub>>;

fn error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    (status, Json(ErrorBody::new(code, message))).into_response()
}

/// Parses a JSON body the way the reference server does: 413, 400, 422.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    if body.len() > MAX_MESSAGE_SIZE {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::MESSAGE_TOO_LARGE,
            "body too large",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            ErrorCode::INVALID_JSON,
            &e.to_string(),
        )
    })?;
    serde_json::from_value(value).map_err(|e| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::INVALID_BODY,
            &e.to_string(),
        )
    })
}

/// The carrier rule of docs/security.md: `?token=`, then `Authorization:
/// Bearer`, then a `token.<jwt>` subprotocol; the first non-blank wins.
fn carried<'a>(params: &'a HashMap<String, String>, headers: &'a HeaderMap) -> Option<&'a str> {
    let held = |v: &'a str| Some(v.trim()).filter(|v| !v.is_empty());
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    params
        .get("token")
        .and_then(|t| held(t))
        .or_else(|| {
            header(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.strip_prefix("Bearer "))
                .and_then(held)
        })
        .or_else(|| {
            header(axum::http::header::SEC_WEBSOCKET_PROTOCOL).and_then(|v| {
                v.split(',')
                    .filter_map(|p| p.trim().strip_prefix("token."))
                    .find_map(held)
            })
        })
}

fn authenticate(
    hub: &Hub,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Option<String>, Response> {
    if !hub.options.auth {
        return Ok(None);
    }
    match carried(params, headers) {
        None => Ok(None),
        Some(token) => match token.strip_prefix("valid:") {
            Some(user) => Ok(Some(user.to_owned())),
            None => Err(error(
                StatusCode::UNAUTHORIZED,
                ErrorCode::UNAUTHORIZED,
                "invalid token",
            )),
        },
    }
}

/// `?batch=`: the stub never batches (one message per frame is always
/// allowed) but refuses a value that is not 1/0/true/false, as the protocol says.
fn refuse_bad_batch(params: &HashMap<String, String>) -> Option<Response> {
    match params.get("batch").map(String::as_str) {
        None | Some("0" | "1" | "true" | "false") => None,
        Some(other) => Some(error(
            StatusCode::BAD_REQUEST,
            ErrorCode::INVALID_MESSAGE,
            &format!("query parameter batch must be 1 or 0 (true or false), got {other:?}"),
        )),
    }
}

async fn ws_connect(
    ws: WebSocketUpgrade,
    Query(params): Query<HashMap<String, String>>,
    State(hub): Shared,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = refuse_bad_batch(&params) {
        return refusal;
    }
    match authenticate(&hub, &params, &headers) {
        Ok(user) => ws
            .protocols(["brain.v1"])
            .max_message_size(1 << 20)
            .on_upgrade(move |socket| session(socket, hub, None, user)),
        Err(refusal) => refusal,
    }
}

async fn ws_channel(
    ws: WebSocketUpgrade,
    Path(channel): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    State(hub): Shared,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = ChannelName::validate(&channel) {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::INVALID_CHANNEL,
            &e.to_string(),
        );
    }
    match authenticate(&hub, &params, &headers) {
        Ok(user) => ws
            .protocols(["brain.v1"])
            .max_message_size(1 << 20)
            .on_upgrade(move |socket| session(socket, hub, Some(channel), user)),
        Err(refusal) => refusal,
    }
}

fn frame(message: ServerMessage) -> Message {
    Message::Text(message.to_json().into())
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

fn error_frame(code: ErrorCode, message: &str, channel: Option<&str>) -> Message {
    frame(ServerMessage::Error(ErrorMessage {
        code,
        message: message.to_owned(),
        channel: channel.map(str::to_owned),
    }))
}

async fn session(
    mut socket: WebSocket,
    hub: Arc<Hub>,
    channel: Option<String>,
    user: Option<String>,
) {
    let id = Uuid::new_v4();
    let (tx, mut rx) = mpsc::unbounded_channel();
    hub.peers.lock().unwrap().insert(
        id,
        Peer {
            tx,
            channels: HashSet::new(),
            user: user.clone(),
        },
    );
    let welcome = ServerMessage::Connected(Connected {
        connection_id: id,
        timestamp: unix_timestamp(),
        user_id: user,
        heartbeat_interval: HEARTBEAT.as_secs_f64(),
        protocol: PROTOCOL_VERSION.into(),
    });
    let mut alive = socket.send(frame(welcome)).await.is_ok();
    if let (true, Some(reply)) = (alive, channel.and_then(|c| subscribe(&hub, id, &c))) {
        alive = socket.send(reply).await.is_ok();
    }
    let period = if hub.options.defects.fast_pings {
        HEARTBEAT / 4
    } else {
        HEARTBEAT
    };
    let mut ticker = tokio::time::interval(period);
    ticker.tick().await;
    let mut pinged_at: Option<Instant> = None;
    while alive {
        tokio::select! {
            incoming = socket.recv() => {
                let message = match incoming {
                    Some(Ok(message)) => message,
                    // RFC 6455 7.4.1: a protocol error gets a close frame.
                    Some(Err(e)) => {
                        if let Some(code) = protocol_error_close(&e) {
                            let _ = socket.send(close(code, "protocol error")).await;
                        }
                        break;
                    }
                    None => break,
                };
                pinged_at = None;
                let replies = handle(&hub, id, message);
                let ended = replies.iter().any(|m| matches!(m, Message::Close(_)));
                for reply in replies {
                    if socket.send(reply).await.is_err() {
                        alive = false;
                    }
                }
                if ended {
                    break;
                }
            }
            Some(text) = rx.recv() => {
                alive = socket.send(Message::Text(text.into())).await.is_ok();
            }
            _ = ticker.tick() => {
                let silent = pinged_at.is_some_and(|at| at.elapsed() >= HEARTBEAT);
                if silent && !hub.options.defects.no_heartbeat_timeout {
                    let _ = socket.send(close(4000, "heartbeat timeout")).await;
                    break;
                }
                let ping = ServerMessage::Ping(Ping { timestamp: unix_timestamp() });
                alive = socket.send(frame(ping)).await.is_ok();
                pinged_at.get_or_insert_with(Instant::now);
            }
        }
    }
    hub.peers.lock().unwrap().remove(&id);
}

/// Subscribes `id` to `channel`; the confirmation to send, if any.
fn subscribe(hub: &Hub, id: Uuid, channel: &str) -> Option<Message> {
    let mut peers = hub.peers.lock().unwrap();
    let peer = peers.get_mut(&id)?;
    if !peer.channels.contains(channel) && peer.channels.len() >= MAX_SUBSCRIPTIONS {
        return Some(error_frame(
            ErrorCode::SUBSCRIPTION_LIMIT,
            "too many subscriptions",
            Some(channel),
        ));
    }
    peer.channels.insert(channel.to_owned());
    if hub.options.defects.no_subscribe_confirm {
        return None;
    }
    Some(frame(ServerMessage::Subscribed(Subscribed {
        channel: ChannelName::new(channel).ok()?,
        timestamp: unix_timestamp(),
        epoch: None,
        offset: None,
        recovered: None,
        presence: None,
        replayed: None,
    })))
}

/// The close code for a read error: 1007 for text that is not UTF-8, 1002
/// for other protocol violations, none when the peer is gone.
fn protocol_error_close(e: &axum::Error) -> Option<u16> {
    use tokio_tungstenite::tungstenite::Error;
    use tokio_tungstenite::tungstenite::error::ProtocolError;
    let inner = std::error::Error::source(e)?.downcast_ref::<Error>()?;
    match inner {
        Error::Utf8(_) => Some(1007),
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        Error::Protocol(_) => Some(1002),
        _ => None,
    }
}

fn handle(hub: &Hub, id: Uuid, message: Message) -> Vec<Message> {
    let text = match message {
        Message::Text(text) => text,
        Message::Binary(_) => {
            return vec![error_frame(
                ErrorCode::BINARY_NOT_SUPPORTED,
                "binary frames are not supported",
                None,
            )];
        }
        Message::Close(_) => return vec![close(1000, "")],
        Message::Ping(_) | Message::Pong(_) => return vec![],
    };
    if text.len() > MAX_MESSAGE_SIZE {
        return vec![close(1009, "message too big")];
    }
    let decoded = match decode_client_message(text.as_str()) {
        Ok(m) => m,
        Err(e) => {
            if hub.options.defects.close_on_bad_json && e.code() == ErrorCode::INVALID_JSON {
                return vec![close(1003, "bad json")];
            }
            return vec![error_frame(e.code(), &e.to_string(), e.channel())];
        }
    };
    match decoded {
        ClientMessage::Subscribe { channel, .. } => {
            subscribe(hub, id, channel.as_str()).into_iter().collect()
        }
        ClientMessage::Unsubscribe { channel } => {
            let removed = hub
                .peers
                .lock()
                .unwrap()
                .get_mut(&id)
                .is_some_and(|p| p.channels.remove(channel.as_str()));
            if removed && hub.options.defects.unsubscribed_without_timestamp {
                let text = serde_json::json!({"type": "unsubscribed", "channel": channel});
                vec![Message::Text(text.to_string().into())]
            } else if removed {
                vec![frame(ServerMessage::Unsubscribed(Unsubscribed {
                    channel,
                    timestamp: unix_timestamp(),
                }))]
            } else {
                vec![error_frame(
                    ErrorCode::NOT_SUBSCRIBED,
                    "not subscribed",
                    Some(channel.as_str()),
                )]
            }
        }
        ClientMessage::Ping => vec![frame(ServerMessage::Pong(Pong {
            timestamp: unix_timestamp(),
        }))],
        ClientMessage::Pong => vec![],
        ClientMessage::Publish { channel, .. } => vec![error_frame(
            ErrorCode::PUBLISH_NOT_ALLOWED,
            "publishing is not allowed",
            Some(channel.as_str()),
        )],
    }
}

fn event(event_type: EventType, channel: Option<ChannelName>, data: Value) -> String {
    ServerMessage::Event(EventEnvelope {
        event_type,
        channel,
        data,
        timestamp: unix_timestamp(),
        offset: None,
    })
    .to_json()
}

async fn broadcast(State(hub): Shared, body: Bytes) -> Response {
    let request: BroadcastRequest = match parse(&body) {
        Ok(r) => r,
        Err(refusal) => return refusal,
    };
    let event_type = request
        .event_type
        .unwrap_or_else(|| EventType::new(BroadcastRequest::DEFAULT_TYPE).unwrap());
    let channel = (!hub.options.defects.envelope_without_channel).then(|| request.channel.clone());
    let text = event(event_type, channel, request.message);
    let peers = hub.peers.lock().unwrap();
    let mut subscribers = 0;
    for peer in peers.values() {
        if peer.channels.contains(request.channel.as_str()) {
            subscribers += 1;
            let _ = peer.tx.send(text.clone());
        }
    }
    Json(BroadcastResponse {
        status: BroadcastStatus::Broadcasted,
        channel: request.channel,
        subscribers,
    })
    .into_response()
}

async fn broadcast_all(State(hub): Shared, body: Bytes) -> Response {
    let request: BroadcastAllRequest = match parse(&body) {
        Ok(r) => r,
        Err(refusal) => return refusal,
    };
    let text = event(request.event_type, None, request.data);
    let peers = hub.peers.lock().unwrap();
    for peer in peers.values() {
        let _ = peer.tx.send(text.clone());
    }
    Json(BroadcastAllResponse {
        status: BroadcastStatus::Broadcasted,
        total_connections: peers.len() as u64,
    })
    .into_response()
}

async fn send_to_user(State(hub): Shared, Path(user): Path<String>, body: Bytes) -> Response {
    let request: SendToUserRequest = match parse(&body) {
        Ok(r) => r,
        Err(refusal) => return refusal,
    };
    let text = event(request.event_type, None, request.data);
    let peers = hub.peers.lock().unwrap();
    let mut connections = 0;
    for peer in peers
        .values()
        .filter(|p| p.user.as_deref() == Some(user.as_str()))
    {
        connections += 1;
        let _ = peer.tx.send(text.clone());
    }
    Json(SendToUserResponse {
        status: SendStatus::Sent,
        user_id: user,
        connections,
    })
    .into_response()
}

async fn stats(State(hub): Shared) -> Response {
    let peers = hub.peers.lock().unwrap();
    let mut channels = std::collections::BTreeMap::new();
    for channel in peers.values().flat_map(|p| p.channels.iter()) {
        *channels.entry(channel.clone()).or_insert(0u64) += 1;
    }
    let users: HashSet<&String> = peers.values().filter_map(|p| p.user.as_ref()).collect();
    Json(StatsResponse {
        total_connections: peers.len() as u64,
        total_users: users.len() as u64,
        total_channels: channels.len() as u64,
        channels,
        nodes: vec![],
    })
    .into_response()
}

async fn channel_info(
    State(hub): Shared,
    channel: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let Ok(Path(channel)) = channel else {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::INVALID_CHANNEL,
            "the channel in the path is not UTF-8",
        );
    };
    let Ok(name) = ChannelName::new(&channel) else {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::INVALID_CHANNEL,
            "invalid channel",
        );
    };
    let peers = hub.peers.lock().unwrap();
    let connection_ids: Vec<Uuid> = peers
        .iter()
        .filter(|(_, p)| p.channels.contains(&channel))
        .map(|(id, _)| *id)
        .collect();
    Json(ChannelSubscribersResponse {
        channel: name,
        subscribers: connection_ids.len() as u64,
        connection_ids,
    })
    .into_response()
}

async fn info(State(hub): Shared) -> Response {
    let auth = hub.options.auth;
    Json(InfoResponse {
        name: "stub".into(),
        version: "0.0.0".into(),
        protocol: PROTOCOL_VERSION.into(),
        node_id: "stub-node".into(),
        features: Features {
            authentication: auth,
            history: false,
            client_publish: false,
            multi_node: false,
            presence: false,
            rewind: false,
            history_read: false,
        },
        endpoints: Endpoints {
            websocket: vec!["/ws/connect".into(), "/ws/channel/{channel}".into()],
            http: vec!["/api/ws/broadcast".into()],
        },
        heartbeat_interval: HEARTBEAT.as_secs_f64(),
        heartbeat_timeout: HEARTBEAT.as_secs_f64(),
        max_message_size: MAX_MESSAGE_SIZE as u64,
        max_subscriptions: MAX_SUBSCRIPTIONS as u64,
        auth: if auth {
            AuthMode::Optional
        } else {
            AuthMode::None
        },
        broker: "memory".into(),
        history: HistoryInfo {
            enabled: false,
            size: 0,
            ttl_seconds: 0,
            channels: vec![],
            max_rewind: 0,
        },
        client_publish_channels: vec![],
        presence_channels: vec![],
    })
    .into_response()
}

async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
        checks: Default::default(),
    })
}
