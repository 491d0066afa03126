//! Per-connection limits announced in `GET /api/ws/info`: frame size and
//! subscription count.

use brain_ws_protocol::{CloseCode, ErrorCode};
use serde_json::json;

use super::{Scenario, body, section};
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure, skip};
use crate::ws::show_code;

/// Larger subscription limits are not probed (it would take too long).
const MAX_PROBED_SUBSCRIPTIONS: u64 = 2000;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "limits.oversize",
            section::CLOSE_CODES,
            "a frame of max_message_size + 1 bytes closes the connection with 1009",
            body!(oversize),
        ),
        Scenario::new(
            "limits.max_size_accepted",
            section::LIFECYCLE,
            "a frame of exactly max_message_size bytes is accepted",
            body!(max_size_accepted),
        ),
        Scenario::new(
            "limits.subscriptions",
            section::SUBSCRIPTIONS,
            "max_subscriptions channels are accepted, one more gets subscription_limit, re-subscribing and replacing still work",
            body!(subscriptions),
        ),
    ]
}

/// A `ping` message padded to exactly `size` bytes (ignored fields are
/// allowed, so a server must treat it as a ping).
fn padded_ping(size: usize) -> String {
    let prefix = "{\"type\":\"ping\",\"pad\":\"";
    let suffix = "\"}";
    let padding = size.saturating_sub(prefix.len() + suffix.len());
    format!("{prefix}{}{suffix}", "x".repeat(padding))
}

async fn oversize(ctx: Ctx) -> Outcome {
    let max = ctx.info()?.max_message_size as usize;
    let mut a = ctx.connect("A").await?;
    a.send_text(padded_ping(max + 1)).await?;
    let code = a.expect_close(ctx.step()).await?;
    ensure!(
        code == Some(CloseCode::MESSAGE_TOO_BIG.0),
        "a frame of {} bytes (max {max}) ended the connection with {}, expected code {}",
        max + 1,
        show_code(code),
        CloseCode::MESSAGE_TOO_BIG
    );
    Ok(())
}

async fn max_size_accepted(ctx: Ctx) -> Outcome {
    let max = ctx.info()?.max_message_size as usize;
    let mut a = ctx.connect("A").await?;
    let frame = padded_ping(max);
    ensure!(frame.len() == max, "cannot build a ping of {max} bytes");
    a.send_text(frame).await?;
    match a.recv("pong").await? {
        brain_ws_protocol::ServerMessage::Pong(_) => {}
        other => crate::outcome::fail!(
            "a ping of exactly max_message_size ({max}) bytes got {}, expected pong",
            other.to_json()
        ),
    }
    a.close().await;
    Ok(())
}

async fn subscriptions(ctx: Ctx) -> Outcome {
    let max = ctx.info()?.max_subscriptions;
    if max > MAX_PROBED_SUBSCRIPTIONS {
        skip!(
            "max_subscriptions is {max}; only limits up to {MAX_PROBED_SUBSCRIPTIONS} are probed"
        );
    }
    let channels: Vec<String> = (0..=max).map(|_| ctx.channel("limit")).collect();
    let mut a = ctx.connect("A").await?;
    // Pipelined: send every subscribe, then read the confirmations in order.
    for channel in &channels[..max as usize] {
        a.send_json(&json!({"type": "subscribe", "channel": channel}))
            .await?;
    }
    for channel in &channels[..max as usize] {
        a.expect_subscribed(channel).await?;
    }
    let extra = &channels[max as usize];
    a.send_json(&json!({"type": "subscribe", "channel": extra}))
        .await?;
    let error = a.expect_error(&ErrorCode::SUBSCRIPTION_LIMIT).await?;
    if let Some(echo) = &error.channel {
        ensure!(
            echo == extra,
            "error.channel is {echo:?}, expected {extra:?}"
        );
    }
    // At the limit, a channel already held is still confirmed...
    a.subscribe(&channels[0]).await?;
    // ...and leaving one makes room for another.
    a.unsubscribe(&channels[0]).await?;
    a.subscribe(extra).await?;
    a.close().await;
    Ok(())
}
