//! One bench run: connect the clients, then time broadcasts (latency mode),
//! ramp a many-channel publish rate (throughput mode), or hold the
//! connections with heartbeats (hold mode), reading the server's CPU and
//! memory from /proc around each phase.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::client::{Dial, Probe, run_client};
use crate::envelope::broadcast_body;
use crate::http1::{HttpClient, HttpError};
use crate::options::Options;
use crate::procfs::{self, CpuTime};
use crate::report::{
    BroadcastRun, ConnectReport, HoldReport, LatencyReport, MemoryReport, Report, ThroughputReport,
    ThroughputStep,
};
use crate::stats::{median, percentile};
use crate::stream::Connector;
use crate::{many_channels, steady};

const BROADCAST_PATH: &str = "/api/ws/broadcast";

/// Why a run could not be carried out at all (as opposed to measuring badly).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The URL is not `ws://host:port` / `http://host:port` on loopback.
    #[error("bad url {0:?}: {1}")]
    Url(String, String),
    /// The broadcast request failed.
    #[error("broadcast request failed: {0}")]
    Http(#[from] HttpError),
    /// The server refused the broadcast request.
    #[error("broadcast answered HTTP {0}: {1}")]
    Status(u16, String),
    /// A publishing task panicked or was cancelled.
    #[error("publisher task failed: {0}")]
    Task(String),
}

/// `scheme://host:port[/...]` -> a loopback socket address. Anything off this
/// machine is refused: the bench only ever loads servers on loopback.
pub fn loopback_addr(url: &str) -> Result<SocketAddr, BenchError> {
    let bad = |why: &str| BenchError::Url(url.to_owned(), why.to_owned());
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.replace("localhost", "127.0.0.1");
    let addr: SocketAddr = authority
        .parse()
        .map_err(|_| bad("expected an ip:port authority"))?;
    if !addr.ip().is_loopback() {
        return Err(bad("only loopback addresses are allowed"));
    }
    Ok(addr)
}

/// The connector for `url`: TLS when the scheme is `wss` or `https`, with
/// the server name taken from the URL (`localhost` or the IP address).
pub fn connector_for(url: &str, opts: &Options) -> Result<Connector, BenchError> {
    let addr = loopback_addr(url)?;
    let (scheme, rest) = url.split_once("://").unwrap_or(("ws", url));
    if !matches!(scheme, "wss" | "https") {
        return Ok(Connector::plain(addr));
    }
    let host = rest.split(['/', ':']).next().unwrap_or("localhost");
    let mut tls = brain_ws_client::Tls::default();
    if let Some(ca) = &opts.ca_file {
        tls = tls
            .with_ca_file(ca)
            .map_err(|e| BenchError::Url(url.to_owned(), e.to_string()))?;
    }
    if opts.dangerous_accept_invalid_certificates {
        tls = tls.dangerous_accept_invalid_certificates();
    }
    Connector::tls(addr, host, tls.client_config()).map_err(|e| BenchError::Url(url.to_owned(), e))
}

/// Server-side readings, absent when the server's process is unknown.
pub(crate) struct ServerProc {
    pid: Option<u32>,
}

impl ServerProc {
    pub(crate) fn cpu(&self) -> Option<CpuTime> {
        self.pid.and_then(|p| procfs::cpu_time(p).ok())
    }
    fn rss(&self) -> Option<u64> {
        self.pid.and_then(|p| procfs::rss_kib(p).ok())
    }
}

pub(crate) fn own_cpu() -> CpuTime {
    procfs::cpu_time(std::process::id()).unwrap_or_default()
}

fn own_rss() -> Option<u64> {
    procfs::rss_kib(std::process::id()).ok()
}

fn per(us: Option<u64>, count: u64) -> Option<f64> {
    (count > 0).then_some(())?;
    us.map(|u| u as f64 / count as f64)
}

/// Cores the rest of the machine used since `started`: all busy time minus
/// the server's and the bench's.
pub(crate) fn other_cores(
    busy0: Option<u64>,
    server_us: Option<u64>,
    client_us: u64,
    started: Instant,
) -> Option<f64> {
    let busy = procfs::machine_busy_us()?.saturating_sub(busy0?);
    let others = busy.saturating_sub(server_us.unwrap_or(0) + client_us);
    Some(others as f64 / started.elapsed().as_micros().max(1) as f64)
}

pub(crate) fn cpu_between(before: Option<CpuTime>, after: Option<CpuTime>) -> Option<u64> {
    Some(after?.micros_since(&before?))
}

/// Runs the bench as `opts` says and returns what it measured.
pub async fn run(opts: &Options) -> Result<Report, BenchError> {
    let ws = connector_for(&opts.url, opts)?;
    let ws_addr = ws.addr();
    let http_url = opts.http.clone().unwrap_or_else(|| {
        opts.url
            .replacen("wss://", "https://", 1)
            .replacen("ws://", "http://", 1)
    });
    let http_connector = connector_for(&http_url, opts)?;
    let server = ServerProc {
        pid: opts
            .server_pid
            .or_else(|| procfs::pid_listening_on(ws_addr.port())),
    };
    let n = opts.connections;
    let throughput = opts.throughput;
    let channels: Vec<String> = if throughput {
        (0..opts.channels.max(1))
            .map(|i| format!("{}-{i}", opts.channel))
            .collect()
    } else {
        vec![opts.channel.clone()]
    };
    let mut report = Report {
        label: opts.label.clone().unwrap_or_else(|| opts.url.clone()),
        url: opts.url.clone(),
        connections: n,
        frame_bytes: opts.frame_bytes,
        client_threads: opts.client_threads,
        server_pid: server.pid,
        ..Report::default()
    };

    // Connect: `n` clients, plus the steady stream's background subscribers.
    let extra = if opts.steady {
        opts.background_connections
    } else {
        0
    };
    let total = n + extra;
    let by_path = |c: &str| {
        Arc::new(Dial {
            connector: ws.clone(),
            path: format!("/ws/channel/{c}"),
            wait_subscribed: !opts.no_wait_subscribed,
            subscribe: Vec::new(),
        })
    };
    // One dial per client (client i uses dials[i % len]).
    let dials: Vec<Arc<Dial>> = match many_channels::dials(opts, &ws, &channels, n) {
        Some(per_client) => per_client,
        None if extra > 0 => {
            let timed = by_path(&opts.channel);
            let background = by_path(&steady::background_channel(&opts.channel));
            (0..total)
                .map(|i| if i < n { &timed } else { &background }.clone())
                .collect()
        }
        None => channels.iter().map(|c| by_path(c)).collect(),
    };
    let probe = Arc::new(Probe::new(total, throughput || opts.steady));
    let rss_base = server.rss();
    let client_rss_base = own_rss();
    let cpu0 = server.cpu();
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(opts.connect_concurrency.max(1)));
    let mut tasks: Vec<JoinHandle<()>> = Vec::with_capacity(total);
    for i in 0..total {
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break;
        };
        let dial = dials[i % dials.len()].clone();
        tasks.push(tokio::spawn(run_client(i, dial, probe.clone(), permit)));
    }
    let connect_deadline =
        started + Duration::from_secs(60) + Duration::from_millis(total as u64 * 10);
    while probe.ready() + probe.failed() < total && Instant::now() < connect_deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let cpu1 = server.cpu();
    report.connect = ConnectReport {
        ready: probe.ready(),
        failed: total - probe.ready().min(total),
        seconds: connect_secs,
        per_second: probe.ready() as f64 / connect_secs.max(1e-9),
        server_cpu_us_per_connection: per(cpu_between(cpu0, cpu1), probe.ready() as u64),
    };
    eprintln!(
        "connected {}/{} in {:.2}s ({:.0} conn/s)",
        report.connect.ready, total, connect_secs, report.connect.per_second
    );

    tokio::time::sleep(opts.settle).await;
    let rss_idle = server.rss();
    let client_rss_idle = own_rss();
    let ready = probe.ready().max(1) as f64;
    report.memory = MemoryReport {
        server_rss_base_kib: rss_base,
        server_rss_idle_kib: rss_idle,
        server_rss_after_kib: None,
        server_kib_per_idle_connection: rss_base
            .zip(rss_idle)
            .map(|(b, i)| (i as f64 - b as f64) / ready),
        client_kib_per_connection: client_rss_base
            .zip(client_rss_idle)
            .map(|(b, i)| (i as f64 - b as f64) / ready),
    };

    let mut http = HttpClient::new(http_connector.clone());
    http.connect().await?;
    if opts.steady {
        let s = steady::steady(opts, &probe, &server, &http_connector, n).await?;
        report.missing += s.missing;
        report.steady = Some(s);
    } else if throughput {
        let per_channel = if dials.len() == n && opts.subscriptions > 0 {
            many_channels::subscribers_per_channel(&channels, &dials)
        } else {
            // Client i is on channel i % k.
            let k = channels.len();
            (0..k).map(|c| ((n + k - 1 - c) / k) as u64).collect()
        };
        let t = throughput_ramp(
            opts,
            &probe,
            &server,
            &http_connector,
            &channels,
            per_channel,
        )
        .await?;
        report.missing += t.steps.iter().map(|s| s.missing).sum::<u64>();
        report.throughput = Some(t);
    } else if let Some(hold_for) = opts.hold {
        let h = hold(opts, &probe, &mut http, hold_for).await?;
        report.missing += h.missing_after;
        report.hold = Some(h);
    } else {
        let l = latency(opts, &probe, &server, &mut http, 0, opts.broadcasts).await?;
        report.missing += l.missing;
        report.latency = Some(l);
    }
    report.memory.server_rss_after_kib = server.rss();
    report.dropped = probe.dropped();
    report.connect.failed = report.connect.failed.max(probe.failed());
    report.last_error = probe.last_error();
    for t in tasks {
        t.abort();
    }
    Ok(report)
}

/// Sends one broadcast request and checks it was accepted; returns the
/// server's `subscribers` answer.
pub(crate) async fn post_broadcast(
    http: &mut HttpClient,
    body: &str,
) -> Result<Option<u64>, BenchError> {
    let response = http.post_json(BROADCAST_PATH, body.as_bytes()).await?;
    if response.status != 200 {
        return Err(BenchError::Status(
            response.status,
            String::from_utf8_lossy(&response.body).into_owned(),
        ));
    }
    Ok(serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|v| v.get("subscribers")?.as_u64()))
}

/// Times `count` broadcasts on the one channel, seqs from `first_seq`.
async fn latency(
    opts: &Options,
    probe: &Probe,
    server: &ServerProc,
    http: &mut HttpClient,
    first_seq: u64,
    count: usize,
) -> Result<LatencyReport, BenchError> {
    let n = opts.connections;
    let mut report = LatencyReport {
        broadcasts: count,
        ..LatencyReport::default()
    };
    let late0 = probe.late();
    let dup0 = probe.duplicates();
    let server_cpu0 = server.cpu();
    let client_cpu0 = own_cpu();
    let busy0 = procfs::machine_busy_us();
    let started = Instant::now();
    let mut all: Vec<u64> = Vec::new();
    for b in 0..count as u64 {
        let seq = first_seq + b;
        let body = broadcast_body(&opts.channel, seq, opts.frame_bytes);
        probe.begin(seq, n);
        let sent = probe.now_ns();
        let subscribers = post_broadcast(http, &body).await?;
        let http_ns = probe.now_ns() - sent;
        let received = probe
            .wait_current(tokio::time::Instant::now() + opts.timeout)
            .await;
        let mut delays: Vec<u64> = probe
            .end()
            .into_iter()
            .map(|t| t.saturating_sub(sent) / 1000)
            .collect();
        delays.sort_unstable();
        all.extend_from_slice(&delays);
        report.delivered += delays.len() as u64;
        report.missing += n.saturating_sub(received) as u64;
        report.runs.push(BroadcastRun {
            p50_us: percentile(&delays, 0.5),
            p99_us: percentile(&delays, 0.99),
            last_us: delays.last().copied().unwrap_or(0),
            http_us: http_ns / 1000,
            received,
            subscribers,
        });
        tokio::time::sleep(opts.gap).await;
    }
    let server_cpu = cpu_between(server_cpu0, server.cpu());
    let client_cpu = own_cpu().micros_since(&client_cpu0);
    report.other_cores = other_cores(busy0, server_cpu, client_cpu, started);
    let runs = &report.runs;
    report.p50_us = median(&runs.iter().map(|r| r.p50_us).collect::<Vec<_>>());
    report.p99_us = median(&runs.iter().map(|r| r.p99_us).collect::<Vec<_>>());
    report.last_us = median(&runs.iter().map(|r| r.last_us).collect::<Vec<_>>());
    all.sort_unstable();
    report.all_p50_us = percentile(&all, 0.5);
    report.all_p99_us = percentile(&all, 0.99);
    report.late = probe.late() - late0;
    report.duplicates = probe.duplicates() - dup0;
    report.server_cpu_us_per_delivery = per(server_cpu, report.delivered);
    report.client_cpu_us_per_delivery = per(Some(client_cpu), report.delivered).unwrap_or(0.0);
    Ok(report)
}

/// Holds every connection for `hold_for`, then proves they still receive.
async fn hold(
    opts: &Options,
    probe: &Probe,
    http: &mut HttpClient,
    hold_for: Duration,
) -> Result<HoldReport, BenchError> {
    let started = Instant::now();
    while started.elapsed() < hold_for {
        let left = hold_for.saturating_sub(started.elapsed());
        tokio::time::sleep(left.min(Duration::from_secs(10))).await;
        eprintln!(
            "hold {:>4.0}s: {} open, {} dropped, {} pings answered",
            started.elapsed().as_secs_f64(),
            probe.ready() - probe.dropped(),
            probe.dropped(),
            probe.pings()
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    let dropped = probe.dropped();
    let pings_answered = probe.pings();
    // The holding is only worth something if the connections still work.
    let n = opts.connections;
    let body = broadcast_body(&opts.channel, 0, opts.frame_bytes);
    probe.begin(0, n);
    post_broadcast(http, &body).await?;
    let received = probe
        .wait_current(tokio::time::Instant::now() + opts.timeout)
        .await;
    probe.end();
    Ok(HoldReport {
        seconds,
        held: probe.ready().saturating_sub(dropped),
        dropped,
        pings_answered,
        missing_after: n.saturating_sub(received) as u64,
    })
}

/// What the publishers of a ramp share across its steps: the channels,
/// the deliveries one publication on each makes, and the sequence numbers.
pub(crate) struct Publishing {
    pub(crate) channels: Arc<Vec<String>>,
    /// `per_channel[c]`: the deliveries one publication on channel `c` makes.
    pub(crate) per_channel: Arc<Vec<u64>>,
    pub(crate) seq: Arc<AtomicU64>,
    pub(crate) probe: Arc<Probe>,
    pub(crate) frame_bytes: usize,
    pub(crate) step: Duration,
}

/// What the publishers did in one step.
pub(crate) struct PublishedStep {
    /// Publications answered 200.
    pub(crate) published: u64,
    /// Deliveries those publications should make.
    pub(crate) expected: u64,
    /// The first publisher's error, if one failed (it stopped there).
    pub(crate) first_error: Option<BenchError>,
}

impl Publishing {
    /// One step of a ramp: every keep-alive connection in `publishers`
    /// posts `POST /api/ws/broadcast` round-robin over the channels on a
    /// fixed schedule, `rate` publications per second in all from `t0` for
    /// the step (publisher `idx` at `t0 + idx/rate`, then every
    /// `publishers/rate`), marking each sequence number sent on the probe
    /// and, with `publish_hist`, timing each request. The connections are
    /// handed back in `publishers` (those whose task panicked are gone).
    pub(crate) async fn step(
        &self,
        publishers: &mut Vec<HttpClient>,
        rate: f64,
        t0: tokio::time::Instant,
        publish_hist: Option<&Arc<crate::stats::Histogram>>,
    ) -> PublishedStep {
        let p = publishers.len();
        let (frame_bytes, step) = (self.frame_bytes, self.step);
        let mut handles = Vec::with_capacity(p);
        for (idx, mut client) in publishers.drain(..).enumerate() {
            let probe = self.probe.clone();
            let seq = self.seq.clone();
            let channels = self.channels.clone();
            let per_channel = self.per_channel.clone();
            let publish_hist = publish_hist.cloned();
            handles.push(tokio::spawn(async move {
                let (mut sent, mut expected, mut error) = (0u64, 0u64, None);
                let period = Duration::from_secs_f64(p as f64 / rate);
                let mut next = t0 + Duration::from_secs_f64(idx as f64 / rate);
                while next < t0 + step {
                    tokio::time::sleep_until(next).await;
                    let s = seq.fetch_add(1, Ordering::Relaxed);
                    let c = (s % channels.len() as u64) as usize;
                    let body = broadcast_body(&channels[c], s, frame_bytes);
                    probe.mark_sent(s);
                    let at = probe.now_ns();
                    match post_broadcast(&mut client, &body).await {
                        Ok(_) => {
                            if let Some(h) = &publish_hist {
                                h.record(probe.now_ns() - at);
                            }
                            sent += 1;
                            expected += per_channel[c];
                        }
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    }
                    next += period;
                }
                (client, sent, expected, error)
            }));
        }
        let mut done = PublishedStep {
            published: 0,
            expected: 0,
            first_error: None,
        };
        for h in handles {
            if let Ok((client, sent, expected, error)) = h.await {
                publishers.push(client);
                done.published += sent;
                done.expected += expected;
                done.first_error = done.first_error.or(error);
            }
        }
        done
    }
}

/// The throughput ramp: each step publishes round-robin over the channels at
/// a fixed rate for `--step`, waits for the deliveries to drain, and the next
/// step multiplies the rate, until two steps in a row degrade.
async fn throughput_ramp(
    opts: &Options,
    probe: &Arc<Probe>,
    server: &ServerProc,
    http_connector: &Connector,
    channels: &[String],
    per_channel: Vec<u64>,
) -> Result<ThroughputReport, BenchError> {
    let k = channels.len();
    let mut report = ThroughputReport {
        channels: k,
        publishers: opts.publishers.max(1),
        p99_limit_us: opts.p99_limit.as_micros() as u64,
        ..ThroughputReport::default()
    };
    let mut publishers: Vec<HttpClient> = Vec::new();
    for _ in 0..report.publishers {
        let mut c = HttpClient::new(http_connector.clone());
        c.connect().await?;
        publishers.push(c);
    }
    let publishing = Publishing {
        channels: Arc::new(channels.to_vec()),
        per_channel: Arc::new(per_channel),
        seq: Arc::new(AtomicU64::new(0)),
        probe: probe.clone(),
        frame_bytes: opts.frame_bytes,
        step: opts.step,
    };
    let mut rate = opts.start_rate.max(1.0);
    // On a shared machine one step can degrade from a neighbour's burst; the
    // ramp ends at the second degraded step in a row.
    let mut degraded_in_a_row = 0;
    for _ in 0..opts.max_steps {
        probe.hist.reset();
        let delivered0 = probe.delivered();
        let cpu0 = server.cpu();
        let client_cpu0 = own_cpu();
        let busy0 = procfs::machine_busy_us();
        let started = Instant::now();
        let step_start = probe.now_ns();
        let t0 = tokio::time::Instant::now();
        let PublishedStep {
            published,
            expected,
            first_error,
        } = publishing.step(&mut publishers, rate, t0, None).await;
        let publish_secs = t0.elapsed().as_secs_f64();
        let drain_deadline = Instant::now() + opts.timeout;
        while probe.delivered() - delivered0 < expected && Instant::now() < drain_deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let delivered = probe.delivered() - delivered0;
        let span_s = (probe.last_delivery_ns().saturating_sub(step_start)) as f64 / 1e9;
        let cpu = cpu_between(cpu0, server.cpu());
        let client_cpu = own_cpu().micros_since(&client_cpu0);
        let wall_us = (probe.now_ns() - step_start) as f64 / 1e3;
        let step = ThroughputStep {
            target_rate: rate,
            publish_rate: published as f64 / publish_secs.max(1e-9),
            published,
            expected,
            delivered,
            missing: expected.saturating_sub(delivered),
            deliveries_per_s: delivered as f64 / span_s.max(1e-9),
            p50_us: probe.hist.quantile(0.5) / 1000,
            p99_us: probe.hist.quantile(0.99) / 1000,
            server_cpu_us_per_delivery: per(cpu, delivered),
            server_cores: cpu.map(|c| c as f64 / wall_us),
            client_cores: client_cpu as f64 / wall_us,
            other_cores: other_cores(busy0, cpu, client_cpu, started),
            degraded: false,
        };
        let degraded = step.p99_us > report.p99_limit_us
            || step.missing > 0
            || step.publish_rate < 0.8 * rate
            || first_error.is_some();
        let step = ThroughputStep { degraded, ..step };
        eprintln!(
            "step {:>8.0} pub/s: achieved {:>8.0} pub/s, {:>9.0} deliveries/s, p50 {:.2} ms, p99 {:.2} ms, missing {}, cores server {} client {:.2} others {}{}",
            rate,
            step.publish_rate,
            step.deliveries_per_s,
            step.p50_us as f64 / 1e3,
            step.p99_us as f64 / 1e3,
            step.missing,
            step.server_cores.map_or("-".into(), |c| format!("{c:.2}")),
            step.client_cores,
            step.other_cores.map_or("-".into(), |c| format!("{c:.2}")),
            if degraded { " (degraded)" } else { "" }
        );
        if !degraded {
            report.sustained_deliveries_per_s =
                report.sustained_deliveries_per_s.max(step.deliveries_per_s);
        }
        report.peak_deliveries_per_s = report.peak_deliveries_per_s.max(step.deliveries_per_s);
        report.steps.push(step);
        if let Some(e) = first_error {
            return Err(e);
        }
        degraded_in_a_row = if degraded { degraded_in_a_row + 1 } else { 0 };
        if degraded_in_a_row >= 2 {
            break;
        }
        rate *= opts.rate_factor;
        tokio::time::sleep(opts.gap).await;
    }
    Ok(report)
}
