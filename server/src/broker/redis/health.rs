//! Why Redis failed: reachability (refused, reset, timed out, still
//! loading: an outage, which ends by itself) or a refusal of this node's
//! configuration (a refused password, a DB index out of range, a peer that
//! does not speak Redis, any other error reply), which lasts until an
//! operator changes Redis or the URL.
//!
//! Both are retried (at start the probe stops on a permanent cause; after
//! start the broker keeps retrying, since an operator may fix Redis), but a
//! permanent cause is said out loud: an error-level log once per change,
//! `/ready` naming it, and `brain_ws_broker_down{cause}`.

use redis::RedisError;

/// Server error codes that say "try again later", not "never".
const TRANSIENT_CODES: &[&str] = &["LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN"];

/// The kind of a Redis failure; its [`Cause::label`] is the `cause` label
/// of `brain_ws_broker_down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// Redis cannot be reached or is not ready yet (refused, reset, timed
    /// out, `LOADING`, ...): an outage.
    Unreachable,
    /// Redis refuses the user or password (`NOAUTH`, `WRONGPASS`, ...).
    Auth,
    /// Redis refuses the database index of the URL.
    Database,
    /// The peer does not speak the Redis protocol.
    Protocol,
    /// Any other error reply.
    Refused,
}

impl Cause {
    /// Every cause, in the order `/metrics` lists them.
    pub(crate) const ALL: [Cause; 5] = [
        Cause::Unreachable,
        Cause::Auth,
        Cause::Database,
        Cause::Protocol,
        Cause::Refused,
    ];

    /// Classifies a Redis error.
    pub(crate) fn of(e: &RedisError) -> Self {
        let text = e.to_string();
        if e.is_io_error()
            || e.is_timeout()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || e.code().is_some_and(|code| TRANSIENT_CODES.contains(&code))
        {
            Cause::Unreachable
        } else if text.contains("DB index") {
            Cause::Database
        } else if e.kind() == redis::ErrorKind::AuthenticationFailed
            || ["NOAUTH", "WRONGPASS", "AUTH"]
                .iter()
                .any(|word| text.contains(word))
        {
            Cause::Auth
        } else if e.kind() == redis::ErrorKind::Parse {
            Cause::Protocol
        } else {
            Cause::Refused
        }
    }

    /// Whether it lasts until someone changes Redis or the configuration.
    pub(crate) fn is_permanent(self) -> bool {
        self != Cause::Unreachable
    }

    /// The `cause` label: `unreachable`, `auth`, `database`, `protocol`,
    /// `refused`.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Cause::Unreachable => "unreachable",
            Cause::Auth => "auth",
            Cause::Database => "database",
            Cause::Protocol => "protocol",
            Cause::Refused => "refused",
        }
    }

    /// What to change, for the permanent causes (with a leading space).
    pub(crate) fn hint(self) -> &'static str {
        match self {
            Cause::Database => {
                " (the /N at the end of the URL must be below the server's `databases`, 16 by default)"
            }
            Cause::Auth => {
                " (check the user and password in the URL: redis://user:password@host:port/db)"
            }
            Cause::Protocol => {
                " (the peer does not speak the Redis protocol: check the host and port)"
            }
            Cause::Unreachable | Cause::Refused => "",
        }
    }
}

/// A failed Redis operation: what failed (`"subscribing: NOAUTH ..."`) and
/// its [`Cause`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) cause: Cause,
    pub(crate) text: String,
}

impl Failure {
    /// `what` failed with `e`.
    pub(crate) fn redis(what: &str, e: &RedisError) -> Self {
        Self {
            cause: Cause::of(e),
            text: format!("{what}: {e}"),
        }
    }

    /// `what` failed for a reason that is about reaching Redis (a timeout,
    /// a lost connection).
    pub(crate) fn unreachable(text: impl Into<String>) -> Self {
        Self {
            cause: Cause::Unreachable,
            text: text.into(),
        }
    }

    /// The reason as `/ready` and the logs give it: the text, and for a
    /// permanent cause its label first and its hint after, such as
    /// `auth: subscribing: NOAUTH Authentication required. (check the user
    /// and password in the URL: ...)`.
    pub(crate) fn reason(&self) -> String {
        if self.cause.is_permanent() {
            format!("{}: {}{}", self.cause.label(), self.text, self.cause.hint())
        } else {
            self.text.clone()
        }
    }
}

impl From<Failure> for String {
    fn from(f: Failure) -> Self {
        f.text
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}
