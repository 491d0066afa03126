//! Batched frames (docs/protocol.md, "Batched frames"): with `?batch=1` a
//! text frame may hold several messages, one per line, each one whole
//! message, in order; any other value than 1/0/true/false is refused
//! before the upgrade.

use serde_json::json;

use super::history::history_channel;
use super::{Scenario, body, section};
use crate::config::Feature;
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "frames.batched",
            section::BATCHED_FRAMES,
            "with ?batch=1, subscribe with rewind 5 after 5 events: subscribed and the 5 replayed events arrive in order, together in one frame, each line one valid message",
            body!(batched),
        )
        .requires(Feature::Rewind)
        // Alone: the history channel may be a plain name other scenarios use.
        .exclusive(),
        Scenario::new(
            "frames.batch_refused",
            section::BATCHED_FRAMES,
            "?batch=yes is refused before the upgrade with 400 invalid_message",
            body!(refused),
        ),
    ]
}

const TYPE: &str = "conformance.batch";

async fn batched(ctx: Ctx) -> Outcome {
    let channel = history_channel(&ctx, "batch")?;
    let marker = ctx.unique("batch");
    for n in 1..=5 {
        ctx.broadcast(&channel, Some(TYPE), &json!({"marker": marker, "n": n}))
            .await?;
    }
    let mut a = ctx.open("A", "/ws/connect?batch=1").await?;
    a.send_json(&json!({"type": "subscribe", "channel": channel, "rewind": 5}))
        .await?;
    let answer = a.expect_subscribed(&channel).await?;
    ensure!(
        answer.replayed == Some(5),
        "subscribe with rewind 5 after 5 events answered replayed {:?}, expected 5",
        answer.replayed
    );
    for n in 1..=5 {
        a.expect_exact_event(TYPE, Some(&channel), &json!({"marker": marker, "n": n}))
            .await?;
    }
    // The server queues the answer and the replay while it handles the
    // subscribe and writes afterwards: one frame.
    ensure!(
        a.largest_frame >= 6,
        "the subscribe's answer and its 5 replayed events came in frames of at most {} messages; with batch=1 they are queued together and must share a frame",
        a.largest_frame
    );
    a.barrier().await?;
    a.close().await;
    Ok(())
}

async fn refused(ctx: Ctx) -> Outcome {
    super::expect_upgrade_refused(&ctx, "/ws/connect?batch=yes", 400, "invalid_message").await
}
