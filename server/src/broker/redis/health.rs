//! What a Redis failure ([`BrokerFailure`], classified in `failure.rs`)
//! means for operators: its `cause` label and what to change. Why Redis
//! failed: reachability (refused, reset, timed out, still loading: an outage, which ends by itself) or a refusal of this node's
//! configuration (a refused password, a DB index out of range, a peer that
//! does not speak Redis, any other error reply), which lasts until an
//! operator changes Redis or the URL.
//!
//! Both are retried (at start the probe stops on a permanent cause; after
//! start the broker keeps retrying, since an operator may fix Redis), but a
//! permanent cause is said out loud: an error-level log once per change,
//! `/ready` naming it, and `brain_ws_broker_down{cause}`.

use crate::broker::BrokerFailure;

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

    /// The kind of `failure`: every outage (connecting, not connected, lost,
    /// unreachable, timed out) is `Unreachable`.
    pub(crate) fn of(failure: &BrokerFailure) -> Self {
        match failure {
            BrokerFailure::Auth { .. } => Cause::Auth,
            BrokerFailure::Database { .. } => Cause::Database,
            BrokerFailure::Protocol { .. } => Cause::Protocol,
            BrokerFailure::Refused { .. } => Cause::Refused,
            _ => Cause::Unreachable,
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

/// What a permanent `failure` says, for people: the broker's own words (the
/// failure's source) and what to change, such as `Redis server refused to
/// switch database - ...: DB index is out of range (the /N at the end of the
/// URL must be below ...)`.
pub(crate) fn explain(failure: &BrokerFailure) -> String {
    let words =
        std::error::Error::source(failure).map_or_else(|| failure.to_string(), |s| s.to_string());
    format!("{words}{}", Cause::of(failure).hint())
}
