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
        Scenario::new(
            "history.stream_restart",
            section::STREAM_RESTARTS,
            "a subscriber whose `since` names an epoch that no longer exists gets subscribed with recovered: false and the stream's current epoch and offset, no replay, then the next event above that offset",
            body!(stream_restart),
        )
        .requires(Feature::History)
        // It publishes on the shared history channel and checks the
        // channel's latest offset: another scenario's events would move it.
        .exclusive(),
    ]
}

/// A channel that keeps history (see [`super::listed_channel`]).
pub(super) fn history_channel(ctx: &Ctx, tag: &str) -> Outcome<String> {
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

/// A stream restart as a client provokes it from outside: it resumes with a
/// position in an epoch the server does not have (as after Redis came back
/// empty, or a node restarted without its history), and must be told where
/// the stream now is, so that it resets its position instead of mistaking
/// the new epoch's low offsets for duplicates.
async fn stream_restart(ctx: Ctx) -> Outcome {
    let channel = history_channel(&ctx, "restart")?;
    let marker = ctx.unique("restart");
    let event = |n: u64| json!({"marker": marker, "n": n});

    let mut a = ctx.connect("A").await?;
    let first = a.subscribe(&channel).await?;
    let Some(epoch) = first.epoch.clone() else {
        fail!("subscribed on history channel {channel} carries no epoch");
    };
    ctx.broadcast(&channel, Some("conformance.restart"), &event(1))
        .await?;
    let seen = a
        .expect_exact_event("conformance.restart", Some(&channel), &event(1))
        .await?;
    let Some(latest) = seen.offset else {
        fail!("an event on history channel {channel} carries no offset");
    };

    let mut b = ctx.connect("B").await?;
    let gone = StreamPosition {
        epoch: ctx.unique("gone-epoch"),
        offset: latest,
    };
    let answer = b.subscribe_since(&channel, &gone).await?;
    ensure!(
        answer.recovered == Some(false),
        "subscribe with since in an epoch that does not exist answered recovered {:?}, expected false",
        answer.recovered
    );
    ensure!(
        answer.epoch.as_deref() == Some(epoch.as_str()),
        "subscribe with since in a gone epoch answered epoch {:?}, expected the stream's current epoch {epoch:?} (the client needs it to reset its position)",
        answer.epoch
    );
    ensure!(
        answer.offset == Some(latest),
        "subscribe with since in a gone epoch answered offset {:?}, expected the stream's latest offset {latest}",
        answer.offset
    );
    // Nothing replayed: the events of another epoch cannot be recovered.
    b.barrier().await?;
    ctx.broadcast(&channel, Some("conformance.restart"), &event(2))
        .await?;
    let next = b
        .expect_exact_event("conformance.restart", Some(&channel), &event(2))
        .await?;
    ensure!(
        next.offset.is_some_and(|o| o > latest),
        "the next event after the restart signal has offset {:?}, expected above {latest}",
        next.offset
    );
    a.expect_exact_event("conformance.restart", Some(&channel), &event(2))
        .await?;
    a.close().await;
    b.close().await;
    Ok(())
}
