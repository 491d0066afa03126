//! The start-time check of a Redis broker URL: a configuration that can
//! never work (a DB index out of range, a refused password, a peer that
//! does not speak Redis) stops the server at start with a clear message,
//! instead of being retried with backoff forever like an outage. Only
//! reachability (refused, reset, timed out, Redis still loading) is left to
//! the broker's reconnect loop.

use std::time::Duration;

use super::health::Cause;
use crate::broker::BrokerFailure;

/// How long the start-time probe waits for an answer. A Redis that does not
/// answer in time counts as unreachable (retried), not as misconfigured.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Connects once with the broker's `client` (the same URL, TLS settings and
/// handshake: `AUTH`, `SELECT`) and sends `PING`. `Err` with the failure
/// (one of [`BrokerFailure::is_permanent`]) when the configuration is
/// permanently wrong; `Ok` when it works or Redis is merely unreachable now
/// (logged; the broker keeps retrying). `redacted` is the URL without its
/// password, for the log.
pub(crate) async fn check(client: &redis::Client, redacted: &str) -> Result<(), BrokerFailure> {
    let attempt = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    let error = match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(Ok(pong)) if pong == "PONG" => return Ok(()),
        Ok(Ok(other)) => {
            return Err(BrokerFailure::protocol(
                "probing",
                format!("answered PING with {other:?}: it is not a Redis server"),
            ));
        }
        Ok(Err(e)) => e,
        Err(_) => {
            tracing::warn!(broker = %redacted, "redis did not answer within {PROBE_TIMEOUT:?} at start; retrying in the background");
            return Ok(());
        }
    };
    let failure = super::failure::classify("probing", error);
    if !Cause::of(&failure).is_permanent() {
        tracing::warn!(broker = %redacted, error = %failure, "redis is unreachable at start; retrying in the background");
        return Ok(());
    }
    Err(failure)
}
