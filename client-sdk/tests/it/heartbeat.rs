//! Auto-pong and dead-server detection, against stub servers.

use std::time::Duration;

use brain_ws_client::{Client, ConnectionEvent, ConnectionState};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::support::{Stub, StubConn, fast_backoff, next_event, wait_event, within};

#[tokio::test]
async fn silent_server_is_detected_after_interval_plus_grace_and_the_client_reconnects() {
    // Connection 0 welcomes with a 0.3 s heartbeat and then says nothing.
    let stub = Stub::start(|_, tcp| async move {
        let mut conn = StubConn::accept(tcp).await;
        conn.welcome(0.3).await;
        conn.hold().await;
    })
    .await;
    let started = Instant::now();
    let client = Client::builder(stub.url())
        .heartbeat_grace(Duration::from_millis(200))
        .backoff(fast_backoff())
        .connect()
        .await
        .expect("connects");
    let mut events = client.connection_events();

    let event = next_event(&mut events).await;
    let detected_after = started.elapsed();
    let ConnectionEvent::Disconnected { code, reason } = event else {
        panic!("expected Disconnected, got {event:?}");
    };
    assert_eq!(code, None);
    assert!(
        reason.contains("nothing received from the server for 500ms"),
        "{reason}"
    );
    // Timers never fire early: the welcome arrived after `started`.
    assert!(
        detected_after >= Duration::from_millis(500),
        "{detected_after:?}"
    );
    println!("silent server detected after {detected_after:?} (interval 300 ms + grace 200 ms)");

    wait_event(&mut events, "the reconnect", |e| {
        matches!(e, ConnectionEvent::Connected { .. })
    })
    .await;
    assert_eq!(stub.accepted(), 2);
}

#[tokio::test]
async fn server_pings_are_answered_and_keep_a_quiet_connection_alive() {
    // Pings every 100 ms for 1.2 s, far past interval (0.2 s) + grace (0.1 s):
    // only the pings keep the client from declaring the server dead.
    let (pongs_tx, mut pongs) = mpsc::unbounded_channel();
    let stub = Stub::start(move |i, tcp| {
        let pongs_tx = pongs_tx.clone();
        async move {
            let mut conn = StubConn::accept(tcp).await;
            conn.welcome(0.2).await;
            if i > 0 {
                return conn.hold().await;
            }
            for _ in 0..12 {
                conn.send(json!({"type": "ping", "timestamp": 1.0})).await;
                let answer = conn.recv().await;
                let _ = pongs_tx.send(answer);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            conn.hold().await;
        }
    })
    .await;
    let client = Client::builder(stub.url())
        .heartbeat_grace(Duration::from_millis(100))
        .backoff(fast_backoff())
        .connect()
        .await
        .expect("connects");
    let connected = client.connection_id().expect("connected");

    for n in 0..12 {
        let pong = within("a pong", pongs.recv()).await.expect("stub alive");
        assert_eq!(pong, Some(json!({"type": "pong"})), "pong {n}");
    }
    assert_eq!(
        *client.state().borrow(),
        ConnectionState::Connected {
            connection_id: connected
        }
    );
    assert_eq!(stub.accepted(), 1, "no reconnect while pings flow");
}
