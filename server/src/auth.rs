//! Who a connection is: the `Authenticator` trait that turns a token into an
//! identity, and the auth mode rules around it (`resolve`). The server calls
//! them before the WebSocket upgrade, so a bad token is refused with 401 and
//! never downgraded to an anonymous connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use brain_ws_protocol::http::AuthMode;

use crate::config::Config;
use crate::pattern::ChannelPattern;

/// What a valid token says about its holder.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    /// The user id (`sub`); `None` for anonymous connections.
    pub user_id: Option<Arc<str>>,
    /// Roles granted by the token.
    pub roles: Vec<String>,
    /// Channel names or patterns the token allows, when it restricts them.
    pub channels: Option<Vec<ChannelPattern>>,
    /// When the token stops being accepted (its `exp` plus the verifier's
    /// leeway), as seconds since the Unix epoch: the connection is closed
    /// with 4002 (token expired) at that moment.
    pub expires_at: Option<u64>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuthError {
    /// A token is required and none was given.
    #[error("a token is required")]
    Missing,
    /// The token has expired.
    #[error("the token has expired")]
    Expired,
    /// The token is malformed, forged, unknown, or its claims are not
    /// accepted.
    #[error("invalid token: {0}")]
    Invalid(InvalidToken),
}

/// Why a token was refused as invalid ([`AuthError::Invalid`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidToken {
    /// Not one of the [`StaticTokens`].
    #[error("unknown token")]
    Unknown,
    /// The token was accepted but names no user (`sub` empty).
    #[error("the token names no user")]
    NoUser,
    /// A JWT that does not verify or whose claims are not accepted.
    #[error(transparent)]
    Jwt(#[from] crate::JwtError),
    /// An application's [`Authenticator`] gave its own reason (`"..".into()`).
    #[error("{0}")]
    Other(String),
}

impl From<String> for InvalidToken {
    fn from(reason: String) -> Self {
        Self::Other(reason)
    }
}

impl From<&str> for InvalidToken {
    fn from(reason: &str) -> Self {
        Self::Other(reason.to_owned())
    }
}

/// The credentials of an `Authorization: Bearer <credentials>` header (the
/// scheme is case-insensitive, RFC 9110 section 11.1), for WebSocket tokens
/// and admin API keys alike. Empty or whitespace-only credentials are no
/// credentials (`None`).
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credentials.is_empty()).then_some(credentials)
}

/// How long a token that stops being accepted at `expires_at` (Unix
/// seconds, `exp` plus the leeway) is still accepted at `now`: zero from
/// that exact instant on. The one rule, on one clock (the system clock, at
/// sub-second precision), for the upgrade check ([`resolve`], the JWT
/// verifier) and the live connection (its 4002 timer is set to this).
pub(crate) fn time_left(expires_at: u64, now: SystemTime) -> Duration {
    let now = now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    Duration::from_secs(expires_at).saturating_sub(now)
}

impl Identity {
    /// Whether the token granted `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Applies the effective auth mode ([`Config::effective_auth_mode`]) to the
/// token presented at connect time (`None` when there was none):
///
/// * `none`: every connection is anonymous; a token is ignored.
/// * `optional`: no token means anonymous; a token must verify.
/// * `required`: a token must be present and verify.
pub(crate) fn resolve(config: &Config, token: Option<&str>) -> Result<Identity, AuthError> {
    let token = token.map(str::trim).filter(|t| !t.is_empty());
    let mode = config.effective_auth_mode();
    let (Some(auth), false) = (&config.authenticator, mode == AuthMode::None) else {
        return Ok(Identity::default());
    };
    match (mode, token) {
        (AuthMode::Required, None) => Err(AuthError::Missing),
        (_, None) => Ok(Identity::default()),
        (mode, Some(token)) => {
            let identity = auth.authenticate(Some(token))?;
            // Whatever the authenticator, an identity whose time is up is
            // refused here, by the rule that closes live connections.
            if identity
                .expires_at
                .is_some_and(|at| time_left(at, SystemTime::now()).is_zero())
            {
                return Err(AuthError::Expired);
            }
            if mode == AuthMode::Required && identity.user_id.is_none() {
                return Err(AuthError::Invalid(InvalidToken::NoUser));
            }
            Ok(identity)
        }
    }
}

/// Checks connection tokens.
pub trait Authenticator: Send + Sync + 'static {
    /// Turns the token given at connect time (if any) into an identity.
    fn authenticate(&self, token: Option<&str>) -> Result<Identity, AuthError>;
}

/// A fixed token-to-user table, for tests and local development only.
#[derive(Debug, Default, Clone)]
pub struct StaticTokens {
    tokens: HashMap<String, String>,
}

impl StaticTokens {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token that authenticates `user`.
    pub fn with(mut self, token: &str, user: &str) -> Self {
        self.tokens.insert(token.to_owned(), user.to_owned());
        self
    }
}

impl Authenticator for StaticTokens {
    fn authenticate(&self, token: Option<&str>) -> Result<Identity, AuthError> {
        match token {
            None => Ok(Identity::default()),
            Some(t) => self
                .tokens
                .get(t)
                .map(|user| Identity {
                    user_id: Some(Arc::from(user.as_str())),
                    ..Identity::default()
                })
                .ok_or(AuthError::Invalid(InvalidToken::Unknown)),
        }
    }
}
