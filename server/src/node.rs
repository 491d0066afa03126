//! The `Node` facade: what an embedding application and the HTTP API use to
//! publish, address users, and read stats. It owns the hub and the broker.

use std::collections::BTreeMap;
use std::sync::Arc;

use brain_ws_protocol::catalog::Event;
use brain_ws_protocol::http::{ChannelSubscribersResponse, NodeStats, StatsResponse};
use brain_ws_protocol::{ChannelName, EventType, StreamPosition, unix_timestamp};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::broker::memory::MemoryBroker;
use crate::broker::redis::RedisBroker;
use crate::broker::{Broker, BrokerError, BrokerHealth, Publication};
use crate::clock::Clock;
use crate::config::{BrokerConfig, Config};
use crate::connection::Connection;
use crate::hub::{Hub, HubMode, Target};
use crate::metrics::{HubGauges, Metrics};

/// A handle on a running node: cheap to clone, safe to share.
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<NodeInner>,
}

pub(crate) struct NodeInner {
    pub(crate) config: Arc<Config>,
    pub(crate) hub: Arc<Hub>,
    pub(crate) broker: Arc<dyn Broker>,
    pub(crate) metrics: Arc<Metrics>,
    /// Every metric of `GET /metrics`: the node's counters, the hub's
    /// gauges and the broker's state.
    registry: prometheus_client::registry::Registry,
    /// Cancelled when the node shuts down.
    pub(crate) shutdown: CancellationToken,
    /// Every WebSocket session, so shutdown can wait for them (axum's serve
    /// does not track upgraded connections).
    pub(crate) sessions: TaskTracker,
    /// Per-user connection reservations (`max_connections_per_user`).
    pub(crate) user_slots: Arc<crate::user_limit::UserSlots>,
}

/// Why an event could not be published.
pub type PublishError = BrokerError;

impl Node {
    /// Validates `config` and starts a node (with its heartbeat task) without
    /// a listener: mount [`crate::router`] in your own axum app to serve it.
    /// [`crate::Server::start`] does both.
    pub fn start(config: Config) -> Result<Self, crate::ConfigError> {
        config.validate()?;
        let node = Self::new(config)?;
        tokio::spawn(crate::heartbeat::run(node.clone()));
        Ok(node)
    }

    /// Emits `system_shutdown`, closes every connection with 1001 (going
    /// away) and waits, at most `shutdown_grace`, for their close frames to
    /// go out. New connections are refused from the start.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        let _ = self.emit_system_shutdown("stopping").await;
        inner.shutdown.cancel();
        inner
            .hub
            .for_each_connection(|conn| conn.close(brain_ws_protocol::CloseCode::GOING_AWAY));
        inner.sessions.close();
        if tokio::time::timeout(inner.config.shutdown_grace, inner.sessions.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = inner.sessions.len(),
                "shutdown grace elapsed with sessions still open"
            );
        }
        inner.broker.shutdown().await;
    }

    /// A node with the configured broker.
    fn new(config: Config) -> Result<Self, crate::ConfigError> {
        let config = Arc::new(config);
        let metrics = Arc::new(Metrics::default());
        let (hub, broker): (Arc<Hub>, Arc<dyn Broker>) = match &config.broker {
            BrokerConfig::Memory => {
                let mode = HubMode {
                    local_history: true,
                    interest: None,
                };
                let hub = Arc::new(Hub::new(
                    config.clone(),
                    Clock::new(),
                    metrics.clone(),
                    mode,
                ));
                (hub.clone(), Arc::new(MemoryBroker::new(hub)))
            }
            BrokerConfig::Redis(url) => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let mode = HubMode {
                    local_history: false,
                    interest: Some(tx.clone()),
                };
                let hub = Arc::new(Hub::new(
                    config.clone(),
                    Clock::new(),
                    metrics.clone(),
                    mode,
                ));
                let broker = RedisBroker::start(config.clone(), url, hub.clone(), tx, rx)?;
                tracing::info!(broker = %config.broker.redacted(), prefix = %config.redis_prefix, "using the redis broker");
                (hub, Arc::new(broker))
            }
        };
        let mut registry = prometheus_client::registry::Registry::default();
        metrics.register(&mut registry, hub.clone());
        broker.register_metrics(&mut registry);
        Ok(Self {
            inner: Arc::new(NodeInner {
                config,
                hub,
                broker,
                metrics,
                registry,
                shutdown: CancellationToken::new(),
                sessions: TaskTracker::new(),
                user_slots: Arc::default(),
            }),
        })
    }

    /// Subscribes a connection through the broker: `subscribed`, the replay
    /// for `since`, then live events.
    pub(crate) async fn subscribe(
        &self,
        conn: &Arc<Connection>,
        channel: &ChannelName,
        since: Option<&StreamPosition>,
    ) {
        self.inner.broker.subscribe(conn, channel, since).await;
    }

    /// The configuration the node runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Publishes an event on a channel; resolves to the number of subscribers
    /// it was delivered to.
    pub async fn publish(
        &self,
        channel: &ChannelName,
        event_type: &EventType,
        data: serde_json::Value,
    ) -> Result<usize, PublishError> {
        self.send(Target::Channel(channel.clone()), event_type, data)
            .await
    }

    /// Sends an event to every connection of `user_id`; resolves to the
    /// number of connections it reached.
    pub async fn send_to_user(
        &self,
        user_id: &str,
        event_type: &EventType,
        data: serde_json::Value,
    ) -> Result<usize, PublishError> {
        self.send(Target::User(Arc::from(user_id)), event_type, data)
            .await
    }

    /// Sends an event to every connection; resolves to how many it reached.
    pub async fn broadcast_all(
        &self,
        event_type: &EventType,
        data: serde_json::Value,
    ) -> Result<usize, PublishError> {
        self.send(Target::All, event_type, data).await
    }

    /// Publishes a catalogue event on its standard channel (or, for an
    /// event outside the catalogue, on `system`).
    pub async fn emit(&self, event: Event) -> Result<usize, PublishError> {
        let channel = event
            .channel()
            .unwrap_or(brain_ws_protocol::catalog::StandardChannel::System)
            .name();
        let (event_type, data) = event.into_parts();
        self.publish(&channel, &event_type, data).await
    }

    async fn send(
        &self,
        target: Target,
        event_type: &EventType,
        data: serde_json::Value,
    ) -> Result<usize, PublishError> {
        self.inner
            .broker
            .publish(Publication {
                target,
                event_type: event_type.clone(),
                data,
                timestamp: unix_timestamp(),
            })
            .await
    }

    /// This node's connection, user and channel counts.
    pub fn stats(&self) -> StatsResponse {
        let hub = &self.inner.hub;
        let channels = hub.channel_counts();
        StatsResponse {
            total_connections: hub.connection_count() as u64,
            total_users: hub.user_count() as u64,
            total_channels: channels.len() as u64,
            channels,
            nodes: Vec::new(),
        }
    }

    /// Counts of every node sharing the broker (`GET /api/ws/stats`): the
    /// totals add up the nodes (a user connected to two nodes counts on
    /// each), and `nodes` lists each one. With the in-memory broker, the
    /// same as [`Node::stats`].
    pub async fn cluster_stats(&self) -> StatsResponse {
        let local = self.stats();
        let Some(view) = self.inner.broker.cluster().await else {
            return local;
        };
        let mut nodes = view.others;
        nodes.push(NodeStats {
            node_id: self.inner.config.node_id.clone(),
            total_connections: local.total_connections,
            total_users: local.total_users,
            channels: local.channels,
        });
        nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        let mut channels: BTreeMap<String, u64> = BTreeMap::new();
        for node in &nodes {
            for (channel, n) in &node.channels {
                *channels.entry(channel.clone()).or_default() += n;
            }
        }
        StatsResponse {
            total_connections: nodes.iter().map(|n| n.total_connections).sum(),
            total_users: nodes.iter().map(|n| n.total_users).sum(),
            total_channels: channels.len() as u64,
            channels,
            nodes,
        }
    }

    /// One channel's subscribers across the cluster (`GET
    /// /api/ws/channels/{channel}`): the count covers every node (others as
    /// of their last report), the connection ids are this node's only, as
    /// nodes do not report ids.
    pub async fn cluster_channel(&self, channel: &ChannelName) -> ChannelSubscribersResponse {
        let mut answer = self.channel(channel);
        if let Some(view) = self.inner.broker.cluster().await {
            answer.subscribers += view
                .others
                .iter()
                .filter_map(|n| n.channels.get(channel.as_str()))
                .sum::<u64>();
        }
        answer
    }

    /// Whether the broker is reachable: `None` when it is, or why not
    /// (`/ready` answers 503 meanwhile; events reach this node only).
    pub fn broker_unavailable(&self) -> Option<String> {
        match self.inner.broker.health() {
            BrokerHealth::Up => None,
            BrokerHealth::Down(reason) => Some(reason),
        }
    }

    /// One channel's subscribers on this node.
    pub fn channel(&self, channel: &ChannelName) -> ChannelSubscribersResponse {
        let ids = self.inner.hub.channel_subscribers(channel);
        ChannelSubscribersResponse {
            channel: channel.clone(),
            subscribers: ids.len() as u64,
            connection_ids: ids,
        }
    }

    /// Subscribers of one channel on this node.
    pub fn subscriber_count(&self, channel: &ChannelName) -> usize {
        self.inner.hub.subscriber_count(channel)
    }

    /// Connections of one user on this node.
    pub fn user_connection_count(&self, user_id: &str) -> usize {
        self.inner.hub.user_connection_count(user_id)
    }

    /// The Prometheus text of `GET /metrics`.
    pub fn render_metrics(&self) -> String {
        crate::metrics::render(&self.inner.registry)
    }

    /// Whether the node is shutting down.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }
}

impl HubGauges for Arc<Hub> {
    fn connections_and_users(&self) -> (u64, u64) {
        (self.connection_count() as u64, self.user_count() as u64)
    }

    fn subscribers_per_channel(&self) -> Vec<(String, u64)> {
        self.channel_counts().into_iter().collect()
    }
}
