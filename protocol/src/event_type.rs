//! Event types: the `type` of an event envelope (Event Broadcasting).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest accepted event type, in bytes.
pub const MAX_EVENT_TYPE_LEN: usize = 64;

/// Message types the protocol itself uses. An event may not use one of them as
/// its type, or a client could not tell an event from a control message.
pub const RESERVED_TYPES: &[&str] = &[
    "connected",
    "ping",
    "pong",
    "subscribed",
    "unsubscribed",
    "error",
    "join",
    "leave",
    "subscribe",
    "unsubscribe",
    "publish",
];

/// A validated event type such as `mission_created` (Event Broadcasting).
///
/// 1 to [`MAX_EVENT_TYPE_LEN`] ASCII letters, digits and `_ . : -`, and not one
/// of the [`RESERVED_TYPES`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(Arc<str>);

/// Why a string is not a valid [`EventType`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEventType {
    /// The type is the empty string.
    #[error("event type is empty")]
    Empty,
    /// The type is longer than [`MAX_EVENT_TYPE_LEN`].
    #[error("event type is {0} bytes long; the maximum is {MAX_EVENT_TYPE_LEN}")]
    TooLong(usize),
    /// The type contains a character outside the allowed set.
    #[error("event type contains {0:?}; allowed are ASCII letters, digits and _ . : -")]
    BadCharacter(char),
    /// The type is one of the protocol's own message types.
    #[error("event type {0:?} is reserved for protocol messages")]
    Reserved(String),
}

impl EventType {
    /// Validates `name` and wraps it.
    pub fn new(name: &str) -> Result<Self, InvalidEventType> {
        if name.is_empty() {
            return Err(InvalidEventType::Empty);
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')))
        {
            return Err(InvalidEventType::BadCharacter(c));
        }
        if name.len() > MAX_EVENT_TYPE_LEN {
            return Err(InvalidEventType::TooLong(name.len()));
        }
        if RESERVED_TYPES.contains(&name) {
            return Err(InvalidEventType::Reserved(name.to_owned()));
        }
        Ok(Self(Arc::from(name)))
    }

    /// Wraps a type known at compile time to be valid (the catalogue's types).
    ///
    /// # Panics
    /// If `name` is not valid; only for constants checked by tests.
    pub fn from_static(name: &'static str) -> Self {
        match Self::new(name) {
            Ok(t) => t,
            Err(e) => panic!("invalid static event type {name:?}: {e}"),
        }
    }

    /// The type as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for EventType {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for EventType {
    type Err = InvalidEventType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(d)?;
        EventType::new(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for EventType {
    fn schema_name() -> Cow<'static, str> {
        "EventType".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_EVENT_TYPE_LEN,
            "pattern": "^[A-Za-z0-9_.:-]{1,64}$",
            "not": { "enum": RESERVED_TYPES },
            "description": "An event type: 1 to 64 ASCII letters, digits and _ . : -, not a reserved protocol type"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_malformed_types_are_rejected() {
        assert_eq!(
            EventType::new("ping"),
            Err(InvalidEventType::Reserved("ping".into()))
        );
        assert_eq!(EventType::new(""), Err(InvalidEventType::Empty));
        assert_eq!(
            EventType::new("a b"),
            Err(InvalidEventType::BadCharacter(' '))
        );
        assert_eq!(
            EventType::new(&"x".repeat(65)),
            Err(InvalidEventType::TooLong(65))
        );
        assert_eq!(
            EventType::new("mission_created").map(|t| t.to_string()),
            Ok("mission_created".to_string())
        );
    }
}
