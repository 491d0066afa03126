//! The start-time check of a Redis broker URL: a configuration that can
//! never work (a DB index out of range, a refused password, a peer that
//! does not speak Redis) stops the server at start with a clear message,
//! instead of being retried with backoff forever like an outage. Only
//! reachability (refused, reset, timed out, Redis still loading) is left to
//! the broker's reconnect loop.

use std::time::Duration;

use redis::RedisError;

/// How long the start-time probe waits for an answer. A Redis that does not
/// answer in time counts as unreachable (retried), not as misconfigured.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Server error codes that say "try again later", not "never".
const TRANSIENT_CODES: &[&str] = &["LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN"];

/// Connects to `url` once (the same handshake as the broker: `AUTH`,
/// `SELECT`) and sends `PING`. `Err` with the reason when the configuration
/// is permanently wrong; `Ok` when it works or Redis is merely unreachable
/// now (logged; the broker keeps retrying). `redacted` is the URL without
/// its password, for the message.
pub(crate) async fn check(url: &str, redacted: &str) -> Result<(), String> {
    let attempt = async {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    let error = match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(Ok(pong)) if pong == "PONG" => return Ok(()),
        Ok(Ok(other)) => {
            return Err(format!(
                "the broker at {redacted} answered PING with {other:?}: it is not a Redis server"
            ));
        }
        Ok(Err(e)) => e,
        Err(_) => {
            tracing::warn!(broker = %redacted, "redis did not answer within {PROBE_TIMEOUT:?} at start; retrying in the background");
            return Ok(());
        }
    };
    if is_transient(&error) {
        tracing::warn!(broker = %redacted, error = %error, "redis is unreachable at start; retrying in the background");
        return Ok(());
    }
    Err(format!(
        "the broker at {redacted} refuses this configuration: {error}{}",
        hint(&error)
    ))
}

/// Whether `e` is about reaching Redis (retry) rather than about what we
/// asked of it (stop).
fn is_transient(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.code().is_some_and(|code| TRANSIENT_CODES.contains(&code))
}

/// What to change, for the common permanent errors.
fn hint(e: &RedisError) -> &'static str {
    let text = e.to_string();
    if text.contains("DB index is out of range") {
        " (the /N at the end of the URL must be below the server's `databases`, 16 by default)"
    } else if e.kind() == redis::ErrorKind::AuthenticationFailed
        || text.contains("WRONGPASS")
        || text.contains("NOAUTH")
        || text.contains("AUTH")
    {
        " (check the user and password in the URL: redis://user:password@host:port/db)"
    } else if e.kind() == redis::ErrorKind::Parse {
        " (the peer does not speak the Redis protocol: check the host and port)"
    } else {
        ""
    }
}
