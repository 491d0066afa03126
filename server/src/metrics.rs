//! The metrics of `GET /metrics`, in one `prometheus-client` registry
//! rendered as Prometheus text (version 0.0.4). Recording stays one relaxed
//! atomic add on the hot path (a `Counter` is an `Arc<AtomicU64>`), and the
//! values only the hub or the broker know (open connections, subscribers
//! per channel, Redis state) are read when scraped, by collectors.

use std::fmt::Formatter;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Upper bounds of the fan-out latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
];

/// Why a connection attempt was refused before the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    ConnectionLimit,
    UserConnectionLimit,
    Unauthorized,
    /// `/ws/channel/{c}` on a channel the connection may not use.
    Forbidden,
    InvalidChannel,
    /// An `Origin` not in `allowed_origins`.
    Origin,
    /// The HTTP request head did not arrive within `handshake_timeout`.
    HandshakeTimeout,
    /// The TLS handshake failed (a client that does not trust the
    /// certificate, or that spoke plain HTTP to the TLS port).
    TlsHandshake,
}

impl Refusal {
    const ALL: [Refusal; 8] = [
        Refusal::ConnectionLimit,
        Refusal::UserConnectionLimit,
        Refusal::Unauthorized,
        Refusal::Forbidden,
        Refusal::InvalidChannel,
        Refusal::Origin,
        Refusal::HandshakeTimeout,
        Refusal::TlsHandshake,
    ];

    fn label(self) -> &'static str {
        match self {
            Refusal::ConnectionLimit => "connection_limit",
            Refusal::UserConnectionLimit => "user_connection_limit",
            Refusal::Unauthorized => "unauthorized",
            Refusal::Forbidden => "forbidden",
            Refusal::InvalidChannel => "invalid_channel",
            Refusal::Origin => "origin",
            Refusal::HandshakeTimeout => "handshake_timeout",
            Refusal::TlsHandshake => "tls_handshake",
        }
    }
}

/// The `reason` label of `brain_ws_refused_total`.
type ReasonLabel = [(&'static str, &'static str); 1];

/// The node's counters. Each is registered in [`Metrics::register`] under
/// its name without `_total` (the encoder adds it to counters).
#[derive(Default)]
pub(crate) struct Metrics {
    pub(crate) connections_opened: Counter,
    pub(crate) connections_closed: Counter,
    pub(crate) messages_in: Counter,
    pub(crate) messages_out: Counter,
    pub(crate) publications: Counter,
    pub(crate) client_errors: Counter,
    pub(crate) slow_consumer_disconnects: Counter,
    pub(crate) heartbeat_timeouts: Counter,
    pub(crate) oversize_disconnects: Counter,
    /// Connections closed with 1002 or 1007 for breaking the WebSocket protocol.
    pub(crate) protocol_error_disconnects: Counter,
    /// Client frames dropped by the rate limit.
    pub(crate) rate_limited: Counter,
    /// Subscribes and publishes refused by channel authorization.
    pub(crate) forbidden: Counter,
    pub(crate) policy_violation_disconnects: Counter,
    pub(crate) token_expired_disconnects: Counter,
    /// Times local subscribers were told (`subscribed`, `recovered: false`)
    /// that a channel's stream restarted or jumped past events no one could
    /// read back.
    pub(crate) stream_discontinuities: Counter,
    refusals: Family<ReasonLabel, Counter>,
    fanout: Arc<FanoutLatency>,
}

/// One relaxed add per event.
pub(crate) fn inc(counter: &Counter) {
    counter.inc();
}

impl Metrics {
    pub(crate) fn refused(&self, why: Refusal) {
        // A read lock on the family's map: refusals are not the hot path.
        self.refusals
            .get_or_create(&[("reason", why.label())])
            .inc();
    }

    /// Records one fan-out: how long it took and how many frames it queued.
    pub(crate) fn fanout(&self, took: Duration, delivered: u64) {
        self.messages_out.inc_by(delivered);
        self.fanout.record(took);
    }

    /// Registers every metric of this node in `registry`; `gauges` reads the
    /// hub's counts when scraped.
    pub(crate) fn register(&self, registry: &mut Registry, gauges: impl HubGauges) {
        let counters: [(&str, &str, &Counter); 15] = [
            (
                "brain_ws_connections_opened",
                "WebSocket connections accepted",
                &self.connections_opened,
            ),
            (
                "brain_ws_connections_closed",
                "WebSocket connections ended",
                &self.connections_closed,
            ),
            (
                "brain_ws_messages_in",
                "Messages received from clients",
                &self.messages_in,
            ),
            (
                "brain_ws_messages_out",
                "Event frames queued to clients by fan-out",
                &self.messages_out,
            ),
            (
                "brain_ws_publications",
                "Events published (channel, user or all)",
                &self.publications,
            ),
            (
                "brain_ws_client_errors",
                "Error messages sent for bad client input",
                &self.client_errors,
            ),
            (
                "brain_ws_slow_consumer_disconnects",
                "Connections closed because their queue overflowed",
                &self.slow_consumer_disconnects,
            ),
            (
                "brain_ws_heartbeat_timeouts",
                "Connections closed for not answering pings",
                &self.heartbeat_timeouts,
            ),
            (
                "brain_ws_oversize_disconnects",
                "Connections closed for sending a frame over the size limit",
                &self.oversize_disconnects,
            ),
            (
                "brain_ws_protocol_error_disconnects",
                "Connections closed with 1002 or 1007 for breaking the WebSocket protocol",
                &self.protocol_error_disconnects,
            ),
            (
                "brain_ws_rate_limited",
                "Client messages dropped by the per-connection rate limit",
                &self.rate_limited,
            ),
            (
                "brain_ws_forbidden",
                "Subscribes and publishes refused by channel authorization",
                &self.forbidden,
            ),
            (
                "brain_ws_stream_discontinuities",
                "Times subscribers were told a history channel's stream restarted or lost events (subscribed with recovered false)",
                &self.stream_discontinuities,
            ),
            (
                "brain_ws_policy_violation_disconnects",
                "Connections closed with 4501 for sustained rate-limit violations",
                &self.policy_violation_disconnects,
            ),
            (
                "brain_ws_token_expired_disconnects",
                "Connections closed with 4002 because their token expired",
                &self.token_expired_disconnects,
            ),
        ];
        registry.register_collector(Box::new(HubCollector(gauges)));
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        // Every reason is a series from the start, at 0.
        for why in Refusal::ALL {
            let _ = self.refusals.get_or_create(&[("reason", why.label())]);
        }
        registry.register(
            "brain_ws_refused",
            "Connection attempts refused before the WebSocket upgrade, by reason",
            self.refusals.clone(),
        );
        registry.register_collector(Box::new(self.fanout.clone()));
    }
}

/// The fan-out latency histogram as plain atomics: `prometheus-client`'s
/// `Histogram` takes a lock per observation, this takes relaxed adds.
#[derive(Debug, Default)]
struct FanoutLatency {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl FanoutLatency {
    fn record(&self, took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

impl Collector for FanoutLatency {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let buckets: Vec<(f64, u64)> = LATENCY_BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(bound, n)| (*bound, get(n)))
            .collect();
        encoder
            .encode_descriptor(
                "brain_ws_fanout_seconds",
                "Time to queue one event to every recipient on this node.",
                None,
                MetricType::Histogram,
            )?
            .encode_histogram::<NoLabelSet>(
                get(&self.sum_ns) as f64 / 1e9,
                get(&self.count),
                &buckets,
                None,
            )
    }
}

/// What the hub knows at scrape time.
pub(crate) trait HubGauges: Send + Sync + 'static {
    /// Open connections and distinct users on this node.
    fn connections_and_users(&self) -> (u64, u64);
    /// Subscribers per channel with at least one on this node.
    fn subscribers_per_channel(&self) -> Vec<(String, u64)>;
}

struct HubCollector<G>(G);

impl<G> std::fmt::Debug for HubCollector<G> {
    fn fmt(&self, f: &mut Formatter<'_>) -> std::fmt::Result {
        f.write_str("HubCollector")
    }
}

impl<G: HubGauges> Collector for HubCollector<G> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (connections, users) = self.0.connections_and_users();
        gauge(
            &mut encoder,
            "brain_ws_connections",
            "Open WebSocket connections.",
            connections,
        )?;
        gauge(
            &mut encoder,
            "brain_ws_users",
            "Distinct connected users.",
            users,
        )?;
        let mut family = encoder.encode_descriptor(
            "brain_ws_channel_subscribers",
            "Subscribers per channel on this node.",
            None,
            MetricType::Gauge,
        )?;
        // Channel names cannot contain quotes or backslashes (ChannelName).
        for (channel, n) in self.0.subscribers_per_channel() {
            family
                .encode_family(&[("channel", channel.as_str())])?
                .encode_gauge(&n)?;
        }
        Ok(())
    }
}

/// Encodes one unlabelled gauge read at scrape time.
pub(crate) fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    encoder
        .encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&value)
}

/// Encodes one unlabelled counter read at scrape time (`name` without `_total`).
pub(crate) fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    encoder
        .encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, u64, u64>(&value, None)
}

/// The registry as Prometheus text.
pub(crate) fn render(registry: &Registry) -> String {
    let mut out = String::with_capacity(4096);
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, registry);
    out
}

#[cfg(test)]
mod tests {
    use std::hint::black_box;
    use std::time::Instant;

    use super::*;

    /// The hot-path cost of recording, side by side with the hand-rolled
    /// atomics this module used before `prometheus-client` (a bare
    /// `AtomicU64` per counter). Run in release:
    /// `cargo test --release -p brain-ws-server --lib metrics::tests::hot_path -- --ignored --nocapture`
    #[test]
    #[ignore = "a benchmark: run in release with --ignored --nocapture"]
    fn hot_path_cost_against_bare_atomics() {
        const N: u64 = 50_000_000;
        let time = |what: &str, f: &(dyn Fn() + Sync), threads: usize| {
            let started = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        for _ in 0..N {
                            f();
                        }
                    });
                }
            });
            let ns = started.elapsed().as_nanos() as f64 / N as f64;
            println!("{what:<44} {threads} thread(s): {ns:6.2} ns/op");
            ns
        };
        let bare = AtomicU64::new(0);
        let metrics = Metrics::default();
        let old_fanout = (AtomicU64::new(0), FanoutLatency::default());
        for threads in [1, 2] {
            let before = time(
                "before: AtomicU64::fetch_add(1, Relaxed)",
                &|| {
                    black_box(&bare).fetch_add(1, Ordering::Relaxed);
                },
                threads,
            );
            let after = time(
                "after: prometheus-client Counter (inc)",
                &|| inc(black_box(&metrics.messages_in)),
                threads,
            );
            println!("counter ratio after/before: {:.2}", after / before);
            let before = time(
                "before: fan-out record (bare atomics)",
                &|| {
                    let (out, latency) = black_box(&old_fanout);
                    out.fetch_add(3, Ordering::Relaxed);
                    latency.record(Duration::from_micros(40));
                },
                threads,
            );
            let after = time(
                "after: Metrics::fanout",
                &|| black_box(&metrics).fanout(Duration::from_micros(40), 3),
                threads,
            );
            println!("fan-out ratio after/before: {:.2}", after / before);
        }
        assert_eq!(metrics.messages_in.get(), 3 * N);
    }

    #[test]
    fn every_refusal_reason_is_a_series_from_the_start() {
        let metrics = Metrics::default();
        let mut registry = Registry::default();
        struct NoHub;
        impl HubGauges for NoHub {
            fn connections_and_users(&self) -> (u64, u64) {
                (2, 1)
            }
            fn subscribers_per_channel(&self) -> Vec<(String, u64)> {
                vec![("missions".into(), 2)]
            }
        }
        metrics.register(&mut registry, NoHub);
        metrics.refused(Refusal::Origin);
        metrics.fanout(Duration::from_micros(70), 4);
        let text = render(&registry);
        for why in Refusal::ALL {
            let n = u8::from(why == Refusal::Origin);
            assert!(
                text.contains(&format!(
                    "\nbrain_ws_refused_total{{reason=\"{}\"}} {n}\n",
                    why.label()
                )),
                "{text}"
            );
        }
        for line in [
            "brain_ws_connections 2",
            "brain_ws_users 1",
            "brain_ws_channel_subscribers{channel=\"missions\"} 2",
            "brain_ws_messages_out_total 4",
            "brain_ws_fanout_seconds_bucket{le=\"5e-05\"} 0",
            "brain_ws_fanout_seconds_bucket{le=\"0.0001\"} 1",
            "brain_ws_fanout_seconds_bucket{le=\"+Inf\"} 1",
            "brain_ws_fanout_seconds_sum 0.00007",
            "brain_ws_fanout_seconds_count 1",
            "# TYPE brain_ws_fanout_seconds histogram",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line}\n{text}");
        }
    }
}
