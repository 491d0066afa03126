//! Channel authorization: who may subscribe to and publish on which channel.
//!
//! Three rules, all of which must pass (subscribe and publish are checked
//! alike; publish additionally needs the channel in `client_publish_channels`):
//!
//! 1. Private channels (`--private-channel`): anonymous connections are refused.
//! 2. Role rules (`--channel-role pattern=role`): when any rule matches the
//!    channel, the connection must hold at least one of the matching rules'
//!    roles (so anonymous connections, which hold none, are refused too).
//! 3. The token's `channels` claim, when present, restricts the holder to
//!    those names or patterns.

use std::fmt;
use std::str::FromStr;

use brain_ws_protocol::ChannelName;

use crate::auth::Identity;
use crate::config::Config;
use crate::pattern::ChannelPattern;

/// A rule tying channels to a role: `admin:*=admin` lets only holders of the
/// `admin` role use channels starting with `admin:`.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelRole {
    /// The channels the rule covers.
    pub pattern: ChannelPattern,
    /// The role a connection needs to use them.
    pub role: String,
}

/// Why a `pattern=role` rule could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidChannelRole {
    /// No `=` between pattern and role.
    #[error("expected <channel pattern>=<role>, e.g. admin:*=admin: no '='")]
    NoEquals,
    /// Nothing after the `=`.
    #[error("expected <channel pattern>=<role>, e.g. admin:*=admin: empty role")]
    EmptyRole,
    /// The pattern is not a channel name or a `prefix*` pattern.
    #[error("expected <channel pattern>=<role>, e.g. admin:*=admin: {0}")]
    Pattern(#[from] brain_ws_protocol::InvalidChannelName),
}

impl FromStr for ChannelRole {
    type Err = InvalidChannelRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (pattern, role) = s.rsplit_once('=').ok_or(InvalidChannelRole::NoEquals)?;
        let role = role.trim();
        if role.is_empty() {
            return Err(InvalidChannelRole::EmptyRole);
        }
        Ok(Self {
            pattern: pattern.trim().parse()?,
            role: role.to_owned(),
        })
    }
}

impl fmt::Display for ChannelRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.pattern, self.role)
    }
}

impl fmt::Debug for ChannelRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Whether `identity` may subscribe to or publish on `channel`; the error is
/// the reason sent back with the `forbidden` error.
/// Why a connection may not use a channel (answered as error `forbidden`,
/// or HTTP 403 at the upgrade, with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    /// A private channel and an anonymous connection.
    #[error("channel {0} is private: connect with a token")]
    Private(ChannelName),
    /// A channel with role rules, none of whose roles the connection holds.
    #[error("channel {0} needs a role this connection does not hold")]
    MissingRole(ChannelName),
    /// The token's `channels` claim does not list the channel.
    #[error("the token does not grant channel {0}")]
    NotGranted(ChannelName),
}

pub(crate) fn check(
    config: &Config,
    identity: &Identity,
    channel: &ChannelName,
) -> Result<(), AccessDenied> {
    let name = channel.as_str();
    if identity.user_id.is_none() && config.private_channels.iter().any(|p| p.matches(name)) {
        return Err(AccessDenied::Private(channel.clone()));
    }
    let mut rules = config
        .channel_roles
        .iter()
        .filter(|r| r.pattern.matches(name))
        .peekable();
    if rules.peek().is_some() && !rules.any(|r| identity.has_role(&r.role)) {
        return Err(AccessDenied::MissingRole(channel.clone()));
    }
    if let Some(allowed) = &identity.channels
        && !allowed.iter().any(|p| p.matches(name))
    {
        return Err(AccessDenied::NotGranted(channel.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn channel(s: &str) -> ChannelName {
        ChannelName::new(s).expect("valid")
    }

    fn user(roles: &[&str], channels: Option<&[&str]>) -> Identity {
        Identity {
            user_id: Some(Arc::from("u1")),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            channels: channels.map(|c| c.iter().map(|p| p.parse().expect("valid")).collect()),
            expires_at: None,
        }
    }

    #[test]
    fn rules_combine_as_documented() {
        let config = Config {
            private_channels: vec!["audit".parse().expect("valid")],
            channel_roles: vec![
                "admin:*=admin".parse().expect("valid"),
                "admin:ops=ops".parse().expect("valid"),
            ],
            ..Config::default()
        };
        let anon = Identity::default();
        assert!(check(&config, &anon, &channel("missions")).is_ok());
        assert!(check(&config, &anon, &channel("audit")).is_err());
        assert!(check(&config, &anon, &channel("admin:x")).is_err());
        assert!(check(&config, &user(&[], None), &channel("audit")).is_ok());
        assert!(check(&config, &user(&[], None), &channel("admin:x")).is_err());
        assert!(check(&config, &user(&["admin"], None), &channel("admin:x")).is_ok());
        // Two rules match admin:ops: either role suffices.
        assert!(check(&config, &user(&["ops"], None), &channel("admin:ops")).is_ok());
        assert!(check(&config, &user(&["ops"], None), &channel("admin:x")).is_err());
        let limited = user(&["admin"], Some(&["missions", "admin:*"]));
        assert!(check(&config, &limited, &channel("missions")).is_ok());
        assert!(check(&config, &limited, &channel("admin:x")).is_ok());
        assert!(check(&config, &limited, &channel("agents")).is_err());
    }

    #[test]
    fn channel_role_syntax() {
        let rule: ChannelRole = "user:*=member".parse().expect("valid");
        assert_eq!(rule.to_string(), "user:*=member");
        assert!("user:*".parse::<ChannelRole>().is_err());
        assert!("user:*=".parse::<ChannelRole>().is_err());
        assert!("bad name=r".parse::<ChannelRole>().is_err());
    }
}
