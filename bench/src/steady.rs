//! The steady-stream shape (issue 17): events flow continuously instead of
//! one burst at a time. One HTTP publisher sends `--rate` events per second
//! of `--frame-bytes` to the `-n` subscribers of `--channel` for
//! `--duration`; meanwhile a second publisher sends `--background-rate`
//! events of `--background-frame-bytes` to `{channel}-bg`, which
//! `--background-connections` other clients subscribe to. Every delivery of
//! a timed event is timed from just before its request was written; the
//! report gives p50/p99/p99.9 (log histogram, ~3% resolution) and the exact
//! maximum over all of them. This is the traffic that showed the missing
//! `TCP_NODELAY`: a small write in flight while the next one goes out.
//!
//! ```text
//! brain-ws-bench -n 1000 --steady --rate 20 --frame-bytes 150 --duration 10s
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::client::Probe;
use crate::envelope::{broadcast_body, typed_broadcast_body};
use crate::http1::HttpClient;
use crate::options::Options;
use crate::procfs;
use crate::run::{BenchError, ServerProc, cpu_between, other_cores, own_cpu, post_broadcast};
use crate::stream::Connector;

/// The event type of background traffic: clients do not time it.
pub const BACKGROUND_EVENT_TYPE: &str = "bench_bg";

/// The background channel of `channel`.
pub fn background_channel(channel: &str) -> String {
    format!("{channel}-bg")
}

/// What a steady stream measured. Latencies in microseconds from just before
/// the event's HTTP request was written to the client's read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SteadyReport {
    /// Timed events per second asked for.
    pub rate: f64,
    /// Timed events sent.
    pub events: u64,
    /// Timed events per second achieved.
    pub achieved_rate: f64,
    /// Background events sent (to `{channel}-bg`).
    pub background_events: u64,
    /// Background events per second achieved.
    pub background_rate: f64,
    /// Deliveries of timed events expected (events x subscribers).
    pub expected: u64,
    /// Deliveries of timed events received.
    pub delivered: u64,
    /// expected - delivered (when positive).
    pub missing: u64,
    /// Median delivery latency.
    pub p50_us: u64,
    /// 99th percentile delivery latency.
    pub p99_us: u64,
    /// 99.9th percentile delivery latency.
    pub p999_us: u64,
    /// Slowest delivery.
    pub max_us: u64,
    /// Server CPU per delivery, timed and background deliveries together.
    pub server_cpu_us_per_delivery: Option<f64>,
    /// Server CPU seconds per wall second during the stream.
    pub server_cores: Option<f64>,
    /// CPU seconds per wall second that other processes used meanwhile.
    pub other_cores: Option<f64>,
}

/// Publishes `count` events at `rate` per second from `t0`, each made by
/// `body(seq)`; `before_send(seq)` runs just before each request. Returns
/// the events sent. A publisher that falls behind sends at once (no event is
/// skipped), so the rate is a ceiling.
async fn publish_at_rate(
    http: &mut HttpClient,
    rate: f64,
    until: tokio::time::Instant,
    body: impl Fn(u64) -> String,
    before_send: impl Fn(u64),
) -> Result<u64, BenchError> {
    let t0 = tokio::time::Instant::now();
    let period = Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let mut seq = 0u64;
    let mut next = t0;
    while next < until {
        tokio::time::sleep_until(next).await;
        let body = body(seq);
        before_send(seq);
        post_broadcast(http, &body).await?;
        seq += 1;
        next += period;
    }
    Ok(seq)
}

/// Runs the steady stream; `n` clients are on `--channel` and
/// `--background-connections` more on its background channel.
pub(crate) async fn steady(
    opts: &Options,
    probe: &Arc<Probe>,
    server: &ServerProc,
    http_connector: &Connector,
    n: usize,
) -> Result<SteadyReport, BenchError> {
    let mut timed = HttpClient::new(http_connector.clone());
    timed.connect().await?;
    let mut background = HttpClient::new(http_connector.clone());
    background.connect().await?;

    probe.hist.reset();
    let delivered0 = probe.delivered();
    let cpu0 = server.cpu();
    let client_cpu0 = own_cpu();
    let busy0 = procfs::machine_busy_us();
    let started = Instant::now();
    let until = tokio::time::Instant::now() + opts.duration;

    let bg_channel = background_channel(&opts.channel);
    let bg_rate = opts.background_rate;
    let bg_bytes = opts.background_frame_bytes;
    let bg = tokio::spawn(async move {
        if bg_rate <= 0.0 {
            return Ok(0);
        }
        publish_at_rate(
            &mut background,
            bg_rate,
            until,
            |seq| typed_broadcast_body(&bg_channel, BACKGROUND_EVENT_TYPE, seq, bg_bytes),
            |_| {},
        )
        .await
    });
    let events = publish_at_rate(
        &mut timed,
        opts.rate,
        until,
        |seq| broadcast_body(&opts.channel, seq, opts.frame_bytes),
        |seq| probe.mark_sent(seq),
    )
    .await?;
    let publish_secs = started.elapsed().as_secs_f64();
    let background_events = bg.await.map_err(|e| BenchError::Task(e.to_string()))??;

    let expected = events * n as u64;
    let drain_deadline = Instant::now() + opts.timeout;
    while probe.delivered() - delivered0 < expected && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let delivered = probe.delivered() - delivered0;
    let cpu = cpu_between(cpu0, server.cpu());
    let client_cpu = own_cpu().micros_since(&client_cpu0);
    let wall_us = started.elapsed().as_micros().max(1) as f64;
    let all_deliveries = delivered + background_events * opts.background_connections as u64;
    Ok(SteadyReport {
        rate: opts.rate,
        events,
        achieved_rate: events as f64 / publish_secs.max(1e-9),
        background_events,
        background_rate: background_events as f64 / publish_secs.max(1e-9),
        expected,
        delivered,
        missing: expected.saturating_sub(delivered),
        p50_us: probe.hist.quantile(0.5) / 1000,
        p99_us: probe.hist.quantile(0.99) / 1000,
        p999_us: probe.hist.quantile(0.999) / 1000,
        max_us: probe.hist.max() / 1000,
        server_cpu_us_per_delivery: cpu
            .filter(|_| all_deliveries > 0)
            .map(|c| c as f64 / all_deliveries as f64),
        server_cores: cpu.map(|c| c as f64 / wall_us),
        other_cores: other_cores(busy0, cpu, client_cpu, started),
    })
}
