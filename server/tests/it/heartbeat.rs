//! The heartbeat: pings at the configured interval; a silent connection is
//! closed with 4000 and cleaned up; an answering one lives on.

use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

fn short(c: &mut brain_ws_server::Config) {
    c.heartbeat_interval = Duration::from_millis(200);
    c.heartbeat_timeout = Duration::from_millis(300);
}

#[tokio::test]
async fn pings_arrive_every_interval() {
    let server = start(short).await;
    let (mut client, welcome) = Client::connect(&server).await;
    assert_eq!(welcome["heartbeat_interval"], 0.2);
    let started = Instant::now();
    for _ in 0..3 {
        let ping = client.recv().await;
        assert_eq!(ping["type"], "ping");
        assert!(ping["timestamp"].as_f64().is_some());
        client.send_text(r#"{"type":"pong"}"#).await;
    }
    // Three pings need at least two full intervals between them.
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_silent_connection_is_closed_with_4000_and_cleaned_up() {
    let server = start(short).await;
    let mut silent = Client::subscribed(&server, &["builds"]).await;
    let close = silent.closed().await.expect("close frame");
    assert_eq!(u16::from(close.code), 4000);
    assert_eq!(close.reason.as_str(), "heartbeat_timeout");
    eventually("stats return to zero", async || {
        let stats = server.node().stats();
        stats.total_connections == 0 && stats.total_channels == 0
    })
    .await;
    assert_eq!(
        metric(&server, "brain_ws_heartbeat_timeouts_total").await,
        1.0
    );
}

#[tokio::test]
async fn any_sign_of_life_keeps_a_connection_open() {
    let server = start(short).await;
    // One answers JSON pongs, one only WebSocket-level pongs, one only sends
    // other messages.
    let (mut json_pong, _) = Client::connect(&server).await;
    let (mut ws_pong, _) = Client::connect(&server).await;
    let (mut chatty, _) = Client::connect(&server).await;
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        let ping = json_pong.recv().await;
        assert_eq!(ping["type"], "ping");
        json_pong.send_text(r#"{"type":"pong"}"#).await;
        ws_pong.send_message(Message::Pong(Vec::new().into())).await;
        chatty.send_text(r#"{"type":"ping"}"#).await;
    }
    assert_eq!(server.node().stats().total_connections, 3);
    assert_eq!(
        metric(&server, "brain_ws_heartbeat_timeouts_total").await,
        0.0
    );
}
