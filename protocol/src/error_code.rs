//! Error codes: an open set shared by WebSocket `error` messages and HTTP
//! error bodies (docs/protocol.md, "Error codes").

use std::borrow::Cow;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A machine-readable error code such as `invalid_channel`.
///
/// An open set, as in rmcp and ruma: a newer server may send a code this
/// version does not name, and it still decodes. Match on the constants.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct ErrorCode(Cow<'static, str>);

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal;)*) => {
        impl ErrorCode {
            $($(#[$doc])* pub const $name: ErrorCode = ErrorCode(Cow::Borrowed($value));)*

            /// Every code this version names, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[$(Self::$name),*];
        }
    };
}

codes! {
    /// The text frame is not valid JSON.
    INVALID_JSON = "invalid_json";
    /// Valid JSON, but not an object, or a field is missing or of the wrong type.
    INVALID_MESSAGE = "invalid_message";
    /// The message `type` is not one the server handles.
    UNKNOWN_TYPE = "unknown_type";
    /// The channel is missing, empty, too long, badly formed or not a string.
    INVALID_CHANNEL = "invalid_channel";
    /// Unsubscribe from a channel the connection is not subscribed to.
    NOT_SUBSCRIBED = "not_subscribed";
    /// The connection already has the maximum number of subscriptions.
    SUBSCRIPTION_LIMIT = "subscription_limit";
    /// Credentials are missing, invalid or expired.
    UNAUTHORIZED = "unauthorized";
    /// Authenticated, but not allowed to do this.
    FORBIDDEN = "forbidden";
    /// Too many messages in too short a time.
    RATE_LIMITED = "rate_limited";
    /// The message exceeds the server's size limit.
    MESSAGE_TOO_LARGE = "message_too_large";
    /// The channel does not accept publishing by clients.
    PUBLISH_NOT_ALLOWED = "publish_not_allowed";
    /// A binary frame was sent; the protocol is JSON text only.
    BINARY_NOT_SUPPORTED = "binary_not_supported";
    /// The server's or the user's connection limit is reached.
    CONNECTION_LIMIT = "connection_limit";
    /// HTTP: the request body is not acceptable (a field is invalid).
    INVALID_BODY = "invalid_body";
    /// HTTP: no such resource.
    NOT_FOUND = "not_found";
    /// HTTP 404: presence is asked of a channel that does not have it
    /// enabled (`--presence-channel`).
    PRESENCE_DISABLED = "presence_disabled";
    /// HTTP: the method is not allowed on this resource.
    METHOD_NOT_ALLOWED = "method_not_allowed";
    /// HTTP: the service or one of its dependencies is not available.
    UNAVAILABLE = "unavailable";
    /// An unexpected server-side failure.
    INTERNAL = "internal";
}

impl ErrorCode {
    /// A code not named by this version (from a newer peer).
    pub fn custom(code: impl Into<String>) -> Self {
        Self(Cow::Owned(code.into()))
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorCode({})", self.0)
    }
}
