//! Fault injection: a redis-server of the test's own on a private free port
//! (never the shared one), and two server processes. Redis is killed with
//! SIGKILL during a stream of publications and restarted empty; every event
//! is accounted for: delivered once, or refused to its publisher (503), and
//! every subscriber whose stream restarted is told so.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::multinode::{
    Client, NodeProcess, PrivateRedis, WAIT, eventually, free_port, metrics_text, node,
    unique_prefix, wait_ready,
};

async fn metric(addr: SocketAddr, name: &str) -> u64 {
    let text = metrics_text(addr).await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

async fn redis_answers(port: u16) -> bool {
    let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}/0")) else {
        return false;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return false;
    };
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .is_ok()
}

/// What the publisher saw for one event.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    Ok,
    Unavailable,
}

#[tokio::test]
async fn redis_killed_and_restarted_empty_during_a_publish_stream() {
    let port = free_port().await;
    let redis_server = PrivateRedis::start(port).await;
    let redis = format!("redis://127.0.0.1:{port}/0");
    let prefix = unique_prefix();
    let a = NodeProcess::start(&redis, &prefix, "fault-a").await;
    let b = NodeProcess::start(&redis, &prefix, "fault-b").await;

    // A live subscriber on node A, on a history channel.
    let mut sub = Client::connect(a.addr, None).await;
    let first = sub.subscribe("missions", None).await;
    let first_epoch = first["epoch"].as_str().unwrap().to_owned();
    assert_eq!(first["offset"], 0);

    // Events published through node B every 20 ms, each answer recorded.
    let http = reqwest::Client::new();
    let stop = tokio_util::sync::CancellationToken::new();
    let publishing = {
        let (http, stop, b) = (http.clone(), stop.clone(), b.addr);
        tokio::spawn(async move {
            let mut answers = Vec::new();
            let mut seq = 0u64;
            while !stop.is_cancelled() {
                let r = http
                    .post(format!("http://{b}/api/ws/broadcast"))
                    .json(&json!({"channel": "missions", "type": "tick", "message": {"seq": seq}}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap();
                answers.push(match status {
                    200 => {
                        assert_eq!(body["status"], "broadcasted", "{body}");
                        Answer::Ok
                    }
                    503 => {
                        assert_eq!(body["error"]["code"], "unavailable", "{body}");
                        Answer::Unavailable
                    }
                    other => panic!("publish {seq}: {other} {body}"),
                });
                seq += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            answers
        })
    };
    tokio::time::sleep(Duration::from_millis(600)).await;

    // kill -9, two seconds down, then an empty Redis on the same port.
    let port = redis_server.kill().await;
    wait_ready(a.addr, 503).await;
    wait_ready(b.addr, 503).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let redis_server = PrivateRedis::start(port).await;
    eventually("the new redis-server answers PING", || redis_answers(port)).await;
    let answering = Instant::now();
    // Both nodes are ready again within 250 ms of Redis answering: the
    // first reconnection attempt after it returns succeeds.
    let http2 = http.clone();
    let mut back = Vec::new();
    for node in [a.addr, b.addr] {
        loop {
            let ready = http2
                .get(format!("http://{node}/ready"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                break;
            }
            assert!(answering.elapsed() < WAIT, "{node} never became ready");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        back.push(answering.elapsed());
    }
    assert!(
        back.iter().all(|t| *t <= Duration::from_millis(250)),
        "ready again after {back:?}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.cancel();
    let answers = publishing.await.unwrap();

    // Everything the subscriber got, until quiet.
    let mut got = Vec::new();
    while let Some(v) = sub.try_next(Duration::from_millis(1000)).await {
        got.push(v);
    }
    let ok: Vec<u64> = (0..answers.len() as u64)
        .filter(|s| answers[*s as usize] == Answer::Ok)
        .collect();
    let refused = answers.len() - ok.len();
    assert!(refused >= 50, "2 s down at 20 ms: {refused} refused");
    assert!(ok.len() >= 60, "{} accepted", ok.len());

    // The stream restart announced once, between the old epoch's events
    // and the new one's.
    let notices: Vec<usize> = got
        .iter()
        .enumerate()
        .filter(|(_, v)| v["type"] == "subscribed")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(notices.len(), 1, "one restart notice: {got:?}");
    let notice = &got[notices[0]];
    assert_eq!(notice["channel"], "missions");
    assert_eq!(notice["recovered"], false);
    assert_eq!(notice["offset"], 0, "{notice}");
    let new_epoch = notice["epoch"].as_str().unwrap();
    assert_ne!(new_epoch, first_epoch);
    // `pointer` of each tick event, e.g. "/data/seq" or "/offset".
    let ticks = |events: &[Value], pointer: &str| -> Vec<u64> {
        events
            .iter()
            .filter(|v| v["type"] == "tick")
            .map(|v| v.pointer(pointer).unwrap().as_u64().unwrap())
            .collect()
    };
    // A kill -9 can land between Redis answering a publisher and writing
    // the pub/sub message to node A: an event accepted in that instant is
    // lost with the old stream, and the restart notice is what tells the
    // subscriber. So the events before the notice are the ones accepted
    // before the outage, in order, once, short of at most the last two;
    // after it, exactly the ones accepted after the outage.
    let outage = answers
        .iter()
        .position(|a| *a == Answer::Unavailable)
        .unwrap() as u64;
    let (ok_before, ok_after): (Vec<u64>, Vec<u64>) = ok.iter().partition(|s| **s < outage);
    let (seqs_before, seqs_after) = (
        ticks(&got[..notices[0]], "/data/seq"),
        ticks(&got[notices[0] + 1..], "/data/seq"),
    );
    assert!(
        ok_before.starts_with(&seqs_before) && seqs_before.len() + 2 >= ok_before.len(),
        "delivered before the outage = accepted, in order, once, short of at most the last two: {seqs_before:?} of {ok_before:?}"
    );
    assert_eq!(
        seqs_after, ok_after,
        "delivered after the restart = accepted, in order, once"
    );
    let before = ticks(&got[..notices[0]], "/offset");
    let after = ticks(&got[notices[0] + 1..], "/offset");
    assert_eq!(before, (1..=before.len() as u64).collect::<Vec<_>>());
    assert_eq!(after, (1..=after.len() as u64).collect::<Vec<_>>());

    // What the metrics say: B refused exactly the 503s; A told its
    // subscribers once.
    assert_eq!(
        metric(b.addr, "brain_ws_broker_unavailable_publications_total").await,
        refused as u64
    );
    assert_eq!(
        metric(a.addr, "brain_ws_stream_discontinuities_total").await,
        1
    );
    drop((a, b));
    redis_server.kill().await;
}

async fn broadcast(addr: SocketAddr, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/ws/broadcast"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The events of type `t` a client gets until it has been quiet for 500 ms.
async fn drain(client: &mut Client, t: &str) -> Vec<Value> {
    let mut out = Vec::new();
    while let Some(v) = client.try_next(Duration::from_millis(500)).await {
        if v["type"] == t {
            out.push(v);
        }
    }
    out
}

#[tokio::test]
async fn an_idempotency_key_is_delivered_once_across_the_cluster() {
    let redis_server = PrivateRedis::start(free_port().await).await;
    let redis = format!("redis://127.0.0.1:{}/0", redis_server.port);
    let prefix = unique_prefix();
    let a = node(&redis, &prefix, "a").await;
    let b = node(&redis, &prefix, "b").await;
    let mut sub = Client::connect(a.local_addr(), None).await;
    // One history channel (published by the Lua script), one without.
    for channel in ["mn-h-idem", "plain"] {
        sub.subscribe(channel, None).await;
        let body = |n: u64| json!({"channel": channel, "type": "once", "message": {"n": n}, "idempotency_key": format!("key-{channel}")});
        let (status, first) = broadcast(a.local_addr(), body(1)).await;
        assert_eq!(
            (status, first["status"].clone()),
            (200, json!("broadcasted"))
        );
        // The retry, through the other node: the key is cluster-wide.
        let (status, again) = broadcast(b.local_addr(), body(2)).await;
        assert_eq!(
            (status, again),
            (
                200,
                json!({"status": "duplicate", "channel": channel, "subscribers": 0})
            )
        );
        let got = drain(&mut sub, "once").await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0]["data"], json!({"n": 1}));
    }
    // A key is 1 to 128 bytes.
    for key in [String::new(), "k".repeat(129)] {
        let (status, body) = broadcast(
            a.local_addr(),
            json!({"channel": "plain", "message": {}, "idempotency_key": key}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (422, json!("invalid_body"))
        );
    }
    a.shutdown().await;
    b.shutdown().await;
    redis_server.kill().await;
}

#[tokio::test]
async fn an_idempotency_key_is_delivered_once_on_one_node() {
    let server = crate::support::start(|_| {}).await;
    let mut sub = crate::support::Client::subscribed(&server, &["missions"]).await;
    let body =
        json!({"channel": "missions", "type": "once", "message": {}, "idempotency_key": "k"});
    let (_, first) = broadcast(server.local_addr(), body.clone()).await;
    assert_eq!(first["status"], "broadcasted");
    assert_eq!(first["subscribers"], 1);
    let (_, again) = broadcast(server.local_addr(), body).await;
    assert_eq!(again["status"], "duplicate");
    assert_eq!(sub.recv().await["type"], "once");
    let next = tokio::time::timeout(Duration::from_millis(300), sub.recv()).await;
    assert!(next.is_err(), "delivered twice: {next:?}");
}

/// The Rust SDK's `Publisher` retries through an outage with one
/// idempotency key: the event is delivered exactly once, after Redis is back.
#[tokio::test]
async fn the_sdk_publisher_retries_through_an_outage_and_delivers_once() {
    let port = free_port().await;
    let redis_server = PrivateRedis::start(port).await;
    let redis = format!("redis://127.0.0.1:{port}/0");
    let a = node(&redis, &unique_prefix(), "a").await;
    let addr = a.local_addr();
    let mut sub = Client::connect(addr, None).await;
    sub.subscribe("plain", None).await;
    redis_server.kill().await;
    wait_ready(addr, 503).await;
    let publisher = brain_ws_client::Publisher::new(format!("http://{addr}"))
        .retry(30, Duration::from_millis(100));
    let sending = tokio::spawn(async move {
        publisher
            .broadcast("plain", "retried", json!({"n": 1}))
            .await
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!sending.is_finished(), "still retrying while Redis is down");
    let redis_server = PrivateRedis::start(port).await;
    let sent = sending.await.unwrap().unwrap();
    assert_eq!(
        sent.status,
        brain_ws_protocol::http::BroadcastStatus::Broadcasted
    );
    let got = drain(&mut sub, "retried").await;
    assert_eq!(got.len(), 1, "{got:?}");
    let metrics = metrics_text(addr).await;
    assert!(
        !metrics.contains("\nbrain_ws_broker_unavailable_publications_total 0\n"),
        "the first attempts were refused"
    );
    a.shutdown().await;
    redis_server.kill().await;
}

/// `system_startup` reaches the cluster once the node's broker is up, with
/// its node id; `system_shutdown` stays on the stopping node.
#[tokio::test]
async fn startup_reaches_the_cluster_and_shutdown_stays_on_its_node() {
    let redis_server = PrivateRedis::start(free_port().await).await;
    let redis = format!("redis://127.0.0.1:{}/0", redis_server.port);
    let prefix = unique_prefix();
    let a = node(&redis, &prefix, "a").await;
    let mut watcher = Client::connect(a.local_addr(), None).await;
    watcher.subscribe("system", None).await;
    let c = node(&redis, &prefix, "c").await;
    // (a's own announcement may arrive first: it goes out once a's broker
    // is up, which is when the watcher could subscribe.)
    let mut startup = watcher.next().await;
    if startup["data"]["node_id"] == "a" {
        startup = watcher.next().await;
    }
    assert_eq!(startup["type"], "system_startup", "{startup}");
    assert_eq!(
        startup["data"],
        json!({"status": "started", "node_id": "c"})
    );
    let mut on_c = Client::connect(c.local_addr(), None).await;
    on_c.subscribe("system", None).await;
    c.shutdown().await;
    let shutdown = on_c.next().await;
    assert_eq!(shutdown["type"], "system_shutdown");
    assert_eq!(
        shutdown["data"],
        json!({"status": "stopping", "node_id": "c"})
    );
    assert!(
        shutdown.get("offset").is_none(),
        "not in history: {shutdown}"
    );
    assert_eq!(
        watcher.try_next(Duration::from_millis(500)).await,
        None,
        "node a's clients are not told that c stops"
    );
    a.shutdown().await;
    redis_server.kill().await;
}

/// A client's `publish` while Redis is unreachable is answered with error
/// `unavailable`: the event went to no one, and the client is told.
#[tokio::test]
async fn a_client_publish_during_an_outage_is_answered_unavailable() {
    let redis_server = PrivateRedis::start(free_port().await).await;
    let redis = format!("redis://127.0.0.1:{}/0", redis_server.port);
    let mut config = super::multinode::config(&redis, &unique_prefix(), "a");
    config.client_publish_channels = vec!["chat:*".parse().unwrap()];
    let a = brain_ws_server::Server::start(config).await.unwrap();
    wait_ready(a.local_addr(), 200).await;
    let mut client = Client::connect(a.local_addr(), None).await;
    client.subscribe("chat:room", None).await;
    redis_server.kill().await;
    wait_ready(a.local_addr(), 503).await;
    client
        .send(json!({"type": "publish", "channel": "chat:room", "event": "said", "data": {}}))
        .await;
    let answer = client.next().await;
    assert_eq!(answer["type"], "error", "{answer}");
    assert_eq!(answer["code"], "unavailable");
    assert_eq!(answer["channel"], "chat:room");
    assert_eq!(client.try_next(Duration::from_millis(300)).await, None);
    a.shutdown().await;
}

/// A client's publishes wait for the broker in a bounded queue: one in
/// flight, 64 waiting. With Redis frozen (SIGSTOP, so every command waits
/// for its 2 s timeout), the 66th publish finds the queue full, waits 1 s
/// for room (reads of that connection pause meanwhile) and is dropped with
/// `rate_limited`; the 65 others are each answered `unavailable` once the
/// broker gives up on them. Every publish gets exactly one answer.
#[tokio::test]
async fn a_full_client_publish_queue_refuses_with_rate_limited_and_answers_every_publish() {
    let redis_server = PrivateRedis::start(free_port().await).await;
    let redis = format!("redis://127.0.0.1:{}/0", redis_server.port);
    let mut config = super::multinode::config(&redis, &unique_prefix(), "a");
    config.client_publish_channels = vec!["chat:*".parse().unwrap()];
    let a = brain_ws_server::Server::start(config).await.unwrap();
    wait_ready(a.local_addr(), 200).await;
    let mut client = Client::connect(a.local_addr(), None).await;

    redis_server.pause();
    let sent = Instant::now();
    for n in 0..66 {
        client
            .send(json!({"type": "publish", "channel": "chat:flood", "event": "said", "data": {"n": n}}))
            .await;
    }
    let first = client.next().await;
    let refused_after = sent.elapsed();
    assert_eq!(
        (
            &first["type"],
            &first["code"],
            &first["channel"],
            &first["message"]
        ),
        (
            &json!("error"),
            &json!("rate_limited"),
            &json!("chat:flood"),
            &json!("more than 64 publishes waiting for the broker: this one was dropped")
        ),
        "{first}"
    );
    // Refused after the 1 s wait, before the in-flight publish's 2 s
    // command timeout frees a slot.
    assert!(
        refused_after >= Duration::from_millis(950) && refused_after < Duration::from_millis(1900),
        "refused after {refused_after:?}"
    );
    let mut unavailable = 0;
    while let Some(answer) = client.try_next(Duration::from_secs(8)).await {
        assert_eq!(
            (&answer["type"], &answer["code"], &answer["channel"]),
            (&json!("error"), &json!("unavailable"), &json!("chat:flood")),
            "{answer}"
        );
        unavailable += 1;
        if unavailable == 65 {
            break;
        }
    }
    assert_eq!(unavailable, 65, "one answer per publish still queued");
    assert_eq!(
        metric(a.local_addr(), "brain_ws_rate_limited_total").await,
        1
    );
    // Nothing else is on its way.
    assert_eq!(client.try_next(Duration::from_millis(300)).await, None);
    redis_server.resume();
    a.shutdown().await;
    redis_server.kill().await;
}
