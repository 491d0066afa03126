//! Subscribing and unsubscribing: confirmations, idempotence, and the error
//! for leaving a channel never joined.

use brain_ws_protocol::ErrorCode;
use serde_json::json;

use super::{Scenario, body, section};
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "subscribe.confirm",
            section::SUBSCRIPTIONS,
            "subscribe is answered with `subscribed` naming the channel",
            body!(confirm),
        ),
        Scenario::new(
            "subscribe.idempotent",
            section::SUBSCRIPTIONS,
            "subscribing twice is confirmed twice, counts one subscriber and delivers each event once",
            body!(idempotent),
        ),
        Scenario::new(
            "unsubscribe.confirm",
            section::SUBSCRIPTIONS,
            "unsubscribe is answered with `unsubscribed` and stops delivery",
            body!(unsubscribe_confirm),
        ),
        Scenario::new(
            "unsubscribe.not_subscribed",
            section::SUBSCRIPTIONS,
            "unsubscribing from a channel not joined gets error not_subscribed and the connection stays usable",
            body!(not_subscribed),
        ),
    ]
}

async fn confirm(ctx: Ctx) -> Outcome {
    let mut a = ctx.connect("A").await?;
    let first = ctx.channel("confirm");
    let second = ctx.channel("confirm");
    a.subscribe(&first).await?;
    a.subscribe(&second).await?;
    a.barrier().await?;
    a.close().await;
    Ok(())
}

async fn idempotent(ctx: Ctx) -> Outcome {
    let channel = ctx.channel("idempotent");
    let mut a = ctx.connect("A").await?;
    a.subscribe(&channel).await?;
    a.subscribe(&channel).await?;
    let info = ctx.channel_info(&channel).await?;
    ensure!(
        info.subscribers == 1,
        "after subscribing twice, GET /api/ws/channels/{channel} counts {} subscribers, expected 1",
        info.subscribers
    );
    let data = json!({"n": 1});
    let answer = ctx
        .broadcast(&channel, Some("conformance.once"), &data)
        .await?;
    ensure!(
        answer.subscribers == 1,
        "the broadcast counted {} subscribers, expected 1",
        answer.subscribers
    );
    a.expect_exact_event("conformance.once", Some(&channel), &data)
        .await?;
    // A second copy would arrive before the pong.
    a.barrier().await?;
    a.close().await;
    Ok(())
}

async fn unsubscribe_confirm(ctx: Ctx) -> Outcome {
    let channel = ctx.channel("unsubscribe");
    let mut a = ctx.connect("A").await?;
    a.subscribe(&channel).await?;
    a.unsubscribe(&channel).await?;
    let answer = ctx
        .broadcast(&channel, Some("conformance.gone"), &json!({}))
        .await?;
    ensure!(
        answer.subscribers == 0,
        "after the only subscriber left, the broadcast counted {} subscribers, expected 0",
        answer.subscribers
    );
    // The event must not arrive: the pong comes first and nothing follows.
    a.barrier().await?;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    a.barrier().await?;
    a.close().await;
    Ok(())
}

async fn not_subscribed(ctx: Ctx) -> Outcome {
    let channel = ctx.channel("never");
    let mut a = ctx.connect("A").await?;
    a.send_json(&json!({"type": "unsubscribe", "channel": channel}))
        .await?;
    let error = a.expect_error(&ErrorCode::NOT_SUBSCRIBED).await?;
    if let Some(echo) = &error.channel {
        ensure!(
            echo == &channel,
            "error.channel is {echo:?}, expected the channel named, {channel:?}"
        );
    }
    a.barrier().await?;
    a.close().await;
    Ok(())
}
