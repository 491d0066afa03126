//! The Redis client's errors as [`BrokerFailure`]s that callers can match:
//! unreachable, refused credentials, an error reply, or a timeout.

use std::sync::Arc;

use crate::broker::BrokerFailure;

/// Server error codes that refuse the node's credentials.
const AUTH_CODES: &[&str] = &["NOAUTH", "WRONGPASS"];

/// What `e`, met while doing `what`, says about Redis.
pub(super) fn classify(what: &'static str, e: redis::RedisError) -> BrokerFailure {
    if e.is_timeout() {
        return BrokerFailure::Timeout { what };
    }
    let auth = e.kind() == redis::ErrorKind::AuthenticationFailed
        || e.code().is_some_and(|code| AUTH_CODES.contains(&code));
    let unreachable = e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped();
    let source = Arc::new(e);
    if auth {
        BrokerFailure::Auth { what, source }
    } else if unreachable {
        BrokerFailure::Unreachable { what, source }
    } else {
        BrokerFailure::Response { what, source }
    }
}
