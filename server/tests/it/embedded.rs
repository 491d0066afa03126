//! The router mounted in an application's own axum server: the upgrade
//! cannot take the raw socket back there, so sessions write through axum's
//! `WebSocket`, and the wire behaviour must be the same as on our own
//! accept loop (which writes frames directly).

use std::net::SocketAddr;

use brain_ws_protocol::{ChannelName, EventType};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

async fn next_json(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a frame in time")
            .expect("stream open")
            .expect("frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).expect("json");
        }
    }
}

#[tokio::test]
async fn the_router_served_by_axum_delivers_and_answers_like_our_own_loop() {
    let server = start(|_| {}).await;
    let node = server.node();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = brain_ws_server::router(node);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let (mut ws, response) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws/channel/builds"))
            .await
            .expect("websocket connects");
    assert_eq!(response.status(), 101);
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    assert_eq!(next_json(&mut ws).await["type"], "subscribed");
    let channel = ChannelName::new("builds").expect("channel");
    let event = EventType::new("build_done").expect("event type");
    let delivered = node
        .publish(&channel, &event, json!({"id": 1}))
        .await
        .expect("publish");
    assert_eq!(
        delivered,
        brain_ws_server::Published::Local { recipients: 1 }
    );
    let mut got = next_json(&mut ws).await;
    got.as_object_mut().map(|o| o.remove("timestamp"));
    assert_eq!(
        got,
        json!({"type": "build_done", "channel": "builds", "data": {"id": 1}})
    );
    ws.send(Message::Text(r#"{"type":"ping"}"#.into()))
        .await
        .expect("send");
    assert_eq!(next_json(&mut ws).await["type"], "pong");
    server.shutdown().await;
}
