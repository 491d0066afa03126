//! Cluster mode (issue 17.1c): several nodes on one Redis. Subscribers are
//! spread over every node and channel, publishers on every node post
//! `POST /api/ws/broadcast` through keep-alive connections at a rising
//! rate, and each step reports events/s, delivery latency (publish request
//! written to frame received, so it includes the HTTP publish, Redis and the
//! receiving node's fan-out), the publish request's own latency, the nodes'
//! CPU per event (`/proc`), and Redis's CPU per event and commands per event
//! (`INFO cpu`, `INFO commandstats` deltas).
//!
//! The sustained rate is the highest step whose delivery p99 stayed under
//! `--p99-limit` with nothing missing and the publishers keeping up.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::client::{Dial, Probe, run_client};
use crate::http1::HttpClient;
use crate::options::Options;
use crate::procfs::{self, CpuTime};
use crate::run::{BenchError, PublishedStep, Publishing, connector_for, loopback_addr};
use crate::stats::Histogram;

/// What one cluster run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusterReport {
    /// The run's name in tables (e.g. the server build).
    pub label: String,
    /// Nodes measured.
    pub nodes: usize,
    /// Channels the events are spread over.
    pub channels: usize,
    /// Whether the channels keep history (as the caller says; `--history`).
    pub history: bool,
    /// Subscriber connections, spread over nodes and channels.
    pub connections: usize,
    /// Publishing keep-alive HTTP connections per node.
    pub publishers_per_node: usize,
    /// The p99 delivery latency a step must stay under, microseconds.
    pub p99_limit_us: u64,
    /// The ramp's steps.
    pub steps: Vec<ClusterStep>,
    /// The highest events/s of a step that was not degraded (0 if none).
    pub sustained_events_per_s: f64,
    /// That step's index in `steps`.
    pub sustained_step: Option<usize>,
    /// Subscribers that never connected or dropped during the run.
    pub failed_connections: usize,
}

/// One step of the ramp.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusterStep {
    /// Publications per second asked for (all nodes together).
    pub target_rate: f64,
    /// Publications per second answered 200.
    pub events_per_s: f64,
    /// Publications answered 200.
    pub published: u64,
    /// Deliveries expected / received.
    pub expected: u64,
    /// Deliveries received.
    pub delivered: u64,
    /// Delivery latency p50 / p99 / max bucket, microseconds.
    pub p50_us: u64,
    /// Delivery latency p99, microseconds.
    pub p99_us: u64,
    /// Publish request (HTTP answer) p50, microseconds.
    pub publish_p50_us: u64,
    /// Publish request (HTTP answer) p99, microseconds.
    pub publish_p99_us: u64,
    /// All nodes' CPU per publication, microseconds.
    pub node_cpu_us_per_event: Option<f64>,
    /// All nodes' CPU, in cores.
    pub node_cores: Option<f64>,
    /// The busiest node's CPU, in cores.
    pub max_node_cores: Option<f64>,
    /// Redis's CPU per publication (`used_cpu_sys + used_cpu_user`), microseconds.
    pub redis_cpu_us_per_event: Option<f64>,
    /// Redis's CPU, in cores.
    pub redis_cores: Option<f64>,
    /// Redis commands per publication, by command (`INFO commandstats`).
    pub redis_calls_per_event: BTreeMap<String, f64>,
    /// Redis's own time per call, by command, microseconds.
    pub redis_usec_per_call: BTreeMap<String, f64>,
    /// The bench client's CPU, in cores.
    pub client_cores: f64,
    /// Why the step is degraded, if it is.
    pub degraded: Option<String>,
}

/// Runs the cluster ramp against `opts.nodes` with Redis at `opts.redis`.
pub async fn run(opts: &Options) -> Result<ClusterReport, BenchError> {
    let mut connectors = Vec::new();
    let mut pids = Vec::new();
    for url in &opts.nodes {
        let c = connector_for(url, opts)?;
        pids.push(procfs::pid_listening_on(c.addr().port()));
        connectors.push(c);
    }
    let redis = match &opts.redis {
        Some(a) => Some(loopback_addr(a)?),
        None => None,
    };
    let nodes = connectors.len();
    let k = opts.channels.max(1);
    let n = opts.connections;
    let channels: Arc<Vec<String>> =
        Arc::new((0..k).map(|i| format!("{}-{i}", opts.channel)).collect());
    let mut report = ClusterReport {
        label: opts.label.clone().unwrap_or_else(|| "cluster".into()),
        nodes,
        channels: k,
        history: opts.history,
        connections: n,
        publishers_per_node: opts.publishers.max(1),
        p99_limit_us: opts.p99_limit.as_micros() as u64,
        ..ClusterReport::default()
    };

    // Client i is on channel i % k, node (i / k) % nodes: every channel has
    // subscribers on every node once n >= k * nodes.
    let probe = Arc::new(Probe::new(n, true));
    let dials: Vec<Arc<Dial>> = connectors
        .iter()
        .flat_map(|conn| {
            channels.iter().map(move |c| {
                Arc::new(Dial {
                    connector: conn.clone(),
                    path: format!("/ws/channel/{c}"),
                    wait_subscribed: true,
                    subscribe: Vec::new(),
                })
            })
        })
        .collect();
    let gate = Arc::new(Semaphore::new(opts.connect_concurrency.max(1)));
    let mut tasks = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break;
        };
        let dial = dials[((i / k) % nodes) * k + i % k].clone();
        tasks.push(tokio::spawn(run_client(i, dial, probe.clone(), permit)));
    }
    let deadline = started + Duration::from_secs(60);
    while probe.ready() + probe.failed() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    eprintln!(
        "connected {}/{n} subscribers over {nodes} nodes in {:.2}s",
        probe.ready(),
        started.elapsed().as_secs_f64()
    );
    // Let every node's Redis subscriptions and cluster reports settle.
    tokio::time::sleep(opts.settle).await;

    let per_channel: Arc<Vec<u64>> =
        Arc::new((0..k).map(|c| ((n + k - 1 - c) / k) as u64).collect());
    let mut publishers: Vec<HttpClient> = Vec::new();
    for conn in &connectors {
        for _ in 0..report.publishers_per_node {
            let mut c = HttpClient::new(conn.clone());
            c.connect().await?;
            publishers.push(c);
        }
    }
    let publish_hist = Arc::new(Histogram::default());
    let publishing = Publishing {
        channels: channels.clone(),
        per_channel,
        seq: Arc::new(AtomicU64::new(0)),
        probe: probe.clone(),
        frame_bytes: opts.frame_bytes,
        step: opts.step,
    };
    let mut rate = opts.start_rate.max(1.0);
    let mut degraded_in_a_row = 0;
    for _ in 0..opts.max_steps {
        probe.hist.reset();
        publish_hist.reset();
        let delivered0 = probe.delivered();
        let cpu0: Vec<Option<CpuTime>> = pids
            .iter()
            .map(|p| p.and_then(|p| procfs::cpu_time(p).ok()))
            .collect();
        let redis0 = match redis {
            Some(a) => redis_stats(a).await.ok(),
            None => None,
        };
        let client0 = procfs::cpu_time(std::process::id()).unwrap_or_default();
        let step_start = probe.now_ns();
        let t0 = tokio::time::Instant::now();
        let PublishedStep {
            published,
            expected,
            first_error,
        } = publishing
            .step(&mut publishers, rate, t0, Some(&publish_hist))
            .await;
        let publish_secs = t0.elapsed().as_secs_f64();
        let drain_deadline = Instant::now() + opts.timeout;
        while probe.delivered() - delivered0 < expected && Instant::now() < drain_deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let delivered = probe.delivered() - delivered0;
        let wall_us = (probe.now_ns() - step_start) as f64 / 1e3;
        let node_us: Vec<Option<u64>> = pids
            .iter()
            .zip(&cpu0)
            .map(|(p, c0)| {
                let c1 = procfs::cpu_time((*p)?).ok()?;
                Some(c1.micros_since(c0.as_ref()?))
            })
            .collect();
        let node_total: Option<u64> = node_us.iter().copied().sum();
        let redis1 = match redis {
            Some(a) => redis_stats(a).await.ok(),
            None => None,
        };
        let client_us = procfs::cpu_time(std::process::id())
            .unwrap_or_default()
            .micros_since(&client0);
        let per_event = |us: f64| (published > 0).then(|| us / published as f64);
        let mut step = ClusterStep {
            target_rate: rate,
            events_per_s: published as f64 / publish_secs.max(1e-9),
            published,
            expected,
            delivered,
            p50_us: probe.hist.quantile(0.5) / 1000,
            p99_us: probe.hist.quantile(0.99) / 1000,
            publish_p50_us: publish_hist.quantile(0.5) / 1000,
            publish_p99_us: publish_hist.quantile(0.99) / 1000,
            node_cpu_us_per_event: node_total.and_then(|u| per_event(u as f64)),
            node_cores: node_total.map(|u| u as f64 / wall_us),
            max_node_cores: node_us.iter().flatten().max().map(|&u| u as f64 / wall_us),
            client_cores: client_us as f64 / wall_us,
            ..ClusterStep::default()
        };
        if let (Some(r0), Some(r1)) = (&redis0, &redis1) {
            let cpu_us = (r1.cpu_s - r0.cpu_s).max(0.0) * 1e6;
            step.redis_cpu_us_per_event = per_event(cpu_us);
            step.redis_cores = Some(cpu_us / wall_us);
            for (name, &(calls1, usec1)) in &r1.commands {
                let (calls0, usec0) = r0.commands.get(name).copied().unwrap_or((0, 0));
                let calls = calls1.saturating_sub(calls0);
                if calls == 0 || published == 0 {
                    continue;
                }
                step.redis_calls_per_event
                    .insert(name.clone(), calls as f64 / published as f64);
                step.redis_usec_per_call.insert(
                    name.clone(),
                    usec1.saturating_sub(usec0) as f64 / calls as f64,
                );
            }
        }
        step.degraded = if let Some(e) = first_error {
            Some(format!("publish failed: {e}"))
        } else if delivered < expected {
            Some(format!("{} deliveries missing", expected - delivered))
        } else if step.p99_us > report.p99_limit_us {
            Some("p99 over the limit".into())
        } else if step.events_per_s < 0.9 * rate {
            Some("publishers fell behind".into())
        } else {
            None
        };
        eprintln!("{}", step_line(&step));
        if step.degraded.is_none() && step.events_per_s > report.sustained_events_per_s {
            report.sustained_events_per_s = step.events_per_s;
            report.sustained_step = Some(report.steps.len());
        }
        let degraded = step.degraded.is_some();
        let failed = step
            .degraded
            .as_deref()
            .is_some_and(|d| d.starts_with("publish failed"));
        report.steps.push(step);
        degraded_in_a_row = if degraded { degraded_in_a_row + 1 } else { 0 };
        if degraded_in_a_row >= 2 || failed {
            break;
        }
        rate *= opts.rate_factor;
        tokio::time::sleep(opts.gap).await;
    }
    report.failed_connections = n.saturating_sub(probe.ready()) + probe.dropped();
    for t in tasks {
        t.abort();
    }
    Ok(report)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

fn step_line(s: &ClusterStep) -> String {
    format!(
        "step {:>7.0}/s: {:>7.0} events/s, delivery p50 {:>6.1} ms p99 {:>6.1} ms, publish p99 {:>6.1} ms, \
         nodes {} µs/event ({} cores, max {}), redis {} µs/event ({} cores), client {:.2} cores{}",
        s.target_rate,
        s.events_per_s,
        s.p50_us as f64 / 1e3,
        s.p99_us as f64 / 1e3,
        s.publish_p99_us as f64 / 1e3,
        opt(s.node_cpu_us_per_event, 1),
        opt(s.node_cores, 2),
        opt(s.max_node_cores, 2),
        opt(s.redis_cpu_us_per_event, 1),
        opt(s.redis_cores, 2),
        s.client_cores,
        s.degraded
            .as_deref()
            .map_or(String::new(), |d| format!(" (degraded: {d})"))
    )
}

/// Redis's CPU seconds and, per command, `(calls, usec)`.
#[derive(Debug, Default)]
struct RedisStats {
    cpu_s: f64,
    commands: BTreeMap<String, (u64, u64)>,
}

/// Reads `INFO cpu` and `INFO commandstats` from Redis at `addr`.
async fn redis_stats(addr: std::net::SocketAddr) -> std::io::Result<RedisStats> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut stats = RedisStats::default();
    for section in ["cpu", "commandstats"] {
        let text = redis_info(&mut stream, section).await?;
        parse_info(&text, &mut stats);
    }
    Ok(stats)
}

async fn redis_info(stream: &mut TcpStream, section: &str) -> std::io::Result<String> {
    let command = format!("*2\r\n$4\r\nINFO\r\n${}\r\n{section}\r\n", section.len());
    stream.write_all(command.as_bytes()).await?;
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let got = stream.read(&mut chunk).await?;
        if got == 0 {
            return Err(std::io::Error::other("redis closed the connection"));
        }
        buf.extend_from_slice(&chunk[..got]);
        let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buf[..eol]).map_err(std::io::Error::other)?;
        let len: usize = head
            .strip_prefix('$')
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("unexpected INFO reply {head:?}")))?;
        if buf.len() >= eol + 2 + len + 2 {
            return Ok(String::from_utf8_lossy(&buf[eol + 2..eol + 2 + len]).into_owned());
        }
    }
}

fn parse_info(text: &str, stats: &mut RedisStats) {
    for line in text.lines() {
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        if key == "used_cpu_sys" || key == "used_cpu_user" {
            stats.cpu_s += value.parse::<f64>().unwrap_or(0.0);
        } else if let Some(name) = key.strip_prefix("cmdstat_") {
            let field = |f: &str| {
                value
                    .split(',')
                    .find_map(|kv| kv.strip_prefix(f)?.strip_prefix('='))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            stats
                .commands
                .insert(name.to_owned(), (field("calls"), field("usec")));
        }
    }
}

/// One run's table: every step.
pub fn table(r: &ClusterReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{}: {} nodes, {} channels, history {}, {} subscribers, {} publishers per node",
        r.label,
        r.nodes,
        r.channels,
        if r.history { "on" } else { "off" },
        r.connections,
        r.publishers_per_node
    );
    for s in &r.steps {
        let _ = writeln!(out, "  {}", step_line(s));
    }
    let _ = writeln!(
        out,
        "  sustained: {:.0} events/s at delivery p99 < {} ms",
        r.sustained_events_per_s,
        r.p99_limit_us / 1000
    );
    out
}

/// The sustained step of each report, side by side: one row per
/// configuration (nodes, channels, history), one column group per label,
/// and the ratio of each later label's events/s to the first's.
pub fn compare_table(reports: &[ClusterReport]) -> String {
    let mut labels: Vec<&str> = Vec::new();
    for r in reports {
        if !labels.contains(&r.label.as_str()) {
            labels.push(&r.label);
        }
    }
    let mut configs: Vec<(usize, usize, bool)> = Vec::new();
    for r in reports {
        let c = (r.nodes, r.channels, r.history);
        if !configs.contains(&c) {
            configs.push(c);
        }
    }
    configs.sort_by_key(|&(nodes, channels, history)| (nodes, channels, history));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sustained events/s at delivery p99 < limit; p99 and CPU per event at that step"
    );
    let mut header = format!("{:<5} {:>8} {:>7}", "nodes", "channels", "history");
    for l in &labels {
        let _ = write!(
            header,
            " | {:>20} {:>8} {:>9} {:>9} {:>9} {:>10}",
            format!("{l} events/s"),
            "p99 ms",
            "node µs",
            "redis µs",
            "redis cor",
            "cmds/event"
        );
    }
    if labels.len() > 1 {
        let _ = write!(header, " | {:>6}", "ratio");
    }
    let _ = writeln!(out, "{header}");
    for (nodes, channels, history) in configs {
        let mut row = format!(
            "{nodes:<5} {channels:>8} {:>7}",
            if history { "on" } else { "off" }
        );
        let mut rates = Vec::new();
        for l in &labels {
            let found = reports.iter().find(|r| {
                r.label == *l && (r.nodes, r.channels, r.history) == (nodes, channels, history)
            });
            let step = found.and_then(|r| r.steps.get(r.sustained_step?));
            match (found, step) {
                (Some(r), Some(s)) => {
                    rates.push(r.sustained_events_per_s);
                    let cmds: f64 = s.redis_calls_per_event.values().sum();
                    let _ = write!(
                        row,
                        " | {:>20.0} {:>8.1} {:>9} {:>9} {:>9} {:>10.2}",
                        r.sustained_events_per_s,
                        s.p99_us as f64 / 1e3,
                        opt(s.node_cpu_us_per_event, 1),
                        opt(s.redis_cpu_us_per_event, 1),
                        opt(s.redis_cores, 2),
                        cmds
                    );
                }
                _ => {
                    rates.push(0.0);
                    let _ = write!(
                        row,
                        " | {:>20} {:>8} {:>9} {:>9} {:>9} {:>10}",
                        "-", "-", "-", "-", "-", "-"
                    );
                }
            }
        }
        if labels.len() > 1 {
            let ratio = rates
                .last()
                .zip(rates.first())
                .filter(|(_, first)| **first > 0.0)
                .map(|(last, first)| last / first);
            let _ = write!(row, " | {:>5}x", opt(ratio, 2));
        }
        let _ = writeln!(out, "{row}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_sections_parse_into_cpu_and_command_counts() {
        let mut stats = RedisStats::default();
        parse_info(
            "# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\nused_cpu_sys_children:9.0\r\n",
            &mut stats,
        );
        parse_info(
            "# Commandstats\r\ncmdstat_evalsha:calls=10,usec=250,usec_per_call=25.00,rejected_calls=0,failed_calls=0\r\ncmdstat_publish:calls=3,usec=6,usec_per_call=2.00\r\n",
            &mut stats,
        );
        assert_eq!(stats.cpu_s, 3.75);
        assert_eq!(stats.commands["evalsha"], (10, 250));
        assert_eq!(stats.commands["publish"], (3, 6));
    }
}
