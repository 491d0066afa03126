//! How events travel between publishers and the hubs that deliver them.
//!
//! The node hands every publication and every subscription to a [`Broker`].
//! The in-memory broker ([`memory`]) delivers straight to this node's hub,
//! which keeps the history. The Redis broker ([`redis`]) carries each
//! publication through Redis to every node, each of which delivers it to its
//! own hub, and keeps the history in Redis Streams shared by all nodes. The
//! hub never knows which broker is in use (centrifuge's Node/Hub/Broker split).

pub(crate) mod memory;
pub(crate) mod redis;

use std::sync::Arc;

use brain_ws_protocol::http::NodeStats;
use brain_ws_protocol::{ChannelName, EventType, StreamPosition};
use futures_util::future::BoxFuture;

use crate::connection::Connection;
use crate::hub::Target;

/// One event to deliver.
#[derive(Debug, Clone)]
pub(crate) struct Publication {
    pub(crate) target: Target,
    pub(crate) event_type: EventType,
    pub(crate) data: serde_json::Value,
    pub(crate) timestamp: f64,
}

/// Why a publication could not be handed over.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The shared broker cannot be reached.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
}

/// Whether the broker can carry events between nodes right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BrokerHealth {
    /// Working (always, for the in-memory broker).
    Up,
    /// Unreachable: publications are delivered on this node only.
    Down(String),
}

/// Which nodes share the broker, and their counts.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterView {
    /// Every other live node's last report (this node is not included).
    pub(crate) others: Vec<NodeStats>,
}

/// Carries publications to the hubs that deliver them, and answers
/// subscriptions (with the history the broker keeps).
pub(crate) trait Broker: Send + Sync + 'static {
    /// Publishes; resolves to the number of recipients (cluster-wide on a
    /// shared broker, from the latest node reports).
    fn publish(&self, publication: Publication) -> BoxFuture<'_, Result<usize, BrokerError>>;

    /// Registers `conn` on `channel` in the hub and queues its `subscribed`
    /// answer, then the replay when `since` is given, then live events, with
    /// no gap and no duplicate between replay and live.
    fn subscribe<'a>(
        &'a self,
        conn: &'a Arc<Connection>,
        channel: &'a ChannelName,
        since: Option<&'a StreamPosition>,
    ) -> BoxFuture<'a, ()>;

    /// `memory` or `redis`, as shown in `/api/ws/info`.
    fn kind(&self) -> &'static str;

    /// The broker's state for `/ready`, `/metrics` and publishing.
    fn health(&self) -> BrokerHealth;

    /// The other nodes on the same broker (fresh read); `None` for the
    /// in-memory broker, which has no cluster.
    fn cluster(&self) -> BoxFuture<'_, Option<ClusterView>>;

    /// Registers the broker's metrics (read when `/metrics` is scraped).
    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry);

    /// Stops background tasks and leaves the cluster (deregisters the node).
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}
