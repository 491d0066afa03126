//! History and recovery: a client that reconnects with the last position it
//! saw gets exactly what it missed, then live events.

use brain_ws_protocol::StreamPosition;
use serde_json::json;

use super::{Scenario, body, section};
use crate::config::Feature;
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure, fail, skip};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "history.recovery",
            section::HISTORY,
            "resubscribing with `since` replays exactly the missed events in order (recovered: true), then live ones",
            body!(recovery),
        )
        .requires(Feature::History),
        Scenario::new(
            "history.epoch_mismatch",
            section::HISTORY,
            "`since` with an unknown epoch is answered with recovered: false",
            body!(epoch_mismatch),
        )
        .requires(Feature::History),
    ]
}

/// A channel that keeps history (see [`super::listed_channel`]).
fn history_channel(ctx: &Ctx, tag: &str) -> Outcome<String> {
    let Ok(info) = &ctx.shared.info else {
        skip!("GET /api/ws/info failed, so no history channel is known");
    };
    super::listed_channel(
        ctx,
        &info.history.channels,
        Feature::History,
        tag,
        "history.channels",
    )
}

async fn recovery(ctx: Ctx) -> Outcome {
    let channel = history_channel(&ctx, "recovery")?;
    let marker = ctx.unique("recovery");
    let event = |n: u64| json!({"marker": marker, "n": n});

    let mut a = ctx.connect("A").await?;
    let first = a.subscribe(&channel).await?;
    let Some(epoch) = first.epoch.clone() else {
        fail!("subscribed on history channel {channel} carries no epoch");
    };
    let Some(start) = first.offset else {
        fail!("subscribed on history channel {channel} carries no offset");
    };
    ctx.broadcast(&channel, Some("conformance.history"), &event(0))
        .await?;
    let seen = a
        .expect_exact_event("conformance.history", Some(&channel), &event(0))
        .await?;
    let Some(last_seen) = seen.offset else {
        fail!("an event on history channel {channel} carries no offset");
    };
    ensure!(
        last_seen > start,
        "the event published after subscribing has offset {last_seen}, not above the subscribe offset {start}"
    );
    a.close().await;

    for n in 1..=3 {
        ctx.broadcast(&channel, Some("conformance.history"), &event(n))
            .await?;
    }

    let mut b = ctx.connect("B").await?;
    let since = StreamPosition {
        epoch,
        offset: last_seen,
    };
    let resumed = b.subscribe_since(&channel, &since).await?;
    ensure!(
        resumed.recovered == Some(true),
        "subscribe with since {{epoch, offset: {last_seen}}} answered recovered {:?}, expected true",
        resumed.recovered
    );
    let mut previous = last_seen;
    for n in 1..=3 {
        let replayed = b
            .expect_exact_event("conformance.history", Some(&channel), &event(n))
            .await?;
        let offset = replayed.offset.unwrap_or(0);
        ensure!(
            offset > previous,
            "replayed event {n} has offset {:?}, expected above {previous}",
            replayed.offset
        );
        previous = offset;
    }
    ctx.broadcast(&channel, Some("conformance.history"), &event(4))
        .await?;
    b.expect_exact_event("conformance.history", Some(&channel), &event(4))
        .await?;
    b.barrier().await?;
    b.close().await;
    Ok(())
}

async fn epoch_mismatch(ctx: Ctx) -> Outcome {
    let channel = history_channel(&ctx, "epoch")?;
    let mut a = ctx.connect("A").await?;
    let since = StreamPosition {
        epoch: ctx.unique("no-such-epoch"),
        offset: 1,
    };
    let answer = a.subscribe_since(&channel, &since).await?;
    ensure!(
        answer.recovered == Some(false),
        "subscribe with an unknown epoch answered recovered {:?}, expected false",
        answer.recovered
    );
    a.close().await;
    Ok(())
}
