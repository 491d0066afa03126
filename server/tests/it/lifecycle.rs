//! Connection limits and graceful shutdown.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn connections_past_the_limit_get_503_before_the_upgrade() {
    let server = start(|c| c.max_connections = 2).await;
    let (_a, _) = Client::connect(&server).await;
    let (b, _) = Client::connect(&server).await;
    let (status, body) = refused(&server, "/ws/connect").await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "connection_limit");
    // A freed slot can be taken again.
    b.close().await;
    eventually("the slot is released", async || {
        tokio_tungstenite::connect_async(ws_url(&server, "/ws/connect"))
            .await
            .is_ok()
    })
    .await;
}

#[tokio::test]
async fn shutdown_announces_itself_and_closes_every_connection_with_1001() {
    let server = start(|_| {}).await;
    let mut watcher = Client::subscribed(&server, &["system"]).await;
    let (mut plain, _) = Client::connect(&server).await;
    let addr = server.local_addr();
    let node_id = server.node().config().node_id.clone();
    server.shutdown().await;
    let announcement = watcher.recv().await;
    assert_eq!(announcement["type"], "system_shutdown");
    assert_eq!(
        announcement["data"],
        json!({"status": "stopping", "node_id": node_id})
    );
    for client in [&mut watcher, &mut plain] {
        let close = client.closed().await.expect("close frame");
        assert_eq!(u16::from(close.code), 1001);
    }
    // The listener is gone.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_client_close_is_answered_with_the_same_code() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCode;

    let server = start(|_| {}).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&server, "/ws/connect"))
        .await
        .expect("connects");
    let _welcome = ws.next().await;
    ws.send(Message::Close(Some(CloseFrame {
        code: WsCode::Normal,
        reason: "bye".into(),
    })))
    .await
    .expect("close sent");
    let echo = tokio::time::timeout(PATIENCE, ws.next())
        .await
        .expect("answer");
    let Some(Ok(Message::Close(Some(frame)))) = echo else {
        panic!("expected the server's close frame, got {echo:?}");
    };
    assert_eq!(u16::from(frame.code), 1000);
    eventually("the connection is gone", async || {
        server.node().stats().total_connections == 0
    })
    .await;
}
