//! Delivery under volume: many events on one channel arrive in order, and
//! many subscribers all receive every event.

use futures_util::future::join_all;
use serde_json::json;

use super::{Scenario, body, section};
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure};
use crate::ws::WsConn;

/// Events published by `order.single_channel`.
const ORDERED_EVENTS: u64 = 500;
/// Subscribers in `fanout.concurrent`.
const FANOUT_SUBSCRIBERS: usize = 50;
/// Events published by `fanout.concurrent`.
const FANOUT_EVENTS: u64 = 20;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "order.single_channel",
            section::EVENT_ENVELOPE,
            "500 events published one after another on a channel arrive complete and in order",
            body!(single_channel),
        ),
        Scenario::new(
            "fanout.concurrent",
            section::EVENT_ENVELOPE,
            "50 subscribers of a channel each receive all 20 events, in order",
            body!(concurrent),
        ),
    ]
}

/// Publishes `count` events `{seq: i}` on `channel`, one after another,
/// checking each answer counts `subscribers`.
async fn publish_sequence(ctx: &Ctx, channel: &str, count: u64, subscribers: u64) -> Outcome {
    for seq in 0..count {
        let answer = ctx
            .broadcast(channel, Some("conformance.seq"), &json!({"seq": seq}))
            .await?;
        ensure!(
            answer.subscribers == subscribers,
            "broadcast {seq} counted {} subscribers, expected {subscribers}",
            answer.subscribers
        );
    }
    Ok(())
}

/// Reads `count` events from `conn`, expecting `{seq: 0}`, `{seq: 1}`, ...
async fn receive_sequence(conn: &mut WsConn, channel: &str, count: u64) -> Outcome {
    for seq in 0..count {
        conn.expect_exact_event("conformance.seq", Some(channel), &json!({"seq": seq}))
            .await?;
    }
    Ok(())
}

async fn single_channel(ctx: Ctx) -> Outcome {
    let channel = ctx.channel("order");
    let mut a = ctx.connect("A").await?;
    a.subscribe(&channel).await?;
    let (published, received) = tokio::join!(
        publish_sequence(&ctx, &channel, ORDERED_EVENTS, 1),
        receive_sequence(&mut a, &channel, ORDERED_EVENTS)
    );
    published?;
    received?;
    a.barrier().await?;
    a.close().await;
    Ok(())
}

async fn concurrent(ctx: Ctx) -> Outcome {
    let channel = ctx.channel("fanout");
    let opened = join_all((0..FANOUT_SUBSCRIBERS).map(|i| {
        let ctx = ctx.clone();
        let channel = channel.clone();
        async move {
            let mut conn = ctx.connect(&format!("S{i}")).await?;
            conn.subscribe(&channel).await?;
            Outcome::Ok(conn)
        }
    }))
    .await;
    let mut conns = opened.into_iter().collect::<Outcome<Vec<WsConn>>>()?;
    let readers = join_all(
        conns
            .iter_mut()
            .map(|conn| receive_sequence(conn, &channel, FANOUT_EVENTS)),
    );
    let (published, received) = tokio::join!(
        publish_sequence(&ctx, &channel, FANOUT_EVENTS, FANOUT_SUBSCRIBERS as u64),
        readers
    );
    published?;
    received.into_iter().collect::<Outcome<Vec<()>>>()?;
    join_all(conns.into_iter().map(WsConn::close)).await;
    Ok(())
}
