//! `bench-rewind`: 1,000 clients subscribe at once to one channel while it
//! publishes a steady stream (100 events/s), each asking for `rewind: 100`;
//! against the baseline of the same clients subscribing without rewind, in
//! the same run (rounds alternate). Reports the time until every client is
//! live (its replay received and its first live event after it), the
//! server's CPU time and memory growth over that window (`/proc`), and
//! checks every client's sequence: replayed offsets then live ones, no gap,
//! no duplicate.
//!
//! ```text
//! bench-rewind --url ws://127.0.0.1:PORT --server-pid PID -n 1000 --rewind 100 --rate 100
//! ```
//! The server must keep history on `--channel` with `history_size >=
//! --rewind` and serve the admin API to this host (loopback, or `--api-key`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brain_ws_bench::http1::HttpClient;
use brain_ws_bench::procfs;
use brain_ws_bench::stream::Connector;
use clap::Parser;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::{Barrier, Semaphore};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
#[command(name = "bench-rewind")]
struct Args {
    /// WebSocket base URL of the server (loopback).
    #[arg(long, default_value = "ws://127.0.0.1:8000")]
    url: String,
    /// The server's process id (default: found from the port in /proc).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Clients that subscribe at once.
    #[arg(short = 'n', long, default_value_t = 1000)]
    clients: usize,
    /// The rewind each client asks for (the baseline asks for none).
    #[arg(long, default_value_t = 100)]
    rewind: u64,
    /// Events per second published on the channel throughout.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// The channel (must keep history).
    #[arg(long, default_value = "missions")]
    channel: String,
    /// Rounds of each (baseline, rewind) pair; medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Handshakes in flight while connecting (below the listen backlog).
    #[arg(long, default_value_t = 100)]
    connect_concurrency: usize,
}

/// One phase's figures.
#[derive(Debug, Clone, Copy, Default)]
struct Phase {
    /// From the subscribes' release until the last client is live, ms.
    all_live_ms: f64,
    /// Median client's time until live, ms.
    median_live_ms: f64,
    /// Server CPU over the window, ms.
    cpu_ms: f64,
    /// Server RSS growth over the window, KiB.
    rss_growth_kib: f64,
    /// Events replayed to all clients together.
    replayed: u64,
    /// Clients whose sequence had a gap or a duplicate, or that failed.
    bad: usize,
}

/// What one client saw.
struct Seen {
    live_ms: f64,
    replayed: u64,
    ok: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let _ = procfs::raise_nofile_limit();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(args: &Args) -> Result<bool, String> {
    let addr: SocketAddr = args
        .url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("--url must be ws://IP:PORT: {e}"))?;
    let pid = args
        .server_pid
        .or_else(|| procfs::pid_listening_on(addr.port()))
        .ok_or("cannot find the server's pid; pass --server-pid")?;
    let publisher = tokio::spawn(publish(addr, args.channel.clone(), args.rate));
    // Let the history fill past the rewind before the first round.
    let fill = Duration::from_secs_f64((args.rewind as f64 + 20.0) / args.rate);
    tokio::time::sleep(fill).await;
    let mut baseline = Vec::new();
    let mut rewind = Vec::new();
    for round in 0..args.rounds {
        baseline.push(phase(args, addr, pid, None).await?);
        rewind.push(phase(args, addr, pid, Some(args.rewind)).await?);
        eprintln!("round {} of {} done", round + 1, args.rounds);
    }
    publisher.abort();
    let (b, r) = (median(&baseline), median(&rewind));
    print_table(args, &b, &r);
    Ok(baseline.iter().chain(&rewind).all(|p| p.bad == 0))
}

/// Publishes on `channel` at `rate` per second until aborted.
async fn publish(addr: SocketAddr, channel: String, rate: f64) {
    let mut http = HttpClient::new(Connector::plain(addr));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for n in 0u64.. {
        tick.tick().await;
        let body = json!({"channel": channel, "type": "bench_step", "message": {"n": n}});
        if let Err(e) = http
            .post_json("/api/ws/broadcast", body.to_string().as_bytes())
            .await
        {
            eprintln!("publish failed: {e}");
        }
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects every client (untimed), then releases their subscribes at once
/// and waits until all are live.
async fn phase(
    args: &Args,
    addr: SocketAddr,
    pid: u32,
    rewind: Option<u64>,
) -> Result<Phase, String> {
    let gate = Arc::new(Semaphore::new(args.connect_concurrency));
    let barrier = Arc::new(Barrier::new(args.clients + 1));
    let mut tasks = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        let gate = gate.clone();
        let barrier = barrier.clone();
        let url = format!("ws://{addr}/ws/connect");
        let channel = args.channel.clone();
        tasks.push(tokio::spawn(async move {
            let ws = {
                let _permit = gate.acquire().await;
                connect(&url).await
            };
            let start = barrier.wait().await;
            let _ = start;
            let mut ws = ws?;
            let t0 = Instant::now();
            let seen = subscribe_until_live(&mut ws, &channel, rewind, t0).await;
            Ok::<(Seen, Ws), String>((seen?, ws))
        }));
    }
    // Every client is connected and waiting at the barrier.
    let cpu0 = procfs::cpu_time(pid).map_err(|e| e.to_string())?;
    let rss0 = procfs::rss_kib(pid).map_err(|e| e.to_string())?;
    let released = Instant::now();
    barrier.wait().await;
    let mut seen = Vec::with_capacity(args.clients);
    let mut sockets = Vec::with_capacity(args.clients);
    let mut bad = 0;
    for t in tasks {
        match t.await {
            Ok(Ok((s, ws))) => {
                bad += usize::from(!s.ok);
                seen.push(s);
                sockets.push(ws);
            }
            Ok(Err(e)) => {
                eprintln!("client failed: {e}");
                bad += 1;
            }
            Err(e) => {
                eprintln!("client task failed: {e}");
                bad += 1;
            }
        }
    }
    let all_live_ms = released.elapsed().as_secs_f64() * 1e3;
    let cpu1 = procfs::cpu_time(pid).map_err(|e| e.to_string())?;
    let rss1 = procfs::rss_kib(pid).map_err(|e| e.to_string())?;
    for mut ws in sockets {
        let _ = ws.close(None).await;
    }
    // Let the server release the connections before the next phase.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut live: Vec<f64> = seen.iter().map(|s| s.live_ms).collect();
    live.sort_by(f64::total_cmp);
    Ok(Phase {
        all_live_ms,
        median_live_ms: live.get(live.len() / 2).copied().unwrap_or(0.0),
        cpu_ms: cpu1.micros_since(&cpu0) as f64 / 1e3,
        rss_growth_kib: rss1 as f64 - rss0 as f64,
        replayed: seen.iter().map(|s| s.replayed).sum(),
        bad,
    })
}

async fn connect(url: &str) -> Result<Ws, String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let welcome = next_json(&mut ws).await?;
    if welcome["type"] != "connected" {
        return Err(format!("expected connected, got {welcome}"));
    }
    Ok(ws)
}

async fn next_json(ws: &mut Ws) -> Result<Value, String> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .map_err(|_| "nothing within 30 s".to_owned())?
            .ok_or("closed")?
            .map_err(|e| e.to_string())?;
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            if value["type"] != "ping" {
                return Ok(value);
            }
        }
    }
}

/// Subscribes and reads until the first event above the `subscribed`
/// offset (live), checking that offsets run one by one from the first
/// replayed event.
async fn subscribe_until_live(
    ws: &mut Ws,
    channel: &str,
    rewind: Option<u64>,
    t0: Instant,
) -> Result<Seen, String> {
    let mut subscribe = json!({"type": "subscribe", "channel": channel});
    if let Some(n) = rewind {
        subscribe["rewind"] = json!(n);
    }
    ws.send(Message::text(subscribe.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    let answer = next_json(ws).await?;
    let top = answer["offset"]
        .as_u64()
        .ok_or_else(|| format!("no offset in {answer}"))?;
    let replayed = answer["replayed"].as_u64().unwrap_or(0);
    let mut ok = rewind.is_none_or(|n| replayed == n.min(top));
    let mut expected = top - replayed + 1;
    loop {
        let event = next_json(ws).await?;
        let Some(offset) = event["offset"].as_u64() else {
            continue;
        };
        // Without rewind the first event may be any above the top.
        if rewind.is_none() && expected == top + 1 {
            ok &= offset > top;
            expected = offset;
        }
        ok &= offset == expected;
        expected = offset + 1;
        if offset > top {
            return Ok(Seen {
                live_ms: t0.elapsed().as_secs_f64() * 1e3,
                replayed,
                ok,
            });
        }
    }
}

fn median(phases: &[Phase]) -> Phase {
    let pick = |f: fn(&Phase) -> f64| {
        let mut v: Vec<f64> = phases.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    Phase {
        all_live_ms: pick(|p| p.all_live_ms),
        median_live_ms: pick(|p| p.median_live_ms),
        cpu_ms: pick(|p| p.cpu_ms),
        rss_growth_kib: pick(|p| p.rss_growth_kib),
        replayed: phases.iter().map(|p| p.replayed).max().unwrap_or(0),
        bad: phases.iter().map(|p| p.bad).sum(),
    }
}

fn print_table(args: &Args, b: &Phase, r: &Phase) {
    let ratio = |x: f64, y: f64| {
        if x > 0.0 {
            format!("{:.2}x", y / x)
        } else {
            "-".to_owned()
        }
    };
    println!(
        "{} clients subscribe at once to {} while it publishes {}/s; median of {} rounds",
        args.clients, args.channel, args.rate, args.rounds
    );
    println!(
        "{:<34} {:>14} {:>14} {:>8}",
        "",
        "no rewind",
        format!("rewind {}", args.rewind),
        "ratio"
    );
    let row = |name: &str, x: f64, y: f64, unit: &str| {
        println!(
            "{:<34} {:>11.1} {unit:<2} {:>11.1} {unit:<2} {:>8}",
            name,
            x,
            y,
            ratio(x, y)
        );
    };
    row("time until all live", b.all_live_ms, r.all_live_ms, "ms");
    row(
        "median client until live",
        b.median_live_ms,
        r.median_live_ms,
        "ms",
    );
    row("server CPU over the window", b.cpu_ms, r.cpu_ms, "ms");
    row(
        "server CPU per client",
        b.cpu_ms * 1e3 / args.clients as f64,
        r.cpu_ms * 1e3 / args.clients as f64,
        "us",
    );
    row(
        "server RSS growth",
        b.rss_growth_kib,
        r.rss_growth_kib,
        "KiB",
    );
    println!(
        "{:<34} {:>14} {:>14}",
        "events replayed (all clients)", b.replayed, r.replayed
    );
    println!(
        "{:<34} {:>14} {:>14}",
        "clients with a gap/duplicate/error", b.bad, r.bad
    );
}
