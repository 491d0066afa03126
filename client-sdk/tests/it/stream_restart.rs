//! A live subscription whose stream restarts without a reconnect: the
//! server's Redis (a private `redis-server` this test starts and restarts
//! empty) loses the channel's history, so offsets start again from 1 in a
//! new epoch. Every event must still be delivered, and the break reported,
//! never mistaken for replayed duplicates (issue 14, item 2).

use std::process::Stdio;
use std::time::Duration;

use brain_ws_client::{Client, ConnectionEvent, SubscriptionEvent};
use brain_ws_protocol::catalog::{Event, MissionEvent, MissionRef};
use brain_ws_server::BrokerConfig;

use futures_util::StreamExt;

use crate::support::{
    Stub, StubConn, next_item, start_server, summary, wait_event, within, ws_url,
};

/// A redis-server of the test's own on `port`, which it may kill.
struct PrivateRedis {
    child: tokio::process::Child,
}

impl PrivateRedis {
    async fn start(port: u16) -> Self {
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server must be installed for this test");
        within("the private redis-server to listen", async {
            while tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        Self { child }
    }

    async fn kill(mut self) {
        self.child.start_kill().expect("kill redis-server");
        self.child.wait().await.expect("redis-server exits");
    }
}

/// Waits until the node's `/ready` answers `want`.
async fn ready_is(base: &str, want: u16) {
    within(&format!("/ready to answer {want}"), async {
        loop {
            if let Ok(r) = reqwest::get(format!("{base}/ready")).await
                && r.status().as_u16() == want
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

fn started(id: &str) -> Event {
    Event::Mission(MissionEvent::MissionStarted(MissionRef {
        mission_id: id.into(),
    }))
}

#[tokio::test]
async fn events_after_redis_restarted_empty_are_all_delivered_and_the_break_reported() {
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let redis = PrivateRedis::start(port).await;
    let server = start_server(|c| {
        c.broker = BrokerConfig::Redis(format!("redis://127.0.0.1:{port}/0"));
        c.redis_prefix = format!("sdk-restart-{}", uuid::Uuid::new_v4().simple());
    })
    .await;
    let base = format!("http://{}", server.local_addr());
    ready_is(&base, 200).await;
    let client = Client::builder(ws_url(&server))
        .connect()
        .await
        .expect("connects");
    let mut events = client.connection_events();
    let mut missions = client.subscribe("missions").await.expect("subscribed");
    let node = server.node();

    let ev = |n: u64, offset: u64| ("mission_started".to_owned(), format!("m-{n}"), Some(offset));
    for n in 1..=5 {
        node.emit(started(&format!("m-{n}"))).await.expect("emit");
    }
    for n in 1..=5 {
        assert_eq!(summary(&next_item(&mut missions).await), ev(n, n));
    }

    // Redis dies and comes back empty: the channel's next epoch starts at 1.
    redis.kill().await;
    ready_is(&base, 503).await;
    let redis = PrivateRedis::start(port).await;
    ready_is(&base, 200).await;
    for n in 6..=11 {
        node.emit(started(&format!("m-{n}"))).await.expect("emit");
    }

    // Exactly one break signal, before m-6; then m-6..m-11, offsets 1..6.
    let signal = summary(&next_item(&mut missions).await);
    assert!(
        signal == summary(&SubscriptionEvent::Gap { missed: None })
            || signal == summary(&SubscriptionEvent::Resubscribed { recovered: false }),
        "the restart is reported first, got {signal:?}"
    );
    let mut rest = Vec::new();
    for _ in 6..=11 {
        rest.push(summary(&next_item(&mut missions).await));
    }
    assert_eq!(rest, (6..=11).map(|n| ev(n, n - 5)).collect::<Vec<_>>());
    let reported = wait_event(&mut events, "the break as a connection event", |e| {
        matches!(
            e,
            ConnectionEvent::Gap { missed: None, .. }
                | ConnectionEvent::Resubscribed {
                    recovered: false,
                    ..
                }
        )
    })
    .await;
    match reported {
        ConnectionEvent::Gap { channel, .. } | ConnectionEvent::Resubscribed { channel, .. } => {
            assert_eq!(channel.as_str(), "missions");
        }
        other => panic!("{other:?}"),
    }
    // Nothing else is pending: no second signal, no stray event.
    let stray = tokio::time::timeout(Duration::from_millis(300), missions.next()).await;
    assert!(stray.is_err(), "nothing more on the stream, got {stray:?}");
    client.close().await;
    server.shutdown().await;
    redis.kill().await;
}

/// Offsets that skip ahead and then go back, from a server that sends them
/// (a stub: a real node fills such holes or restarts the epoch): each break
/// is reported with what is known about it, and every event is delivered.
#[tokio::test]
async fn skipped_and_repeated_offsets_are_reported_and_every_event_delivered() {
    let stub = Stub::start(|_, tcp| async move {
        let mut conn = StubConn::accept(tcp).await;
        conn.welcome(30.0).await;
        let subscribe = conn.recv().await.expect("subscribe");
        assert_eq!(subscribe["type"], "subscribe");
        conn.send(
            serde_json::json!({"type": "subscribed", "channel": "missions",
            "timestamp": 1.0, "epoch": "e1", "offset": 7}),
        )
        .await;
        for (id, offset) in [("a", 8), ("b", 11), ("c", 3), ("d", 4)] {
            conn.send(
                serde_json::json!({"type": "mission_started", "channel": "missions",
                "data": {"mission_id": id}, "timestamp": 1.0, "offset": offset}),
            )
            .await;
        }
        conn.hold().await;
    })
    .await;
    let client = Client::builder(stub.url())
        .connect()
        .await
        .expect("connects");
    let mut missions = client.subscribe("missions").await.expect("subscribed");
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(summary(&next_item(&mut missions).await));
    }
    let ev = |id: &str, offset: u64| ("mission_started".to_owned(), id.to_owned(), Some(offset));
    assert_eq!(
        got,
        vec![
            ev("a", 8),
            summary(&SubscriptionEvent::Gap { missed: Some(2) }),
            ev("b", 11),
            summary(&SubscriptionEvent::Gap { missed: None }),
            ev("c", 3),
            ev("d", 4),
        ]
    );
    client.close().await;
}
