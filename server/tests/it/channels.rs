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

/// Publishes sent in one burst over one connection are published in the
/// order sent: a subscriber receives every one, in that order, with offsets
/// increasing by one (docs/protocol.md, Client publish). The Redis broker is
/// where concurrent publishes used to overtake each other.
// Several workers, as in the server binary: one worker runs spawned tasks
// in the order spawned, which hid the reordering.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_client_publishes_keeps_its_order_through_redis() {
    let Some(redis) = crate::multinode::shared_redis("client publish order").await else {
        return;
    };
    let prefix = crate::multinode::unique_prefix();
    let mut config = crate::multinode::config(&redis, &prefix, "a");
    allow_a_burst(&mut config);
    let server = brain_ws_server::Server::start(config)
        .await
        .expect("server starts");
    publish_a_burst_in_order(&server).await;
    server.shutdown().await;
}

// Several workers, as in the server binary: one worker runs spawned tasks
// in the order spawned, which hid the reordering.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_client_publishes_keeps_its_order_in_memory() {
    publish_a_burst_in_order(&start(allow_a_burst).await).await;
}

const BURST: u64 = 2_000;

fn allow_a_burst(c: &mut brain_ws_server::Config) {
    c.client_publish_channels = vec!["chat:*".parse().expect("pattern")];
    c.history_channels = vec!["chat:*".parse().expect("pattern")];
    // The burst is the point: no inbound rate limit, and room for all of it
    // in the subscriber's queue while the test is still sending.
    c.rate_limit = None;
    c.outbound_queue = 2 * BURST as usize;
}

async fn publish_a_burst_in_order(server: &brain_ws_server::Server) {
    let mut listener = Client::subscribed(server, &["chat:order"]).await;
    let (mut talker, _) = Client::connect(server).await;
    for seq in 0..BURST {
        talker
            .send_json(json!({"type": "publish", "channel": "chat:order", "event": "said", "data": {"seq": seq}}))
            .await;
    }
    let mut last_offset = None;
    for seq in 0..BURST {
        let event = listener.recv().await;
        assert_eq!(event["type"], "said", "{event}");
        assert_eq!(
            event["data"],
            json!({"seq": seq}),
            "event {seq} out of order"
        );
        let offset = event["offset"].as_u64().expect("history channel: offset");
        if let Some(last) = last_offset {
            assert_eq!(offset, last + 1, "{event}");
        }
        last_offset = Some(offset);
    }
    // Nothing refused or left over, on either side.
    assert_eq!(talker.roundtrip().await, Vec::<serde_json::Value>::new());
    assert_eq!(listener.roundtrip().await, Vec::<serde_json::Value>::new());
}
