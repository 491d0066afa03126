//! Client `publish`: refused on channels that do not allow it, delivered to
//! subscribers on channels that do.

use brain_ws_protocol::{ChannelName, ErrorCode};
use serde_json::json;

use super::{Scenario, body, section};
use crate::config::Feature;
use crate::context::Ctx;
use crate::glob::glob_match;
use crate::outcome::{Outcome, ensure, fail, skip};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "publish.not_allowed",
            section::CLIENT_PUBLISH,
            "publish on a channel outside client_publish_channels gets publish_not_allowed and the connection stays usable",
            body!(not_allowed),
        ),
        Scenario::new(
            "publish.delivered",
            section::CLIENT_PUBLISH,
            "publish on an allowed channel reaches its subscribers in the standard envelope",
            body!(delivered),
        )
        .requires(Feature::ClientPublish),
    ]
}

async fn not_allowed(ctx: Ctx) -> Outcome {
    let channel = ctx.channel("no-publish");
    let patterns = match &ctx.shared.info {
        Ok(info) => info.client_publish_channels.clone(),
        Err(_) => Vec::new(),
    };
    if let Some(p) = patterns.iter().find(|p| glob_match(p, &channel)) {
        skip!(
            "the server allows publishing on {p:?}, which matches every channel this scenario could use"
        );
    }
    let mut a = ctx.connect("A").await?;
    a.send_json(&json!({"type": "publish", "channel": channel, "event": "conformance.publish", "data": {"n": 1}}))
        .await?;
    let error = a.expect_error(&ErrorCode::PUBLISH_NOT_ALLOWED).await?;
    if let Some(echo) = &error.channel {
        ensure!(
            echo == &channel,
            "error.channel is {echo:?}, expected {channel:?}"
        );
    }
    a.barrier().await?;
    a.close().await;
    Ok(())
}

async fn delivered(ctx: Ctx) -> Outcome {
    let patterns = match &ctx.shared.info {
        Ok(info) => info.client_publish_channels.clone(),
        Err(_) => Vec::new(),
    };
    let unique = ctx.unique("publish");
    let channel = match patterns.first() {
        Some(p) => p.replacen('*', &unique, 1).replace('*', ""),
        None => skip!("client_publish_channels is empty, so no channel allows publishing"),
    };
    if ChannelName::validate(&channel).is_err() {
        fail!("client_publish_channels names {channel:?}, which is not a valid channel");
    }
    let mut subscriber = ctx.connect("S").await?;
    let mut publisher = ctx.connect("P").await?;
    subscriber.subscribe(&channel).await?;
    let data = json!({"text": "hello from a client", "marker": unique});
    publisher
        .send_json(&json!({"type": "publish", "channel": channel, "event": "conformance.published", "data": data}))
        .await?;
    subscriber
        .expect_exact_event("conformance.published", Some(&channel), &data)
        .await?;
    // The publisher is not subscribed: it gets no error and no copy.
    publisher.barrier().await?;
    subscriber.barrier().await?;
    subscriber.close().await;
    publisher.close().await;
    Ok(())
}
