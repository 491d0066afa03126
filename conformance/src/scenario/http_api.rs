//! The HTTP API's shapes and answers: info, stats, channel subscribers,
//! health, and the error answers (400, 404, 413, 422).

use std::collections::BTreeSet;

use brain_ws_protocol::PROTOCOL_VERSION;
use brain_ws_protocol::http::{AuthMode, HealthResponse, InfoResponse};
use reqwest::Method;
use serde_json::json;

use super::{Scenario, body, section};
use crate::context::Ctx;
use crate::http::Body;
use crate::outcome::{Outcome, ensure};
use crate::schema;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "http.info",
            section::HTTP_API,
            "GET /api/ws/info matches its schema and its fields agree with each other",
            body!(info),
        ),
        Scenario::new(
            "http.stats",
            section::HTTP_API,
            "GET /api/ws/stats matches its schema and counts new connections and subscriptions exactly",
            body!(stats),
        )
        .exclusive(),
        Scenario::new(
            "http.channel",
            section::HTTP_API,
            "GET /api/ws/channels/{c} lists exactly the subscribed connection ids, and follows unsubscribes",
            body!(channel),
        ),
        Scenario::new(
            "http.channel_invalid",
            section::HTTP_API,
            "GET /api/ws/channels/{invalid} is refused with 400 or 422 and error invalid_channel",
            body!(channel_invalid),
        ),
        Scenario::new(
            "http.health",
            section::HTTP_API,
            "GET /health answers 200 {status: ok}",
            body!(health),
        ),
        Scenario::new(
            "http.malformed_json",
            section::HTTP_API,
            "a broadcast whose body is not JSON is refused with 400 and a JSON error body",
            body!(malformed_json),
        ),
        Scenario::new(
            "http.invalid_body",
            section::HTTP_API,
            "a broadcast with an invalid channel is refused with 422 and a JSON error body",
            body!(invalid_body),
        ),
        Scenario::new(
            "http.not_found",
            section::HTTP_API,
            "an unknown route answers 404 with a JSON error body",
            body!(not_found),
        ),
        Scenario::new(
            "http.body_too_large",
            section::HTTP_API,
            "a request body over max_message_size is refused with 413 and a JSON error body",
            body!(body_too_large),
        ),
    ]
}

async fn info(ctx: Ctx) -> Outcome {
    let info: InfoResponse = ctx.get_ok("/api/ws/info", schema::INFO_RESPONSE).await?;
    ensure!(
        info.protocol == PROTOCOL_VERSION,
        "info.protocol is {:?}, expected {PROTOCOL_VERSION:?}",
        info.protocol
    );
    ensure!(
        info.heartbeat_interval > 0.0 && info.heartbeat_timeout > 0.0,
        "heartbeat_interval {} and heartbeat_timeout {} must be positive",
        info.heartbeat_interval,
        info.heartbeat_timeout
    );
    ensure!(
        info.max_message_size > 0 && info.max_subscriptions > 0,
        "max_message_size {} and max_subscriptions {} must be positive",
        info.max_message_size,
        info.max_subscriptions
    );
    let f = &info.features;
    ensure!(
        f.history == info.history.enabled,
        "features.history is {} but history.enabled is {}",
        f.history,
        info.history.enabled
    );
    ensure!(
        f.client_publish != info.client_publish_channels.is_empty(),
        "features.client_publish is {} but client_publish_channels is {:?}",
        f.client_publish,
        info.client_publish_channels
    );
    ensure!(
        f.authentication == (info.auth != AuthMode::None),
        "features.authentication is {} but auth is {:?}",
        f.authentication,
        info.auth
    );
    for endpoint in ["/ws/connect", "/ws/channel/"] {
        ensure!(
            info.endpoints
                .websocket
                .iter()
                .any(|e| e.starts_with(endpoint)),
            "endpoints.websocket {:?} does not list {endpoint}",
            info.endpoints.websocket
        );
    }
    Ok(())
}

async fn stats(ctx: Ctx) -> Outcome {
    let before = ctx.settled_stats().await?;
    let channel = ctx.channel("stats");
    let mut a = ctx.connect("A").await?;
    let mut b = ctx.connect("B").await?;
    a.subscribe(&channel).await?;
    b.subscribe(&channel).await?;
    let now = ctx.stats().await?;
    ensure!(
        now.total_connections == before.total_connections + 2,
        "total_connections is {} after opening 2 connections, expected {} + 2",
        now.total_connections,
        before.total_connections
    );
    ensure!(
        now.channels.get(&channel) == Some(&2),
        "channels[{channel}] is {:?}, expected 2",
        now.channels.get(&channel)
    );
    ensure!(
        now.total_channels == before.total_channels + 1,
        "total_channels is {} after subscribing to one new channel, expected {} + 1",
        now.total_channels,
        before.total_channels
    );
    ensure!(
        now.total_channels == now.channels.len() as u64,
        "total_channels is {} but channels lists {}",
        now.total_channels,
        now.channels.len()
    );
    if ctx.config().token.is_none() {
        ensure!(
            now.total_users == before.total_users,
            "total_users went from {} to {} after two anonymous connections",
            before.total_users,
            now.total_users
        );
    }
    a.close().await;
    b.close().await;
    Ok(())
}

async fn channel(ctx: Ctx) -> Outcome {
    let channel = ctx.channel("subscribers");
    let mut a = ctx.connect("A").await?;
    let mut b = ctx.connect("B").await?;
    a.subscribe(&channel).await?;
    b.subscribe(&channel).await?;
    let ids = |conns: &[&crate::ws::WsConn]| -> BTreeSet<String> {
        conns
            .iter()
            .filter_map(|c| c.connection_id())
            .map(|id| id.to_string())
            .collect()
    };
    let answer = ctx.channel_info(&channel).await?;
    let listed: BTreeSet<String> = answer
        .connection_ids
        .iter()
        .map(|i| i.to_string())
        .collect();
    ensure!(
        answer.subscribers == 2 && listed == ids(&[&a, &b]),
        "GET /api/ws/channels/{channel} answered {} subscribers {listed:?}, expected 2: {:?}",
        answer.subscribers,
        ids(&[&a, &b])
    );
    a.unsubscribe(&channel).await?;
    let answer = ctx.channel_info(&channel).await?;
    let listed: BTreeSet<String> = answer
        .connection_ids
        .iter()
        .map(|i| i.to_string())
        .collect();
    ensure!(
        answer.subscribers == 1 && listed == ids(&[&b]),
        "after A unsubscribed, {channel} has {} subscribers {listed:?}, expected 1: {:?}",
        answer.subscribers,
        ids(&[&b])
    );
    let unused = ctx.channel("unused");
    let answer = ctx.channel_info(&unused).await?;
    ensure!(
        answer.subscribers == 0 && answer.connection_ids.is_empty(),
        "a channel nobody joined has {} subscribers {:?}, expected 0",
        answer.subscribers,
        answer.connection_ids
    );
    a.close().await;
    b.close().await;
    Ok(())
}

async fn channel_invalid(ctx: Ctx) -> Outcome {
    let path = "/api/ws/channels/bad*channel";
    let reply = ctx.request(Method::GET, path, None).await?;
    let status = if reply.status == 422 { 422 } else { 400 };
    let code = ctx.expect_error_body(&format!("GET {path}"), &reply, status)?;
    ensure!(
        code == "invalid_channel",
        "GET {path} answered error code {code:?}, expected invalid_channel"
    );
    Ok(())
}

async fn health(ctx: Ctx) -> Outcome {
    let health: HealthResponse = ctx.get_ok("/health", schema::HEALTH_RESPONSE).await?;
    ensure!(
        health.status == "ok",
        "GET /health answered status {:?}, expected \"ok\"",
        health.status
    );
    Ok(())
}

async fn malformed_json(ctx: Ctx) -> Outcome {
    let body = Body::Raw("{\"channel\": \"missions\", \"message\": ".into());
    let reply = ctx
        .request(Method::POST, "/api/ws/broadcast", Some(body))
        .await?;
    ctx.expect_error_body("POST /api/ws/broadcast with malformed JSON", &reply, 400)?;
    Ok(())
}

async fn invalid_body(ctx: Ctx) -> Outcome {
    let body = Body::Json(json!({"channel": "bad channel", "message": {"n": 1}}));
    let reply = ctx
        .request(Method::POST, "/api/ws/broadcast", Some(body))
        .await?;
    ctx.expect_error_body(
        "POST /api/ws/broadcast with an invalid channel",
        &reply,
        422,
    )?;
    Ok(())
}

async fn not_found(ctx: Ctx) -> Outcome {
    let path = format!("/api/ws/{}", ctx.unique("no-such-route"));
    let reply = ctx.request(Method::GET, &path, None).await?;
    ctx.expect_error_body(&format!("GET {path}"), &reply, 404)?;
    Ok(())
}

async fn body_too_large(ctx: Ctx) -> Outcome {
    let max = ctx.info()?.max_message_size as usize;
    let channel = ctx.channel("too-large");
    let prefix = format!("{{\"channel\":\"{channel}\",\"message\":\"");
    let padding = (max + 1).saturating_sub(prefix.len() + 2);
    let text = format!("{prefix}{}\"}}", "x".repeat(padding));
    let reply = ctx
        .request(Method::POST, "/api/ws/broadcast", Some(Body::Raw(text)))
        .await?;
    ctx.expect_error_body(
        &format!(
            "POST /api/ws/broadcast with a body of {} bytes (max {max})",
            max + 1
        ),
        &reply,
        413,
    )?;
    Ok(())
}
