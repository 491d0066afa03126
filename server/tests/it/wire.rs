//! The seed's wire examples as this server actually sends them, snapshotted
//! with the values that change from run to run replaced.

use serde_json::{Value, json};

use crate::support::*;

fn stable(mut v: Value) -> Value {
    for key in ["timestamp", "connection_id", "epoch"] {
        if let Some(field) = v.get_mut(key) {
            *field = json!(format!("[{key}]"));
        }
    }
    v
}

#[tokio::test]
async fn seed_examples_as_sent() {
    let server = start(|c| c.heartbeat_interval = std::time::Duration::from_millis(300)).await;
    let (mut client, welcome) = Client::connect(&server).await;
    insta::assert_json_snapshot!("welcome", stable(welcome));
    client
        .send_json(json!({"type": "subscribe", "channel": "missions"}))
        .await;
    insta::assert_json_snapshot!("subscribed", stable(client.recv().await));
    let (_, response) = post(
        &server,
        "/api/ws/broadcast",
        r#"{"channel":"missions","message":{"mission_id":"mission_123","status":"completed"},"type":"mission_update"}"#,
    )
    .await;
    insta::assert_json_snapshot!("broadcast_response", response);
    insta::assert_json_snapshot!("broadcast_event", stable(client.recv().await));
    insta::assert_json_snapshot!("ping", stable(client.recv().await));
    client
        .send_json(json!({"type": "unsubscribe", "channel": "missions"}))
        .await;
    insta::assert_json_snapshot!("unsubscribed", stable(client.recv().await));
    let (_, stats) = get(&server, "/api/ws/stats").await;
    insta::assert_json_snapshot!("stats", stats);
}
