//! `bench-presence`: what presence costs (docs/benchmarks.md, "Presence").
//!
//! Starts the server binary with presence on `bench.presence*`, opens
//! `--subscribers` connections, and in each round subscribes all of them to
//! a presence channel and to a plain channel (order alternating per round),
//! then unsubscribes them, measuring the server's CPU time (from `/proc`)
//! and the wall time of each phase. One watcher subscribed with
//! `presence: true` reads every `join` and `leave` meanwhile. While the
//! presence channel holds every subscriber, `--reads` sequential
//! `GET .../presence/stats` are timed against the same read on an empty
//! presence channel and against `GET /health` (the HTTP floor). Prints the
//! medians over the rounds, presence side by side with no presence.
//!
//! ```text
//! cargo build --release -p brain-ws-server -p brain-ws-bench
//! target/release/bench-presence --subscribers 10000 --rounds 3
//! target/release/bench-presence -- --broker redis://127.0.0.1:6379/0 --redis-prefix bench-presence
//! ```

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use brain_ws_bench::procfs::{CpuTime, cpu_time, raise_nofile_limit};
use brain_ws_bench::stats::median;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const PRESENCE: &str = "bench.presence";
const EMPTY: &str = "bench.presence.empty";
const PLAIN: &str = "bench.plain";

#[derive(Parser, Debug)]
#[command(about = "Cost of presence per join/leave and per stats read, against no presence")]
struct Args {
    /// The server binary.
    #[arg(long, default_value = "target/release/brain-ws-server")]
    server: String,
    /// Subscribers of the channel.
    #[arg(long, default_value_t = 10_000)]
    subscribers: usize,
    /// Rounds (each: presence and plain, order alternating).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Stats reads per kind per round.
    #[arg(long, default_value_t = 1000)]
    reads: usize,
    /// Subscribes (or unsubscribes) in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// More server flags (e.g. `--broker redis://...`).
    #[arg(last = true)]
    server_args: Vec<String>,
}

/// One phase's cost: server CPU and wall time, in microseconds.
#[derive(Debug, Clone, Copy)]
struct Cost {
    cpu_us: u64,
    wall_us: u64,
}

struct Server {
    child: tokio::process::Child,
    pid: u32,
    addr: String,
}

async fn start_server(args: &Args) -> Server {
    let mut child = tokio::process::Command::new(&args.server)
        .args(["--bind", "127.0.0.1:0", "--log-format", "text"])
        .args(["--presence-channel", "bench.presence*"])
        .args(["--max-connections", &(args.subscribers + 100).to_string()])
        .args(["--rate-limit", "0", "--heartbeat-interval", "300s"])
        .args(&args.server_args)
        .env("RUST_LOG", "warn,brain_ws_server=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the server binary starts (cargo build --release -p brain-ws-server)");
    let pid = child.id().expect("pid");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line())
            .await
            .expect("the server listens within 15 s")
            .expect("reads the log")
            .expect("the server exited before listening");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server { child, pid, addr }
}

async fn connect(addr: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/connect"))
        .await
        .expect("connects");
    expect_type(&mut ws, "connected").await;
    ws
}

/// Reads until a frame of type `kind` (failing on anything but pings).
async fn expect_type(ws: &mut Ws, kind: &str) {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} within 30 s"))
            .expect("open")
            .expect("frame");
        if let Message::Text(text) = frame {
            let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            if v["type"] == kind {
                return;
            }
            assert_eq!(v["type"], "ping", "expected {kind}, got {v}");
        }
    }
}

/// Sends `message` on every connection and waits for each one's `answer`,
/// `concurrency` at a time; server CPU and wall time of the whole phase.
async fn phase(
    conns: Vec<Ws>,
    message: serde_json::Value,
    answer: &'static str,
    pid: u32,
    concurrency: usize,
) -> (Vec<Ws>, Cost) {
    let cpu0 = cpu_time(pid).unwrap_or_default();
    let started = Instant::now();
    let text = message.to_string();
    let conns: Vec<Ws> = futures_util::stream::iter(conns)
        .map(|mut ws| {
            let text = text.clone();
            async move {
                ws.send(Message::text(text)).await.expect("sends");
                expect_type(&mut ws, answer).await;
                ws
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall_us = started.elapsed().as_micros() as u64;
    let cpu = cpu_time(pid).unwrap_or_default().micros_since(&cpu0);
    (
        conns,
        Cost {
            cpu_us: cpu,
            wall_us,
        },
    )
}

/// `reads` sequential GETs of `path`: server CPU and client latency per read.
async fn reads(http: &reqwest::Client, addr: &str, path: &str, n: usize, pid: u32) -> Cost {
    let url = format!("http://{addr}{path}");
    let cpu0: CpuTime = cpu_time(pid).unwrap_or_default();
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let response = http.get(&url).send().await.expect("GET");
        assert_eq!(response.status(), 200, "GET {path}");
        let _ = response.bytes().await.expect("body");
        latencies.push(started.elapsed().as_micros() as u64);
    }
    Cost {
        cpu_us: cpu_time(pid).unwrap_or_default().micros_since(&cpu0) / n as u64,
        wall_us: median(&latencies),
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    raise_nofile_limit().expect("raise the open-file limit");
    let mut server = start_server(&args).await;
    let (pid, addr) = (server.pid, server.addr.clone());
    let http = reqwest::Client::new();
    eprintln!(
        "server {} on {addr}; opening {} connections",
        args.server, args.subscribers
    );

    // The watcher: asks for presence on both channels and drains its frames.
    let mut watcher = connect(&addr).await;
    for channel in [PRESENCE, PLAIN] {
        watcher
            .send(Message::text(
                serde_json::json!({"type": "subscribe", "channel": channel, "presence": true})
                    .to_string(),
            ))
            .await
            .expect("sends");
        expect_type(&mut watcher, "subscribed").await;
    }
    let joins = Arc::new(AtomicU64::new(0));
    let leaves = Arc::new(AtomicU64::new(0));
    let (j, l) = (joins.clone(), leaves.clone());
    tokio::spawn(async move {
        while let Some(Ok(frame)) = watcher.next().await {
            if let Message::Text(text) = frame {
                if text.starts_with(r#"{"type":"join""#) {
                    j.fetch_add(1, Ordering::Relaxed);
                } else if text.starts_with(r#"{"type":"leave""#) {
                    l.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });

    let mut conns: Vec<Ws> = futures_util::stream::iter(0..args.subscribers)
        .map(|_| connect(&addr))
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let n = args.subscribers as u64;
    let mut join = [Vec::new(), Vec::new()];
    let mut leave = [Vec::new(), Vec::new()];
    let mut stats_full = Vec::new();
    let mut stats_empty = Vec::new();
    let mut health = Vec::new();
    for round in 0..args.rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let channel = [PRESENCE, PLAIN][which];
            let subscribe = serde_json::json!({"type": "subscribe", "channel": channel});
            let (c, cost) = phase(conns, subscribe, "subscribed", pid, args.concurrency).await;
            conns = c;
            join[which].push(cost);
            if which == 0 {
                // Reads start once the server is idle: every join delivered.
                let want = n * (round as u64 + 1);
                let deadline = Instant::now() + Duration::from_secs(30);
                while joins.load(Ordering::Relaxed) < want && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                let full = format!("/api/ws/channels/{PRESENCE}/presence/stats");
                let body: serde_json::Value = http
                    .get(format!("http://{addr}{full}"))
                    .send()
                    .await
                    .expect("GET")
                    .json()
                    .await
                    .expect("JSON");
                assert_eq!(body["connections"], n + 1, "{body}");
                stats_full.push(reads(&http, &addr, &full, args.reads, pid).await);
                let empty = format!("/api/ws/channels/{EMPTY}/presence/stats");
                stats_empty.push(reads(&http, &addr, &empty, args.reads, pid).await);
                health.push(reads(&http, &addr, "/health", args.reads, pid).await);
            }
            let unsubscribe = serde_json::json!({"type": "unsubscribe", "channel": channel});
            let (c, cost) = phase(conns, unsubscribe, "unsubscribed", pid, args.concurrency).await;
            conns = c;
            leave[which].push(cost);
        }
        eprintln!("round {} done", round + 1);
    }
    // Every join and leave reached the watcher.
    let expected = n * args.rounds as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while (joins.load(Ordering::Relaxed) < expected || leaves.load(Ordering::Relaxed) < expected)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (got_joins, got_leaves) = (
        joins.load(Ordering::Relaxed),
        leaves.load(Ordering::Relaxed),
    );

    let med =
        |costs: &[Cost], f: fn(&Cost) -> u64| median(&costs.iter().map(f).collect::<Vec<_>>());
    let per = |total: u64| total as f64 / n as f64;
    println!(
        "presence: {} subscribers, {} rounds (medians), server {}{}",
        args.subscribers,
        args.rounds,
        args.server,
        if args.server_args.is_empty() {
            String::new()
        } else {
            format!(" {}", args.server_args.join(" "))
        }
    );
    println!("| phase | presence | no presence | ratio |");
    println!("|---|---|---|---|");
    for (name, costs) in [("subscribe (join)", &join), ("unsubscribe (leave)", &leave)] {
        let (p_cpu, q_cpu) = (med(&costs[0], |c| c.cpu_us), med(&costs[1], |c| c.cpu_us));
        let (p_wall, q_wall) = (med(&costs[0], |c| c.wall_us), med(&costs[1], |c| c.wall_us));
        println!(
            "| {name}: server CPU per subscriber | {:.1} us | {:.1} us | {:.2}x |",
            per(p_cpu),
            per(q_cpu),
            p_cpu as f64 / q_cpu.max(1) as f64
        );
        println!(
            "| {name}: wall time for all | {:.0} ms | {:.0} ms | {:.2}x |",
            p_wall as f64 / 1000.0,
            q_wall as f64 / 1000.0,
            p_wall as f64 / q_wall.max(1) as f64
        );
    }
    let (full_cpu, empty_cpu, health_cpu) = (
        med(&stats_full, |c| c.cpu_us),
        med(&stats_empty, |c| c.cpu_us),
        med(&health, |c| c.cpu_us),
    );
    let (full_lat, empty_lat, health_lat) = (
        med(&stats_full, |c| c.wall_us),
        med(&stats_empty, |c| c.wall_us),
        med(&health, |c| c.wall_us),
    );
    println!();
    println!(
        "| read ({} sequential GETs) | server CPU per read | median latency |",
        args.reads
    );
    println!("|---|---|---|");
    println!(
        "| presence/stats, {} members | {full_cpu} us | {full_lat} us |",
        n + 1
    );
    println!("| presence/stats, 0 members | {empty_cpu} us | {empty_lat} us |");
    println!("| /health (HTTP floor) | {health_cpu} us | {health_lat} us |");
    println!(
        "ratio 10k/empty stats read: CPU {:.2}x, latency {:.2}x; vs /health: CPU {:.2}x, latency {:.2}x",
        full_cpu as f64 / empty_cpu.max(1) as f64,
        full_lat as f64 / empty_lat.max(1) as f64,
        full_cpu as f64 / health_cpu.max(1) as f64,
        full_lat as f64 / health_lat.max(1) as f64
    );
    println!("watcher heard {got_joins} joins and {got_leaves} leaves (expected {expected} each)");
    drop(conns);
    let _ = server.child.start_kill();
    let _ = server.child.wait().await;
}
