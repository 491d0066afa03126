//! How events travel between publishers and the hubs that deliver them.
//!
//! The node hands every publication and every subscription to a [`Broker`].
//! The in-memory broker ([`memory`]) delivers straight to this node's hub
//! and keeps each history channel's ring. The Redis broker ([`redis`])
//! carries each publication through Redis to every node, each of which
//! delivers it to its own hub, and keeps the history in Redis Streams shared
//! by all nodes. Both apply the same recovery rule (`history::recover`).
//! The hub never knows which broker is in use (centrifuge's Node/Hub/Broker
//! split): it gets ready frames through `Hub::deliver` and answers through
//! `Hub::activate`.

pub(crate) mod memory;
pub(crate) mod redis;

use brain_ws_protocol::http::NodeStats;
use brain_ws_protocol::{ChannelName, EventType, PresenceInfo, StreamPosition};
use futures_util::future::BoxFuture;

use crate::hub::{Joined, Target};
use crate::presence::{Change, Counts};

/// One event to deliver.
#[derive(Debug, Clone)]
pub(crate) struct Publication {
    pub(crate) target: Target,
    pub(crate) event_type: EventType,
    pub(crate) data: serde_json::Value,
    pub(crate) timestamp: f64,
    /// The publisher's idempotency key: a second publication with the same
    /// key within `idempotency::WINDOW` is not delivered.
    pub(crate) idempotency_key: Option<String>,
}

/// What became of a publication (the answer of [`crate::Node::publish`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Delivered on this node, which is the whole system (in-memory
    /// broker): `recipients` local subscribers or connections.
    Local {
        /// Subscribers (or connections) it was queued to.
        recipients: usize,
    },
    /// Handed to the cluster broker, which delivers it on every node:
    /// `recipients` is this node's subscribers plus the others' as of their
    /// last report.
    Cluster {
        /// Subscribers (or connections) across the cluster.
        recipients: usize,
    },
    /// Its idempotency key was already used within the window: the earlier
    /// publication stands and this one was not delivered.
    Duplicate,
}

impl Published {
    /// The recipients it reached (0 for a duplicate).
    pub fn recipients(&self) -> usize {
        match self {
            Self::Local { recipients } | Self::Cluster { recipients } => *recipients,
            Self::Duplicate => 0,
        }
    }
}

/// Why a publication was not delivered. Nothing was delivered anywhere, on
/// this node either: the publisher may retry (with an idempotency key, a
/// retry of an event that did go out is not delivered twice).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The cluster broker (Redis) cannot be reached, or did not confirm the
    /// publication; the HTTP API answers 503 `unavailable`.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
}

/// Whether the broker can carry events between nodes right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BrokerHealth {
    /// Working (always, for the in-memory broker).
    Up,
    /// Unreachable: publications fail until it returns.
    Down(String),
}

/// Which nodes share the broker, and their counts.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterView {
    /// Every other live node's last report (this node is not included).
    pub(crate) others: Vec<NodeStats>,
    /// Distinct users connected anywhere in the cluster (this node
    /// included): a user connected to two nodes counts once. `None` when
    /// it could not be read (the sum of the nodes' counts is used then).
    pub(crate) users: Option<u64>,
}

/// Carries publications to the hubs that deliver them, and answers
/// subscriptions with the history it keeps.
pub(crate) trait Broker: Send + Sync + 'static {
    /// Publishes: resolves once the event is delivered (in-memory) or
    /// confirmed by the cluster broker, or fails having delivered nothing.
    fn publish(&self, publication: Publication) -> BoxFuture<'_, Result<Published, BrokerError>>;

    /// The answer to a subscription to `channel` (the hub already holds the
    /// subscriber's live events back): the channel's position and, with
    /// `since`, the missed events if the history still has them all. Always
    /// answers: without history (or without Redis) the position is `None`
    /// and `recovered` false when `since` was given.
    fn subscribe<'a>(
        &'a self,
        channel: &'a ChannelName,
        since: Option<&'a StreamPosition>,
    ) -> BoxFuture<'a, Joined>;

    /// Tells the watchers of presence channel `channel` on every node that
    /// `info` joined or left (this node already recorded it); the Redis
    /// broker also records it cluster-wide. Resolves when done; a failure
    /// (Redis unreachable) is logged, and the node writes its members again
    /// once Redis answers.
    fn presence_changed(
        &self,
        channel: ChannelName,
        change: Change,
        info: PresenceInfo,
    ) -> BoxFuture<'static, ()>;

    /// Every member of presence channel `channel` across the cluster,
    /// oldest join first.
    fn presence_members<'a>(
        &'a self,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<Vec<PresenceInfo>, BrokerError>>;

    /// The counts of presence channel `channel` across the cluster, kept
    /// incrementally (no scan of the members).
    fn presence_counts<'a>(
        &'a self,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<Counts, BrokerError>>;

    /// `memory` or `redis`, as shown in `/api/ws/info` and `/ready`.
    fn kind(&self) -> &'static str;

    /// Whether several nodes share this broker.
    fn is_cluster(&self) -> bool;

    /// The broker's state for `/ready`, `/metrics` and publishing.
    fn health(&self) -> BrokerHealth;

    /// The other nodes on the same broker (fresh read); `None` for the
    /// in-memory broker, which has no cluster.
    fn cluster(&self) -> BoxFuture<'_, Option<ClusterView>>;

    /// Registers the broker's metrics (read when `/metrics` is scraped).
    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry);

    /// Periodic housekeeping (every heartbeat interval): expire history and
    /// idempotency keys kept in memory.
    fn maintain(&self) {}

    /// Stops background tasks and leaves the cluster (deregisters the node).
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}
