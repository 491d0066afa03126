//! Decoding client frames with a typed answer for every class of bad input,
//! so the server replies with an `error` message and keeps the connection
//! (the seed's implementation closed the socket on any bad JSON).

use serde_json::{Map, Value};

use crate::{ChannelName, ClientMessage, ErrorCode, EventType, StreamPosition};

/// Why a client frame could not be decoded. Each variant maps to one
/// [`ErrorCode`] through [`DecodeError::code`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The frame is not valid JSON.
    #[error("frame is not valid JSON: {0}")]
    InvalidJson(String),
    /// The frame is JSON but not an object.
    #[error("message must be a JSON object, got {0}")]
    NotAnObject(&'static str),
    /// The object has no `type`, or `type` is not a string.
    #[error("message has no string field `type`")]
    MissingType,
    /// `type` names no client message.
    #[error("unknown message type {0:?}; expected subscribe, unsubscribe, ping, pong or publish")]
    UnknownType(String),
    /// The `channel` field is missing, not a string, or not a valid name.
    #[error("invalid channel: {reason}")]
    InvalidChannel {
        /// The offending value as sent, when it was a string.
        channel: Option<String>,
        /// Why it was refused.
        reason: String,
    },
    /// Another field is missing or malformed.
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// The field's name.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
}

impl DecodeError {
    /// The error code a server answers this input with.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::InvalidJson(_) => ErrorCode::INVALID_JSON,
            DecodeError::NotAnObject(_)
            | DecodeError::MissingType
            | DecodeError::InvalidField { .. } => ErrorCode::INVALID_MESSAGE,
            DecodeError::UnknownType(_) => ErrorCode::UNKNOWN_TYPE,
            DecodeError::InvalidChannel { .. } => ErrorCode::INVALID_CHANNEL,
        }
    }

    /// The channel the bad message named, if any (echoed in the error message).
    pub fn channel(&self) -> Option<&str> {
        match self {
            DecodeError::InvalidChannel { channel, .. } => channel.as_deref(),
            _ => None,
        }
    }
}

/// Decodes one text frame from a client.
///
/// Unknown extra fields are ignored so that newer clients work with older
/// servers; everything else that is wrong yields a [`DecodeError`].
pub fn decode_client_message(text: &str) -> Result<ClientMessage, DecodeError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| DecodeError::InvalidJson(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(DecodeError::NotAnObject(json_kind(&value)));
    };
    let kind = map
        .get("type")
        .and_then(Value::as_str)
        .ok_or(DecodeError::MissingType)?;
    match kind {
        "subscribe" => {
            let channel = channel_field(&map)?;
            let since = since_field(&map)?;
            let rewind = rewind_field(&map)?;
            let presence = presence_field(&map)?;
            if since.is_some() && rewind.is_some() {
                return Err(DecodeError::InvalidField {
                    field: "rewind",
                    reason: "`since` and `rewind` exclude each other: recover from a position \
                             or replay the latest events, not both"
                        .into(),
                });
            }
            Ok(ClientMessage::Subscribe {
                channel,
                since,
                presence,
                rewind,
            })
        }
        "unsubscribe" => Ok(ClientMessage::Unsubscribe {
            channel: channel_field(&map)?,
        }),
        "pong" => Ok(ClientMessage::Pong),
        "ping" => Ok(ClientMessage::Ping),
        "publish" => Ok(ClientMessage::Publish {
            channel: channel_field(&map)?,
            event: event_field(&map)?,
            data: map.get("data").cloned().unwrap_or(Value::Null),
        }),
        other => Err(DecodeError::UnknownType(truncate(other))),
    }
}

fn channel_field(map: &Map<String, Value>) -> Result<ChannelName, DecodeError> {
    match map.get("channel") {
        None | Some(Value::Null) => Err(DecodeError::InvalidChannel {
            channel: None,
            reason: "field `channel` is missing".into(),
        }),
        Some(Value::String(name)) => {
            ChannelName::new(name).map_err(|e| DecodeError::InvalidChannel {
                channel: Some(truncate(name)),
                reason: e.to_string(),
            })
        }
        Some(other) => Err(DecodeError::InvalidChannel {
            channel: None,
            reason: format!("field `channel` must be a string, got {}", json_kind(other)),
        }),
    }
}

fn since_field(map: &Map<String, Value>) -> Result<Option<StreamPosition>, DecodeError> {
    match map.get("since") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => StreamPosition::deserialize_from(value)
            .map(Some)
            .map_err(|reason| DecodeError::InvalidField {
                field: "since",
                reason,
            }),
    }
}

fn presence_field(map: &Map<String, Value>) -> Result<bool, DecodeError> {
    match map.get("presence") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(DecodeError::InvalidField {
            field: "presence",
            reason: format!("must be a boolean, got {}", json_kind(other)),
        }),
    }
}

fn rewind_field(map: &Map<String, Value>) -> Result<Option<u64>, DecodeError> {
    match map.get("rewind") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .map(Some)
            .ok_or_else(|| DecodeError::InvalidField {
                field: "rewind",
                reason: format!(
                    "must be a whole number of events (0 or more), got {}",
                    truncate(&value.to_string())
                ),
            }),
    }
}

fn event_field(map: &Map<String, Value>) -> Result<EventType, DecodeError> {
    let invalid = |reason: String| DecodeError::InvalidField {
        field: "event",
        reason,
    };
    match map.get("event") {
        Some(Value::String(name)) => EventType::new(name).map_err(|e| invalid(e.to_string())),
        Some(other) => Err(invalid(format!(
            "must be a string, got {}",
            json_kind(other)
        ))),
        None => Err(invalid("field is missing".into())),
    }
}

impl StreamPosition {
    fn deserialize_from(value: &Value) -> Result<Self, String> {
        serde::Deserialize::deserialize(value)
            .map_err(|e: serde_json::Error| format!("expected {{epoch: string, offset: u64}}: {e}"))
    }
}

/// Error messages echo client input; cap it so an error never amplifies a
/// large frame.
fn truncate(s: &str) -> String {
    const MAX: usize = 140;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> String {
        match decode_client_message(text) {
            Ok(m) => format!("ok:{}", m.type_name()),
            Err(e) => e.code().to_string(),
        }
    }

    #[test]
    fn each_bad_input_class_has_its_code() {
        assert_eq!(code("{not json"), "invalid_json");
        assert_eq!(code("[1,2]"), "invalid_message");
        assert_eq!(code("\"subscribe\""), "invalid_message");
        assert_eq!(code("{}"), "invalid_message");
        assert_eq!(code(r#"{"type":7}"#), "invalid_message");
        assert_eq!(code(r#"{"type":"dance"}"#), "unknown_type");
        assert_eq!(code(r#"{"type":"subscribe"}"#), "invalid_channel");
        assert_eq!(
            code(r#"{"type":"subscribe","channel":""}"#),
            "invalid_channel"
        );
        assert_eq!(
            code(r#"{"type":"subscribe","channel":5}"#),
            "invalid_channel"
        );
        assert_eq!(
            code(r#"{"type":"subscribe","channel":"a b"}"#),
            "invalid_channel"
        );
        let long = format!(r#"{{"type":"subscribe","channel":"{}"}}"#, "x".repeat(129));
        assert_eq!(code(&long), "invalid_channel");
        assert_eq!(
            code(r#"{"type":"subscribe","channel":"m","since":{"epoch":1}}"#),
            "invalid_message"
        );
        assert_eq!(
            code(r#"{"type":"subscribe","channel":"m","presence":"yes"}"#),
            "invalid_message"
        );
        assert_eq!(
            code(r#"{"type":"subscribe","channel":"m","rewind":-1}"#),
            "invalid_message"
        );
        assert_eq!(
            code(r#"{"type":"subscribe","channel":"m","rewind":"5"}"#),
            "invalid_message"
        );
        assert_eq!(
            code(
                r#"{"type":"subscribe","channel":"m","rewind":2,"since":{"epoch":"e","offset":1}}"#
            ),
            "invalid_message"
        );
        assert_eq!(
            code(r#"{"type":"publish","channel":"m"}"#),
            "invalid_message"
        );
        assert_eq!(
            code(r#"{"type":"publish","channel":"m","event":"ping"}"#),
            "invalid_message"
        );
    }

    #[test]
    fn good_messages_decode_with_extra_fields_ignored() {
        assert_eq!(
            decode_client_message(r#"{"type":"subscribe","channel":"missions","x":1}"#),
            Ok(ClientMessage::Subscribe {
                channel: ChannelName::new("missions").expect("valid"),
                since: None,
                presence: false,
                rewind: None,
            })
        );
        assert_eq!(code(r#"{"type":"pong","timestamp":1.5}"#), "ok:pong");
    }

    #[test]
    fn echoed_input_is_truncated() {
        let t = format!(r#"{{"type":"{}"}}"#, "é".repeat(200));
        let Err(DecodeError::UnknownType(echo)) = decode_client_message(&t) else {
            panic!("expected unknown type");
        };
        assert!(echo.len() <= 143, "{}", echo.len());
    }
}
