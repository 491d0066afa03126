//! Connecting: the welcome message and the channel endpoint.

use brain_ws_protocol::PROTOCOL_VERSION;
use serde_json::json;

use super::{Scenario, body, section};
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure, fail};
use crate::ws::check_timestamp;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "connect.welcome",
            section::LIFECYCLE,
            "the first frame is `connected` with a fresh connection_id, brain.v1 and the announced heartbeat interval",
            body!(welcome),
        ),
        Scenario::new(
            "connect.channel_endpoint",
            section::LIFECYCLE,
            "/ws/channel/{c} sends `connected` then `subscribed{c}` and delivers c's events",
            body!(channel_endpoint),
        ),
        Scenario::new(
            "connect.channel_invalid",
            section::LIFECYCLE,
            "/ws/channel/{invalid} is refused before the upgrade with 400 and error invalid_channel",
            body!(channel_invalid),
        ),
    ]
}

async fn welcome(ctx: Ctx) -> Outcome {
    let a = ctx.connect("A").await?;
    let b = ctx.connect("B").await?;
    let (Some(wa), Some(wb)) = (&a.welcome, &b.welcome) else {
        fail!("no welcome recorded");
    };
    ensure!(
        wa.protocol == PROTOCOL_VERSION,
        "connected.protocol is {:?}, expected {PROTOCOL_VERSION:?}",
        wa.protocol
    );
    ensure!(
        wa.connection_id != wb.connection_id,
        "two connections got the same connection_id {}",
        wa.connection_id
    );
    check_timestamp(wa.timestamp, "connected.timestamp")?;
    ensure!(
        wa.heartbeat_interval > 0.0,
        "connected.heartbeat_interval is {}, expected a positive number of seconds",
        wa.heartbeat_interval
    );
    if let Ok(info) = &ctx.shared.info {
        ensure!(
            (wa.heartbeat_interval - info.heartbeat_interval).abs() < 1e-6,
            "connected.heartbeat_interval is {} but GET /api/ws/info says {}",
            wa.heartbeat_interval,
            info.heartbeat_interval
        );
    }
    if ctx.config().token.is_none() {
        ensure!(
            wa.user_id.is_none(),
            "an anonymous connection was welcomed with user_id {:?}",
            wa.user_id
        );
    }
    a.close().await;
    b.close().await;
    Ok(())
}

async fn channel_endpoint(ctx: Ctx) -> Outcome {
    let channel = ctx.channel("endpoint");
    let mut a = ctx.open("A", &format!("/ws/channel/{channel}")).await?;
    a.expect_subscribed(&channel).await?;
    let data = json!({"endpoint": ctx.unique("endpoint")});
    let answer = ctx
        .broadcast(&channel, Some("conformance.endpoint"), &data)
        .await?;
    ensure!(
        answer.subscribers == 1,
        "POST /api/ws/broadcast counted {} subscribers of {channel}, expected 1 (the endpoint connection)",
        answer.subscribers
    );
    a.expect_exact_event("conformance.endpoint", Some(&channel), &data)
        .await?;
    a.barrier().await?;
    a.close().await;
    Ok(())
}

async fn channel_invalid(ctx: Ctx) -> Outcome {
    super::expect_upgrade_refused(&ctx, "/ws/channel/bad*channel", 400, "invalid_channel").await
}
