//! Rewind on subscribe and the history read over HTTP (docs/protocol.md,
//! "Rewind" and `GET /api/ws/channels/{channel}/history`): a client that
//! opens mid-stream gets the channel's latest events, then live ones.

use brain_ws_protocol::ErrorCode;
use brain_ws_protocol::http::HistoryResponse;
use reqwest::Method;
use serde_json::json;

use super::history::history_channel;
use super::{Scenario, body, section};
use crate::config::Feature;
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure, fail};
use crate::schema;

pub(super) fn scenarios() -> Vec<Scenario> {
    // history.read first: it joins the history group of the report. The
    // reading scenarios run alone: a server whose history channels are
    // plain names (no pattern for a fresh channel) shares them with the
    // other scenarios, whose events would land in the window read.
    vec![
        Scenario::new(
            "history.read",
            section::HTTP_API,
            "GET /api/ws/channels/{c}/history returns the latest events newest last with epoch and offset, pages forward with since, and says complete: false for a since outside the window",
            body!(read),
        )
        .requires(Feature::HistoryRead)
        .exclusive(),
        Scenario::new(
            "rewind.replay",
            section::REWIND,
            "subscribe with rewind 2 after 3 events: subscribed says replayed 2, the last 2 events follow in order, then live ones",
            body!(replay),
        )
        .requires(Feature::Rewind)
        .exclusive(),
        Scenario::new(
            "rewind.refused",
            section::REWIND,
            "rewind above history.max_rewind, or with since, is answered with error invalid_message and the connection stays usable",
            body!(refused),
        )
        .requires(Feature::Rewind),
    ]
}

const TYPE: &str = "conformance.rewind";

/// Publishes `n` = 1..=3 with a unique marker on a history channel.
async fn three_events(ctx: &Ctx, tag: &str) -> Outcome<(String, serde_json::Value)> {
    let channel = history_channel(ctx, tag)?;
    let marker = ctx.unique(tag);
    for n in 1..=3 {
        ctx.broadcast(&channel, Some(TYPE), &json!({"marker": marker, "n": n}))
            .await?;
    }
    Ok((channel, json!(marker)))
}

async fn replay(ctx: Ctx) -> Outcome {
    let (channel, marker) = three_events(&ctx, "rewind").await?;
    let event = |n: u64| json!({"marker": marker, "n": n});
    let mut a = ctx.connect("A").await?;
    a.send_json(&json!({"type": "subscribe", "channel": channel, "rewind": 2}))
        .await?;
    let answer = a.expect_subscribed(&channel).await?;
    ensure!(
        answer.replayed == Some(2),
        "subscribe with rewind 2 after 3 events answered replayed {:?}, expected 2",
        answer.replayed
    );
    let Some(top) = answer.offset else {
        fail!("subscribed on history channel {channel} carries no offset");
    };
    for (n, offset) in [(2, top - 1), (3, top)] {
        let replayed = a
            .expect_exact_event(TYPE, Some(&channel), &event(n))
            .await?;
        ensure!(
            replayed.offset == Some(offset),
            "replayed event {n} has offset {:?}, expected {offset}",
            replayed.offset
        );
    }
    ctx.broadcast(&channel, Some(TYPE), &event(4)).await?;
    let live = a
        .expect_exact_event(TYPE, Some(&channel), &event(4))
        .await?;
    ensure!(
        live.offset == Some(top + 1),
        "the live event after the replay has offset {:?}, expected {}",
        live.offset,
        top + 1
    );
    a.barrier().await?;
    a.close().await;
    Ok(())
}

async fn refused(ctx: Ctx) -> Outcome {
    let channel = history_channel(&ctx, "rewind-refused")?;
    let max = ctx.info()?.history.max_rewind;
    let mut a = ctx.connect("A").await?;
    for (message, why) in [
        (
            json!({"type": "subscribe", "channel": channel, "rewind": max + 1}),
            "rewind above history.max_rewind",
        ),
        (
            json!({"type": "subscribe", "channel": channel, "rewind": 1, "since": {"epoch": "e", "offset": 0}}),
            "rewind with since",
        ),
    ] {
        a.send_json(&message).await?;
        let error = a.expect_error(&ErrorCode::INVALID_MESSAGE).await?;
        ensure!(
            !error.message.is_empty(),
            "{why}: the error carries no message"
        );
    }
    // Nothing was subscribed, and the connection still works.
    a.send_json(&json!({"type": "unsubscribe", "channel": channel}))
        .await?;
    a.expect_error(&ErrorCode::NOT_SUBSCRIBED).await?;
    a.barrier().await?;
    a.close().await;
    Ok(())
}

fn markers(page: &HistoryResponse) -> Vec<Option<u64>> {
    page.events
        .iter()
        .map(|e| e.data.get("n").and_then(serde_json::Value::as_u64))
        .collect()
}

async fn read(ctx: Ctx) -> Outcome {
    let (channel, _) = three_events(&ctx, "history-read").await?;
    let path = format!("/api/ws/channels/{channel}/history");
    let latest: HistoryResponse = ctx
        .get_ok(&format!("{path}?limit=2"), schema::HISTORY_RESPONSE)
        .await?;
    ensure!(
        markers(&latest) == [Some(2), Some(3)] && latest.complete,
        "GET {path}?limit=2 after 3 events answered events n={:?} complete {}, expected [2, 3] complete",
        markers(&latest),
        latest.complete
    );
    let offsets: Vec<Option<u64>> = latest.events.iter().map(|e| e.offset).collect();
    ensure!(
        offsets == [Some(latest.offset - 1), Some(latest.offset)],
        "the events' offsets are {offsets:?}, expected the two below and at the top {}",
        latest.offset
    );
    let since = format!("{}:{}", latest.epoch, latest.offset - 2);
    let page: HistoryResponse = ctx
        .get_ok(
            &format!("{path}?limit=1&since={since}"),
            schema::HISTORY_RESPONSE,
        )
        .await?;
    ensure!(
        markers(&page) == [Some(2)] && page.complete,
        "GET {path}?limit=1&since={since} answered n={:?} complete {}, expected [2] complete",
        markers(&page),
        page.complete
    );
    let foreign = format!("{}:1", ctx.unique("no-such-epoch"));
    let outside: HistoryResponse = ctx
        .get_ok(&format!("{path}?since={foreign}"), schema::HISTORY_RESPONSE)
        .await?;
    ensure!(
        !outside.complete,
        "GET {path}?since={foreign} (an unknown epoch) answered complete: true"
    );
    let reply = ctx
        .request(Method::GET, &format!("{path}?limit=0"), None)
        .await?;
    let code = ctx.expect_error_body(&format!("GET {path}?limit=0"), &reply, 400)?;
    ensure!(
        code == "invalid_message",
        "GET {path}?limit=0 answered code {code}, expected invalid_message"
    );
    Ok(())
}
