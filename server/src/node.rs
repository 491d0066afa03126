//! The `Node` facade: what an embedding application and the HTTP API use to
//! publish, address users, and read stats. It owns the hub and the broker.

use std::sync::Arc;

use brain_ws_protocol::catalog::Event;
use brain_ws_protocol::http::{ChannelSubscribersResponse, StatsResponse};
use brain_ws_protocol::{ChannelName, EventType, unix_timestamp};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::broker::{Broker, BrokerError, MemoryBroker, Publication};
use crate::clock::Clock;
use crate::config::Config;
use crate::hub::{Hub, Target};
use crate::metrics::{Gauges, Metrics};

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
    /// Cancelled when the node shuts down.
    pub(crate) shutdown: CancellationToken,
    /// Every WebSocket session, so shutdown can wait for them (axum's serve
    /// does not track upgraded connections).
    pub(crate) sessions: TaskTracker,
}

/// Why an event could not be published.
pub type PublishError = BrokerError;

impl Node {
    /// Validates `config` and starts a node (with its heartbeat task) without
    /// a listener: mount [`crate::router`] in your own axum app to serve it.
    /// [`crate::Server::start`] does both.
    pub fn start(config: Config) -> Result<Self, crate::ConfigError> {
        config.validate()?;
        let node = Self::new(config);
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
    }

    /// A node with the in-memory broker.
    fn new(config: Config) -> Self {
        let config = Arc::new(config);
        let metrics = Arc::new(Metrics::default());
        let hub = Arc::new(Hub::new(config.clone(), Clock::new(), metrics.clone()));
        let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new(hub.clone()));
        Self {
            inner: Arc::new(NodeInner {
                config,
                hub,
                broker,
                metrics,
                shutdown: CancellationToken::new(),
                sessions: TaskTracker::new(),
            }),
        }
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

    /// Connection, user and channel counts (`GET /api/ws/stats`).
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

    /// One channel's subscribers (`GET /api/ws/channels/{channel}`).
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
        let stats = self.stats();
        let channels: Vec<(String, u64)> = stats.channels.into_iter().collect();
        self.inner.metrics.render(&Gauges {
            connections: stats.total_connections,
            users: stats.total_users,
            channels: &channels,
        })
    }

    /// Whether the node is shutting down.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }
}
