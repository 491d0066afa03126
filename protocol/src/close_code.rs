//! WebSocket close codes of the protocol, and the one rule that tells a
//! client whether to reconnect (docs/protocol.md, "Close codes"). Not every
//! listed code is sent by this server: 4003 and 4004 are reserved for
//! servers that decide those cases after the upgrade (this one refuses a
//! user over its limit with HTTP 429 and drops a slow handshake before it).
//!
//! The ranges follow centrifuge: 4000-4499 are transient conditions (the
//! client should reconnect with backoff), 4500-4999 are terminal (reconnecting
//! with the same credentials would fail the same way).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A WebSocket close code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure (the client asked to close). Do not reconnect.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the server is shutting down or restarting. Reconnect.
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: WebSocket protocol error. Do not reconnect (a client bug).
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1007: a text frame (or close reason) was not valid UTF-8. Do not
    /// reconnect (a client bug: the same frame would fail the same way).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1006: the connection dropped without a close frame (never sent). Reconnect.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1009: a frame exceeded the server's `max_message_size`. Reconnect; do not resend it.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1011: unexpected server error. Reconnect.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 4000: no pong or other message within the heartbeat timeout. Reconnect.
    pub const HEARTBEAT_TIMEOUT: CloseCode = CloseCode(4000);
    /// 4001: the connection's outbound queue overflowed (slow consumer). Reconnect.
    pub const SLOW_CONSUMER: CloseCode = CloseCode(4001);
    /// 4002: the connection's token expired. Reconnect with a fresh token.
    pub const TOKEN_EXPIRED: CloseCode = CloseCode(4002);
    /// 4003: the user's connection limit is reached. Reconnect later.
    /// (This server answers HTTP 429 before the upgrade instead.)
    pub const USER_CONNECTION_LIMIT: CloseCode = CloseCode(4003);
    /// 4004: the connection did not complete its first exchange in time. Reconnect.
    /// (This server drops a handshake that is too slow before the upgrade.)
    pub const HANDSHAKE_TIMEOUT: CloseCode = CloseCode(4004);
    /// 4500: the credentials were refused. Do not reconnect.
    pub const UNAUTHORIZED: CloseCode = CloseCode(4500);
    /// 4501: the connection was closed for sustained abuse (rate limit). Do not reconnect.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(4501);

    /// Every code of the protocol with a short name and its meaning, for
    /// docs, tests and the generated `schemas/close-codes.json`.
    pub const TABLE: &'static [(CloseCode, &'static str, &'static str)] = &[
        (
            Self::NORMAL,
            "normal",
            "normal closure (the client asked to close)",
        ),
        (
            Self::GOING_AWAY,
            "going_away",
            "the server is shutting down or restarting",
        ),
        (
            Self::PROTOCOL_ERROR,
            "protocol_error",
            "WebSocket protocol error",
        ),
        (
            Self::INVALID_PAYLOAD,
            "invalid_payload",
            "a text frame was not valid UTF-8",
        ),
        (
            Self::ABNORMAL,
            "abnormal",
            "the connection dropped without a close frame (never sent)",
        ),
        (
            Self::MESSAGE_TOO_BIG,
            "message_too_big",
            "a frame exceeded the server's max_message_size",
        ),
        (
            Self::INTERNAL_ERROR,
            "internal_error",
            "unexpected server error",
        ),
        (
            Self::HEARTBEAT_TIMEOUT,
            "heartbeat_timeout",
            "no pong or other message within the heartbeat timeout",
        ),
        (
            Self::SLOW_CONSUMER,
            "slow_consumer",
            "the connection's outbound queue overflowed",
        ),
        (
            Self::TOKEN_EXPIRED,
            "token_expired",
            "the connection's token expired: reconnect with a fresh token",
        ),
        (
            Self::USER_CONNECTION_LIMIT,
            "user_connection_limit",
            "the user's connection limit is reached",
        ),
        (
            Self::HANDSHAKE_TIMEOUT,
            "handshake_timeout",
            "the first exchange did not complete in time",
        ),
        (
            Self::UNAUTHORIZED,
            "unauthorized",
            "the credentials were refused",
        ),
        (
            Self::POLICY_VIOLATION,
            "policy_violation",
            "closed for sustained abuse (rate limit)",
        ),
    ];

    /// Codes outside the terminal range after which a client must not
    /// reconnect (see [`should_reconnect`]).
    pub const TERMINAL_CODES: &'static [u16] = &[1000, 1002, 1003, 1007, 1008];
    /// The range of application codes after which a client must not
    /// reconnect: 4500-4999 (see [`should_reconnect`]).
    pub const TERMINAL_RANGE: std::ops::RangeInclusive<u16> = 4500..=4999;

    /// The `schemas/close-codes.json` document: every named code with its
    /// name, meaning and reconnect class, and the reconnect rule as data
    /// (`terminal_codes`, `terminal_range`), so that clients in other
    /// languages generate [`should_reconnect`] instead of copying it.
    pub fn document() -> serde_json::Value {
        let codes: Vec<serde_json::Value> = Self::TABLE
            .iter()
            .map(|(code, name, meaning)| {
                serde_json::json!({
                    "code": code.0,
                    "name": name,
                    "meaning": meaning,
                    "reconnect": code.should_reconnect(),
                })
            })
            .collect();
        serde_json::json!({
            "title": "BRAiN WebSocket close codes",
            "description": "Every close code of the protocol and the reconnect rule: a client reconnects (with backoff) after any close code except terminal_codes and the codes in terminal_range (inclusive). Generated from brain-ws-protocol (close_code.rs); docs/protocol.md, Close codes.",
            "codes": codes,
            "terminal_codes": Self::TERMINAL_CODES,
            "terminal_range": [Self::TERMINAL_RANGE.start(), Self::TERMINAL_RANGE.end()],
        })
    }

    /// The short name of a known code, or `None`.
    pub fn name(self) -> Option<&'static str> {
        Self::TABLE
            .iter()
            .find(|(code, _, _)| *code == self)
            .map(|(_, name, _)| *name)
    }

    /// Whether a client should reconnect after this close; see [`should_reconnect`].
    pub fn should_reconnect(self) -> bool {
        should_reconnect(self.0)
    }
}

/// Whether a client should reconnect (with backoff) after the server closed
/// the connection with `code`.
///
/// * 1000 (normal), 1002 (protocol error), 1003 (unsupported data), 1007
///   (invalid payload), 1008 (policy) and 4500-4999: no, the same attempt
///   would end the same way.
/// * Everything else, including 1001, 1006, 1009, 1011 and 4000-4499: yes.
pub fn should_reconnect(code: u16) -> bool {
    !(CloseCode::TERMINAL_CODES.contains(&code) || CloseCode::TERMINAL_RANGE.contains(&code))
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_classes_match_the_documented_table() {
        let reconnect: Vec<u16> = CloseCode::TABLE
            .iter()
            .filter(|(c, _, _)| c.should_reconnect())
            .map(|(c, _, _)| c.0)
            .collect();
        assert_eq!(
            reconnect,
            vec![1001, 1006, 1009, 1011, 4000, 4001, 4002, 4003, 4004]
        );
        assert!(!should_reconnect(1000));
        assert!(!should_reconnect(4500));
        assert!(!should_reconnect(4999));
        assert!(should_reconnect(4499));
    }
}
