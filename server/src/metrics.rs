//! Counters for `GET /metrics` (Prometheus text format), kept as plain
//! atomics: recording is one relaxed add on the hot path, and rendering
//! happens only when scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

/// The node's counters.
#[derive(Default)]
pub(crate) struct Metrics {
    pub(crate) connections_opened: AtomicU64,
    pub(crate) connections_closed: AtomicU64,
    pub(crate) messages_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) publications: AtomicU64,
    pub(crate) client_errors: AtomicU64,
    pub(crate) slow_consumer_disconnects: AtomicU64,
    pub(crate) heartbeat_timeouts: AtomicU64,
    pub(crate) oversize_disconnects: AtomicU64,
    /// Connections closed with 1002 or 1007 for breaking the WebSocket protocol.
    pub(crate) protocol_error_disconnects: AtomicU64,
    /// Client frames dropped by the rate limit.
    pub(crate) rate_limited: AtomicU64,
    /// Subscribes and publishes refused by channel authorization.
    pub(crate) forbidden: AtomicU64,
    pub(crate) policy_violation_disconnects: AtomicU64,
    pub(crate) token_expired_disconnects: AtomicU64,
    /// Times local subscribers were told (`subscribed`, `recovered: false`)
    /// that a channel's stream restarted or jumped past events no one could
    /// read back.
    pub(crate) stream_discontinuities: AtomicU64,
    refusals: [AtomicU64; Refusal::ALL.len()],
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_ns: AtomicU64,
}

/// Point-in-time values the hub knows, rendered alongside the counters.
pub(crate) struct Gauges<'a> {
    pub(crate) connections: u64,
    pub(crate) users: u64,
    pub(crate) channels: &'a [(String, u64)],
}

pub(crate) fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub(crate) fn refused(&self, why: Refusal) {
        let index = Refusal::ALL.iter().position(|r| *r == why).unwrap_or(0);
        inc(&self.refusals[index]);
    }

    /// Records one fan-out: how long it took and how many frames it queued.
    pub(crate) fn fanout(&self, took: Duration, delivered: u64) {
        self.messages_out.fetch_add(delivered, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            inc(&self.latency_buckets[i]);
        }
        inc(&self.latency_count);
        self.latency_sum_ns.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The Prometheus text exposition.
    pub(crate) fn render(&self, gauges: &Gauges<'_>) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::with_capacity(4096);
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "brain_ws_connections",
            "gauge",
            "Open WebSocket connections.",
            gauges.connections,
        );
        metric(
            "brain_ws_users",
            "gauge",
            "Distinct connected users.",
            gauges.users,
        );
        metric(
            "brain_ws_connections_opened_total",
            "counter",
            "WebSocket connections accepted.",
            get(&self.connections_opened),
        );
        metric(
            "brain_ws_connections_closed_total",
            "counter",
            "WebSocket connections ended.",
            get(&self.connections_closed),
        );
        metric(
            "brain_ws_messages_in_total",
            "counter",
            "Messages received from clients.",
            get(&self.messages_in),
        );
        metric(
            "brain_ws_messages_out_total",
            "counter",
            "Event frames queued to clients by fan-out.",
            get(&self.messages_out),
        );
        metric(
            "brain_ws_publications_total",
            "counter",
            "Events published (channel, user or all).",
            get(&self.publications),
        );
        metric(
            "brain_ws_client_errors_total",
            "counter",
            "Error messages sent for bad client input.",
            get(&self.client_errors),
        );
        metric(
            "brain_ws_slow_consumer_disconnects_total",
            "counter",
            "Connections closed because their queue overflowed.",
            get(&self.slow_consumer_disconnects),
        );
        metric(
            "brain_ws_heartbeat_timeouts_total",
            "counter",
            "Connections closed for not answering pings.",
            get(&self.heartbeat_timeouts),
        );
        metric(
            "brain_ws_oversize_disconnects_total",
            "counter",
            "Connections closed for sending a frame over the size limit.",
            get(&self.oversize_disconnects),
        );
        metric(
            "brain_ws_protocol_error_disconnects_total",
            "counter",
            "Connections closed with 1002 or 1007 for breaking the WebSocket protocol.",
            get(&self.protocol_error_disconnects),
        );
        metric(
            "brain_ws_rate_limited_total",
            "counter",
            "Client messages dropped by the per-connection rate limit.",
            get(&self.rate_limited),
        );
        metric(
            "brain_ws_forbidden_total",
            "counter",
            "Subscribes and publishes refused by channel authorization.",
            get(&self.forbidden),
        );
        metric(
            "brain_ws_stream_discontinuities_total",
            "counter",
            "Times subscribers were told a history channel's stream restarted or lost events (subscribed with recovered false).",
            get(&self.stream_discontinuities),
        );
        metric(
            "brain_ws_policy_violation_disconnects_total",
            "counter",
            "Connections closed with 4501 for sustained rate-limit violations.",
            get(&self.policy_violation_disconnects),
        );
        metric(
            "brain_ws_token_expired_disconnects_total",
            "counter",
            "Connections closed with 4002 because their token expired.",
            get(&self.token_expired_disconnects),
        );

        let _ = writeln!(
            out,
            "# HELP brain_ws_refused_total Connection attempts refused before the WebSocket upgrade, by reason.\n# TYPE brain_ws_refused_total counter"
        );
        for (i, why) in Refusal::ALL.iter().enumerate() {
            let _ = writeln!(
                out,
                "brain_ws_refused_total{{reason=\"{}\"}} {}",
                why.label(),
                get(&self.refusals[i])
            );
        }

        let _ = writeln!(
            out,
            "# HELP brain_ws_channel_subscribers Subscribers per channel on this node.\n# TYPE brain_ws_channel_subscribers gauge"
        );
        for (channel, n) in gauges.channels {
            // Channel names cannot contain quotes or backslashes (ChannelName).
            let _ = writeln!(
                out,
                "brain_ws_channel_subscribers{{channel=\"{channel}\"}} {n}"
            );
        }

        let _ = writeln!(
            out,
            "# HELP brain_ws_fanout_seconds Time to queue one event to every recipient on this node.\n# TYPE brain_ws_fanout_seconds histogram"
        );
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += get(&self.latency_buckets[i]);
            let _ = writeln!(
                out,
                "brain_ws_fanout_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(out, "brain_ws_fanout_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "brain_ws_fanout_seconds_sum {}",
            get(&self.latency_sum_ns) as f64 / 1e9
        );
        let _ = writeln!(out, "brain_ws_fanout_seconds_count {count}");
        out
    }
}
