//! Server-wide counts going back down: a server that leaks connections or
//! subscriptions after disconnects fails here.

use std::time::{Duration, Instant};

use super::{Scenario, body, section};
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure, fail};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "stats.cleanup",
            section::HTTP_API,
            "after connections close, connection, user and channel counts return to their previous values",
            body!(cleanup),
        )
        .exclusive(),
    ]
}

async fn cleanup(ctx: Ctx) -> Outcome {
    let before = ctx.settled_stats().await?;
    let shared = ctx.channel("cleanup");
    let alone = ctx.channel("cleanup");
    let mut conns = Vec::new();
    for label in ["A", "B", "C"] {
        conns.push(ctx.connect(label).await?);
    }
    conns[0].subscribe(&shared).await?;
    conns[1].subscribe(&shared).await?;
    conns[2].subscribe(&alone).await?;
    let during = ctx.stats().await?;
    ensure!(
        during.total_connections == before.total_connections + 3
            && during.channels.get(&shared) == Some(&2)
            && during.channels.get(&alone) == Some(&1),
        "with 3 connections open, stats count {} connections, {shared}: {:?}, {alone}: {:?}; expected {} + 3, 2 and 1",
        during.total_connections,
        during.channels.get(&shared),
        during.channels.get(&alone),
        before.total_connections
    );
    // Two leave abruptly (TCP drop), one with a close frame.
    let mut conns = conns.into_iter();
    if let Some(conn) = conns.next() {
        conn.close().await;
    }
    drop(conns);
    let deadline = Instant::now() + ctx.step();
    loop {
        let now = ctx.stats().await?;
        let same = now.total_connections == before.total_connections
            && now.total_users == before.total_users
            && now.total_channels == before.total_channels
            && now.channels == before.channels;
        if same {
            return Ok(());
        }
        if Instant::now() > deadline {
            fail!(
                "{:?} after the connections closed, stats still differ from before: {} connections (was {}), {} users (was {}), {} channels (was {}), channels {:?} (was {:?})",
                ctx.step(),
                now.total_connections,
                before.total_connections,
                now.total_users,
                before.total_users,
                now.total_channels,
                before.total_channels,
                now.channels,
                before.channels
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
