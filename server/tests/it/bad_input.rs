//! Every class of bad client input gets its error code, and the connection
//! (and every other connection) stays usable.

use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

async fn answer(client: &mut Client, text: &str) -> serde_json::Value {
    client.send_text(text).await;
    let reply = client.recv().await;
    assert_eq!(reply["type"], "error", "{text} -> {reply}");
    // Still usable: a ping is answered, with nothing else queued before it.
    assert_eq!(client.roundtrip().await, Vec::<serde_json::Value>::new());
    reply
}

#[tokio::test]
async fn each_bad_input_class_is_answered_with_its_code_and_the_connection_stays() {
    let server = start(|_| {}).await;
    let (mut client, _) = Client::connect(&server).await;
    let long = "x".repeat(129);
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "invalid_json"),
        ("[1, 2]".into(), "invalid_message"),
        ("42".into(), "invalid_message"),
        ("{}".into(), "invalid_message"),
        (r#"{"type": 7}"#.into(), "invalid_message"),
        (r#"{"type": "dance"}"#.into(), "unknown_type"),
        (r#"{"type": "subscribe"}"#.into(), "invalid_channel"),
        (
            r#"{"type": "subscribe", "channel": ""}"#.into(),
            "invalid_channel",
        ),
        (
            format!(r#"{{"type": "subscribe", "channel": "{long}"}}"#),
            "invalid_channel",
        ),
        (
            r#"{"type": "subscribe", "channel": "two words"}"#.into(),
            "invalid_channel",
        ),
        (
            r#"{"type": "subscribe", "channel": ["missions"]}"#.into(),
            "invalid_channel",
        ),
        (
            r#"{"type": "unsubscribe", "channel": 5}"#.into(),
            "invalid_channel",
        ),
        (
            r#"{"type": "unsubscribe", "channel": "missions"}"#.into(),
            "not_subscribed",
        ),
        (
            r#"{"type": "publish", "channel": "missions", "event": "x"}"#.into(),
            "publish_not_allowed",
        ),
    ];
    for (text, code) in &cases {
        let reply = answer(&mut client, text).await;
        assert_eq!(reply["code"], *code, "{text} -> {reply}");
        assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    client
        .send_message(Message::Binary(vec![0, 1, 2].into()))
        .await;
    let reply = client.recv().await;
    assert_eq!(reply["code"], "binary_not_supported");

    let errors = metric(&server, "brain_ws_client_errors_total").await;
    assert_eq!(errors, (cases.len() + 1) as f64);
}

#[tokio::test]
async fn an_error_names_the_offending_channel() {
    let server = start(|_| {}).await;
    let (mut client, _) = Client::connect(&server).await;
    client
        .send_json(json!({"type": "subscribe", "channel": "bad channel"}))
        .await;
    let reply = client.recv().await;
    assert_eq!(reply["code"], "invalid_channel");
    assert_eq!(reply["channel"], "bad channel");
}

#[tokio::test]
async fn an_oversize_frame_closes_with_1009_and_leaves_others_untouched() {
    let server = start(|c| c.max_message_size = 1024).await;
    let mut victim_neighbour = Client::subscribed(&server, &["missions"]).await;
    let (mut abuser, _) = Client::connect(&server).await;
    abuser.send_text(&"x".repeat(2048)).await;
    let close = abuser.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1009);

    // A frame of exactly the limit is still fine for the neighbour.
    let (status, body) = post(
        &server,
        "/api/ws/broadcast",
        &json!({"channel": "missions", "message": {"n": 1}}).to_string(),
    )
    .await;
    assert_eq!((status, body["subscribers"].clone()), (200, json!(1)));
    assert_eq!(victim_neighbour.recv().await["data"], json!({"n": 1}));
    eventually("the abuser is cleaned up", async || {
        server.node().stats().total_connections == 1
    })
    .await;
    assert_eq!(
        metric(&server, "brain_ws_oversize_disconnects_total").await,
        1.0
    );
}
