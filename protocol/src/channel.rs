//! Channel names: one validated type that the server, the SDK and the
//! conformance suite all check the same way (Channel System).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest accepted channel name, in bytes (all accepted characters are ASCII).
pub const MAX_CHANNEL_LEN: usize = 128;

/// The characters a channel name may contain, as a JSON Schema pattern.
const CHANNEL_PATTERN: &str = "^[A-Za-z0-9_.:@-]{1,128}$";

/// A validated channel name (Channel System).
///
/// Non-empty, at most [`MAX_CHANNEL_LEN`] bytes, made of ASCII letters, digits
/// and `_ . : @ -`. No whitespace, control characters or wildcards, so a name
/// is safe to log, to use as a Redis key suffix and to match against patterns
/// such as `user:*`.
///
/// Cloning is cheap (a shared `Arc<str>`): the hub keeps one copy per
/// subscription.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(Arc<str>);

/// Why a string is not a valid [`ChannelName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidChannelName {
    /// The name is the empty string.
    #[error("channel name is empty")]
    Empty,
    /// The name is longer than [`MAX_CHANNEL_LEN`].
    #[error("channel name is {0} bytes long; the maximum is {MAX_CHANNEL_LEN}")]
    TooLong(usize),
    /// The name contains a character outside the allowed set.
    #[error("channel name contains {0:?}; allowed are ASCII letters, digits and _ . : @ -")]
    BadCharacter(char),
}

impl ChannelName {
    /// Validates `name` and wraps it.
    pub fn new(name: &str) -> Result<Self, InvalidChannelName> {
        Self::validate(name)?;
        Ok(Self(Arc::from(name)))
    }

    /// Checks `name` without allocating.
    pub fn validate(name: &str) -> Result<(), InvalidChannelName> {
        if name.is_empty() {
            return Err(InvalidChannelName::Empty);
        }
        if let Some(c) = name.chars().find(|c| !is_channel_char(*c)) {
            return Err(InvalidChannelName::BadCharacter(c));
        }
        if name.len() > MAX_CHANNEL_LEN {
            return Err(InvalidChannelName::TooLong(name.len()));
        }
        Ok(())
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_channel_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '@' | '-')
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for ChannelName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ChannelName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ChannelName {
    type Err = InvalidChannelName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for ChannelName {
    type Error = InvalidChannelName;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for ChannelName {
    type Error = InvalidChannelName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::validate(&s)?;
        Ok(Self(Arc::from(s)))
    }
}

impl Serialize for ChannelName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ChannelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(d)?;
        ChannelName::new(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for ChannelName {
    fn schema_name() -> Cow<'static, str> {
        "ChannelName".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_CHANNEL_LEN,
            "pattern": CHANNEL_PATTERN,
            "description": "A channel name: 1 to 128 ASCII letters, digits and _ . : @ -"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_standard_channels_and_namespaced_names() {
        for name in ["missions", "agents", "user:42", "tenant.a:jobs-1", "a@b"] {
            assert_eq!(
                ChannelName::new(name).map(|c| c.to_string()),
                Ok(name.into())
            );
        }
    }

    #[test]
    fn rejects_each_class_of_bad_name() {
        assert_eq!(ChannelName::new(""), Err(InvalidChannelName::Empty));
        assert_eq!(
            ChannelName::new(&"a".repeat(129)),
            Err(InvalidChannelName::TooLong(129))
        );
        assert!(ChannelName::new(&"a".repeat(128)).is_ok());
        assert_eq!(
            ChannelName::new("has space"),
            Err(InvalidChannelName::BadCharacter(' '))
        );
        assert_eq!(
            ChannelName::new("user:*"),
            Err(InvalidChannelName::BadCharacter('*'))
        );
        assert_eq!(
            ChannelName::new("tab\there"),
            Err(InvalidChannelName::BadCharacter('\t'))
        );
        assert_eq!(
            ChannelName::new("ümlaut"),
            Err(InvalidChannelName::BadCharacter('ü'))
        );
    }
}
