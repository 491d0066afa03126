//! Added latency of cross-node delivery, and the Redis cost per event.
//!
//! Runs, in this process, one node on the in-memory broker and two nodes
//! (A, B) on Redis, and measures publish-to-receive latency of `EVENTS`
//! events (one every millisecond, a ~100-byte payload) to one WebSocket
//! subscriber in three set-ups:
//!   memory      publisher and subscriber on the same in-memory node
//!   redis-local publisher and subscriber on A (through Redis and back)
//!   cross-node  publisher on A, subscriber on B
//! for a channel with history (Lua script + stream) and one without
//! (plain PUBLISH). Then it publishes `EVENTS` more events per kind with no
//! subscriber anywhere but the nodes' own and reads Redis `INFO
//! commandstats` and `INFO stats` before and after: commands and bytes per
//! event. Run it with a release build on an otherwise idle machine:
//!
//! ```sh
//! cargo run --release -p brain-ws-server --example cross_node_latency
//! REDIS_URL=redis://127.0.0.1:6379/0 EVENTS=5000 cargo run --release -p brain-ws-server --example cross_node_latency
//! ```

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use brain_ws_protocol::{ChannelName, EventType};
use brain_ws_server::{BrokerConfig, Config, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Error = Box<dyn std::error::Error>;

fn clock() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    u64::try_from(clock().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn config(broker: BrokerConfig, prefix: &str, id: &str) -> Result<Config, Error> {
    let mut c = Config {
        bind: "127.0.0.1:0".parse()?,
        node_id: id.into(),
        broker,
        redis_prefix: prefix.into(),
        cluster_refresh: Duration::from_secs(60),
        heartbeat_interval: Duration::from_secs(60),
        ..Config::default()
    };
    c.history_channels.push("bench-h".parse()?);
    Ok(c)
}

async fn ready(server: &Server) -> Result<(), Error> {
    let url = format!("http://{}/ready", server.local_addr());
    for _ in 0..200 {
        if reqwest::get(&url).await?.status() == 200 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err("node not ready (is Redis running?)".into())
}

/// Subscribes on `sub`, publishes `n` events on `publisher`, returns the
/// latencies in microseconds.
async fn measure(
    publisher: &Server,
    sub: &Server,
    channel: &str,
    n: usize,
) -> Result<Vec<f64>, Error> {
    let url = format!("ws://{}/ws/connect", sub.local_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    ws.next().await.ok_or("no welcome")??;
    ws.send(Message::text(
        json!({"type": "subscribe", "channel": channel}).to_string(),
    ))
    .await?;
    loop {
        let Message::Text(t) = ws.next().await.ok_or("closed")?? else {
            continue;
        };
        if serde_json::from_str::<Value>(&t)?["type"] == "subscribed" {
            break;
        }
    }
    let node = publisher.node().clone();
    let channel_name = ChannelName::new(channel)?;
    let sending = tokio::spawn(async move {
        let t = EventType::new("bench").unwrap_or_else(|_| unreachable!());
        let filler = "x".repeat(64);
        for i in 0..n {
            let data = json!({"i": i, "sent_ns": now_ns(), "pad": filler});
            let _ = node.publish(&channel_name, &t, data).await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let mut latencies = Vec::with_capacity(n);
    while latencies.len() < n {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await?
            .ok_or("closed")??;
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t)?;
            if v["type"] == "bench" {
                let sent = v["data"]["sent_ns"].as_u64().ok_or("no sent_ns")?;
                latencies.push(now_ns().saturating_sub(sent) as f64 / 1000.0);
            }
        }
    }
    sending.await?;
    Ok(latencies)
}

fn summary(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    let pick = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    format!(
        "p50 {:>7.1} us  p90 {:>7.1} us  p99 {:>7.1} us  mean {:>7.1} us",
        pick(0.5),
        pick(0.9),
        pick(0.99),
        mean
    )
}

async fn info(
    conn: &mut redis::aio::MultiplexedConnection,
) -> Result<(BTreeMap<String, u64>, u64, u64), Error> {
    let text: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await?;
    let mut calls = BTreeMap::new();
    for line in text.lines() {
        // cmdstat_publish:calls=12,usec=...
        if let Some((name, rest)) = line
            .strip_prefix("cmdstat_")
            .and_then(|l| l.split_once(':'))
        {
            let n = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            calls.insert(name.to_owned(), n);
        }
    }
    let stats: String = redis::cmd("INFO").arg("stats").query_async(conn).await?;
    let field = |key: &str| {
        stats
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    Ok((
        calls,
        field("total_net_input_bytes:"),
        field("total_net_output_bytes:"),
    ))
}

/// Commands and bytes per event for `n` events on `channel` published by A.
async fn cost(
    a: &Server,
    conn: &mut redis::aio::MultiplexedConnection,
    channel: &str,
    n: usize,
) -> Result<(), Error> {
    let (before, in0, out0) = info(conn).await?;
    let t = EventType::new("bench")?;
    let channel_name = ChannelName::new(channel)?;
    let filler = "x".repeat(64);
    for i in 0..n {
        a.node()
            .publish(
                &channel_name,
                &t,
                json!({"i": i, "sent_ns": 0, "pad": filler}),
            )
            .await?;
    }
    let (after, in1, out1) = info(conn).await?;
    let mut line = String::new();
    for (name, calls) in &after {
        let delta = calls - before.get(name).copied().unwrap_or(0);
        if delta > 0 && name != "info" {
            line.push_str(&format!("{name} {:.2}  ", delta as f64 / n as f64));
        }
    }
    println!(
        "  {channel:<10} per event: {line}| bytes into Redis {:.0}, out of Redis {:.0}",
        (in1 - in0) as f64 / n as f64,
        (out1 - out0) as f64 / n as f64
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let n: usize = std::env::var("EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let prefix = format!("bench-{}", uuid::Uuid::new_v4().simple());
    clock();

    let memory = Server::start(config(BrokerConfig::Memory, &prefix, "m")?).await?;
    let a = Server::start(config(BrokerConfig::Redis(url.clone()), &prefix, "a")?).await?;
    let b = Server::start(config(BrokerConfig::Redis(url.clone()), &prefix, "b")?).await?;
    ready(&a).await?;
    ready(&b).await?;

    println!("{n} events, 1 per ms, one subscriber; latency = publish call to frame received");
    for channel in ["bench", "bench-h"] {
        let kind = if channel == "bench" {
            "no history"
        } else {
            "history"
        };
        println!("channel {channel} ({kind})");
        let m = measure(&memory, &memory, channel, n).await?;
        println!("  memory       {}", summary(m));
        let l = measure(&a, &a, channel, n).await?;
        println!("  redis-local  {}", summary(l));
        let x = measure(&a, &b, channel, n).await?;
        println!("  cross-node   {}", summary(x));
    }

    println!(
        "Redis cost ({n} events each, 2 nodes subscribed to the channel via one subscriber each)"
    );
    let client = redis::Client::open(url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    // Keep one subscriber per node on each channel, so both nodes receive.
    let mut keep = Vec::new();
    for (node, channel) in [
        (&a, "bench"),
        (&b, "bench"),
        (&a, "bench-h"),
        (&b, "bench-h"),
    ] {
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{}/ws/connect", node.local_addr()))
                .await?;
        ws.next().await.ok_or("no welcome")??;
        ws.send(Message::text(
            json!({"type": "subscribe", "channel": channel}).to_string(),
        ))
        .await?;
        ws.next().await.ok_or("no answer")??;
        keep.push(tokio::spawn(async move {
            while let Some(Ok(_)) = ws.next().await {}
        }));
    }
    cost(&a, &mut conn, "bench", n).await?;
    cost(&a, &mut conn, "bench-h", n).await?;
    for k in keep {
        k.abort();
    }

    memory.shutdown().await;
    a.shutdown().await;
    b.shutdown().await;
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}:h:bench-h"))
        .arg(format!("{prefix}:m:bench-h"))
        .query_async(&mut conn)
        .await?;
    Ok(())
}
