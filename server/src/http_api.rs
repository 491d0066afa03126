//! The HTTP API (API Reference, "HTTP API Endpoints"): broadcast, send to a
//! user, stats and info, plus health, readiness, metrics, the OpenAPI
//! document and the test page. Every error is a JSON `ErrorBody`.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use brain_ws_protocol::http::*;
use brain_ws_protocol::{ChannelName, ErrorCode, EventType, PROTOCOL_VERSION};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::broker::Published;
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

/// A path segment that is not a string: bad percent-encoding or bytes that
/// are not UTF-8 (`/api/ws/channels/%FF`). Answered with the code of the
/// parameter's own invalid values.
pub(crate) fn bad_path(rejection: &PathRejection, status: StatusCode, code: ErrorCode) -> ApiError {
    ApiError::new(status, code, rejection.body_text())
}

/// The JSON error code for an error status that no handler chose a code
/// for (a framework rejection).
fn code_for(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::NOT_FOUND => ErrorCode::NOT_FOUND,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::METHOD_NOT_ALLOWED,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::MESSAGE_TOO_LARGE,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::INVALID_BODY,
        StatusCode::UNAUTHORIZED => ErrorCode::UNAUTHORIZED,
        StatusCode::FORBIDDEN => ErrorCode::FORBIDDEN,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::UNAVAILABLE,
        s if s.is_server_error() => ErrorCode::INTERNAL,
        _ => ErrorCode::INVALID_MESSAGE,
    }
}

/// The last word on every answer of the router: an error status whose body
/// is not JSON (a rejection of axum's own extractors, a layer's refusal) is
/// given the documented `ErrorBody`, with its text as the message and its
/// headers (`Allow`, `Sec-WebSocket-Version`, ...) kept. Handlers choose
/// their codes themselves; this is the net under the framework.
pub(crate) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Framework texts are short; a longer body is cut, not buffered.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_owned(),
        text => text.to_owned(),
    };
    let answer = ApiError::new(status, code_for(status), message).into_response();
    let (answer_parts, body) = answer.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(answer_parts.headers);
    Response::from_parts(parts, body)
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

pub(crate) fn unavailable(e: impl std::fmt::Display) -> ApiError {
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
    let published = match &req.idempotency_key {
        None => node.publish(&req.channel, &event_type, req.message).await,
        Some(key) if key.is_empty() || key.len() > crate::idempotency::MAX_KEY_LEN => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::INVALID_BODY,
                format!(
                    "idempotency_key must be 1 to {} bytes",
                    crate::idempotency::MAX_KEY_LEN
                ),
            ));
        }
        Some(key) => {
            node.publish_idempotent(&req.channel, &event_type, req.message, key)
                .await
        }
    }
    .map_err(unavailable)?;
    Ok(Json(BroadcastResponse {
        status: match published {
            Published::Duplicate => BroadcastStatus::Duplicate,
            Published::Local { .. } | Published::Cluster { .. } => BroadcastStatus::Broadcasted,
        },
        channel: req.channel,
        subscribers: published.recipients() as u64,
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
        total_connections: reached.recipients() as u64,
    }))
}

/// The longest user id in a path, in bytes of UTF-8.
pub(crate) const MAX_USER_ID_BYTES: usize = 256;

/// `POST /api/ws/users/{user_id}/send`.
pub(crate) async fn send_to_user(
    State(node): State<Node>,
    user_id: Result<Path<String>, PathRejection>,
    JsonBody(req): JsonBody<SendToUserRequest>,
) -> Result<Json<SendToUserResponse>, ApiError> {
    let Path(user_id) = user_id.map_err(|e| {
        bad_path(
            &e,
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::INVALID_BODY,
        )
    })?;
    if user_id.is_empty() || user_id.len() > MAX_USER_ID_BYTES {
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
        connections: reached.recipients() as u64,
    }))
}

/// `GET /api/ws/stats`.
pub(crate) async fn stats(State(node): State<Node>) -> Json<StatsResponse> {
    Json(node.cluster_stats().await)
}

/// `GET /api/ws/channels/{channel}`.
pub(crate) async fn channel(
    State(node): State<Node>,
    channel: Result<Path<String>, PathRejection>,
) -> Result<Json<ChannelSubscribersResponse>, ApiError> {
    let channel = channel_in_path(channel)?;
    Ok(Json(node.cluster_channel(&channel).await))
}

/// The `{channel}` of an `/api/ws/channels/{channel}...` path: 400
/// `invalid_channel` when it is not UTF-8 or not a valid name.
pub(crate) fn channel_in_path(
    channel: Result<Path<String>, PathRejection>,
) -> Result<ChannelName, ApiError> {
    let Path(channel) =
        channel.map_err(|e| bad_path(&e, StatusCode::BAD_REQUEST, ErrorCode::INVALID_CHANNEL))?;
    ChannelName::new(&channel).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::INVALID_CHANNEL,
            e.to_string(),
        )
    })
}

/// Every endpoint, as listed by `GET /api/ws/info`.
pub(crate) const WS_ENDPOINTS: &[&str] = &["/ws/connect", "/ws/channel/{channel}"];
pub(crate) const HTTP_ENDPOINTS: &[&str] = &[
    "POST /api/ws/broadcast",
    "POST /api/ws/broadcast/all",
    "POST /api/ws/users/{user_id}/send",
    "GET /api/ws/stats",
    "GET /api/ws/channels/{channel}",
    "GET /api/ws/channels/{channel}/history",
    "GET /api/ws/channels/{channel}/presence",
    "GET /api/ws/channels/{channel}/presence/stats",
    "GET /api/ws/info",
    "GET /health",
    "GET /ready",
    "GET /metrics",
    "GET /openapi.json",
    "GET /static/websocket_test.html",
];

/// `GET /api/ws/info`. The endpoint paths carry the prefix the router is
/// nested under, found by comparing the request's original path with the
/// path axum routed on.
pub(crate) async fn info(
    State(node): State<Node>,
    original: axum::extract::OriginalUri,
    uri: axum::http::Uri,
) -> Json<InfoResponse> {
    let prefix = original.path().strip_suffix(uri.path()).unwrap_or_default();
    Json(info_of(&node, prefix))
}

/// `endpoint` ("GET /health" or "/ws/connect") under `prefix`.
fn prefixed(endpoint: &str, prefix: &str) -> String {
    match endpoint.split_once(' ') {
        Some((method, path)) => format!("{method} {prefix}{path}"),
        None => format!("{prefix}{endpoint}"),
    }
}

pub(crate) fn info_of(node: &Node, prefix: &str) -> InfoResponse {
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
            rewind: config.history_size > 0 && !history_channels.is_empty(),
            history_read: config.history_size > 0 && !history_channels.is_empty(),
            multi_node: node.is_cluster(),
            presence: !config.presence_channels.is_empty(),
        },
        endpoints: Endpoints {
            websocket: WS_ENDPOINTS.iter().map(|s| prefixed(s, prefix)).collect(),
            http: HTTP_ENDPOINTS.iter().map(|s| prefixed(s, prefix)).collect(),
        },
        heartbeat_interval: config.heartbeat_interval.as_secs_f64(),
        heartbeat_timeout: config.heartbeat_timeout.as_secs_f64(),
        max_message_size: config.max_message_size as u64,
        max_subscriptions: config.max_subscriptions as u64,
        auth: config.effective_auth_mode(),
        broker: node.broker_kind().into(),
        history: HistoryInfo {
            enabled: config.history_size > 0 && !history_channels.is_empty(),
            size: config.history_size as u64,
            ttl_seconds: config.history_ttl.as_secs(),
            channels: history_channels,
            max_rewind: crate::rewind::max_rewind(config),
        },
        client_publish_channels: strings(&config.client_publish_channels),
        presence_channels: strings(&config.presence_channels),
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
    let kind = node.broker_kind();
    let broker_down = node.broker_unavailable();
    checks.insert(
        "broker".to_owned(),
        match &broker_down {
            None if !node.is_cluster() => kind.to_owned(),
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

/// `GET /`: where to go from here, as JSON (the server has no home page).
pub(crate) async fn root() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "name": "brain-ws-server",
        "protocol": PROTOCOL_VERSION,
        "test_page": "/static/websocket_test.html",
        "info": "/api/ws/info",
        "openapi": "/openapi.json",
        "websocket": "/ws/connect",
        "health": "/health",
    }))
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
/// Without `ConnectInfo` (a router served without
/// `into_make_service_with_connect_info`) the peer is unknown and, with no
/// key configured, refused with 403 like a remote one.
pub(crate) async fn admin_guard(
    State(node): State<Node>,
    request: Request,
    next: Next,
) -> Response {
    let keys = &node.config().api_keys;
    if keys.is_empty() {
        let peer = request.extensions().get::<ConnectInfo<SocketAddr>>();
        let Some(ConnectInfo(peer)) = peer else {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::FORBIDDEN,
                "the peer address is unknown (serve the router with into_make_service_with_connect_info), and without an API key the admin API is served to loopback peers only",
            )
            .into_response();
        };
        if !peer.ip().is_loopback() {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::FORBIDDEN,
                "the admin API answers only loopback peers while no API key is configured: \
                 start the server with --api-key <key> (or BRAIN_WS_API_KEYS, or api_keys in \
                 the config file) and send Authorization: Bearer <key>",
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
