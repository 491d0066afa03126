//! The Redis broker's publish queue (`broker/redis/pipeline.rs`): many
//! concurrent publications share round trips, keep their channel's order
//! and exact offsets, each gets its own answer, and a full queue refuses at
//! once instead of waiting.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use brain_ws_server::{BrokerError, BrokerFailure, Published, Server};
use serde_json::json;

use super::multinode::{
    Client, PrivateRedis, ch, config, et, free_port, shared_redis, unique_prefix, wait_ready,
};

async fn node_with_room(redis: &str, prefix: &str, id: &str) -> Server {
    let mut c = config(redis, prefix, id);
    // The subscribers read thousands of events in a burst.
    c.outbound_queue = 20_000;
    let server = Server::start(c).await.unwrap();
    wait_ready(server.local_addr(), 200).await;
    server
}

#[tokio::test]
async fn a_thousand_concurrent_publications_keep_their_order_and_exact_offsets() {
    let Some(redis) = shared_redis("a_thousand_concurrent_publications_keep_their_order").await
    else {
        return;
    };
    let prefix = unique_prefix();
    let a = node_with_room(&redis, &prefix, "pq-a").await;
    let b = node_with_room(&redis, &prefix, "pq-b").await;
    // Subscribers on the other node: every event went through Redis.
    let mut history = Client::connect(b.local_addr(), None).await;
    let subscribed = history.subscribe("mn-h-queue", None).await;
    assert_eq!(subscribed["offset"], 0);
    let mut plain = Client::connect(b.local_addr(), None).await;
    plain.subscribe("pq-plain", None).await;

    // 1,000 publications per channel in flight at once, queued in seq order
    // (join_all polls them in order, and each queues on its first poll).
    const N: u64 = 1000;
    let node = a.node();
    let (h, p, t) = (ch("mn-h-queue"), ch("pq-plain"), et("tick"));
    let publications = (0..N).flat_map(|seq| {
        [
            node.publish(&h, &t, json!({"seq": seq})),
            node.publish(&p, &t, json!({"seq": seq})),
        ]
    });
    let answers = futures_util::future::join_all(publications).await;
    for answer in &answers {
        assert!(
            matches!(answer, Ok(Published::Cluster { .. })),
            "{answer:?}"
        );
    }

    // Each channel in seq order; the history channel with offsets 1..=N.
    for seq in 0..N {
        let event = history.next().await;
        assert_eq!(event["type"], "tick", "{event}");
        assert_eq!(event["data"]["seq"], seq, "{event}");
        assert_eq!(event["offset"], seq + 1, "{event}");
        let event = plain.next().await;
        assert_eq!(event["data"]["seq"], seq, "{event}");
        assert!(event.get("offset").is_none(), "{event}");
    }
    assert!(history.try_next(Duration::from_millis(200)).await.is_none());
    assert!(plain.try_next(Duration::from_millis(1)).await.is_none());
}

#[tokio::test]
async fn a_full_publish_queue_refuses_at_once_and_loses_nothing_it_accepted() {
    let port = free_port().await;
    let _redis_server = PrivateRedis::start(port).await;
    let redis = format!("redis://127.0.0.1:{port}/0");
    let prefix = unique_prefix();
    let a = node_with_room(&redis, &prefix, "pq-full").await;
    let mut sub = Client::connect(a.local_addr(), None).await;
    sub.subscribe("pq-full", None).await;

    // Redis stops answering for 700 ms (writes and reads), so publications
    // pile up: one batch in flight, a full queue behind it, and the rest
    // refused at once.
    let client = redis::Client::open(redis.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(700)
        .arg("ALL")
        .query_async(&mut conn)
        .await
        .unwrap();
    let node = a.node();
    let (c, t) = (ch("pq-full"), et("tick"));
    let started = std::time::Instant::now();
    let answers = futures_util::future::join_all(
        (0..6000u64).map(|seq| node.publish(&c, &t, json!({"seq": seq}))),
    )
    .await;
    let mut accepted = Vec::new();
    let mut refused = 0;
    for (seq, answer) in answers.iter().enumerate() {
        match answer {
            Ok(Published::Cluster { .. }) => accepted.push(seq as u64),
            Err(BrokerError::Unavailable(reason)) => {
                assert!(
                    matches!(reason, BrokerFailure::QueueFull { capacity: 4096 }),
                    "{reason:?}"
                );
                assert_eq!(
                    reason.to_string(),
                    "publish queue full: 4096 publications are waiting for the broker; retry later"
                );
                refused += 1;
            }
            other => panic!("publication {seq}: {other:?}"),
        }
    }
    // The queue holds 4,096 behind a batch of at most 512: the rest were
    // refused, and those were refused without waiting for Redis.
    assert!(refused >= 6000 - 4096 - 512, "{refused} refused");
    assert!(accepted.len() >= 4096, "{} accepted", accepted.len());
    assert!(started.elapsed() >= Duration::from_millis(600));

    // Every accepted publication is delivered, in order, and nothing else.
    for seq in &accepted {
        let event = sub.next().await;
        assert_eq!(event["data"]["seq"], *seq, "{event}");
    }
    assert!(sub.try_next(Duration::from_millis(300)).await.is_none());
}
