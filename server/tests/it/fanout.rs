//! Delivery: exactly the right recipients get exactly the right envelope,
//! in order, and a slow consumer is cut off without hurting anyone else.

use std::sync::Arc;

use brain_ws_protocol::{ChannelName, EventType};
use brain_ws_server::StaticTokens;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_channel_broadcast_reaches_exactly_its_subscribers() {
    let server = start(|_| {}).await;
    let mut a = Client::subscribed(&server, &["builds"]).await;
    let mut b = Client::subscribed(&server, &["builds", "deploys"]).await;
    let mut other = Client::subscribed(&server, &["deploys"]).await;
    let (status, body) = post(
        &server,
        "/api/ws/broadcast",
        r#"{"channel":"builds","message":{"id":7,"ok":true},"type":"build_done"}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "broadcasted", "channel": "builds", "subscribers": 2})
    );
    for client in [&mut a, &mut b] {
        let mut event = client.recv().await;
        assert!(event["timestamp"].as_f64().is_some());
        event.as_object_mut().map(|o| o.remove("timestamp"));
        assert_eq!(
            event,
            json!({"type": "build_done", "channel": "builds", "data": {"id": 7, "ok": true}})
        );
    }
    assert_eq!(other.roundtrip().await, Vec::<serde_json::Value>::new());
}

#[tokio::test]
async fn broadcast_without_type_uses_broadcast() {
    let server = start(|_| {}).await;
    let mut a = Client::subscribed(&server, &["builds"]).await;
    post(
        &server,
        "/api/ws/broadcast",
        r#"{"channel":"builds","message":"hello"}"#,
    )
    .await;
    let event = a.recv().await;
    assert_eq!(
        (event["type"].as_str(), event["data"].as_str()),
        (Some("broadcast"), Some("hello"))
    );
}

#[tokio::test]
async fn broadcast_all_reaches_every_connection_without_a_channel() {
    let server = start(|_| {}).await;
    let mut clients = vec![
        Client::subscribed(&server, &["builds"]).await,
        Client::subscribed(&server, &[]).await,
        Client::subscribed(&server, &["deploys"]).await,
    ];
    let (status, body) = post(
        &server,
        "/api/ws/broadcast/all",
        r#"{"type":"system_announcement","data":{"message":"System maintenance in 5 minutes"}}"#,
    )
    .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"status": "broadcasted", "total_connections": 3})
        )
    );
    for client in &mut clients {
        let event = client.recv().await;
        assert_eq!(event["type"], "system_announcement");
        assert_eq!(event["data"]["message"], "System maintenance in 5 minutes");
        assert_eq!(event.get("channel"), None);
    }
}

#[tokio::test]
async fn send_to_user_reaches_all_of_that_users_connections_and_nobody_else() {
    let server = start(|c| {
        c.authenticator = Some(Arc::new(
            StaticTokens::new()
                .with("tok-alice", "alice")
                .with("tok-bob", "bob"),
        ))
    })
    .await;
    let (mut alice1, welcome) = Client::connect_to(&server, "/ws/connect?token=tok-alice").await;
    assert_eq!(welcome["user_id"], "alice");
    let (mut alice2, _) = Client::connect_to(&server, "/ws/connect?token=tok-alice").await;
    let (mut bob, _) = Client::connect_to(&server, "/ws/connect?token=tok-bob").await;
    let (mut anon, welcome) = Client::connect(&server).await;
    assert_eq!(welcome.get("user_id"), None);
    assert_eq!(server.node().stats().total_users, 2);

    let (status, body) = post(
        &server,
        "/api/ws/users/alice/send",
        r#"{"type":"notification","data":{"text":"hi alice"}}"#,
    )
    .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"status": "sent", "user_id": "alice", "connections": 2})
        )
    );
    for client in [&mut alice1, &mut alice2] {
        let event = client.recv().await;
        assert_eq!(event["type"], "notification");
        assert_eq!(event["data"]["text"], "hi alice");
        assert_eq!(event.get("channel"), None);
    }
    assert_eq!(bob.roundtrip().await, Vec::<serde_json::Value>::new());
    assert_eq!(anon.roundtrip().await, Vec::<serde_json::Value>::new());

    let (_, body) = post(
        &server,
        "/api/ws/users/nobody/send",
        r#"{"type":"x","data":1}"#,
    )
    .await;
    assert_eq!(body["connections"], 0);
    // An unknown token is refused, not downgraded to anonymous.
    let (status, body) = refused(&server, "/ws/connect?token=forged").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
}

#[tokio::test]
async fn many_events_arrive_in_publish_order() {
    let server = start(|_| {}).await;
    let mut a = Client::subscribed(&server, &["builds"]).await;
    let mut b = Client::subscribed(&server, &["builds"]).await;
    let channel = ChannelName::new("builds").expect("valid");
    let kind = EventType::new("step").expect("valid");
    for i in 0..500 {
        server
            .node()
            .publish(&channel, &kind, json!(i))
            .await
            .expect("published");
    }
    for client in [&mut a, &mut b] {
        for i in 0..500 {
            assert_eq!(client.recv().await["data"], json!(i));
        }
    }
}

#[tokio::test]
async fn emitters_publish_typed_catalogue_events_on_their_channels() {
    let server = start(|_| {}).await;
    let mut client = Client::subscribed(&server, &["missions", "agents"]).await;
    let node = server.node();
    let mut data = serde_json::Map::new();
    data.insert("name".into(), json!("Deploy Application"));
    assert_eq!(
        node.emit_mission_created("mission_123", data)
            .await
            .expect("emit"),
        brain_ws_server::Published::Local { recipients: 1 }
    );
    node.emit_agent_heartbeat("ops_agent", json!({"health": "good", "tasks": 5}))
        .await
        .expect("emit");
    let created = client.recv().await;
    assert_eq!(created["type"], "mission_created");
    assert_eq!(created["channel"], "missions");
    assert_eq!(
        created["data"],
        json!({"mission_id": "mission_123", "name": "Deploy Application"})
    );
    assert_eq!(created["offset"], 1);
    let heartbeat = client.recv().await;
    assert_eq!(heartbeat["type"], "agent_heartbeat");
    assert_eq!(
        heartbeat["data"],
        json!({"agent_id": "ops_agent", "status": {"health": "good", "tasks": 5}})
    );
}

#[tokio::test]
async fn a_slow_consumer_is_closed_and_everyone_else_gets_everything() {
    let server = start(|c| c.outbound_queue = 64).await;
    let mut good = Client::subscribed(&server, &["firehose"]).await;
    // Subscribes, then never reads again.
    let _slow = Client::subscribed(&server, &["firehose"]).await;
    let channel = ChannelName::new("firehose").expect("valid");
    let kind = EventType::new("chunk").expect("valid");
    let payload = json!("y".repeat(16 * 1024));
    let total = 800; // ~13 MB: far beyond what socket buffers can absorb.
    let reader = tokio::spawn(async move {
        for i in 0..total {
            let event = good.recv().await;
            assert_eq!(
                event["data"].as_str().map(str::len),
                Some(16 * 1024),
                "event {i}"
            );
        }
        good
    });
    for _ in 0..total {
        server
            .node()
            .publish(&channel, &kind, payload.clone())
            .await
            .expect("published");
        tokio::task::yield_now().await;
    }
    let _good = reader
        .await
        .expect("the good subscriber received every event");
    eventually("the slow consumer is disconnected", async || {
        server.node().stats().total_connections == 1
    })
    .await;
    assert_eq!(
        metric(&server, "brain_ws_slow_consumer_disconnects_total").await,
        1.0
    );
}
