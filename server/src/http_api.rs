//! The HTTP API (API Reference, "HTTP API Endpoints"): broadcast, send to a
//! user, stats and info, plus health, readiness, metrics, the OpenAPI
//! document and the test page. Every error is a JSON `ErrorBody`.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use brain_ws_protocol::http::*;
use brain_ws_protocol::{ChannelName, ErrorCode, EventType, PROTOCOL_VERSION};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::node::Node;

/// An HTTP error answer with a JSON `ErrorBody`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody::new(code, message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// A JSON body with the status codes the API documents: 413 over the size
/// limit, 400 when it is not JSON, 422 when a field is wrong. The content
/// type is not checked, so `curl -d` works.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    e.status(),
                    ErrorCode::MESSAGE_TOO_LARGE,
                    "request body exceeds the message size limit",
                )
            } else {
                ApiError::new(e.status(), ErrorCode::INVALID_BODY, e.body_text())
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::INVALID_BODY,
                    e.to_string(),
                ),
                Category::Syntax | Category::Eof | Category::Io => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::INVALID_JSON,
                    e.to_string(),
                ),
            }
        })
    }
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::UNAVAILABLE,
        e.to_string(),
    )
}

/// `POST /api/ws/broadcast`.
pub(crate) async fn broadcast(
    State(node): State<Node>,
    JsonBody(req): JsonBody<BroadcastRequest>,
) -> Result<Json<BroadcastResponse>, ApiError> {
    let event_type = req
        .event_type
        .unwrap_or_else(|| EventType::from_static(BroadcastRequest::DEFAULT_TYPE));
    let subscribers = node
        .publish(&req.channel, &event_type, req.message)
        .await
        .map_err(unavailable)?;
    Ok(Json(BroadcastResponse {
        status: BroadcastStatus::Broadcasted,
        channel: req.channel,
        subscribers: subscribers as u64,
    }))
}

/// `POST /api/ws/broadcast/all`.
pub(crate) async fn broadcast_all(
    State(node): State<Node>,
    JsonBody(req): JsonBody<BroadcastAllRequest>,
) -> Result<Json<BroadcastAllResponse>, ApiError> {
    let reached = node
        .broadcast_all(&req.event_type, req.data)
        .await
        .map_err(unavailable)?;
    Ok(Json(BroadcastAllResponse {
        status: BroadcastStatus::Broadcasted,
        total_connections: reached as u64,
    }))
}

/// `POST /api/ws/users/{user_id}/send`.
pub(crate) async fn send_to_user(
    State(node): State<Node>,
    Path(user_id): Path<String>,
    JsonBody(req): JsonBody<SendToUserRequest>,
) -> Result<Json<SendToUserResponse>, ApiError> {
    if user_id.is_empty() || user_id.len() > 256 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::INVALID_BODY,
            "user id must be 1 to 256 bytes",
        ));
    }
    let reached = node
        .send_to_user(&user_id, &req.event_type, req.data)
        .await
        .map_err(unavailable)?;
    Ok(Json(SendToUserResponse {
        status: SendStatus::Sent,
        user_id,
        connections: reached as u64,
    }))
}

/// `GET /api/ws/stats`.
pub(crate) async fn stats(State(node): State<Node>) -> Json<StatsResponse> {
    Json(node.cluster_stats().await)
}

/// `GET /api/ws/channels/{channel}`.
pub(crate) async fn channel(
    State(node): State<Node>,
    Path(channel): Path<String>,
) -> Result<Json<ChannelSubscribersResponse>, ApiError> {
    let channel = ChannelName::new(&channel).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::INVALID_CHANNEL,
            e.to_string(),
        )
    })?;
    Ok(Json(node.cluster_channel(&channel).await))
}

/// Every endpoint, as listed by `GET /api/ws/info`.
pub(crate) const WS_ENDPOINTS: &[&str] = &["/ws/connect", "/ws/channel/{channel}"];
pub(crate) const HTTP_ENDPOINTS: &[&str] = &[
    "POST /api/ws/broadcast",
    "POST /api/ws/broadcast/all",
    "POST /api/ws/users/{user_id}/send",
    "GET /api/ws/stats",
    "GET /api/ws/channels/{channel}",
    "GET /api/ws/info",
    "GET /health",
    "GET /ready",
    "GET /metrics",
    "GET /openapi.json",
    "GET /static/websocket_test.html",
];

/// `GET /api/ws/info`.
pub(crate) async fn info(State(node): State<Node>) -> Json<InfoResponse> {
    Json(info_of(&node))
}

pub(crate) fn info_of(node: &Node) -> InfoResponse {
    let config = node.config();
    let strings = |v: &[crate::pattern::ChannelPattern]| {
        v.iter().map(ToString::to_string).collect::<Vec<_>>()
    };
    let history_channels = strings(&config.history_channels);
    InfoResponse {
        name: "brain-ws-server".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        protocol: PROTOCOL_VERSION.into(),
        node_id: config.node_id.clone(),
        features: Features {
            authentication: config.effective_auth_mode() != AuthMode::None,
            history: config.history_size > 0 && !history_channels.is_empty(),
            client_publish: !config.client_publish_channels.is_empty(),
            multi_node: node.inner.broker.kind() != "memory",
        },
        endpoints: Endpoints {
            websocket: WS_ENDPOINTS.iter().map(|s| (*s).to_owned()).collect(),
            http: HTTP_ENDPOINTS.iter().map(|s| (*s).to_owned()).collect(),
        },
        heartbeat_interval: config.heartbeat_interval.as_secs_f64(),
        heartbeat_timeout: config.heartbeat_timeout.as_secs_f64(),
        max_message_size: config.max_message_size as u64,
        max_subscriptions: config.max_subscriptions as u64,
        auth: config.effective_auth_mode(),
        broker: node.inner.broker.kind().into(),
        history: HistoryInfo {
            enabled: config.history_size > 0 && !history_channels.is_empty(),
            size: config.history_size as u64,
            ttl_seconds: config.history_ttl.as_secs(),
            channels: history_channels,
        },
        client_publish_channels: strings(&config.client_publish_channels),
    }
}

/// `GET /health`: the process is up.
pub(crate) async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
        checks: Default::default(),
    })
}

/// `GET /ready`: the node accepts connections and its broker is reachable
/// (503 while shutting down or while Redis is unreachable).
pub(crate) async fn ready(State(node): State<Node>) -> Response {
    let mut checks = std::collections::BTreeMap::new();
    let kind = node.inner.broker.kind();
    let broker_down = node.broker_unavailable();
    checks.insert(
        "broker".to_owned(),
        match &broker_down {
            None if kind == "memory" => kind.to_owned(),
            None => format!("{kind}: ok"),
            Some(reason) => format!("{kind}: unavailable ({reason})"),
        },
    );
    let shutting_down = node.is_shutting_down();
    if shutting_down {
        checks.insert("shutdown".to_owned(), "in progress".to_owned());
    }
    let (status, text) = if shutting_down || broker_down.is_some() {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    } else {
        (StatusCode::OK, "ok")
    };
    (
        status,
        Json(HealthResponse {
            status: text.into(),
            checks,
        }),
    )
        .into_response()
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(node): State<Node>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )],
        node.render_metrics(),
    )
        .into_response()
}

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

/// `GET /static/websocket_test.html`, embedded in the binary.
pub(crate) async fn test_page() -> Html<&'static str> {
    Html(include_str!("../static/websocket_test.html"))
}

/// Unknown routes.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NOT_FOUND,
        "no such endpoint",
    )
}

/// A known route with the wrong method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::METHOD_NOT_ALLOWED,
        "this endpoint does not accept that method",
    )
}

/// Guards the admin endpoints: a configured API key as `Authorization:
/// Bearer`, compared in constant time; with no key configured, loopback
/// peers only.
pub(crate) async fn admin_guard(
    State(node): State<Node>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let keys = &node.config().api_keys;
    if keys.is_empty() {
        if !peer.ip().is_loopback() {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::FORBIDDEN,
                "the admin API is served to loopback peers only when no API key is configured",
            )
            .into_response();
        }
        return next.run(request).await;
    }
    let presented = crate::auth::bearer(request.headers());
    let Some(presented) = presented else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::UNAUTHORIZED,
            "missing Authorization: Bearer <api key>",
        )
        .into_response();
    };
    // Compare against every key without short-circuiting.
    let matched = keys.iter().fold(0u8, |acc, key| {
        acc | u8::from(bool::from(key.as_bytes().ct_eq(presented.as_bytes())))
    });
    if matched == 0 {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::FORBIDDEN,
            "invalid API key",
        )
        .into_response();
    }
    next.run(request).await
}
