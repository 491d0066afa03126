//! Presence end to end against the real server library on port 0:
//! `subscribe_with(.., presence(true))` yields the other members' `join`
//! and `leave`, and the publisher reads the members and counts.

use brain_ws_client::{Client, Publisher, SubscribeOptions, SubscriptionEvent};
use brain_ws_protocol::ErrorCode;

use crate::support::{http_url, next_item, start_server, ws_url};

#[tokio::test]
async fn a_presence_subscription_hears_joins_and_leaves_and_the_publisher_reads_members() {
    let server =
        start_server(|c| c.presence_channels = vec!["agents".parse().expect("pattern")]).await;
    let publisher = Publisher::new(http_url(&server));
    let watcher = Client::builder(ws_url(&server))
        .connect()
        .await
        .expect("connects");
    let mut watching = watcher
        .subscribe_with("agents", SubscribeOptions::new().presence(true))
        .await
        .expect("subscribes");
    // A second subscriber on the same client without presence gets none.
    let mut quiet = watcher.subscribe("agents").await.expect("subscribes");

    let other = Client::builder(ws_url(&server))
        .connect()
        .await
        .expect("connects");
    let other_id = other.connection_id().expect("connected");
    let sub = other.subscribe("agents").await.expect("subscribes");
    let SubscriptionEvent::Join(joined) = next_item(&mut watching).await else {
        panic!("expected a join");
    };
    assert_eq!(joined.connection_id, other_id);
    assert_eq!(joined.user_id, None);
    assert_eq!(joined.node_id, server.node().config().node_id);

    let stats = publisher.presence_stats("agents").await.expect("stats");
    assert_eq!((stats.connections, stats.users), (2, 0));
    let members = publisher.presence("agents").await.expect("members").members;
    assert_eq!(
        members.iter().map(|m| m.connection_id).collect::<Vec<_>>(),
        vec![watcher.connection_id().expect("connected"), other_id],
        "oldest join first"
    );

    sub.unsubscribe().await.expect("unsubscribes");
    let SubscriptionEvent::Leave(left) = next_item(&mut watching).await else {
        panic!("expected a leave");
    };
    assert_eq!(left, joined);
    let stats = publisher.presence_stats("agents").await.expect("stats");
    assert_eq!((stats.connections, stats.users), (1, 0));

    // Nothing reached the subscription that did not ask.
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(200), next_item(&mut quiet))
            .await
            .is_err(),
        "no presence events without presence(true)"
    );

    let refused = publisher
        .presence("missions")
        .await
        .expect_err("no presence there");
    assert_eq!(refused.code(), Some(&ErrorCode::PRESENCE_DISABLED));
    other.close().await;
    watcher.close().await;
    server.shutdown().await;
}
