//! Several nodes on one Redis: cross-node delivery, cluster stats, Redis
//! outages, recovery on another node, and one order per channel.
//!
//! Needs Redis at 127.0.0.1:6379 (each test uses its own key prefix). When
//! it is not there the tests say so and pass, unless
//! `BRAIN_WS_REQUIRE_REDIS=1` (set by `.ci/run`), which makes them fail. The
//! outage test runs its own `redis-server` on a free port.

// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brain_ws_protocol::{ChannelName, EventType};
use brain_ws_server::{BrokerConfig, Config, Server, StaticTokens};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) const WAIT: Duration = Duration::from_secs(10);
const SHARED_REDIS: &str = "127.0.0.1:6379";

/// The shared Redis URL, or `None` (test skipped) when it is not running.
pub(crate) async fn shared_redis(test: &str) -> Option<String> {
    if TcpStream::connect(SHARED_REDIS).await.is_ok() {
        return Some(format!("redis://{SHARED_REDIS}/0"));
    }
    if std::env::var("BRAIN_WS_REQUIRE_REDIS").as_deref() == Ok("1") {
        panic!(
            "{test}: Redis is required (BRAIN_WS_REQUIRE_REDIS=1) but {SHARED_REDIS} does not answer"
        );
    }
    eprintln!(
        "SKIPPED {test}: no Redis at {SHARED_REDIS} (start redis-server, or set BRAIN_WS_REQUIRE_REDIS=1 to fail instead)"
    );
    None
}

/// Logs of the nodes, with `RUST_LOG=info` (or finer) when debugging.
pub(crate) fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub(crate) fn unique_prefix() -> String {
    init_logs();
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

pub(crate) fn config(redis: &str, prefix: &str, node_id: &str) -> Config {
    let mut c = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        node_id: node_id.into(),
        broker: BrokerConfig::Redis(redis.into()),
        redis_prefix: prefix.into(),
        cluster_refresh: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(1),
        // Deep enough that recovery tests never depend on how fast a node
        // shuts down relative to the publisher (one test trims it to 5).
        history_size: 1000,
        authenticator: Some(Arc::new(
            StaticTokens::new()
                .with("tok-alice", "alice")
                .with("tok-bob", "bob"),
        )),
        ..Config::default()
    };
    c.history_channels.push("mn-h*".parse().unwrap());
    c
}

/// Starts a node and waits until it is ready (connected to Redis).
pub(crate) async fn node(redis: &str, prefix: &str, node_id: &str) -> Server {
    let server = Server::start(config(redis, prefix, node_id)).await.unwrap();
    wait_ready(server.local_addr(), 200).await;
    server
}

pub(crate) async fn wait_ready(addr: SocketAddr, want: u16) {
    let http = reqwest::Client::new();
    eventually(&format!("/ready of {addr} answers {want}"), || {
        let http = http.clone();
        async move {
            http.get(format!("http://{addr}/ready"))
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == want)
        }
    })
    .await;
}

pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The Prometheus text of a node's `/metrics`.
pub(crate) async fn metrics_text(addr: SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

pub(crate) async fn get(addr: SocketAddr, path: &str) -> Value {
    reqwest::get(format!("http://{addr}{path}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn post(addr: SocketAddr, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "POST {path}");
    r.json().await.unwrap()
}

/// A raw WebSocket client.
pub(crate) struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The `connected` message it was welcomed with.
    pub(crate) welcome: Value,
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr, token: Option<&str>) -> Self {
        let query = token.map(|t| format!("?token={t}")).unwrap_or_default();
        Self::connect_path(addr, &format!("/ws/connect{query}")).await
    }

    /// Connects to `path` (with its query) and reads the welcome.
    pub(crate) async fn connect_path(addr: SocketAddr, path: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
            .await
            .unwrap();
        let mut c = Self {
            ws,
            welcome: Value::Null,
        };
        c.welcome = c.next().await;
        assert_eq!(c.welcome["type"], "connected");
        c
    }

    pub(crate) async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    /// The next message other than a ping; panics after [`WAIT`].
    pub(crate) async fn next(&mut self) -> Value {
        self.try_next(WAIT)
            .await
            .expect("no message within the wait")
    }

    /// The next message other than a ping, or `None` when the socket closed
    /// or nothing came within `wait`.
    pub(crate) async fn try_next(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            match msg.ok()? {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] != "ping" {
                        return Some(v);
                    }
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    pub(crate) async fn subscribe(&mut self, channel: &str, since: Option<(&str, u64)>) -> Value {
        let mut msg = json!({"type": "subscribe", "channel": channel});
        if let Some((epoch, offset)) = since {
            msg["since"] = json!({"epoch": epoch, "offset": offset});
        }
        self.send(msg).await;
        let answer = self.next().await;
        assert_eq!(answer["type"], "subscribed", "{answer}");
        assert_eq!(answer["channel"], channel);
        answer
    }

    /// The next `n` events of type `t`, ignoring other events.
    async fn events(&mut self, t: &str, n: usize) -> Vec<Value> {
        let mut out = Vec::new();
        while out.len() < n {
            let v = self.next().await;
            if v["type"] == t {
                out.push(v);
            }
        }
        out
    }
}

pub(crate) fn ch(name: &str) -> ChannelName {
    ChannelName::new(name).unwrap()
}

pub(crate) fn et(name: &str) -> EventType {
    EventType::new(name).unwrap()
}

async fn redis_query(url: &str, args: &[&str]) -> redis::Value {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(&mut conn).await.unwrap()
}

/// Subscriptions Redis holds for one pub/sub channel (PUBSUB NUMSUB).
async fn numsub(url: &str, channel: &str) -> i64 {
    match redis_query(url, &["PUBSUB", "NUMSUB", channel]).await {
        redis::Value::Array(items) => match &items[1] {
            redis::Value::Int(n) => *n,
            other => panic!("unexpected NUMSUB count {other:?}"),
        },
        other => panic!("unexpected NUMSUB reply {other:?}"),
    }
}

#[tokio::test]
async fn broadcast_user_messages_and_broadcast_all_cross_nodes() {
    let Some(redis) = shared_redis("broadcast_user_messages_and_broadcast_all_cross_nodes").await
    else {
        return;
    };
    let prefix = unique_prefix();
    let a = node(&redis, &prefix, "a").await;
    let b = node(&redis, &prefix, "b").await;
    let (aa, ba) = (a.local_addr(), b.local_addr());

    // Two subscribers on B, one Redis subscription for B on the channel.
    let mut b1 = Client::connect(ba, None).await;
    let mut b2 = Client::connect(ba, Some("tok-alice")).await;
    b1.subscribe("mn-plain", None).await;
    b2.subscribe("mn-plain", None).await;
    let pubsub = format!("{prefix}:c:mn-plain");
    assert_eq!(numsub(&redis, &pubsub).await, 1);

    // A learns B's counts from the registry, and answers cluster-wide.
    eventually("A sees B's two subscribers", || async {
        get(aa, "/api/ws/channels/mn-plain").await["subscribers"] == 2
    })
    .await;
    // Its broadcasts count them once its cached view of B is refreshed.
    eventually("A's broadcast counts B's two subscribers", || async {
        post(
            aa,
            "/api/ws/broadcast",
            json!({"channel": "mn-plain", "message": {}, "type": "probe"}),
        )
        .await["subscribers"]
            == 2
    })
    .await;
    let answer = post(
        aa,
        "/api/ws/broadcast",
        json!({"channel": "mn-plain", "message": {"n": 1}, "type": "greeting"}),
    )
    .await;
    assert_eq!(answer["subscribers"], 2);
    for c in [&mut b1, &mut b2] {
        let e = c.events("greeting", 1).await.remove(0);
        assert_eq!(e["type"], "greeting");
        assert_eq!(e["channel"], "mn-plain");
        assert_eq!(e["data"], json!({"n": 1}));
        assert!(e.get("offset").is_none(), "no history on mn-plain: {e}");
    }

    // Alice has a connection on each node; a send through A reaches both.
    let mut a1 = Client::connect(aa, Some("tok-alice")).await;
    eventually("A counts alice's connection on B", || async {
        post(
            aa,
            "/api/ws/users/alice/send",
            json!({"type": "probe", "data": {}}),
        )
        .await["connections"]
            == 2
    })
    .await;
    // Drain the probes.
    let _ = a1.events("probe", 1).await;
    let _ = b2.events("probe", 1).await;
    let sent = post(
        aa,
        "/api/ws/users/alice/send",
        json!({"type": "note", "data": {"to": "alice"}}),
    )
    .await;
    assert_eq!(sent["connections"], 2);
    for c in [&mut a1, &mut b2] {
        let mut got = c.events("note", 1).await;
        let e = got.remove(0);
        assert_eq!(e["data"], json!({"to": "alice"}));
        assert!(e.get("channel").is_none());
    }
    // Bob has no connection anywhere: nobody gets his note.
    let sent = post(
        aa,
        "/api/ws/users/bob/send",
        json!({"type": "note", "data": {}}),
    )
    .await;
    assert_eq!(sent["connections"], 0);

    // Broadcast-all through B reaches every connection on both nodes.
    eventually("B's broadcast-all counts the 3 connections", || async {
        post(
            ba,
            "/api/ws/broadcast/all",
            json!({"type": "probe", "data": {}}),
        )
        .await["total_connections"]
            == 3
    })
    .await;
    let all = post(
        ba,
        "/api/ws/broadcast/all",
        json!({"type": "announcement", "data": {"x": true}}),
    )
    .await;
    assert_eq!(all["total_connections"], 3);
    for c in [&mut a1, &mut b1, &mut b2] {
        let e = c.events("announcement", 1).await.remove(0);
        assert_eq!(e["data"], json!({"x": true}));
    }
    // Bob's note never arrived anywhere (it would precede the announcement).

    // The node's Redis subscription ends with its last local subscriber.
    b1.send(json!({"type": "unsubscribe", "channel": "mn-plain"}))
        .await;
    assert_eq!(b1.next().await["type"], "unsubscribed");
    assert_eq!(numsub(&redis, &pubsub).await, 1);
    b2.send(json!({"type": "unsubscribe", "channel": "mn-plain"}))
        .await;
    assert_eq!(b2.next().await["type"], "unsubscribed");
    eventually("B unsubscribed from Redis", || async {
        numsub(&redis, &pubsub).await == 0
    })
    .await;

    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn cluster_stats_add_up_and_a_killed_node_drops_out_after_its_ttl() {
    let Some(redis) =
        shared_redis("cluster_stats_add_up_and_a_killed_node_drops_out_after_its_ttl").await
    else {
        return;
    };
    let prefix = unique_prefix();
    let a = node(&redis, &prefix, "a").await;
    let aa = a.local_addr();
    let c = node(&redis, &prefix, "c").await;

    // Node b is a separate process, to be killed without a goodbye.
    let mut b = NodeProcess::start(&redis, &prefix, "b").await;
    let ba = b.addr;

    let mut a1 = Client::connect(aa, Some("tok-alice")).await;
    let mut a2 = Client::connect(aa, None).await;
    // (b, started from the command line, has no token table: anonymous.)
    let mut b1 = Client::connect(ba, None).await;
    let mut c1 = Client::connect(c.local_addr(), None).await;
    a1.subscribe("mn-stats", None).await;
    a2.subscribe("mn-stats", None).await;
    b1.subscribe("mn-stats", None).await;
    b1.subscribe("mn-other", None).await;
    c1.subscribe("mn-other", None).await;

    let expected = json!({
        "total_connections": 4,
        "total_users": 1,
        "total_channels": 2,
        "channels": {"mn-stats": 3, "mn-other": 2},
        "nodes": [
            {"node_id": "a", "total_connections": 2, "total_users": 1, "channels": {"mn-stats": 2}},
            {"node_id": "b", "total_connections": 1, "total_users": 0, "channels": {"mn-other": 1, "mn-stats": 1}},
            {"node_id": "c", "total_connections": 1, "total_users": 0, "channels": {"mn-other": 1}},
        ],
    });
    stats_become(aa, &expected).await;
    let channel = get(aa, "/api/ws/channels/mn-stats").await;
    assert_eq!(channel["subscribers"], 3);
    assert_eq!(
        channel["connection_ids"].as_array().unwrap().len(),
        2,
        "local ids only"
    );

    // Killed: b's report expires after 3 x 200 ms.
    b.kill().await;
    let killed_at = Instant::now();
    let expected = json!({
        "total_connections": 3,
        "total_users": 1,
        "total_channels": 2,
        "channels": {"mn-stats": 2, "mn-other": 1},
        "nodes": [
            {"node_id": "a", "total_connections": 2, "total_users": 1, "channels": {"mn-stats": 2}},
            {"node_id": "c", "total_connections": 1, "total_users": 0, "channels": {"mn-other": 1}},
        ],
    });
    stats_become(aa, &expected).await;
    assert!(
        killed_at.elapsed() >= Duration::from_millis(100),
        "b cannot vanish before its report expires"
    );

    // Shut down: c deregisters at once.
    drop(c1);
    c.shutdown().await;
    let stats = get(aa, "/api/ws/stats").await;
    assert_eq!(stats["nodes"].as_array().unwrap().len(), 1, "{stats}");
    assert_eq!(stats["total_connections"], 2);
    drop((a1, a2, b1));
    a.shutdown().await;
}

/// A server process (the binary under test), killed on drop.
pub(crate) struct NodeProcess {
    pub(crate) addr: SocketAddr,
    child: tokio::process::Child,
}

impl NodeProcess {
    pub(crate) async fn start(redis: &str, prefix: &str, node_id: &str) -> Self {
        Self::start_with(redis, prefix, node_id, &[]).await
    }

    /// [`NodeProcess::start`] with more flags.
    pub(crate) async fn start_with(
        redis: &str,
        prefix: &str,
        node_id: &str,
        flags: &[&str],
    ) -> Self {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_brain-ws-server"));
        command
            .args(["--bind", "127.0.0.1:0", "--node-id", node_id])
            .args(["--broker", redis, "--redis-prefix", prefix])
            .args(["--cluster-refresh", "200ms"])
            .args(flags);
        let (child, addr) = crate::support::spawn_listening(command, WAIT).await;
        wait_ready(addr, 200).await;
        Self { addr, child }
    }

    /// SIGKILL: the node goes without a goodbye.
    pub(crate) async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

async fn stats_become(addr: SocketAddr, expected: &Value) {
    let deadline = Instant::now() + WAIT;
    loop {
        let stats = get(addr, "/api/ws/stats").await;
        if stats == *expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stats stayed {stats}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A redis-server of the test's own, on a free port, that it may kill.
pub(crate) struct PrivateRedis {
    pub(crate) port: u16,
    child: tokio::process::Child,
}

impl PrivateRedis {
    pub(crate) async fn start(port: u16) -> Self {
        Self::start_with_args(port, &[]).await
    }

    /// With extra `redis-server` arguments (`--requirepass x`).
    pub(crate) async fn start_with_args(port: u16, extra: &[&str]) -> Self {
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(extra)
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server must be installed for this test");
        eventually("the private redis-server listens", || async {
            TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await;
        Self { port, child }
    }

    /// Freezes the process (SIGSTOP): connections stay open, nothing is
    /// answered, as with a Redis stuck on a slow command or a lost network.
    pub(crate) fn pause(&self) {
        self.signal("-STOP");
    }

    /// Undoes [`PrivateRedis::pause`] (SIGCONT).
    pub(crate) fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("redis-server is running");
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {pid}");
    }

    pub(crate) async fn kill(mut self) -> u16 {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
        self.port
    }
}

pub(crate) async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn redis_outage_refuses_publishing_and_cross_node_delivery_resumes() {
    if shared_redis("redis_outage_refuses_publishing_and_cross_node_delivery_resumes")
        .await
        .is_none()
    {
        return;
    }
    let redis_server = PrivateRedis::start(free_port().await).await;
    let redis = format!("redis://127.0.0.1:{}/0", redis_server.port);
    let prefix = unique_prefix();
    let a = node(&redis, &prefix, "a").await;
    let b = node(&redis, &prefix, "b").await;
    let (aa, ba) = (a.local_addr(), b.local_addr());
    let mut a1 = Client::connect(aa, None).await;
    let mut b1 = Client::connect(ba, None).await;
    a1.subscribe("mn-live", None).await;
    b1.subscribe("mn-live", None).await;

    // Publishes seq on A every 10 ms, noting which ones were refused (Redis
    // unreachable: those must be delivered nowhere, on A neither).
    let publisher = a.node().clone();
    let stop = tokio_util::sync::CancellationToken::new();
    let stop2 = stop.clone();
    let publishing = tokio::spawn(async move {
        let (mut seq, mut refused) = (0u64, Vec::new());
        while !stop2.is_cancelled() {
            match publisher
                .publish(&ch("mn-live"), &et("tick"), json!({"seq": seq}))
                .await
            {
                Ok(published) => assert!(
                    matches!(published, brain_ws_server::Published::Cluster { .. }),
                    "{published:?}"
                ),
                Err(brain_ws_server::BrokerError::Unavailable(_)) => refused.push(seq),
            }
            seq += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (seq, refused)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let port = redis_server.kill().await;
    wait_ready(aa, 503).await;
    let ready = reqwest::get(format!("http://{aa}/ready")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert!(
        body["checks"]["broker"]
            .as_str()
            .unwrap()
            .starts_with("redis: unavailable"),
        "{body}"
    );
    let metrics = metrics_text(aa).await;
    assert!(metrics.contains("\nbrain_ws_broker_up 0\n"), "{metrics}");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let redis_server = PrivateRedis::start(port).await;
    wait_ready(aa, 200).await;
    wait_ready(ba, 200).await;
    let metrics = metrics_text(aa).await;
    assert!(metrics.contains("\nbrain_ws_broker_up 1\n"), "{metrics}");
    let resumed_from = {
        // Everything published from now on must reach both nodes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let probe = a
            .node()
            .publish(&ch("mn-live"), &et("marker"), json!({}))
            .await
            .unwrap();
        assert!(probe.recipients() >= 1);
        Instant::now()
    };
    let _ = resumed_from;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    let (published, refused) = publishing.await.unwrap();
    assert!(
        !refused.is_empty(),
        "some publications were refused during the outage"
    );
    let metrics = metrics_text(aa).await;
    assert!(
        metrics.contains(&format!(
            "\nbrain_ws_broker_unavailable_publications_total {}\n",
            refused.len()
        )),
        "{metrics}"
    );

    // A's subscriber: every event it got is in order, none it got was
    // refused, and it got the tail after recovery.
    let mut a_seqs = Vec::new();
    let mut a_marker_at = None;
    while let Some(v) = a1.try_next(Duration::from_millis(500)).await {
        match v["type"].as_str() {
            Some("tick") => a_seqs.push(v["data"]["seq"].as_u64().unwrap()),
            Some("marker") => a_marker_at = Some(a_seqs.len()),
            _ => {}
        }
    }
    assert!(
        a_seqs.windows(2).all(|w| w[0] < w[1]),
        "A in order: {a_seqs:?}"
    );
    let a_set: HashSet<u64> = a_seqs.iter().copied().collect();
    for seq in &refused {
        assert!(
            !a_set.contains(seq),
            "A got {seq}, whose publication was refused"
        );
    }
    let mut b_seqs = Vec::new();
    let mut b_marker_at = None;
    while let Some(v) = b1.try_next(Duration::from_millis(500)).await {
        match v["type"].as_str() {
            Some("tick") => b_seqs.push(v["data"]["seq"].as_u64().unwrap()),
            Some("marker") => b_marker_at = Some(b_seqs.len()),
            _ => {}
        }
    }
    assert!(
        b_seqs.windows(2).all(|w| w[0] < w[1]),
        "B in order: {b_seqs:?}"
    );
    for seq in &refused {
        assert!(!b_seqs.contains(seq), "B cannot get {seq}: Redis was down");
    }
    // After the marker (published once both were ready again), both nodes
    // got the same, complete tail.
    let a_tail = &a_seqs[a_marker_at.expect("A got the marker")..];
    let b_tail = &b_seqs[b_marker_at.expect("B got the marker")..];
    assert!(!a_tail.is_empty());
    assert_eq!(a_tail, b_tail);
    assert_eq!(*a_tail.last().unwrap(), published - 1);
    let first = a_tail[0];
    assert_eq!(a_tail, (first..published).collect::<Vec<_>>().as_slice());

    a.shutdown().await;
    b.shutdown().await;
    redis_server.kill().await;
}

/// Events with their `seq` and `offset`.
fn seqs_and_offsets(events: &[Value]) -> Vec<(u64, u64)> {
    events
        .iter()
        .map(|e| {
            (
                e["data"]["seq"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("no seq: {e}")),
                e["offset"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("no offset: {e}")),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_client_recovers_on_another_node_every_event_published_while_its_node_died() {
    let Some(redis) =
        shared_redis("a_client_recovers_on_another_node_every_event_published_while_its_node_died")
            .await
    else {
        return;
    };
    let prefix = unique_prefix();
    let a = node(&redis, &prefix, "a").await;
    let b = node(&redis, &prefix, "b").await;
    let (aa, ba) = (a.local_addr(), b.local_addr());
    const N: u64 = 200;

    let mut client = Client::connect(aa, None).await;
    let answer = client.subscribe("mn-h-recover", None).await;
    let epoch = answer["epoch"].as_str().unwrap().to_owned();
    assert_eq!(answer["offset"], 0);
    let mut observer = Client::connect(ba, None).await;
    observer.subscribe("mn-h-recover", None).await;

    // B publishes N events, 5 ms apart, through its HTTP API.
    let publishing = tokio::spawn(async move {
        for seq in 0..N {
            post(
                ba,
                "/api/ws/broadcast",
                json!({"channel": "mn-h-recover", "message": {"seq": seq}, "type": "step"}),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });

    // The client reads until a third of the events, then its node dies.
    let mut got = client.events("step", (N / 3) as usize).await;
    a.shutdown().await;
    while let Some(v) = client.try_next(Duration::from_secs(2)).await {
        if v["type"] == "step" {
            got.push(v);
        }
    }
    let (last_seq, last_offset) = *seqs_and_offsets(&got).last().unwrap();
    assert!(last_seq < N - 1, "the node died mid-stream");

    // It reconnects to B with its position.
    let mut client = Client::connect(ba, None).await;
    let answer = client
        .subscribe("mn-h-recover", Some((&epoch, last_offset)))
        .await;
    assert_eq!(answer["recovered"], true, "{answer}");
    assert_eq!(answer["epoch"], epoch.as_str());
    let rest = (N - 1 - last_seq) as usize;
    got.extend(client.events("step", rest).await);
    publishing.await.unwrap();
    assert!(
        client.try_next(Duration::from_millis(300)).await.is_none(),
        "nothing extra"
    );

    let expected: Vec<(u64, u64)> = (0..N).map(|s| (s, s + 1)).collect();
    assert_eq!(
        seqs_and_offsets(&got),
        expected,
        "zero lost, zero duplicated, in order"
    );
    let observed = observer.events("step", N as usize).await;
    assert_eq!(seqs_and_offsets(&observed), expected);
    b.shutdown().await;
}

#[tokio::test]
async fn every_subscriber_on_every_node_sees_one_order_per_channel() {
    let Some(redis) =
        shared_redis("every_subscriber_on_every_node_sees_one_order_per_channel").await
    else {
        return;
    };
    let prefix = unique_prefix();
    let nodes = [
        node(&redis, &prefix, "a").await,
        node(&redis, &prefix, "b").await,
        node(&redis, &prefix, "c").await,
    ];
    const PER_NODE: u64 = 100;
    let mut clients = Vec::new();
    for n in &nodes {
        for channel in ["mn-h-order", "mn-order"] {
            for _ in 0..2 {
                let mut c = Client::connect(n.local_addr(), None).await;
                c.subscribe(channel, None).await;
                clients.push((channel, c));
            }
        }
    }
    // All three nodes publish concurrently on both channels.
    let mut tasks = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let node = n.node().clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..PER_NODE {
                let seq = i as u64 * 1000 + k;
                for channel in ["mn-h-order", "mn-order"] {
                    node.publish(&ch(channel), &et("e"), json!({"seq": seq}))
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = 3 * PER_NODE as usize;
    let mut orders: std::collections::HashMap<&str, Vec<Vec<u64>>> = Default::default();
    for (channel, c) in &mut clients {
        let events = c.events("e", total).await;
        if *channel == "mn-h-order" {
            let offsets: Vec<u64> = events
                .iter()
                .map(|e| e["offset"].as_u64().unwrap())
                .collect();
            assert_eq!(offsets, (1..=total as u64).collect::<Vec<_>>());
        }
        let seqs = events
            .iter()
            .map(|e| e["data"]["seq"].as_u64().unwrap())
            .collect();
        orders.entry(channel).or_default().push(seqs);
    }
    for (channel, seen) in orders {
        assert_eq!(seen.len(), 6);
        let mut sorted = seen[0].clone();
        sorted.sort_unstable();
        assert_eq!(sorted.len(), total);
        sorted.dedup();
        assert_eq!(sorted.len(), total, "{channel}: no duplicates");
        for s in &seen[1..] {
            assert_eq!(s, &seen[0], "{channel}: one order for all");
        }
    }
    for n in nodes {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn recovery_reports_loss_when_the_history_is_gone_or_trimmed() {
    let Some(redis) =
        shared_redis("recovery_reports_loss_when_the_history_is_gone_or_trimmed").await
    else {
        return;
    };
    let prefix = unique_prefix();
    let mut cfg = config(&redis, &prefix, "a");
    cfg.history_size = 5;
    let a = Server::start(cfg).await.unwrap();
    wait_ready(a.local_addr(), 200).await;
    let aa = a.local_addr();
    let mut c = Client::connect(aa, None).await;
    let answer = c.subscribe("mn-h-loss", None).await;
    let epoch = answer["epoch"].as_str().unwrap().to_owned();
    for seq in 0..8 {
        a.node()
            .publish(&ch("mn-h-loss"), &et("e"), json!({"seq": seq}))
            .await
            .unwrap();
    }
    let events = c.events("e", 8).await;
    assert_eq!(events[7]["offset"], 8);

    // Within the last 5: recovered, exactly the missed ones.
    let mut r = Client::connect(aa, None).await;
    let answer = r.subscribe("mn-h-loss", Some((&epoch, 4))).await;
    assert_eq!(
        (answer["recovered"].clone(), answer["offset"].clone()),
        (json!(true), json!(8))
    );
    let replay = r.events("e", 4).await;
    assert_eq!(
        replay
            .iter()
            .map(|e| e["offset"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![5, 6, 7, 8]
    );
    // Beyond the 5 kept: lost.
    let mut r = Client::connect(aa, None).await;
    let answer = r.subscribe("mn-h-loss", Some((&epoch, 2))).await;
    assert_eq!(answer["recovered"], false);
    // Redis lost the channel's keys: a new epoch, and loss is reported.
    redis_query(
        &redis,
        &[
            "DEL",
            &format!("{prefix}:m:mn-h-loss"),
            &format!("{prefix}:h:mn-h-loss"),
        ],
    )
    .await;
    let mut r = Client::connect(aa, None).await;
    let answer = r.subscribe("mn-h-loss", Some((&epoch, 8))).await;
    assert_eq!(answer["recovered"], false);
    assert_ne!(answer["epoch"], epoch.as_str());
    assert_eq!(answer["offset"], 0);
    a.shutdown().await;
}

/// A one-backend TCP load balancer whose backend can be switched, so a
/// client with a single URL can land on another node after its node died.
struct Balancer {
    addr: SocketAddr,
    backend: Arc<std::sync::Mutex<SocketAddr>>,
}

impl Balancer {
    async fn start(backend: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let backend = Arc::new(std::sync::Mutex::new(backend));
        let current = backend.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let to = *current.lock().unwrap();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { addr, backend }
    }

    fn switch_to(&self, backend: SocketAddr) {
        *self.backend.lock().unwrap() = backend;
    }
}

#[tokio::test]
async fn the_client_sdk_behind_a_load_balancer_recovers_everything_when_its_node_dies() {
    use brain_ws_client::{Backoff, SubscriptionEvent};
    use brain_ws_protocol::catalog::Event;

    let Some(redis) = shared_redis(
        "the_client_sdk_behind_a_load_balancer_recovers_everything_when_its_node_dies",
    )
    .await
    else {
        return;
    };
    let prefix = unique_prefix();
    let a = node(&redis, &prefix, "a").await;
    let b = node(&redis, &prefix, "b").await;
    let balancer = Balancer::start(a.local_addr()).await;
    let client = brain_ws_client::Client::builder(format!("ws://{}", balancer.addr))
        .backoff(
            Backoff::default()
                .initial(Duration::from_millis(50))
                .max(Duration::from_millis(200)),
        )
        .connect()
        .await
        .unwrap();
    let mut sub = client.subscribe("mn-h-sdk").await.unwrap();
    const N: u64 = 150;

    let publisher = b.node().clone();
    let publishing = tokio::spawn(async move {
        for seq in 0..N {
            publisher
                .publish(&ch("mn-h-sdk"), &et("step"), json!({"seq": seq}))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });

    let mut got = Vec::new();
    let mut resubscribed = Vec::new();
    let mut a = Some(a);
    while got.len() < N as usize {
        let item = tokio::time::timeout(WAIT, sub.next())
            .await
            .expect("the stream stalled")
            .expect("the stream ended");
        match item {
            SubscriptionEvent::Event(msg) => {
                let Event::Other(raw) = msg.event else {
                    panic!("unexpected {:?}", msg.event);
                };
                got.push((raw.data["seq"].as_u64().unwrap(), msg.offset.unwrap()));
            }
            SubscriptionEvent::Resubscribed { recovered } => resubscribed.push(recovered),
            SubscriptionEvent::Gap { missed } => {
                panic!("a gap ({missed:?}) where nothing was lost")
            }
            other @ (SubscriptionEvent::Join(_) | SubscriptionEvent::Leave(_)) => {
                panic!("no presence was asked for: {other:?}")
            }
        }
        if got.len() == (N / 3) as usize
            && let Some(a) = a.take()
        {
            // Node A dies; the balancer sends new connections to B.
            balancer.switch_to(b.local_addr());
            a.shutdown().await;
        }
    }
    publishing.await.unwrap();
    assert_eq!(resubscribed, vec![true], "one reconnection, nothing lost");
    let expected: Vec<(u64, u64)> = (0..N).map(|s| (s, s + 1)).collect();
    assert_eq!(got, expected, "zero lost, zero duplicated, in order");
    client.close().await;
    b.shutdown().await;
}
