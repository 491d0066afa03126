//! Rewind on subscribe and history reads over HTTP, on the in-memory broker
//! and on Redis with two nodes: the seam between replay and live events
//! under a concurrent publish stream (exact sequence, no gap, no
//! duplicate), history pages, an incomplete `since`, and every bad input.

// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use brain_ws_server::{Config, Node, Server};
use serde_json::{Value, json};

use crate::multinode::{Client, ch, et, node, shared_redis, unique_prefix};
use crate::support::start;

/// Events the publisher sends in a seam test.
const STREAM: u64 = 300;
/// The rewind every subscriber asks for.
const REWIND: u64 = 40;

/// Publishes `n` = 1..=`count` on `channel`, one at a time with a short
/// pause every few, so subscribers join mid-stream; `done` follows the
/// last `n` published.
fn publish_stream(
    node: Node,
    channel: &'static str,
    count: u64,
    done: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for n in 1..=count {
            node.publish(&ch(channel), &et("step"), json!({"n": n}))
                .await
                .unwrap();
            done.store(n, Ordering::Release);
            if n % 5 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    })
}

/// Subscribes with `rewind` (by message, or by `?rewind=` on
/// `/ws/channel/{channel}` when `by_path`) and checks the whole sequence:
/// `subscribed` says `replayed` = min(`REWIND`, its offset), then offsets
/// run from `offset - replayed + 1` to the end of the stream, each once,
/// each carrying its own number. Returns the `subscribed` offset.
async fn check_seam(addr: SocketAddr, channel: &str, by_path: bool, last: u64) -> u64 {
    let mut client = if by_path {
        Client::connect_path(addr, &format!("/ws/channel/{channel}?rewind={REWIND}")).await
    } else {
        let mut c = Client::connect(addr, None).await;
        c.send(json!({"type": "subscribe", "channel": channel, "rewind": REWIND}))
            .await;
        c
    };
    let answer = client.next().await;
    assert_eq!(answer["type"], "subscribed", "{answer}");
    let top = answer["offset"].as_u64().unwrap();
    let replayed = answer["replayed"].as_u64().unwrap();
    assert_eq!(replayed, REWIND.min(top), "{answer}");
    assert!(answer["recovered"].is_null(), "{answer}");
    let mut offsets = Vec::new();
    while offsets.last() != Some(&last) {
        let event = client.next().await;
        assert_eq!(event["type"], "step", "{event}");
        let offset = event["offset"].as_u64().unwrap();
        assert_eq!(event["data"]["n"], offset, "{event}");
        offsets.push(offset);
    }
    let expected: Vec<u64> = (top - replayed + 1..=last).collect();
    assert_eq!(offsets, expected, "subscribed at {top}");
    assert!(client.try_next(Duration::from_millis(100)).await.is_none());
    top
}

/// Subscribers join while the stream runs; every one sees the exact
/// sequence. Returns the `subscribed` offsets, to show they joined at
/// different points (some mid-stream).
async fn seam_under_publishing(
    publisher: Node,
    subscribe_to: &[SocketAddr],
    channel: &'static str,
) -> Vec<u64> {
    let done = Arc::new(AtomicU64::new(0));
    let stream = publish_stream(publisher, channel, STREAM, done.clone());
    let mut checks = Vec::new();
    for i in 0..12u64 {
        // Spread the joins over the stream: the i-th once about i/13 of it
        // is out.
        while done.load(Ordering::Acquire) < i * STREAM / 13 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let addr = subscribe_to[i as usize % subscribe_to.len()];
        checks.push(tokio::spawn(check_seam(addr, channel, i % 3 == 2, STREAM)));
    }
    stream.await.unwrap();
    let mut tops = Vec::new();
    for c in checks {
        tops.push(c.await.unwrap());
    }
    tops
}

fn assert_joined_mid_stream(tops: &[u64]) {
    assert!(
        tops.iter().filter(|t| **t > REWIND && **t < STREAM).count() >= 3,
        "no subscriber joined mid-stream: {tops:?}"
    );
}

#[tokio::test]
async fn rewind_seam_on_the_memory_broker_under_a_publish_stream() {
    let server = start(|c| c.history_size = 1000).await;
    let addr = server.local_addr();
    let tops = seam_under_publishing(server.node().clone(), &[addr], "missions").await;
    assert_joined_mid_stream(&tops);
    // After the stream: the last REWIND exactly, then nothing.
    let mut late = Client::connect(addr, None).await;
    late.send(json!({"type": "subscribe", "channel": "missions", "rewind": 3}))
        .await;
    let answer = late.next().await;
    assert_eq!(
        (answer["offset"].clone(), answer["replayed"].clone()),
        (json!(STREAM), json!(3))
    );
    for offset in STREAM - 2..=STREAM {
        assert_eq!(late.next().await["offset"], offset);
    }
    assert!(late.try_next(Duration::from_millis(100)).await.is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn rewind_seam_across_two_redis_nodes_under_a_publish_stream() {
    let Some(redis) =
        shared_redis("rewind_seam_across_two_redis_nodes_under_a_publish_stream").await
    else {
        return;
    };
    let prefix = unique_prefix();
    let a = node(&redis, &prefix, "a").await;
    let b = node(&redis, &prefix, "b").await;
    let tops = seam_under_publishing(
        a.node().clone(),
        &[b.local_addr(), a.local_addr()],
        "mn-h-rewind",
    )
    .await;
    assert_joined_mid_stream(&tops);
    a.shutdown().await;
    b.shutdown().await;
}

/// A rewind that asks for more than the history holds gets what is there.
#[tokio::test]
async fn rewind_replays_what_is_retained_and_nothing_on_a_channel_without_history() {
    let server = start(|c| c.history_size = 5).await;
    let addr = server.local_addr();
    for n in 1..=3 {
        server
            .node()
            .publish(&ch("missions"), &et("step"), json!({"n": n}))
            .await
            .unwrap();
    }
    let mut c = Client::connect(addr, None).await;
    c.send(json!({"type": "subscribe", "channel": "missions", "rewind": 5}))
        .await;
    let answer = c.next().await;
    assert_eq!(
        (answer["offset"].clone(), answer["replayed"].clone()),
        (json!(3), json!(3))
    );
    for offset in 1..=3 {
        assert_eq!(c.next().await["offset"], offset);
    }
    // rewind 0: a plain subscribe that says so.
    c.send(json!({"type": "subscribe", "channel": "agents", "rewind": 0}))
        .await;
    let answer = c.next().await;
    assert_eq!(
        (answer["type"].clone(), answer["replayed"].clone()),
        (json!("subscribed"), json!(0))
    );
    // A channel without history: no position, nothing replayed.
    c.send(json!({"type": "subscribe", "channel": "chat-x", "rewind": 5}))
        .await;
    let answer = c.next().await;
    assert_eq!(answer["type"], "subscribed");
    assert_eq!(answer["replayed"], 0);
    assert!(
        answer["offset"].is_null() && answer["epoch"].is_null(),
        "{answer}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bad_rewinds_get_a_typed_error_and_the_connection_stays() {
    let server = start(|c| c.history_size = 5).await;
    let addr = server.local_addr();
    let mut c = Client::connect(addr, None).await;
    for (msg, says) in [
        (
            json!({"type": "subscribe", "channel": "missions", "rewind": 6}),
            "above this server's limit of 5",
        ),
        (
            json!({"type": "subscribe", "channel": "missions", "rewind": -1}),
            "whole number",
        ),
        (
            json!({"type": "subscribe", "channel": "missions", "rewind": "3"}),
            "whole number",
        ),
        (
            json!({"type": "subscribe", "channel": "missions", "rewind": 2, "since": {"epoch": "e", "offset": 1}}),
            "exclude each other",
        ),
    ] {
        c.send(msg.clone()).await;
        let error = c.next().await;
        assert_eq!(error["type"], "error", "{msg}: {error}");
        assert_eq!(error["code"], "invalid_message", "{msg}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(says),
            "{msg}: {error}"
        );
    }
    // Nothing was subscribed; the connection still works.
    c.send(json!({"type": "unsubscribe", "channel": "missions"}))
        .await;
    assert_eq!(c.next().await["code"], "not_subscribed");
    // On the path: 400 before the upgrade.
    for (query, says) in [("rewind=6", "limit of 5"), ("rewind=x", "whole number")] {
        let r = reqwest::get(format!("http://{addr}/ws/channel/missions?{query}"))
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_message", "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
    server.shutdown().await;
}

async fn history(addr: SocketAddr, query: &str) -> (u16, Value) {
    let r = reqwest::get(format!("http://{addr}/api/ws/channels/{query}"))
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn offsets(page: &Value) -> Vec<u64> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["offset"].as_u64().unwrap())
        .collect()
}

/// Pages of a channel that published 1..=10 with a history of 5 (6..=10
/// retained), read from `addr`.
async fn check_pages(addr: SocketAddr, channel: &str) {
    let (status, latest) = history(addr, &format!("{channel}/history")).await;
    assert_eq!(status, 200, "{latest}");
    assert_eq!(latest["channel"], channel);
    assert_eq!(latest["offset"], 10);
    assert_eq!(
        (offsets(&latest), latest["complete"].clone()),
        (vec![6, 7, 8, 9, 10], json!(true))
    );
    assert_eq!(latest["events"][0]["type"], "step");
    assert_eq!(latest["events"][0]["channel"], channel);
    assert_eq!(latest["events"][0]["data"], json!({"n": 6}));
    let epoch = latest["epoch"].as_str().unwrap().to_owned();
    let page = |q: String| async move { history(addr, &format!("{channel}/history?{q}")).await.1 };
    let p = page("limit=2".into()).await;
    assert_eq!(
        (offsets(&p), p["complete"].clone()),
        (vec![9, 10], json!(true))
    );
    // Paging forward from a position.
    let p = page(format!("since={epoch}:5&limit=2")).await;
    assert_eq!(
        (offsets(&p), p["complete"].clone()),
        (vec![6, 7], json!(true))
    );
    let p = page(format!("since={epoch}:7&limit=2")).await;
    assert_eq!(
        (offsets(&p), p["complete"].clone()),
        (vec![8, 9], json!(true))
    );
    let p = page(format!("since={epoch}:10")).await;
    assert_eq!((offsets(&p), p["complete"].clone()), (vec![], json!(true)));
    // Outside the retained window: what is retained, incomplete.
    for since in [
        format!("{epoch}:2"),
        "other:7".into(),
        format!("{epoch}:11"),
    ] {
        let p = page(format!("since={since}&limit=3")).await;
        assert_eq!(
            (offsets(&p), p["complete"].clone()),
            (vec![6, 7, 8], json!(false)),
            "{since}"
        );
        assert_eq!(p["epoch"], epoch.as_str());
    }
}

async fn check_bad_history_reads(addr: SocketAddr, channel: &str) {
    for (query, status, code) in [
        ("limit=0", 400, "invalid_message"),
        ("limit=6", 400, "invalid_message"),
        ("limit=x", 400, "invalid_message"),
        ("since=nocolon", 400, "invalid_message"),
        ("since=e:x", 400, "invalid_message"),
        ("since=:3", 400, "invalid_message"),
    ] {
        let (got, body) = history(addr, &format!("{channel}/history?{query}")).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{query}: {body}"
        );
    }
    let (got, body) = history(addr, "chat-x/history").await;
    assert_eq!(
        (got, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("keeps no history")
    );
    let (got, body) = history(addr, "bad%20name/history").await;
    assert_eq!(
        (got, body["error"]["code"].as_str()),
        (400, Some("invalid_channel")),
        "{body}"
    );
}

#[tokio::test]
async fn history_pages_on_the_memory_broker() {
    let server = start(|c| c.history_size = 5).await;
    for n in 1..=10 {
        server
            .node()
            .publish(&ch("missions"), &et("step"), json!({"n": n}))
            .await
            .unwrap();
    }
    check_pages(server.local_addr(), "missions").await;
    check_bad_history_reads(server.local_addr(), "missions").await;
    // A history channel nobody published on: empty and complete at 0.
    let (status, empty) = history(server.local_addr(), "agents/history").await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            empty["offset"].clone(),
            offsets(&empty),
            empty["complete"].clone()
        ),
        (json!(0), vec![], json!(true))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn history_pages_across_two_redis_nodes() {
    let Some(redis) = shared_redis("history_pages_across_two_redis_nodes").await else {
        return;
    };
    let prefix = unique_prefix();
    let small = |id: &str| {
        let mut c = crate::multinode::config(&redis, &prefix, id);
        c.history_size = 5;
        c
    };
    let a = Server::start(small("a")).await.unwrap();
    let b = Server::start(small("b")).await.unwrap();
    crate::multinode::wait_ready(a.local_addr(), 200).await;
    crate::multinode::wait_ready(b.local_addr(), 200).await;
    for n in 1..=10 {
        a.node()
            .publish(&ch("mn-h-pages"), &et("step"), json!({"n": n}))
            .await
            .unwrap();
    }
    check_pages(b.local_addr(), "mn-h-pages").await;
    check_bad_history_reads(b.local_addr(), "mn-h-pages").await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn the_history_read_is_an_admin_route_and_info_advertises_both_features() {
    let server = start(|c: &mut Config| {
        c.history_size = 7;
        c.api_keys = vec!["key-of-sixteen-chars".to_owned()];
    })
    .await;
    let url = format!(
        "http://{}/api/ws/channels/missions/history",
        server.local_addr()
    );
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 401);
    let r = reqwest::Client::new()
        .get(&url)
        .bearer_auth("key-of-sixteen-chars")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info: Value = reqwest::get(format!("http://{}/api/ws/info", server.local_addr()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["features"]["rewind"], true);
    assert_eq!(info["features"]["history_read"], true);
    assert_eq!(info["history"]["max_rewind"], 7);
    let openapi: Value = reqwest::get(format!("http://{}/openapi.json", server.local_addr()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let read = &openapi["paths"]["/api/ws/channels/{channel}/history"]["get"];
    assert_eq!(
        read["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/history-response"
    );
    assert!(
        openapi["components"]["schemas"]["history-response"]["properties"]["complete"].is_object()
    );
    server.shutdown().await;
    let off = start(|c| c.history_size = 0).await;
    let info: Value = reqwest::get(format!("http://{}/api/ws/info", off.local_addr()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            info["features"]["rewind"].clone(),
            info["features"]["history_read"].clone()
        ),
        (json!(false), json!(false))
    );
    off.shutdown().await;
}
