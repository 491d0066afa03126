//! The server dies mid-stream and comes back on the same port: the client
//! backs off with growing delays, reconnects, resubscribes and receives the
//! next broadcast; the connection events show every transition.

use std::time::Duration;

use brain_ws_client::{Backoff, Client, ConnectionEvent, ConnectionState, SubscriptionEvent};
use brain_ws_protocol::catalog::{Event, MissionEvent, MissionRef};
use brain_ws_protocol::{ChannelName, CloseCode};

use crate::support::{next_event, next_item, start_server, start_server_on, within, ws_url};

fn started(id: &str) -> Event {
    Event::Mission(MissionEvent::MissionStarted(MissionRef {
        mission_id: id.into(),
    }))
}

#[tokio::test]
async fn restarted_server_is_rejoined_with_growing_delays_and_subscriptions_renewed() {
    let server = start_server(|_| {}).await;
    let addr = server.local_addr();
    // No jitter here, so the delays are exact: 100, 200, 400, 400 ms...
    let backoff = Backoff::default()
        .initial(Duration::from_millis(100))
        .max(Duration::from_millis(400))
        .jitter(false);
    let client = Client::builder(ws_url(&server))
        .backoff(backoff)
        .connect()
        .await
        .expect("connects");
    let first_id = client.connection_id().expect("connected");
    let mut events = client.connection_events();
    let mut missions = client.subscribe("missions").await.expect("subscribed");

    server.node().emit(started("m-1")).await.expect("emit");
    let SubscriptionEvent::Event(message) = next_item(&mut missions).await else {
        panic!("expected an event");
    };
    assert_eq!(message.event, started("m-1"));

    server.shutdown().await;
    let event = next_event(&mut events).await;
    assert!(
        matches!(&event, ConnectionEvent::Disconnected { code: Some(c), .. } if *c == CloseCode::GOING_AWAY),
        "{event:?}"
    );

    // Let three attempts fail against the closed port, then restart.
    let mut transitions = Vec::new();
    loop {
        let event = next_event(&mut events).await;
        let third = matches!(event, ConnectionEvent::Reconnecting { attempt: 3, .. });
        transitions.push(event);
        if third {
            break;
        }
    }
    let server = start_server_on(addr, |_| {}).await;
    let second_id = loop {
        let event = next_event(&mut events).await;
        if let ConnectionEvent::Connected { connection_id, .. } = event {
            break connection_id;
        }
        transitions.push(event);
    };
    assert_ne!(second_id, first_id);

    // Reconnecting{n} and Connecting alternate, with doubling delays up to the max.
    let mut expected_delay = Duration::from_millis(100);
    for (i, pair) in transitions.chunks(2).enumerate() {
        let attempt = i + 1;
        assert!(
            matches!(pair[0], ConnectionEvent::Reconnecting { attempt: a, delay } if a == attempt && delay == expected_delay),
            "attempt {attempt}: {:?}",
            pair[0]
        );
        if let Some(next) = pair.get(1) {
            assert!(matches!(next, ConnectionEvent::Connecting), "{next:?}");
        }
        expected_delay = (expected_delay * 2).min(Duration::from_millis(400));
    }
    assert!(transitions.len() >= 5, "{transitions:?}");
    println!("transitions after the shutdown: {transitions:?}");

    // The subscription is renewed; the restarted in-memory history has a new
    // epoch, so nothing can be recovered, and the stream says so.
    let event = next_event(&mut events).await;
    let missions_name = ChannelName::new("missions").expect("name");
    assert!(
        matches!(&event, ConnectionEvent::Resubscribed { channel, recovered: false } if *channel == missions_name),
        "{event:?}"
    );
    assert_eq!(
        next_item(&mut missions).await,
        SubscriptionEvent::Resubscribed { recovered: false }
    );
    assert_eq!(
        *client.state().borrow(),
        ConnectionState::Connected {
            connection_id: second_id
        }
    );

    server.node().emit(started("m-2")).await.expect("emit");
    let SubscriptionEvent::Event(message) = next_item(&mut missions).await else {
        panic!("expected an event");
    };
    assert_eq!(message.event, started("m-2"));
    within("close", client.close()).await;
    server.shutdown().await;
}
