//! The server heartbeat: pings at the announced interval, answered pongs
//! keep a connection alive, and a silent connection is closed with 4000.

use std::time::{Duration, Instant};

use brain_ws_protocol::{CloseCode, ServerMessage};

use super::{Scenario, body, section};
use crate::config::Feature;
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure, fail, skip};
use crate::ws::{Incoming, show_code};

/// Pings the cadence scenario waits for.
const PINGS: usize = 3;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "heartbeat.cadence",
            section::LIFECYCLE,
            "the server pings every heartbeat_interval, and a client that answers pong stays connected",
            body!(cadence),
        )
        .heartbeat_paced(),
        Scenario::new(
            "heartbeat.timeout",
            section::LIFECYCLE,
            "a client that never answers is closed with 4000 within interval + timeout",
            body!(timeout),
        )
        .heartbeat_paced(),
    ]
}

/// The interval and timeout from info, or a skip when waiting for them
/// would take too long.
fn timing(ctx: &Ctx) -> Outcome<(Duration, Duration)> {
    let info = ctx.info()?;
    let (Ok(interval), Ok(timeout)) = (
        Duration::try_from_secs_f64(info.heartbeat_interval),
        Duration::try_from_secs_f64(info.heartbeat_timeout),
    ) else {
        fail!(
            "info announces heartbeat_interval {} and heartbeat_timeout {}, which are not durations",
            info.heartbeat_interval,
            info.heartbeat_timeout
        );
    };
    let max = ctx.config().max_heartbeat;
    if interval > max && !ctx.forced(Feature::SlowHeartbeat) {
        skip!(
            "the server's heartbeat interval is {interval:?}, longer than {max:?}; configure a short heartbeat or pass --force slow-heartbeat"
        );
    }
    Ok((interval, timeout))
}

async fn cadence(ctx: Ctx) -> Outcome {
    let (interval, _) = timing(&ctx)?;
    let mut a = ctx.connect("A").await?;
    let connected = Instant::now();
    // Generous bounds: the machine may be loaded, but a server that does not
    // ping, or pings at another interval, is far outside them. One late ping
    // must not fail the run, so the cadence is judged on the mean gap.
    let late = interval * 2 + Duration::from_secs(1);
    while a.pings.len() < PINGS {
        let since = a.pings.last().copied().unwrap_or(connected);
        let left = late.saturating_sub(since.elapsed());
        match a.next(left).await? {
            Some(Incoming::Msg(ServerMessage::Ping(_))) => {}
            Some(Incoming::Msg(other)) => {
                fail!(
                    "expected only pings on an idle connection, got {}",
                    other.to_json()
                )
            }
            Some(Incoming::Closed(code)) => fail!(
                "the connection was closed ({}) after {} pings although each was answered with pong",
                show_code(code),
                a.pings.len()
            ),
            None => fail!(
                "no ping within {late:?} (ping {} of {PINGS}; the interval is {interval:?})",
                a.pings.len() + 1
            ),
        }
    }
    let span = a.pings[PINGS - 1].duration_since(a.pings[0]);
    let mean = span / (PINGS as u32 - 1);
    let (low, high) = (
        interval.mul_f64(0.6),
        interval.mul_f64(1.6) + Duration::from_millis(500),
    );
    ensure!(
        mean >= low && mean <= high,
        "pings came every {mean:?} on average; the announced interval is {interval:?}"
    );
    a.barrier().await?;
    a.close().await;
    Ok(())
}

async fn timeout(ctx: Ctx) -> Outcome {
    let (interval, timeout) = timing(&ctx)?;
    let mut a = ctx.connect("A").await?;
    a.auto_pong = false;
    let connected = Instant::now();
    let slack = ((interval + timeout) / 2).max(Duration::from_secs(2));
    let within = interval + timeout + slack;
    let code = a.expect_close(within).await?;
    let after = connected.elapsed();
    ensure!(
        !a.pings.is_empty(),
        "the silent connection was closed ({}) after {after:?} without ever being pinged",
        show_code(code)
    );
    ensure!(
        code == Some(CloseCode::HEARTBEAT_TIMEOUT.0),
        "the silent connection was closed with {} after {after:?}, expected code {}",
        show_code(code),
        CloseCode::HEARTBEAT_TIMEOUT
    );
    Ok(())
}
