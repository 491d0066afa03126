//! Subscribe and unsubscribe: confirmations, idempotence, limits, the
//! channel endpoint.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn subscribe_and_unsubscribe_are_confirmed() {
    let server = start(|_| {}).await;
    let (mut client, _) = Client::connect(&server).await;
    let reply = client.subscribe("builds").await;
    assert!(reply["timestamp"].as_f64().is_some());
    // Not a history channel: no epoch or offset.
    assert_eq!(reply.get("epoch"), None);
    client
        .send_json(json!({"type": "unsubscribe", "channel": "builds"}))
        .await;
    let reply = client.recv().await;
    assert_eq!(
        (reply["type"].as_str(), reply["channel"].as_str()),
        (Some("unsubscribed"), Some("builds"))
    );
    assert_eq!(server.node().stats().total_channels, 0);
}

#[tokio::test]
async fn subscribing_twice_confirms_twice_and_delivers_once() {
    let server = start(|_| {}).await;
    let mut client = Client::subscribed(&server, &["builds", "builds"]).await;
    assert_eq!(server.node().stats().channels.get("builds"), Some(&1));
    post(
        &server,
        "/api/ws/broadcast",
        r#"{"channel":"builds","message":1}"#,
    )
    .await;
    assert_eq!(client.recv().await["data"], json!(1));
    assert_eq!(client.roundtrip().await, Vec::<serde_json::Value>::new());
}

#[tokio::test]
async fn the_subscription_limit_is_enforced_per_connection() {
    let server = start(|c| c.max_subscriptions = 3).await;
    let mut client = Client::subscribed(&server, &["a", "b", "c"]).await;
    client
        .send_json(json!({"type": "subscribe", "channel": "d"}))
        .await;
    let reply = client.recv().await;
    assert_eq!(
        (reply["code"].as_str(), reply["channel"].as_str()),
        (Some("subscription_limit"), Some("d"))
    );
    // Re-subscribing to a held channel is not a new subscription.
    client.subscribe("a").await;
    // Freeing one makes room.
    client
        .send_json(json!({"type": "unsubscribe", "channel": "a"}))
        .await;
    assert_eq!(client.recv().await["type"], "unsubscribed");
    client.subscribe("d").await;
}

#[tokio::test]
async fn the_channel_endpoint_welcomes_then_subscribes() {
    let server = start(|_| {}).await;
    let (mut client, welcome) = Client::connect_to(&server, "/ws/channel/missions").await;
    assert_eq!(welcome["type"], "connected");
    let subscribed = client.recv().await;
    assert_eq!(subscribed["type"], "subscribed");
    assert_eq!(subscribed["channel"], "missions");
    // missions keeps history by default: the position comes with it.
    assert_eq!(subscribed["offset"], 0);
    assert!(subscribed["epoch"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(server.node().stats().channels.get("missions"), Some(&1));
}

#[tokio::test]
async fn an_invalid_channel_in_the_path_is_refused_before_the_upgrade() {
    let server = start(|_| {}).await;
    let (status, _) = get(&server, "/ws/channel/bad%20name").await;
    // Without upgrade headers axum refuses first; with them, our check answers.
    assert!(status == 400 || status == 426, "{status}");
    let (status, body) = refused(&server, "/ws/channel/bad%20name").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_channel");
}

#[tokio::test]
async fn client_publish_works_only_where_configured() {
    let server =
        start(|c| c.client_publish_channels = vec!["chat:*".parse().expect("pattern")]).await;
    let mut listener = Client::subscribed(&server, &["chat:lobby"]).await;
    let (mut talker, _) = Client::connect(&server).await;
    talker
        .send_json(json!({"type": "publish", "channel": "chat:lobby", "event": "chat_message", "data": {"text": "hi"}}))
        .await;
    let event = listener.recv().await;
    assert_eq!(event["type"], "chat_message");
    assert_eq!(event["channel"], "chat:lobby");
    assert_eq!(event["data"], json!({"text": "hi"}));
    talker
        .send_json(json!({"type": "publish", "channel": "missions", "event": "x", "data": 1}))
        .await;
    let reply = talker.recv().await;
    assert_eq!(reply["code"], "publish_not_allowed");
    talker
        .send_json(
            json!({"type": "publish", "channel": "chat:lobby", "event": "subscribed", "data": 1}),
        )
        .await;
    assert_eq!(talker.recv().await["code"], "invalid_message");
}
