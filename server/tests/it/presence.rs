//! Presence (docs/protocol.md, "Presence"): members listed and counted,
//! `join`/`leave` to the subscribers that ask, on one node (in memory) and
//! across Redis nodes, where a killed node's members go within the TTL and
//! a user on two nodes counts once.

// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use brain_ws_server::{Server, StaticTokens};
use serde_json::{Value, json};

use crate::support::{Client, get, start};

async fn presence_server() -> Server {
    start(|c| {
        c.presence_channels = vec!["agents".parse().unwrap(), "room:*".parse().unwrap()];
        c.authenticator = Some(Arc::new(
            StaticTokens::new()
                .with("tok-alice", "alice")
                .with("tok-bob", "bob"),
        ));
    })
    .await
}

/// Subscribes with `presence` and returns the `subscribed` answer.
async fn subscribe(client: &mut Client, channel: &str, presence: bool) -> Value {
    client
        .send_json(json!({"type": "subscribe", "channel": channel, "presence": presence}))
        .await;
    let answer = client.recv().await;
    assert_eq!(answer["type"], "subscribed", "{answer}");
    answer
}

/// The member entry of `welcome`'s connection.
fn info(welcome: &Value, user: Option<&str>, node: &str) -> Value {
    let mut info = json!({"connection_id": welcome["connection_id"], "node_id": node});
    if let Some(user) = user {
        info["user_id"] = json!(user);
    }
    info
}

/// A presence message with its `joined_at` and `timestamp` checked and
/// removed, so the rest can be compared exactly.
fn without_times(mut message: Value) -> Value {
    assert!(message["timestamp"].is_f64(), "{message}");
    assert!(message["info"]["joined_at"].is_f64(), "{message}");
    message.as_object_mut().unwrap().remove("timestamp");
    message["info"].as_object_mut().unwrap().remove("joined_at");
    message
}

fn members_without_times(body: &Value) -> Vec<Value> {
    body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let mut m = m.clone();
            assert!(m["joined_at"].is_f64(), "{m}");
            m.as_object_mut().unwrap().remove("joined_at");
            m
        })
        .collect()
}

#[tokio::test]
async fn members_are_listed_counted_and_announced_to_the_subscribers_that_ask() {
    let server = presence_server().await;
    let node = server.node().config().node_id.clone();
    let (mut watcher, w) = Client::connect_to(&server, "/ws/connect?token=tok-alice").await;
    let answer = subscribe(&mut watcher, "agents", true).await;
    assert_eq!(answer["presence"], true, "{answer}");
    assert_eq!(
        watcher.roundtrip().await,
        Vec::<Value>::new(),
        "own join not echoed"
    );

    // A second connection of alice, and an anonymous one, not watching.
    let (mut second, x) = Client::connect_to(&server, "/ws/connect?token=tok-alice").await;
    let answer = subscribe(&mut second, "agents", false).await;
    assert_eq!(answer.get("presence"), None, "{answer}");
    assert_eq!(
        without_times(watcher.recv().await),
        json!({"type": "join", "channel": "agents", "info": info(&x, Some("alice"), &node)})
    );
    let (mut anonymous, y) = Client::connect(&server).await;
    subscribe(&mut anonymous, "agents", false).await;
    assert_eq!(
        without_times(watcher.recv().await),
        json!({"type": "join", "channel": "agents", "info": info(&y, None, &node)})
    );
    assert_eq!(second.roundtrip().await, Vec::<Value>::new(), "not asked");

    let (status, body) = get(&server, "/api/ws/channels/agents/presence/stats").await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"channel": "agents", "connections": 3, "users": 1})
        )
    );
    let (status, body) = get(&server, "/api/ws/channels/agents/presence").await;
    assert_eq!(status, 200);
    assert_eq!(body["channel"], "agents");
    assert_eq!(
        members_without_times(&body),
        vec![
            info(&w, Some("alice"), &node),
            info(&x, Some("alice"), &node),
            info(&y, None, &node)
        ],
        "oldest join first"
    );

    // A repeated subscribe is no new join.
    subscribe(&mut second, "agents", false).await;
    // Unsubscribing and closing are leaves.
    second
        .send_json(json!({"type": "unsubscribe", "channel": "agents"}))
        .await;
    assert_eq!(
        without_times(watcher.recv().await),
        json!({"type": "leave", "channel": "agents", "info": info(&x, Some("alice"), &node)})
    );
    anonymous.close().await;
    assert_eq!(
        without_times(watcher.recv().await),
        json!({"type": "leave", "channel": "agents", "info": info(&y, None, &node)})
    );
    let (_, body) = get(&server, "/api/ws/channels/agents/presence/stats").await;
    assert_eq!(
        body,
        json!({"channel": "agents", "connections": 1, "users": 1})
    );
    assert_eq!(watcher.roundtrip().await, Vec::<Value>::new());

    // A pattern channel, empty: zero counts, no members.
    let (_, body) = get(&server, "/api/ws/channels/room:1/presence/stats").await;
    assert_eq!(
        body,
        json!({"channel": "room:1", "connections": 0, "users": 0})
    );
    let (_, body) = get(&server, "/api/ws/channels/room:1/presence").await;
    assert_eq!(body, json!({"channel": "room:1", "members": []}));
    server.shutdown().await;
}

#[tokio::test]
async fn a_channel_without_presence_says_so() {
    let server = presence_server().await;
    let (mut client, _) = Client::connect(&server).await;
    let answer = subscribe(&mut client, "missions", true).await;
    assert_eq!(answer["presence"], false, "{answer}");
    assert_eq!(
        get(&server, "/api/ws/channels/missions/presence").await,
        (
            404,
            json!({"error": {"code": "presence_disabled", "message": "channel missions does not keep presence (see --presence-channel)"}})
        )
    );
    let (status, body) = get(&server, "/api/ws/channels/missions/presence/stats").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("presence_disabled"))
    );
    let (status, body) = get(&server, "/api/ws/channels/bad%20name/presence").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_channel"))
    );
    client
        .send_json(json!({"type": "subscribe", "channel": "agents", "presence": 1}))
        .await;
    let error = client.recv().await;
    assert_eq!(error["code"], "invalid_message", "{error}");

    let (_, openapi) = get(&server, "/openapi.json").await;
    for path in [
        "/api/ws/channels/{channel}/presence",
        "/api/ws/channels/{channel}/presence/stats",
    ] {
        assert!(
            openapi["paths"][path]["get"]["responses"]["404"].is_object(),
            "{path}"
        );
    }
    assert!(openapi["components"]["schemas"]["presence-stats-response"].is_object());
    let (_, info) = get(&server, "/api/ws/info").await;
    assert_eq!(info["features"]["presence"], true);
    assert_eq!(info["presence_channels"], json!(["agents", "room:*"]));
    server.shutdown().await;

    let off = start(|_| {}).await;
    let (_, info) = get(&off, "/api/ws/info").await;
    assert_eq!(info["features"]["presence"], false);
    assert_eq!(info["presence_channels"], json!([]));
    off.shutdown().await;
}

mod redis {
    use super::*;
    use crate::multinode::{
        Client, NodeProcess, config, get, shared_redis, unique_prefix, wait_ready,
    };
    use crate::security::{SECRET, claims, hs};

    /// The next `join` or `leave`, without its times.
    async fn next_presence(client: &mut Client) -> Value {
        loop {
            let message = client.next().await;
            if matches!(message["type"].as_str(), Some("join" | "leave")) {
                return without_times(message);
            }
        }
    }

    async fn subscribe(client: &mut Client, channel: &str, presence: bool) {
        client
            .send(json!({"type": "subscribe", "channel": channel, "presence": presence}))
            .await;
        let answer = client.next().await;
        assert_eq!(answer["type"], "subscribed", "{answer}");
    }

    async fn presence_stats(addr: std::net::SocketAddr) -> Value {
        get(addr, "/api/ws/channels/mn-presence/presence/stats").await
    }

    #[tokio::test]
    async fn members_span_nodes_a_user_counts_once_and_a_killed_node_leaves_within_the_ttl() {
        let test = "members_span_nodes_a_user_counts_once_and_a_killed_node_leaves_within_the_ttl";
        let Some(redis) = shared_redis(test).await else {
            return;
        };
        let prefix = unique_prefix();
        let mut c = config(&redis, &prefix, "a");
        c.presence_channels = vec!["mn-p*".parse().unwrap()];
        let a = Server::start(c).await.unwrap();
        let aa = a.local_addr();
        wait_ready(aa, 200).await;
        // Node b, a separate process to be killed; alice signs in there
        // with a JWT.
        let secret = String::from_utf8(SECRET.to_vec()).unwrap();
        let mut b = NodeProcess::start_with(
            &redis,
            &prefix,
            "b",
            &["--presence-channels", "mn-p*", "--jwt-secret", &secret],
        )
        .await;
        let alice_jwt = hs(&claims("alice", 600));

        let mut watcher = Client::connect(aa, None).await;
        subscribe(&mut watcher, "mn-presence", true).await;
        let mut a1 = Client::connect(aa, Some("tok-alice")).await;
        subscribe(&mut a1, "mn-presence", false).await;
        assert_eq!(
            next_presence(&mut watcher).await,
            json!({"type": "join", "channel": "mn-presence", "info": info(&a1.welcome, Some("alice"), "a")})
        );
        let mut b1 = Client::connect(b.addr, Some(&alice_jwt)).await;
        subscribe(&mut b1, "mn-presence", false).await;
        assert_eq!(
            next_presence(&mut watcher).await,
            json!({"type": "join", "channel": "mn-presence", "info": info(&b1.welcome, Some("alice"), "b")})
        );
        let mut b2 = Client::connect(b.addr, None).await;
        subscribe(&mut b2, "mn-presence", false).await;
        assert_eq!(
            next_presence(&mut watcher).await,
            json!({"type": "join", "channel": "mn-presence", "info": info(&b2.welcome, None, "b")})
        );

        // Either node answers for the whole cluster; alice counts once.
        let counts = json!({"channel": "mn-presence", "connections": 4, "users": 1});
        assert_eq!(presence_stats(aa).await, counts);
        assert_eq!(presence_stats(b.addr).await, counts);
        let members = get(b.addr, "/api/ws/channels/mn-presence/presence").await;
        let mut listed = members_without_times(&members);
        listed.sort_by_key(|m| m["connection_id"].as_str().unwrap().to_owned());
        let mut expected = vec![
            info(&watcher.welcome, None, "a"),
            info(&a1.welcome, Some("alice"), "a"),
            info(&b1.welcome, Some("alice"), "b"),
            info(&b2.welcome, None, "b"),
        ];
        expected.sort_by_key(|m| m["connection_id"].as_str().unwrap().to_owned());
        assert_eq!(listed, expected);
        // The cluster's total_users counts alice once too (each node's
        // entry counts her).
        crate::multinode::eventually("both nodes report alice", || async {
            let stats = get(aa, "/api/ws/stats").await;
            stats["nodes"].as_array().is_some_and(|n| n.len() == 2)
                && stats["nodes"][0]["total_users"] == 1
                && stats["nodes"][1]["total_users"] == 1
        })
        .await;
        assert_eq!(get(aa, "/api/ws/stats").await["total_users"], 1);

        // kill -9 of b: its members leave within 4 x 200 ms of the last
        // refresh (the marker's TTL, then a sweep), announced as leaves.
        b.kill().await;
        let killed_at = Instant::now();
        let mut leaves = vec![
            next_presence(&mut watcher).await,
            next_presence(&mut watcher).await,
        ];
        let gone_after = killed_at.elapsed();
        leaves.sort_by_key(|m| m["info"]["connection_id"].as_str().unwrap().to_owned());
        let mut expected = vec![
            json!({"type": "leave", "channel": "mn-presence", "info": info(&b1.welcome, Some("alice"), "b")}),
            json!({"type": "leave", "channel": "mn-presence", "info": info(&b2.welcome, None, "b")}),
        ];
        expected.sort_by_key(|m| m["info"]["connection_id"].as_str().unwrap().to_owned());
        assert_eq!(leaves, expected);
        assert!(
            gone_after < Duration::from_secs(3),
            "gone after {gone_after:?}, documented: 4 x --cluster-refresh (800 ms here)"
        );
        assert_eq!(
            presence_stats(aa).await,
            json!({"channel": "mn-presence", "connections": 2, "users": 1})
        );

        // Alice's last connection leaves: no users.
        drop(a1);
        assert_eq!(
            next_presence(&mut watcher).await["type"],
            "leave",
            "a1 closed"
        );
        assert_eq!(
            presence_stats(aa).await,
            json!({"channel": "mn-presence", "connections": 1, "users": 0})
        );
        drop((watcher, b1, b2));
        a.shutdown().await;
    }
}

/// Rewind and presence in one subscribe (a channel with both): `subscribed`
/// says `presence: true` and `replayed`, the replayed events follow in
/// order, then the `join` of a later subscriber.
#[tokio::test]
async fn rewind_and_presence_together_on_one_subscribe() {
    let server = presence_server().await;
    for n in 1..=3 {
        let channel = brain_ws_protocol::ChannelName::new("agents").unwrap();
        let event_type = brain_ws_protocol::EventType::new("step").unwrap();
        server
            .node()
            .publish(&channel, &event_type, json!({"n": n}))
            .await
            .unwrap();
    }
    let (mut watcher, _) = Client::connect_to(&server, "/ws/connect?token=tok-alice").await;
    watcher
        .send_json(json!({"type": "subscribe", "channel": "agents", "presence": true, "rewind": 2}))
        .await;
    let answer = watcher.recv().await;
    assert_eq!(
        (
            answer["type"].clone(),
            answer["presence"].clone(),
            answer["replayed"].clone(),
            answer["offset"].clone()
        ),
        (json!("subscribed"), json!(true), json!(2), json!(3)),
        "{answer}"
    );
    for (offset, n) in [(2, 2), (3, 3)] {
        let event = watcher.recv().await;
        assert_eq!(
            (&event["offset"], &event["data"]["n"]),
            (&json!(offset), &json!(n))
        );
    }
    let (mut member, m) = Client::connect_to(&server, "/ws/connect?token=tok-bob").await;
    subscribe(&mut member, "agents", false).await;
    assert_eq!(
        without_times(watcher.recv().await),
        json!({"type": "join", "channel": "agents", "info": info(&m, Some("bob"), &server.node().config().node_id)})
    );
    server.shutdown().await;
}
