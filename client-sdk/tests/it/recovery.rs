//! Recovery against the server's in-memory history: the client's connection
//! is cut (by a TCP proxy) while the server stays up and keeps publishing.

use std::time::Duration;

use brain_ws_client::{Backoff, Client, ConnectionEvent, SubscriptionEvent};
use brain_ws_protocol::catalog::{Event, MissionEvent, MissionRef};

use crate::support::{Proxy, next_event, next_item, start_server, summary, wait_event};

fn started(id: &str) -> Event {
    Event::Mission(MissionEvent::MissionStarted(MissionRef {
        mission_id: id.into(),
    }))
}

fn backoff() -> Backoff {
    Backoff::default()
        .initial(Duration::from_millis(50))
        .max(Duration::from_millis(200))
}

fn ev(id: &str, offset: u64) -> (String, String, Option<u64>) {
    ("mission_started".into(), id.into(), Some(offset))
}

#[tokio::test]
async fn events_published_while_disconnected_are_replayed_in_order_once() {
    let server = start_server(|_| {}).await;
    let proxy = Proxy::start(server.local_addr()).await;
    let client = Client::builder(proxy.url())
        .backoff(backoff())
        .connect()
        .await
        .expect("connects");
    let mut events = client.connection_events();
    let mut missions = client.subscribe("missions").await.expect("subscribed");
    let node = server.node();

    node.emit(started("m-1")).await.expect("emit");
    assert_eq!(summary(&next_item(&mut missions).await), ev("m-1", 1));

    proxy.cut();
    let event = next_event(&mut events).await;
    assert!(
        matches!(event, ConnectionEvent::Disconnected { code: None, .. }),
        "{event:?}"
    );
    for id in ["m-2", "m-3", "m-4"] {
        node.emit(started(id)).await.expect("emit");
    }
    proxy.restore();

    let event = wait_event(&mut events, "the resubscription", |e| {
        matches!(e, ConnectionEvent::Resubscribed { .. })
    })
    .await;
    assert!(
        matches!(
            event,
            ConnectionEvent::Resubscribed {
                recovered: true,
                ..
            }
        ),
        "{event:?}"
    );
    node.emit(started("m-5")).await.expect("emit");

    let mut items = Vec::new();
    for _ in 0..5 {
        items.push(summary(&next_item(&mut missions).await));
    }
    assert_eq!(
        items,
        vec![
            summary(&SubscriptionEvent::Resubscribed { recovered: true }),
            ev("m-2", 2),
            ev("m-3", 3),
            ev("m-4", 4),
            ev("m-5", 5),
        ]
    );
    assert!(
        tokio::time::timeout(
            Duration::from_millis(200),
            futures_util::StreamExt::next(&mut missions)
        )
        .await
        .is_err(),
        "nothing after m-5: no duplicate"
    );
}

#[tokio::test]
async fn history_too_short_to_recover_is_reported_as_not_recovered() {
    let server = start_server(|c| c.history_size = 2).await;
    let proxy = Proxy::start(server.local_addr()).await;
    let client = Client::builder(proxy.url())
        .backoff(backoff())
        .connect()
        .await
        .expect("connects");
    let mut events = client.connection_events();
    let mut missions = client.subscribe("missions").await.expect("subscribed");
    let node = server.node();

    node.emit(started("m-1")).await.expect("emit");
    assert_eq!(summary(&next_item(&mut missions).await), ev("m-1", 1));
    proxy.cut();
    next_event(&mut events).await;
    // Three events with room for two: offset 2 falls out of the history.
    for id in ["m-2", "m-3", "m-4"] {
        node.emit(started(id)).await.expect("emit");
    }
    proxy.restore();
    assert_eq!(
        next_item(&mut missions).await,
        SubscriptionEvent::Resubscribed { recovered: false }
    );
    node.emit(started("m-5")).await.expect("emit");
    assert_eq!(summary(&next_item(&mut missions).await), ev("m-5", 5));
}
