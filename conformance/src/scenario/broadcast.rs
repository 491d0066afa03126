//! Channel broadcasts and broadcasts to every connection, through the HTTP
//! API: who receives them and in which envelope.

use std::time::Duration;

use serde_json::json;

use super::{Scenario, body, section};
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "broadcast.exact_subscribers",
            section::EVENT_ENVELOPE,
            "a channel broadcast reaches exactly the channel's subscribers, once, in the exact envelope",
            body!(exact_subscribers),
        ),
        Scenario::new(
            "broadcast.default_type",
            section::EVENT_ENVELOPE,
            "a broadcast without `type` is delivered with type `broadcast`",
            body!(default_type),
        ),
        Scenario::new(
            "broadcast.all",
            section::EVENT_ENVELOPE,
            "broadcast/all reaches every connection, subscribed or not, without a channel, and counts them",
            body!(all),
        )
        .exclusive(),
    ]
}

async fn exact_subscribers(ctx: Ctx) -> Outcome {
    let channel = ctx.channel("exact");
    let other = ctx.channel("exact-other");
    let mut a = ctx.connect("A").await?;
    let mut b = ctx.connect("B").await?;
    let mut c = ctx.connect("C").await?;
    a.subscribe(&channel).await?;
    b.subscribe(&channel).await?;
    c.subscribe(&other).await?;
    let data =
        json!({"mission_id": ctx.unique("m"), "nested": {"list": [1, 2.5, "three", null, true]}});
    let answer = ctx
        .broadcast(&channel, Some("conformance.exact"), &data)
        .await?;
    ensure!(
        answer.subscribers == 2,
        "POST /api/ws/broadcast counted {} subscribers of {channel}, expected 2",
        answer.subscribers
    );
    a.expect_exact_event("conformance.exact", Some(&channel), &data)
        .await?;
    b.expect_exact_event("conformance.exact", Some(&channel), &data)
        .await?;
    // No duplicates for the subscribers, nothing at all for C.
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.barrier().await?;
    b.barrier().await?;
    c.barrier().await?;
    for conn in [a, b, c] {
        conn.close().await;
    }
    Ok(())
}

async fn default_type(ctx: Ctx) -> Outcome {
    let channel = ctx.channel("default-type");
    let mut a = ctx.connect("A").await?;
    a.subscribe(&channel).await?;
    let data = json!("plain text payload");
    ctx.broadcast(&channel, None, &data).await?;
    a.expect_exact_event("broadcast", Some(&channel), &data)
        .await?;
    a.close().await;
    Ok(())
}

async fn all(ctx: Ctx) -> Outcome {
    let channel = ctx.channel("all");
    let mut a = ctx.connect("A").await?;
    let mut b = ctx.connect("B").await?;
    a.subscribe(&channel).await?;
    let before = ctx.settled_stats().await?;
    let data = json!({"notice": ctx.unique("all")});
    let answer = ctx.broadcast_all("conformance.all", &data).await?;
    ensure!(
        answer.total_connections == before.total_connections,
        "broadcast/all counted {} connections, but GET /api/ws/stats counts {}",
        answer.total_connections,
        before.total_connections
    );
    a.expect_exact_event("conformance.all", None, &data).await?;
    b.expect_exact_event("conformance.all", None, &data).await?;
    a.barrier().await?;
    b.barrier().await?;
    a.close().await;
    b.close().await;
    Ok(())
}
