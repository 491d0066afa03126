//! Reconnect paths against the real server: a subscribe issued while the
//! server is down, and a token callback asked again on every reconnect.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use brain_ws_client::{Client, ConnectionEvent, Publisher, SubscriptionEvent};
use brain_ws_protocol::catalog::{Event, MissionEvent, MissionRef};
use brain_ws_server::StaticTokens;

use crate::support::{
    Proxy, fast_backoff, http_url, next_item, start_server, start_server_on, wait_event, within,
};

#[tokio::test]
async fn subscribe_while_the_server_is_down_completes_when_it_comes_up() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let client = Client::builder(format!("ws://{addr}"))
        .backoff(fast_backoff())
        .retry_initial_connect()
        .connect()
        .await
        .expect("returns at once");
    let subscriber = client.clone();
    let pending = tokio::spawn(async move { subscriber.subscribe("missions").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!pending.is_finished(), "nothing to confirm it yet");

    let server = start_server_on(addr, |_| {}).await;
    let mut missions = within("the subscribe", pending)
        .await
        .expect("task")
        .expect("subscribed once the server is up");
    let started = Event::Mission(MissionEvent::MissionStarted(MissionRef {
        mission_id: "m-9".into(),
    }));
    server.node().emit(started.clone()).await.expect("emit");
    let SubscriptionEvent::Event(message) = next_item(&mut missions).await else {
        panic!("expected an event");
    };
    assert_eq!(message.event, started);
}

#[tokio::test]
async fn the_token_callback_is_asked_again_for_every_reconnect() {
    let server = start_server(|c| {
        let tokens = StaticTokens::new()
            .with("t-alice", "alice")
            .with("t-bob", "bob");
        c.authenticator = Some(Arc::new(tokens));
    })
    .await;
    let proxy = Proxy::start(server.local_addr()).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let client = Client::builder(proxy.url())
        .backoff(fast_backoff())
        .token_callback(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move { Some(if n == 0 { "t-alice" } else { "t-bob" }.to_owned()) }
        })
        .connect()
        .await
        .expect("connects");
    let mut events = client.connection_events();
    let publisher = Publisher::new(http_url(&server));
    assert_eq!(publisher.stats().await.expect("stats").total_users, 1);

    proxy.cut();
    proxy.restore();
    let event = wait_event(&mut events, "the reconnect", |e| {
        matches!(e, ConnectionEvent::Connected { .. })
    })
    .await;
    let ConnectionEvent::Connected { user_id, .. } = event else {
        unreachable!()
    };
    assert_eq!(user_id.as_deref(), Some("bob"));
    assert!(calls.load(Ordering::SeqCst) >= 2);
}
