//! Presence: members of a presence channel are announced with `join` and
//! `leave` to the subscribers that ask, and the admin reads list and count
//! them (docs/protocol.md, "Presence").

use brain_ws_protocol::ServerMessage;
use brain_ws_protocol::http::{PresenceResponse, PresenceStatsResponse};
use serde_json::json;

use super::{Scenario, body, section};
use crate::config::Feature;
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure, fail, skip};
use crate::schema;
use crate::ws::WsConn;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "presence.join_leave",
            section::PRESENCE,
            "a subscriber with presence: true hears the join and leave of another subscriber (with its connection id), not its own join",
            body!(join_leave),
        )
        .requires(Feature::Presence),
        Scenario::new(
            "presence.reads",
            section::PRESENCE,
            "GET .../presence lists every subscriber and .../presence/stats counts them; a channel without presence answers 404 presence_disabled",
            body!(reads),
        )
        .requires(Feature::Presence),
    ]
}

/// A presence channel (see [`super::listed_channel`]).
fn presence_channel(ctx: &Ctx, tag: &str) -> Outcome<String> {
    let Ok(info) = &ctx.shared.info else {
        skip!("GET /api/ws/info failed, so no presence channel is known");
    };
    super::listed_channel(
        ctx,
        &info.presence_channels,
        Feature::Presence,
        tag,
        "presence_channels",
    )
}

/// Subscribes with `presence: true` and expects `subscribed.presence: true`.
async fn watch(conn: &mut WsConn, channel: &str) -> Outcome<()> {
    conn.send_json(&json!({"type": "subscribe", "channel": channel, "presence": true}))
        .await?;
    let subscribed = conn.expect_subscribed(channel).await?;
    ensure!(
        subscribed.presence == Some(true),
        "subscribed for presence channel {channel} with presence: true carries presence {:?}, not true",
        subscribed.presence
    );
    Ok(())
}

async fn join_leave(ctx: Ctx) -> Outcome {
    let channel = presence_channel(&ctx, "join")?;
    let mut a = ctx.connect("A").await?;
    watch(&mut a, &channel).await?;
    // Nothing before the pong: A's own join is not sent to it.
    a.barrier().await?;
    let mut b = ctx.connect("B").await?;
    b.subscribe(&channel).await?;
    let b_id = b.connection_id();
    let joined = match a.recv("B's join").await? {
        ServerMessage::Join(join) => join,
        other => fail!("A: expected B's join, got {}", other.to_json()),
    };
    ensure!(
        joined.channel.as_str() == channel && Some(joined.info.connection_id) == b_id,
        "A: the join names {} on {}, expected B ({b_id:?}) on {channel}",
        joined.info.connection_id,
        joined.channel
    );
    b.unsubscribe(&channel).await?;
    let left = match a.recv("B's leave").await? {
        ServerMessage::Leave(leave) => leave,
        other => fail!("A: expected B's leave, got {}", other.to_json()),
    };
    ensure!(
        left.info == joined.info,
        "A: the leave's info {:?} differs from the join's {:?}",
        left.info,
        joined.info
    );
    b.close().await;
    a.close().await;
    Ok(())
}

async fn reads(ctx: Ctx) -> Outcome {
    let channel = presence_channel(&ctx, "reads")?;
    let mut a = ctx.connect("A").await?;
    a.subscribe(&channel).await?;
    let mut b = ctx.connect("B").await?;
    b.subscribe(&channel).await?;
    let path = format!("/api/ws/channels/{channel}/presence");
    let members: PresenceResponse = ctx.get_ok(&path, schema::PRESENCE_RESPONSE).await?;
    let mut ids: Vec<_> = members.members.iter().map(|m| m.connection_id).collect();
    ids.sort();
    let mut expected: Vec<_> = [a.connection_id(), b.connection_id()]
        .into_iter()
        .flatten()
        .collect();
    expected.sort();
    ensure!(
        ids == expected,
        "GET {path} lists {ids:?}, expected A and B {expected:?}"
    );
    let stats_path = format!("{path}/stats");
    let stats: PresenceStatsResponse = ctx
        .get_ok(&stats_path, schema::PRESENCE_STATS_RESPONSE)
        .await?;
    ensure!(
        stats.connections == 2,
        "GET {stats_path} counts {} connections, expected 2",
        stats.connections
    );
    b.close().await;
    a.close().await;

    let Ok(info) = &ctx.shared.info else {
        return Ok(());
    };
    let plain = ctx.channel("nopresence");
    if info
        .presence_channels
        .iter()
        .any(|p| match p.strip_suffix('*') {
            Some(prefix) => plain.starts_with(prefix),
            None => *p == plain,
        })
    {
        ctx.note(&format!(
            "{plain} keeps presence here: the 404 check is skipped"
        ));
        return Ok(());
    }
    let what = format!("GET /api/ws/channels/{plain}/presence");
    let reply = ctx
        .request(
            reqwest::Method::GET,
            &format!("/api/ws/channels/{plain}/presence"),
            None,
        )
        .await?;
    let code = ctx.expect_error_body(&what, &reply, 404)?;
    ensure!(
        code == "presence_disabled",
        "{what} answered code {code}, expected presence_disabled"
    );
    Ok(())
}
