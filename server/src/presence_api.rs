//! The presence reads of the admin HTTP API (docs/protocol.md, "Presence"),
//! behind the same guard as the other `/api/ws` admin routes:
//! `GET /api/ws/channels/{channel}/presence` and `.../presence/stats`.
//! A channel without presence answers 404 `presence_disabled`; an
//! unreachable cluster broker 503 `unavailable`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use brain_ws_protocol::ErrorCode;
use brain_ws_protocol::http::{PresenceResponse, PresenceStatsResponse};

use crate::http_api::{ApiError, channel_in_path, unavailable};
use crate::node::{Node, PresenceError};

fn refused(e: PresenceError) -> ApiError {
    match e {
        PresenceError::Disabled(_) => ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::PRESENCE_DISABLED,
            e.to_string(),
        ),
        PresenceError::Broker(e) => unavailable(e),
    }
}

/// `GET /api/ws/channels/{channel}/presence`.
pub(crate) async fn members(
    State(node): State<Node>,
    channel: Result<Path<String>, PathRejection>,
) -> Result<Json<PresenceResponse>, ApiError> {
    let channel = channel_in_path(channel)?;
    node.presence(&channel).await.map(Json).map_err(refused)
}

/// `GET /api/ws/channels/{channel}/presence/stats`.
pub(crate) async fn stats(
    State(node): State<Node>,
    channel: Result<Path<String>, PathRejection>,
) -> Result<Json<PresenceStatsResponse>, ApiError> {
    let channel = channel_in_path(channel)?;
    node.presence_stats(&channel)
        .await
        .map(Json)
        .map_err(refused)
}
