//! `GET /api/ws/channels/{channel}/history` (docs/protocol.md, HTTP API,
//! the section of that name): a history channel's retained events, read by the rule both
//! brokers share (`history::page`), behind the admin API's guard.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use brain_ws_protocol::http::HistoryResponse;
use brain_ws_protocol::{ErrorCode, EventEnvelope, StreamPosition};

use crate::history::Start;
use crate::http_api::{ApiError, channel_in_path};
use crate::node::Node;

/// `GET /api/ws/channels/{channel}/history?limit=N&since=EPOCH:OFFSET`.
///
/// `limit`: 1 to the history size (default: the history size). `since`:
/// the last position the reader has, `epoch:offset`. Answers 400
/// `invalid_channel` for a bad name, 400 `invalid_message` for a bad
/// parameter, 404 `not_found` for a channel that keeps no history, 503
/// `unavailable` while Redis is unreachable.
pub(crate) async fn history(
    State(node): State<Node>,
    channel: Result<Path<String>, PathRejection>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<HistoryResponse>, ApiError> {
    let channel = channel_in_path(channel)?;
    let config = node.config();
    let max = config.history_size;
    let limit = match query.get("limit") {
        None => max,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                bad_parameter(format!(
                    "limit must be a whole number from 1 to {max} (the history size), got {}",
                    shown(text)
                ))
            })?,
    };
    let since = query.get("since").map(|text| since(text)).transpose()?;
    if !config.keeps_history(channel.as_str()) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NOT_FOUND,
            format!(
                "channel {channel} keeps no history (see history.channels in GET /api/ws/info)"
            ),
        ));
    }
    let start = since.as_ref().map_or(Start::Latest, Start::After);
    let (position, page) = node.history(&channel, start, limit).await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::UNAVAILABLE,
            e.to_string(),
        )
    })?;
    let events = page
        .events
        .iter()
        .map(|(_, frame)| serde_json::from_str::<EventEnvelope>(frame.as_str()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::INTERNAL,
                format!("a stored event does not decode: {e}"),
            )
        })?;
    Ok(Json(HistoryResponse {
        channel,
        epoch: position.epoch.to_string(),
        offset: position.offset,
        events,
        complete: page.complete,
    }))
}

fn bad_parameter(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::INVALID_MESSAGE, message)
}

/// A parameter as quoted in an error message: at most 40 characters.
fn shown(text: &str) -> String {
    format!("{:?}", text.chars().take(40).collect::<String>())
}

/// `since=EPOCH:OFFSET`.
fn since(text: &str) -> Result<StreamPosition, ApiError> {
    text.rsplit_once(':')
        .and_then(|(epoch, offset)| {
            Some(StreamPosition {
                epoch: (!epoch.is_empty()).then(|| epoch.to_owned())?,
                offset: offset.parse().ok()?,
            })
        })
        .ok_or_else(|| {
            bad_parameter(format!(
                "since must be EPOCH:OFFSET (the epoch and offset of the last event read), got {}",
                shown(text)
            ))
        })
}
