//! Subscription bookkeeping against scripted stub servers: refusals matched
//! to their channel, and the exact `since` / dedupe / recovered logic with
//! replays a real server would never duplicate.

use std::time::Duration;

use brain_ws_client::{Client, SubscribeErrorKind};
use brain_ws_protocol::ErrorCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::{Stub, StubConn, fast_backoff, next_item, summary, within};

fn subscribed(channel: &str) -> Value {
    json!({"type": "subscribed", "channel": channel, "timestamp": 1.0})
}

fn mission_event(offset: u64) -> Value {
    json!({
        "type": "mission_started",
        "channel": "missions",
        "data": {"mission_id": format!("m{offset}")},
        "timestamp": 1.0,
        "offset": offset,
    })
}

#[tokio::test]
async fn server_refusals_are_matched_to_their_channel_and_typed() {
    let (frames_tx, mut frames) = mpsc::unbounded_channel();
    let stub = Stub::start(move |_, tcp| {
        let frames_tx = frames_tx.clone();
        async move {
            let mut conn = StubConn::accept(tcp).await;
            conn.welcome(30.0).await;
            // Collect the three subscribes, then answer in reverse order:
            // the client must match answers by channel, not by position.
            let mut asked = Vec::new();
            while asked.len() < 3 {
                let Some(frame) = conn.recv().await else { return };
                let _ = frames_tx.send(frame.clone());
                asked.push(frame["channel"].as_str().unwrap_or_default().to_owned());
            }
            asked.reverse();
            for channel in asked {
                let answer = match channel.as_str() {
                    "secret" => json!({"type": "error", "code": "forbidden", "message": "no", "channel": "secret"}),
                    "full" => json!({"type": "error", "code": "subscription_limit", "message": "limit 2", "channel": "full"}),
                    other => subscribed(other),
                };
                conn.send(answer).await;
            }
            conn.hold().await;
        }
    })
    .await;
    let client = Client::builder(stub.url())
        .connect()
        .await
        .expect("connects");

    let err = client.subscribe("not valid!").await.expect_err("invalid");
    assert_eq!(err.kind(), SubscribeErrorKind::InvalidChannel);
    assert_eq!(err.code(), Some(&ErrorCode::INVALID_CHANNEL));

    let (ok, secret, full) = within(
        "three answers",
        futures_util::future::join3(
            client.subscribe("missions"),
            client.subscribe("secret"),
            client.subscribe("full"),
        ),
    )
    .await;
    assert_eq!(
        ok.expect("missions subscribed").channel().as_str(),
        "missions"
    );
    let secret = secret.expect_err("forbidden");
    assert_eq!(secret.kind(), SubscribeErrorKind::Forbidden);
    assert_eq!(secret.code(), Some(&ErrorCode::FORBIDDEN));
    assert_eq!(secret.message(), "no");
    let full = full.expect_err("limit");
    assert_eq!(full.kind(), SubscribeErrorKind::SubscriptionLimit);
    assert_eq!(full.code(), Some(&ErrorCode::SUBSCRIPTION_LIMIT));

    // The invalid name never reached the server.
    let mut sent = Vec::new();
    while let Ok(frame) = frames.try_recv() {
        sent.push(frame["channel"].clone());
    }
    sent.sort_by_key(|c| c.to_string());
    assert_eq!(
        sent,
        vec![json!("full"), json!("missions"), json!("secret")]
    );
}

#[tokio::test]
async fn resubscribe_sends_since_and_reports_recovery() {
    let (frames_tx, mut frames) = mpsc::unbounded_channel::<Value>();
    let stub = Stub::start(move |i, tcp| {
        let frames_tx = frames_tx.clone();
        async move {
            let mut conn = StubConn::accept(tcp).await;
            conn.welcome(30.0).await;
            let Some(subscribe) = conn.recv().await else { return };
            let _ = frames_tx.send(subscribe);
            match i {
                0 => {
                    conn.send(json!({"type": "subscribed", "channel": "missions", "timestamp": 1.0, "epoch": "e1", "offset": 3})).await;
                    conn.send(mission_event(4)).await;
                    conn.send(mission_event(5)).await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    conn.close(1001, "restart").await;
                }
                1 => {
                    // Recovered: replays 6, 7, then live 8. (An offset not
                    // above the last one is never dropped as a duplicate:
                    // stream_restart.rs.)
                    conn.send(json!({"type": "subscribed", "channel": "missions", "timestamp": 1.0, "epoch": "e1", "offset": 7, "recovered": true})).await;
                    for offset in [6, 7, 8] {
                        conn.send(mission_event(offset)).await;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    conn.close(4000, "heartbeat").await;
                }
                _ => {
                    // History lost: a new epoch whose offsets start over.
                    conn.send(json!({"type": "subscribed", "channel": "missions", "timestamp": 1.0, "epoch": "e2", "offset": 2, "recovered": false})).await;
                    conn.send(mission_event(3)).await;
                    conn.hold().await;
                }
            }
        }
    })
    .await;
    let client = Client::builder(stub.url())
        .backoff(fast_backoff())
        .connect()
        .await
        .expect("connects");
    let mut sub = client.subscribe("missions").await.expect("subscribed");

    let mut items = Vec::new();
    for _ in 0..8 {
        items.push(summary(&next_item(&mut sub).await));
    }
    let ev = |offset: u64| {
        (
            "mission_started".to_owned(),
            format!("m{offset}"),
            Some(offset),
        )
    };
    let resub = |recovered: bool| {
        (
            format!("resubscribed(recovered={recovered})"),
            String::new(),
            None,
        )
    };
    assert_eq!(
        items,
        vec![
            ev(4),
            ev(5),
            resub(true),
            ev(6),
            ev(7),
            ev(8),
            resub(false),
            ev(3)
        ]
    );

    let subscribes: Vec<Value> = (0..3)
        .map(|_| frames.try_recv().expect("a subscribe"))
        .collect();
    assert_eq!(
        subscribes[0],
        json!({"type": "subscribe", "channel": "missions"})
    );
    assert_eq!(
        subscribes[1],
        json!({"type": "subscribe", "channel": "missions", "since": {"epoch": "e1", "offset": 5}})
    );
    assert_eq!(
        subscribes[2],
        json!({"type": "subscribe", "channel": "missions", "since": {"epoch": "e1", "offset": 8}})
    );
    // Nothing more arrives.
    assert!(
        tokio::time::timeout(
            Duration::from_millis(200),
            futures_util::StreamExt::next(&mut sub)
        )
        .await
        .is_err()
    );
}
