//! End to end against the real server library on port 0: subscribe, typed
//! events, unsubscribe, drop-unsubscribes, inbox events, refusals, and the
//! HTTP publisher.

use std::time::Duration;

use brain_ws_client::{
    Client, ConnectErrorKind, ConnectionEvent, PublishErrorKind, Publisher, SubscribeErrorKind,
    SubscriptionEvent,
};
use brain_ws_protocol::catalog::{Event, MissionCreated, MissionEvent, MissionRef, RawEvent};
use brain_ws_protocol::http::{BroadcastStatus, SendStatus};
use brain_ws_protocol::{ChannelName, ErrorCode, EventType};
use brain_ws_server::StaticTokens;
use futures_util::StreamExt;
use serde_json::json;

use crate::support::{http_url, next_item, start_server, wait_event, within, ws_url};

/// Polls the server's subscriber count of `channel` until it is `expected`.
async fn subscribers_become(publisher: &Publisher, channel: &str, expected: u64) {
    within(
        &format!("{channel} to have {expected} subscribers"),
        async {
            loop {
                let count = publisher
                    .channel(channel)
                    .await
                    .expect("channel stats")
                    .subscribers;
                if count == expected {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        },
    )
    .await;
}

#[tokio::test]
async fn subscribe_receives_typed_events_and_unsubscribe_and_drop_leave_the_channel() {
    let server = start_server(|_| {}).await;
    let publisher = Publisher::new(http_url(&server));
    let client = Client::builder(ws_url(&server))
        .connect()
        .await
        .expect("connects");
    let connection_id = client.connection_id().expect("connected");

    let mut missions = client.subscribe("missions").await.expect("subscribed");
    let stats = publisher.channel("missions").await.expect("channel stats");
    assert_eq!(stats.subscribers, 1);
    assert_eq!(stats.connection_ids, vec![connection_id]);

    let sent = publisher
        .broadcast(
            "missions",
            "mission_created",
            json!({"mission_id": "m-1", "name": "Scan"}),
        )
        .await
        .expect("broadcast");
    assert_eq!(sent.status, BroadcastStatus::Broadcasted);
    assert_eq!(sent.subscribers, 1);
    let SubscriptionEvent::Event(message) = next_item(&mut missions).await else {
        panic!("expected an event");
    };
    let mut mission_data = serde_json::Map::new();
    mission_data.insert("name".into(), json!("Scan"));
    assert_eq!(
        message.event,
        Event::Mission(MissionEvent::MissionCreated(MissionCreated {
            mission_id: "m-1".into(),
            mission_data,
        }))
    );
    assert_eq!(message.event_type.as_str(), "mission_created");
    assert_eq!(
        message.channel.as_ref().map(ChannelName::as_str),
        Some("missions")
    );
    assert_eq!(message.offset, Some(1));

    // A type outside the catalogue arrives raw, not as an error.
    publisher
        .broadcast("missions", "mission_note", json!({"text": "hi"}))
        .await
        .expect("broadcast");
    let SubscriptionEvent::Event(message) = next_item(&mut missions).await else {
        panic!("expected an event");
    };
    assert_eq!(
        message.event,
        Event::Other(RawEvent {
            event_type: "mission_note".into(),
            data: json!({"text": "hi"}),
        })
    );
    assert_eq!(message.offset, Some(2));

    // Publisher::emit routes a catalogue event to its standard channel.
    let started = Event::Mission(MissionEvent::MissionStarted(MissionRef {
        mission_id: "m-1".into(),
    }));
    publisher.emit(started.clone()).await.expect("emit");
    let SubscriptionEvent::Event(message) = next_item(&mut missions).await else {
        panic!("expected an event");
    };
    assert_eq!(message.event, started);

    missions.unsubscribe().await.expect("unsubscribed");
    assert_eq!(
        publisher
            .channel("missions")
            .await
            .expect("stats")
            .subscribers,
        0
    );

    let agents = client.subscribe("agents").await.expect("subscribed");
    assert_eq!(
        publisher
            .channel("agents")
            .await
            .expect("stats")
            .subscribers,
        1
    );
    drop(agents);
    subscribers_become(&publisher, "agents", 0).await;
}

#[tokio::test]
async fn two_subscriptions_to_one_channel_share_the_server_subscription() {
    let server = start_server(|_| {}).await;
    let publisher = Publisher::new(http_url(&server));
    let client = Client::builder(ws_url(&server))
        .connect()
        .await
        .expect("connects");
    let mut first = client.subscribe("tasks").await.expect("subscribed");
    let mut second = client.subscribe("tasks").await.expect("subscribed");
    assert_eq!(
        publisher.channel("tasks").await.expect("stats").subscribers,
        1
    );

    let node = server.node();
    let tasks = ChannelName::new("tasks").expect("name");
    let queued = EventType::new("task_queued").expect("type");
    let data = json!({"task_id": "t-1", "task_name": "send_email"});
    node.publish(&tasks, &queued, data.clone())
        .await
        .expect("publish");
    for sub in [&mut first, &mut second] {
        let SubscriptionEvent::Event(message) = next_item(sub).await else {
            panic!("expected an event");
        };
        assert_eq!(message.event, Event::decode("task_queued", data.clone()));
    }

    drop(first);
    // Still subscribed for `second`, and it still receives.
    node.publish(&tasks, &queued, data.clone())
        .await
        .expect("publish");
    let SubscriptionEvent::Event(message) = next_item(&mut second).await else {
        panic!("expected an event");
    };
    assert_eq!(message.offset, Some(2));
    assert_eq!(
        publisher.channel("tasks").await.expect("stats").subscribers,
        1
    );
    drop(second);
    subscribers_become(&publisher, "tasks", 0).await;
}

#[tokio::test]
async fn subscription_limit_is_a_typed_error_and_the_connection_stays_usable() {
    let server = start_server(|c| c.max_subscriptions = 2).await;
    let client = Client::builder(ws_url(&server))
        .connect()
        .await
        .expect("connects");
    let _a = client.subscribe("missions").await.expect("first");
    let _b = client.subscribe("agents").await.expect("second");
    let err = client
        .subscribe("system")
        .await
        .expect_err("over the limit");
    assert_eq!(err.kind(), SubscribeErrorKind::SubscriptionLimit);
    assert_eq!(err.code(), Some(&ErrorCode::SUBSCRIPTION_LIMIT));
    // Resubscribing to a held channel is fine.
    let _again = client.subscribe("missions").await.expect("held channel");
}

#[tokio::test]
async fn user_and_broadcast_all_events_arrive_on_the_events_stream() {
    let server = start_server(|c| {
        c.authenticator = Some(std::sync::Arc::new(
            StaticTokens::new().with("t-alice", "alice"),
        ));
    })
    .await;
    let publisher = Publisher::new(http_url(&server));

    let err = Client::builder(ws_url(&server))
        .token("wrong")
        .connect()
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ConnectErrorKind::Unauthorized);
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.code(), Some(&ErrorCode::UNAUTHORIZED));

    let client = Client::builder(ws_url(&server))
        .token("t-alice")
        .connect()
        .await
        .expect("connects");
    let mut inbox = client.events();
    // `events()` registers through the task; a round trip guarantees it is in.
    let _sync = client.subscribe("system").await.expect("subscribed");

    let sent = publisher
        .send_to_user("alice", "notification", json!({"text": "hello"}))
        .await
        .expect("send");
    assert_eq!(sent.status, SendStatus::Sent);
    assert_eq!((sent.user_id.as_str(), sent.connections), ("alice", 1));
    let message = within("the user event", inbox.next())
        .await
        .expect("inbox open");
    assert_eq!(message.channel, None);
    assert_eq!(
        message.event,
        Event::Other(RawEvent {
            event_type: "notification".into(),
            data: json!({"text": "hello"}),
        })
    );

    let sent = publisher
        .broadcast_all("maintenance", json!({"in_minutes": 5}))
        .await
        .expect("broadcast all");
    assert_eq!(sent.total_connections, 1);
    let message = within("the broadcast", inbox.next())
        .await
        .expect("inbox open");
    assert_eq!(message.event_type.as_str(), "maintenance");
    assert_eq!(message.channel, None);
}

/// An API key long enough for the server's minimum.
const KEY: &str = "test-key-0123456789abcdef";

#[tokio::test]
async fn publisher_reads_stats_and_info_and_types_http_errors() {
    let server = start_server(|c| {
        c.api_keys = vec![KEY.into()];
        c.max_message_size = 1024;
    })
    .await;
    let base = http_url(&server);
    let publisher = Publisher::new(base.clone()).api_key(KEY);
    let client = Client::builder(ws_url(&server))
        .connect()
        .await
        .expect("connects");
    let _sub = client.subscribe("metrics").await.expect("subscribed");

    let stats = publisher.stats().await.expect("stats");
    assert_eq!(stats.total_connections, 1);
    assert_eq!(stats.channels.get("metrics"), Some(&1));
    let info = publisher.info().await.expect("info");
    assert_eq!(info.protocol, "brain.v1");
    assert!(info.features.history);
    assert_eq!(info.max_message_size, 1024);

    let err = Publisher::new(base.clone())
        .stats()
        .await
        .expect_err("no key");
    assert_eq!(err.kind(), PublishErrorKind::Unauthorized);
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some(&ErrorCode::UNAUTHORIZED))
    );
    let err = Publisher::new(base.clone())
        .api_key("nope")
        .stats()
        .await
        .expect_err("bad key");
    assert_eq!(err.kind(), PublishErrorKind::Forbidden);
    assert_eq!(
        (err.status(), err.code()),
        (Some(403), Some(&ErrorCode::FORBIDDEN))
    );

    let big = "x".repeat(4096);
    let err = publisher
        .broadcast("metrics", "metrics_update", json!({"blob": big}))
        .await
        .expect_err("too large");
    assert_eq!(err.kind(), PublishErrorKind::PayloadTooLarge);
    assert_eq!(err.status(), Some(413));

    let err = publisher
        .broadcast("bad channel", "x", json!({}))
        .await
        .expect_err("local");
    assert_eq!(err.kind(), PublishErrorKind::InvalidChannel);
    let err = publisher
        .broadcast("metrics", "ping", json!({}))
        .await
        .expect_err("reserved");
    assert_eq!(err.kind(), PublishErrorKind::InvalidEventType);
    let err = Publisher::new("http://127.0.0.1:1")
        .info()
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), PublishErrorKind::Transport);
}

#[tokio::test]
async fn a_full_subscription_buffer_drops_events_and_reports_a_slow_consumer() {
    let server = start_server(|_| {}).await;
    let client = Client::builder(ws_url(&server))
        .subscription_capacity(2)
        .connect()
        .await
        .expect("connects");
    let mut events = client.connection_events();
    let mut audit = client.subscribe("audit").await.expect("subscribed");
    let audit_name = ChannelName::new("audit").expect("name");
    let log = EventType::new("audit_log").expect("type");
    for n in 1..=4 {
        let data = json!({"action": format!("a{n}"), "user_id": "u", "resource": "r"});
        server
            .node()
            .publish(&audit_name, &log, data)
            .await
            .expect("publish");
    }
    let event = wait_event(&mut events, "a slow consumer report", |e| {
        matches!(e, ConnectionEvent::SlowConsumer { .. })
    })
    .await;
    assert!(
        matches!(&event, ConnectionEvent::SlowConsumer { channel: Some(c) } if *c == audit_name),
        "{event:?}"
    );
    // The two buffered events are the first two; 3 and 4 were dropped.
    let mut offsets = Vec::new();
    for _ in 0..2 {
        if let SubscriptionEvent::Event(message) = next_item(&mut audit).await {
            offsets.push(message.offset);
        }
    }
    assert_eq!(offsets, vec![Some(1), Some(2)]);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), audit.next())
            .await
            .is_err()
    );
}
