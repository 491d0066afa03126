//! Channel patterns in configuration: an exact name, or a prefix ending in `*`
//! (`user:*`), as used for history, client publish and authorization rules.

use std::fmt;
use std::str::FromStr;

use brain_ws_protocol::{ChannelName, InvalidChannelName};

/// An exact channel name or a `prefix*` pattern.
#[derive(Clone, PartialEq, Eq)]
pub enum ChannelPattern {
    /// Matches one channel.
    Exact(ChannelName),
    /// Matches every channel starting with the prefix (which may be empty: `*`).
    Prefix(String),
}

impl ChannelPattern {
    /// A pattern matching exactly `name`.
    pub fn exact(name: ChannelName) -> Self {
        Self::Exact(name)
    }

    /// Whether `channel` matches.
    pub fn matches(&self, channel: &str) -> bool {
        match self {
            Self::Exact(name) => name.as_str() == channel,
            Self::Prefix(prefix) => channel.starts_with(prefix.as_str()),
        }
    }
}

impl FromStr for ChannelPattern {
    type Err = InvalidChannelName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_suffix('*') {
            Some("") => Ok(Self::Prefix(String::new())),
            Some(prefix) => {
                // The prefix must itself be made of channel characters.
                ChannelName::validate(prefix)?;
                Ok(Self::Prefix(prefix.to_owned()))
            }
            None => ChannelName::new(s).map(Self::Exact),
        }
    }
}

impl fmt::Display for ChannelPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(name) => write!(f, "{name}"),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

impl fmt::Debug for ChannelPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_prefix_patterns_match_as_documented() {
        let user: ChannelPattern = "user:*".parse().expect("valid");
        assert!(user.matches("user:42"));
        assert!(!user.matches("users"));
        let audit: ChannelPattern = "audit".parse().expect("valid");
        assert!(audit.matches("audit"));
        assert!(!audit.matches("audit2"));
        let all: ChannelPattern = "*".parse().expect("valid");
        assert!(all.matches("anything"));
        assert!("bad name*".parse::<ChannelPattern>().is_err());
        assert!("a*b".parse::<ChannelPattern>().is_err());
    }
}
