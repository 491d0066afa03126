//! Rewind on subscribe (docs/protocol.md, "Rewind"): its limit, and the
//! checks of a `subscribe` message's `rewind` and of `?rewind=N` on
//! `/ws/channel/{channel}`. The replay itself is the brokers' history read
//! (`history::joined`), flushed by `Hub::activate` like a `since` replay.

use std::collections::HashMap;

use axum::http::StatusCode;
use brain_ws_protocol::{ErrorCode, StreamPosition};

use crate::config::Config;
use crate::history::Replay;
use crate::http_api::ApiError;

/// The largest `rewind` accepted (`history.max_rewind` in `GET
/// /api/ws/info`): the history size, the most events a channel retains, or
/// half the connection's outbound queue when that is smaller, so that the
/// replay (queued at once, behind `subscribed`) never overflows the queue
/// and closes the connection as a slow consumer. A larger one is refused
/// rather than cut down, so a client never believes it got what it asked
/// for.
pub(crate) fn max_rewind(config: &Config) -> u64 {
    config.history_size.min(config.outbound_queue / 2) as u64
}

/// The replay a subscribe asks for; `Err` with the message of the
/// `invalid_message` error when `rewind` is above [`max_rewind`]. (The
/// protocol's decoder already refuses `since` with `rewind`.)
pub(crate) fn replay(
    config: &Config,
    since: Option<StreamPosition>,
    rewind: Option<u64>,
) -> Result<Option<Replay>, String> {
    match (since, rewind) {
        (Some(since), _) => Ok(Some(Replay::Since(since))),
        (None, Some(n)) if n > max_rewind(config) => Err(too_large(config, n)),
        (None, Some(n)) => Ok(Some(Replay::Rewind(n))),
        (None, None) => Ok(None),
    }
}

fn too_large(config: &Config, n: u64) -> String {
    format!(
        "rewind {n} is above this server's limit of {} events \
         (history.max_rewind in GET /api/ws/info)",
        max_rewind(config)
    )
}

/// `?rewind=N` on `/ws/channel/{channel}`: 400 `invalid_message` when it
/// is not a whole number or above [`max_rewind`].
pub(crate) fn from_query(
    config: &Config,
    query: &HashMap<String, String>,
) -> Result<Option<Replay>, ApiError> {
    let Some(text) = query.get("rewind") else {
        return Ok(None);
    };
    let refuse = |message: String| {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::INVALID_MESSAGE, message)
    };
    let n: u64 = text.parse().map_err(|_| {
        refuse(format!(
            "query parameter rewind must be a whole number of events, got {:?}",
            text.chars().take(40).collect::<String>()
        ))
    })?;
    replay(config, None, Some(n)).map_err(refuse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_the_smaller_of_the_history_size_and_half_the_queue() {
        let queue_bound = Config {
            history_size: 5000,
            outbound_queue: 1024,
            ..Config::default()
        };
        assert_eq!(max_rewind(&queue_bound), 512);
    }

    #[test]
    fn the_limit_is_the_history_size() {
        let config = Config {
            history_size: 5,
            ..Config::default()
        };
        assert_eq!(replay(&config, None, Some(5)), Ok(Some(Replay::Rewind(5))));
        assert!(
            replay(&config, None, Some(6))
                .unwrap_err()
                .contains("limit of 5")
        );
        let query = |v: &str| HashMap::from([("rewind".to_owned(), v.to_owned())]);
        assert!(from_query(&config, &query("2")).is_ok_and(|r| r == Some(Replay::Rewind(2))));
        for bad in ["6", "-1", "x", ""] {
            assert!(from_query(&config, &query(bad)).is_err(), "{bad}");
        }
        assert!(from_query(&config, &HashMap::new()).is_ok_and(|r| r.is_none()));
    }
}
