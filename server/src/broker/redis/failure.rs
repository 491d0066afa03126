//! The Redis client's errors as [`BrokerFailure`]s that callers can match:
//! an outage (unreachable, timed out, Redis still loading) or a refusal of
//! this node's configuration (credentials, database, protocol, any other
//! error reply).

use std::sync::Arc;

use crate::broker::BrokerFailure;

/// Server error codes that say "try again later", not "never".
const TRANSIENT_CODES: &[&str] = &["LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN"];

/// Server error codes that refuse the node's credentials.
const AUTH_CODES: &[&str] = &["NOAUTH", "WRONGPASS"];

/// What `e`, met while doing `what`, says about Redis.
pub(super) fn classify(what: &'static str, e: redis::RedisError) -> BrokerFailure {
    if e.is_timeout() {
        return BrokerFailure::Timeout { what };
    }
    let code = e.code();
    let unreachable = e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || code.is_some_and(|code| TRANSIENT_CODES.contains(&code));
    let auth = e.kind() == redis::ErrorKind::AuthenticationFailed
        || code.is_some_and(|code| AUTH_CODES.contains(&code));
    let database = e.to_string().contains("DB index");
    let protocol = e.kind() == redis::ErrorKind::Parse;
    let source = Arc::new(e);
    if unreachable {
        BrokerFailure::Unreachable { what, source }
    } else if auth {
        BrokerFailure::Auth { what, source }
    } else if database {
        BrokerFailure::Database { what, source }
    } else if protocol {
        BrokerFailure::Protocol { what, source }
    } else {
        BrokerFailure::Refused { what, source }
    }
}
