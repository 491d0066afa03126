//! Rewind (`SubscribeOptions::rewind`) and history reads
//! (`Publisher::history`) against the real server.

use brain_ws_client::{Client, Publisher, SubscribeErrorKind, SubscribeOptions};
use brain_ws_protocol::catalog::{Event, MissionEvent, MissionRef};
use brain_ws_protocol::{ErrorCode, StreamPosition};

use crate::support::{http_url, next_item, start_server, summary, ws_url};

fn started(id: &str) -> Event {
    Event::Mission(MissionEvent::MissionStarted(MissionRef {
        mission_id: id.into(),
    }))
}

fn ev(id: &str, offset: u64) -> (String, String, Option<u64>) {
    ("mission_started".into(), id.into(), Some(offset))
}

#[tokio::test]
async fn a_rewind_subscription_gets_the_last_events_then_live_ones_without_a_gap() {
    let server = start_server(|c| c.history_size = 10).await;
    for i in 1..=5 {
        server
            .node()
            .emit(started(&format!("m-{i}")))
            .await
            .expect("emit");
    }
    let client = Client::builder(ws_url(&server))
        .connect()
        .await
        .expect("connects");
    let mut missions = client
        .subscribe_with("missions", SubscribeOptions::default().rewind(3))
        .await
        .expect("subscribed");
    server.node().emit(started("m-6")).await.expect("emit");
    let mut items = Vec::new();
    for _ in 0..4 {
        items.push(summary(&next_item(&mut missions).await));
    }
    // No Gap item: the client knows the replay continues into live events.
    assert_eq!(
        items,
        vec![ev("m-3", 3), ev("m-4", 4), ev("m-5", 5), ev("m-6", 6)]
    );

    // A second subscriber on the same client cannot rewind a shared subscription.
    let err = client
        .subscribe_with("missions", SubscribeOptions::default().rewind(2))
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), SubscribeErrorKind::RewindOnShared);
    // Above the server's limit: its typed refusal.
    let err = client
        .subscribe_with("agents", SubscribeOptions::default().rewind(11))
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Some(&ErrorCode::INVALID_MESSAGE), "{err}");
    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_publisher_reads_history_pages() {
    let server = start_server(|c| c.history_size = 4).await;
    for i in 1..=6 {
        server
            .node()
            .emit(started(&format!("m-{i}")))
            .await
            .expect("emit");
    }
    let publisher = Publisher::new(http_url(&server));
    let offsets = |page: &brain_ws_protocol::http::HistoryResponse| {
        page.events.iter().map(|e| e.offset).collect::<Vec<_>>()
    };
    let latest = publisher
        .history("missions", None, None)
        .await
        .expect("read");
    assert_eq!(latest.offset, 6);
    assert_eq!(offsets(&latest), vec![Some(3), Some(4), Some(5), Some(6)]);
    assert!(latest.complete);
    let since = StreamPosition {
        epoch: latest.epoch.clone(),
        offset: 3,
    };
    let page = publisher
        .history("missions", Some(2), Some(&since))
        .await
        .expect("read");
    assert_eq!(
        (offsets(&page), page.complete),
        (vec![Some(4), Some(5)], true)
    );
    let gone = StreamPosition {
        epoch: latest.epoch.clone(),
        offset: 1,
    };
    let page = publisher
        .history("missions", Some(2), Some(&gone))
        .await
        .expect("read");
    assert_eq!(
        (offsets(&page), page.complete),
        (vec![Some(3), Some(4)], false)
    );
    let err = publisher
        .history("chat-x", None, None)
        .await
        .expect_err("no history");
    assert_eq!(
        (err.status(), err.code()),
        (Some(404), Some(&ErrorCode::NOT_FOUND))
    );
    let err = publisher
        .history("missions", Some(5), None)
        .await
        .expect_err("limit above the history size");
    assert_eq!(
        (err.status(), err.code()),
        (Some(400), Some(&ErrorCode::INVALID_MESSAGE))
    );
    server.shutdown().await;
}
