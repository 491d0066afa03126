//! The Redis broker's metrics: its state and counters (`State`) and the
//! cluster size, read when `/metrics` is scraped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::Shared;
use super::health::Cause;
use crate::metrics::{counter, gauge};

/// The Redis broker's state and counters, read when `/metrics` is scraped.
pub(super) struct BrokerMetrics(pub(super) Arc<Shared>);

impl std::fmt::Debug for BrokerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrokerMetrics")
    }
}

impl Collector for BrokerMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0.state;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let e = &mut encoder;
        gauge(
            e,
            "brain_ws_broker_up",
            "Whether Redis is reachable (1) or not (0: events reach this node's subscribers only).",
            u64::from(s.is_up()),
        )?;
        let current = s.cause();
        let mut family = e.encode_descriptor(
            "brain_ws_broker_down",
            "1 for the cause Redis is failing with (unreachable: an outage; auth, database, protocol, refused: Redis refuses this node's configuration, retried until fixed), 0 for the others; all 0 while up.",
            None,
            MetricType::Gauge,
        )?;
        for cause in Cause::ALL {
            family
                .encode_family(&[("cause", cause.label())])?
                .encode_gauge(&u64::from(current == Some(cause)))?;
        }
        counter(
            e,
            "brain_ws_broker_errors",
            "Failed Redis operations and lost connections.",
            get(&s.errors),
        )?;
        counter(
            e,
            "brain_ws_broker_connects",
            "Times the Redis subscription was (re)established.",
            get(&s.reconnects),
        )?;
        counter(
            e,
            "brain_ws_broker_unavailable_publications",
            "Publications refused (HTTP 503, delivered nowhere): Redis unreachable or too slow, or the publish queue full.",
            get(&s.refused),
        )?;
        counter(
            e,
            "brain_ws_broker_gap_fills",
            "Times missing history events were read back from Redis to close a gap.",
            get(&s.gap_fills),
        )?;
        gauge(
            e,
            "brain_ws_cluster_nodes",
            "Nodes in the cluster as of the last report, this one included.",
            self.0.others().len() as u64 + 1,
        )
    }
}
