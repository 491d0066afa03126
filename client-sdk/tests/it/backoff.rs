//! The backoff schedule as the client lives it: consecutive failures grow
//! the delay, a connection that stayed up resets it, and an attempt limit
//! ends the client.

use std::time::Duration;

use brain_ws_client::{Backoff, Client, ConnectErrorKind, ConnectionEvent};
use futures_util::StreamExt;

use crate::support::{Stub, StubConn, next_event, start_server, within, ws_url};

#[tokio::test]
async fn a_connection_that_stays_up_resets_the_schedule_and_a_short_one_does_not() {
    // 0: closes after 100 ms; 1: closes at once; 2: stays up 600 ms, then closes;
    // 3+: stays.
    let stub = Stub::start(|i, tcp| async move {
        let mut conn = StubConn::accept(tcp).await;
        conn.welcome(30.0).await;
        match i {
            0 => {
                // Give the test time to listen before the first drop.
                tokio::time::sleep(Duration::from_millis(100)).await;
                conn.close(1001, "flap").await;
            }
            1 => conn.close(1001, "flap").await,
            2 => {
                tokio::time::sleep(Duration::from_millis(600)).await;
                conn.close(1001, "restart").await;
            }
            _ => conn.hold().await,
        }
    })
    .await;
    let backoff = Backoff::default()
        .initial(Duration::from_millis(20))
        .jitter(false)
        .reset_after(Duration::from_millis(300));
    let client = Client::builder(stub.url())
        .backoff(backoff)
        .connect()
        .await
        .expect("connects");
    let mut events = client.connection_events();

    let mut reconnects = Vec::new();
    while reconnects.len() < 3 {
        if let ConnectionEvent::Reconnecting { attempt, delay } = next_event(&mut events).await {
            reconnects.push((attempt, delay.as_millis()));
        }
    }
    // After 0 (short): attempt 1. After 1 (short): attempt 2, doubled.
    // After 2 (up 600 ms > 300 ms): back to attempt 1 and the initial delay.
    assert_eq!(reconnects, vec![(1, 20), (2, 40), (1, 20)]);
}

#[tokio::test]
async fn exhausted_attempts_close_the_client_with_an_error() {
    let server = start_server(|_| {}).await;
    let backoff = Backoff::default()
        .initial(Duration::from_millis(10))
        .max_attempts(3);
    let client = Client::builder(ws_url(&server))
        .backoff(backoff)
        .connect()
        .await
        .expect("connects");
    let mut events = client.connection_events();
    server.shutdown().await;

    let error = within("closed()", client.closed()).await.expect("an error");
    assert_eq!(error.kind(), ConnectErrorKind::RetriesExhausted);
    let mut attempts = Vec::new();
    while let Some(event) = events.next().await {
        if let ConnectionEvent::Reconnecting { attempt, .. } = event {
            attempts.push(attempt);
        }
    }
    assert_eq!(attempts, vec![1, 2, 3]);
}
