//! The WebSocket endpoints `/ws/connect` and `/ws/channel/{channel}`:
//! everything that is decided before the upgrade (token, channel name,
//! connection limit) and the socket settings of the upgrade itself.

use std::collections::HashMap;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use brain_ws_protocol::{ChannelName, ErrorCode};

use crate::auth::{AuthError, Identity};
use crate::http_api::ApiError;
use crate::metrics::Refusal;
use crate::node::Node;
use crate::session::{self, SessionStart};

/// Initial capacity of tungstenite's read buffer. Its default, 128 KiB, is
/// what makes an idle axum WebSocket cost ~137 KiB; client frames are small,
/// and the buffer grows when a larger one arrives.
const READ_BUFFER: usize = 4 * 1024;
/// Bytes of outgoing frames gathered before a socket write; a batch of
/// queued events goes out in one write up to this size.
const WRITE_BUFFER: usize = 16 * 1024;

/// `GET /ws/connect`.
pub(crate) async fn connect(
    State(node): State<Node>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    accept(node, &query, &headers, upgrade, None)
}

/// `GET /ws/channel/{channel}`: connect and subscribe at once.
pub(crate) async fn channel(
    State(node): State<Node>,
    Path(channel): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    match ChannelName::new(&channel) {
        Ok(channel) => accept(node, &query, &headers, upgrade, Some(channel)),
        Err(e) => {
            node.inner.metrics.refused(Refusal::InvalidChannel);
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::INVALID_CHANNEL,
                e.to_string(),
            )
            .into_response()
        }
    }
}

fn accept(
    node: Node,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    upgrade: WebSocketUpgrade,
    initial_channel: Option<ChannelName>,
) -> Response {
    let identity = match authenticate(&node, query, headers) {
        Ok(identity) => identity,
        Err(e) => {
            node.inner.metrics.refused(Refusal::Unauthorized);
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::UNAUTHORIZED,
                e.to_string(),
            )
            .into_response();
        }
    };
    if node.is_shutting_down() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::UNAVAILABLE,
            "the server is shutting down",
        )
        .into_response();
    }
    let Some(slot) = node.inner.hub.reserve_slot() else {
        node.inner.metrics.refused(Refusal::ConnectionLimit);
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::CONNECTION_LIMIT,
            format!(
                "the server holds its maximum of {} connections",
                node.config().max_connections
            ),
        )
        .into_response();
    };
    let config = node.config();
    let sessions = node.inner.sessions.clone();
    upgrade
        .protocols([brain_ws_protocol::PROTOCOL_VERSION])
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(config.max_message_size.max(WRITE_BUFFER) * 4)
        .max_message_size(config.max_message_size)
        .max_frame_size(config.max_message_size)
        .on_upgrade(move |socket| {
            sessions.track_future(session::run(
                socket,
                SessionStart {
                    node,
                    identity,
                    slot,
                    initial_channel,
                },
            ))
        })
}

/// The token from `?token=`, `Authorization: Bearer`, or a
/// `Sec-WebSocket-Protocol` entry `token.<jwt>`, checked by the configured
/// authenticator. Tokens are never logged.
fn authenticate(
    node: &Node,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Identity, AuthError> {
    let Some(auth) = node.config().authenticator.as_ref() else {
        return Ok(Identity::default());
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let protocol = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .map(str::trim)
                .find_map(|p| p.strip_prefix("token."))
        });
    let token = query
        .get("token")
        .map(String::as_str)
        .or(bearer)
        .or(protocol);
    auth.authenticate(token.filter(|t| !t.is_empty()))
}
