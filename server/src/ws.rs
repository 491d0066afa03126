//! The WebSocket endpoints `/ws/connect` and `/ws/channel/{channel}`:
//! everything that is decided before the upgrade (origin, connection limits,
//! token, channel name and authorization) and the socket settings of the
//! upgrade itself. Every refusal is an HTTP error with a JSON body; nothing
//! is decided after the upgrade that could have been decided before.

use std::collections::HashMap;

use axum::extract::rejection::PathRejection;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use brain_ws_protocol::{ChannelName, ErrorCode};

use crate::direct::{self, Upgrade};
use crate::history::Replay;
use crate::http_api::{ApiError, bad_path};
use crate::metrics::Refusal;
use crate::node::Node;
use crate::session::{self, SessionStart, Transport};
use crate::{access, auth, origin};

/// Initial capacity of tungstenite's read buffer, and the most it reads per
/// call. Its default, 128 KiB, is what makes an idle axum WebSocket cost
/// ~137 KiB. Client frames are small (subscribe, pong); a larger one is read
/// in several calls into a buffer reserved for its full length. At 4 KiB
/// this buffer was still half of an idle connection's memory
/// (docs/benchmarks.md).
const READ_BUFFER: usize = 512;
/// Bytes of outgoing frames gathered before a socket write; a batch of
/// queued events goes out in one write up to this size.
const WRITE_BUFFER: usize = 16 * 1024;

/// `GET /ws/connect`.
pub(crate) async fn connect(
    State(node): State<Node>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: Upgrade,
) -> Response {
    let Upgrade { direct, websocket } = upgrade;
    match websocket {
        Ok(upgrade) => accept(node, &query, &headers, (upgrade, direct), None),
        Err(rejection) => not_a_websocket(&node, &query, &headers, None, rejection),
    }
}

/// `GET /ws/channel/{channel}`: connect and subscribe at once; with
/// `?rewind=N`, replaying the channel's last N events first.
pub(crate) async fn channel(
    State(node): State<Node>,
    channel: Result<Path<String>, PathRejection>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: Upgrade,
) -> Response {
    let Upgrade { direct, websocket } = upgrade;
    // A bad `?rewind=` is refused before anything else, upgrade or not.
    let replay = match crate::rewind::from_query(node.config(), &query) {
        Ok(replay) => replay,
        Err(e) => return e.into_response(),
    };
    let upgrade = match websocket {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            let channel = channel.as_ref().ok().map(|Path(c)| c.as_str());
            return not_a_websocket(&node, &query, &headers, channel, rejection);
        }
    };
    let channel = match channel {
        Ok(Path(channel)) => channel,
        Err(e) => {
            node.metrics().refused(Refusal::InvalidChannel);
            return bad_path(&e, StatusCode::BAD_REQUEST, ErrorCode::INVALID_CHANNEL)
                .into_response();
        }
    };
    match ChannelName::new(&channel) {
        Ok(channel) => accept(
            node,
            &query,
            &headers,
            (upgrade, direct),
            Some((channel, replay)),
        ),
        Err(e) => {
            node.metrics().refused(Refusal::InvalidChannel);
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::INVALID_CHANNEL,
                e.to_string(),
            )
            .into_response()
        }
    }
}

/// A plain HTTP request (or a broken handshake) on a WebSocket endpoint.
///
/// It answers what the upgrade would have been refused with, checked the
/// same way (shutdown 503, origin 403, token 401, and for
/// `/ws/channel/{c}` the channel's name 400 and authorization 403), and
/// otherwise axum's rejection as `invalid_message` (400, 405 or 426). A
/// browser sees a refused upgrade only as close 1006, so this is how a
/// client learns why: it fetches the same URL without upgrade headers
/// (docs/protocol.md, Errors). The answer is readable from any origin
/// (`Access-Control-Allow-Origin: *`): it carries no more than the error,
/// and sets no state (no connection slot, no refusal metric).
fn not_a_websocket(
    node: &Node,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    channel: Option<&str>,
    rejection: WebSocketUpgradeRejection,
) -> Response {
    let error = refusal(node, query, headers, channel).unwrap_or_else(|| {
        ApiError::new(
            rejection.status(),
            ErrorCode::INVALID_MESSAGE,
            format!(
                "this endpoint only accepts WebSocket upgrades: {}",
                rejection.body_text()
            ),
        )
    });
    let mut response = error.into_response();
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    response
}

/// The refusal an upgrade of this request would get from the checks that
/// need no reservation (see [`not_a_websocket`]), if any.
fn refusal(
    node: &Node,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    channel: Option<&str>,
) -> Option<ApiError> {
    if node.is_shutting_down() {
        return Some(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::UNAVAILABLE,
            "the server is shutting down",
        ));
    }
    let config = node.config();
    if !origin::allows(&config.allowed_origins, headers.get(header::ORIGIN)) {
        return Some(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::FORBIDDEN,
            ORIGIN_REFUSED,
        ));
    }
    let identity = match auth::resolve(config, token(query, headers)) {
        Ok(identity) => identity,
        Err(e) => {
            return Some(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::UNAUTHORIZED,
                e.to_string(),
            ));
        }
    };
    let channel = match channel.map(ChannelName::new)? {
        Ok(channel) => channel,
        Err(e) => {
            return Some(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::INVALID_CHANNEL,
                e.to_string(),
            ));
        }
    };
    access::check(config, &identity, &channel)
        .err()
        .map(|reason| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::FORBIDDEN,
                reason.to_string(),
            )
        })
}

const ORIGIN_REFUSED: &str = "this origin is not allowed to open WebSocket connections";

fn refuse(
    node: &Node,
    why: Refusal,
    status: StatusCode,
    code: ErrorCode,
    message: String,
) -> Response {
    node.metrics().refused(why);
    ApiError::new(status, code, message).into_response()
}

/// Everything decided before the upgrade, cheapest first: shutdown (503),
/// origin (403), the global limit (503), the token (401), the user's limit
/// (429) and, for `/ws/channel/{c}`, channel authorization (403).
fn accept(
    node: Node,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    (upgrade, direct): (WebSocketUpgrade, Option<hyper::upgrade::OnUpgrade>),
    initial: Option<(ChannelName, Option<Replay>)>,
) -> Response {
    let (initial_channel, initial_replay) = initial.unzip();
    let initial_replay = initial_replay.flatten();
    let batch = match batch(query) {
        Ok(batch) => batch,
        Err(e) => return e.into_response(),
    };
    if node.is_shutting_down() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::UNAVAILABLE,
            "the server is shutting down",
        )
        .into_response();
    }
    let config = node.config();
    if !origin::allows(&config.allowed_origins, headers.get(header::ORIGIN)) {
        return refuse(
            &node,
            Refusal::Origin,
            StatusCode::FORBIDDEN,
            ErrorCode::FORBIDDEN,
            ORIGIN_REFUSED.into(),
        );
    }
    let Some(slot) = node.reserve_slot() else {
        return refuse(
            &node,
            Refusal::ConnectionLimit,
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::CONNECTION_LIMIT,
            format!(
                "the server holds its maximum of {} connections",
                config.max_connections
            ),
        );
    };
    let identity = match auth::resolve(config, token(query, headers)) {
        Ok(identity) => identity,
        Err(e) => {
            return refuse(
                &node,
                Refusal::Unauthorized,
                StatusCode::UNAUTHORIZED,
                ErrorCode::UNAUTHORIZED,
                e.to_string(),
            );
        }
    };
    let user_slot = match (&identity.user_id, config.max_connections_per_user) {
        (Some(user), Some(max)) => match node.reserve_user_slot(user, max) {
            Some(slot) => Some(slot),
            None => {
                return refuse(
                    &node,
                    Refusal::UserConnectionLimit,
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::CONNECTION_LIMIT,
                    format!("this user already holds its maximum of {max} connections"),
                );
            }
        },
        _ => None,
    };
    if let Some(channel) = &initial_channel
        && let Err(reason) = access::check(config, &identity, channel)
    {
        return refuse(
            &node,
            Refusal::Forbidden,
            StatusCode::FORBIDDEN,
            ErrorCode::FORBIDDEN,
            reason.to_string(),
        );
    }
    let sessions = node.sessions().clone();
    let upgrade = upgrade.protocols([brain_ws_protocol::PROTOCOL_VERSION]);
    if let (Some(on_upgrade), Some(key)) = (direct, headers.get(header::SEC_WEBSOCKET_KEY)) {
        let response = direct::switching_protocols(key, upgrade.selected_protocol());
        let ws_config = tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(WRITE_BUFFER)
            .max_write_buffer_size(config.max_message_size.max(WRITE_BUFFER) * 4)
            .max_message_size(Some(config.max_message_size))
            .max_frame_size(Some(config.max_message_size));
        tokio::spawn(sessions.track_future(async move {
            let Some((stream, parts)) = direct::open(on_upgrade, ws_config).await else {
                return;
            };
            session::run(
                Transport::Direct(stream, parts),
                SessionStart {
                    node,
                    identity,
                    slot,
                    user_slot,
                    initial_channel,
                    initial_replay,
                    batch,
                },
            )
            .await;
        }));
        return response;
    }
    // No cap on tungstenite's write buffer on axum's path: a frame larger
    // than a cap (an event published server-side, not bound by
    // `max_message_size`) was refused with `WriteBufferFull` and its
    // connection dropped without a close frame. The buffer stays bounded
    // anyway: every write waits for the previous one to be flushed once the
    // socket is full (tokio-tungstenite's `poll_ready`), so it holds at most
    // `WRITE_BUFFER` plus the frame being written.
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(usize::MAX)
        .max_message_size(config.max_message_size)
        .max_frame_size(config.max_message_size)
        .on_upgrade(move |socket| {
            sessions.track_future(session::run(
                Transport::Axum(socket),
                SessionStart {
                    node,
                    identity,
                    slot,
                    user_slot,
                    initial_channel,
                    initial_replay,
                    batch,
                },
            ))
        })
}

/// `?batch=1` (or `true`): the client takes several messages per text
/// frame, `\n`-separated (docs/protocol.md, Batched frames); `0`/`false`
/// or absent: one message per frame. Anything else is refused (400
/// `invalid_message`) before the upgrade.
fn batch(query: &HashMap<String, String>) -> Result<bool, ApiError> {
    match query.get("batch").map(String::as_str) {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::INVALID_MESSAGE,
            format!(
                "query parameter batch must be 1 or 0 (true or false), got {:?}",
                other.chars().take(40).collect::<String>()
            ),
        )),
    }
}

/// The token of a WebSocket upgrade, by one rule (docs/security.md,
/// "Token carriers"): the carriers are read in the order `?token=`,
/// `Authorization: Bearer <jwt>`, `Sec-WebSocket-Protocol` entry
/// `token.<jwt>`, and the first that holds a value wins. A carrier whose
/// value is empty or only whitespace holds no token, so it never hides a
/// token in a later carrier, and alone it is the same as no token. Values
/// are trimmed. Tokens are never logged.
pub(crate) fn token<'a>(
    query: &'a HashMap<String, String>,
    headers: &'a HeaderMap,
) -> Option<&'a str> {
    fn held(value: &str) -> Option<&str> {
        Some(value.trim()).filter(|v| !v.is_empty())
    }
    let mut protocol = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.trim().strip_prefix("token."));
    query
        .get("token")
        .and_then(|t| held(t))
        .or_else(|| auth::bearer(headers).and_then(held))
        .or_else(|| protocol.find_map(held))
}
