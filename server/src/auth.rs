//! Who a connection is: the `Authenticator` trait that turns a token into an
//! identity. The server calls it before the WebSocket upgrade, so a bad token
//! is refused with 401 and never downgraded to an anonymous connection.

use std::collections::HashMap;
use std::sync::Arc;

/// What a valid token says about its holder.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    /// The user id (`sub`); `None` for anonymous connections.
    pub user_id: Option<Arc<str>>,
    /// Roles granted by the token.
    pub roles: Vec<String>,
    /// Channel names or patterns the token allows, when it restricts them.
    pub channels: Option<Vec<String>>,
    /// When the token expires, as seconds since the Unix epoch.
    pub expires_at: Option<u64>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuthError {
    /// A token is required and none was given.
    #[error("a token is required")]
    Missing,
    /// The token is malformed, forged or expired.
    #[error("invalid token: {0}")]
    Invalid(String),
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
                .ok_or_else(|| AuthError::Invalid("unknown token".into())),
        }
    }
}
