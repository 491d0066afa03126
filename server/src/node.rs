//! The `Node` facade: what an embedding application, the HTTP API and the
//! sessions use to publish, subscribe, address users and read stats. It owns
//! the hub and the broker; nothing else reaches into either. The data path:
//! protocol (decode) → session → node → broker → hub → connections.

use std::collections::BTreeMap;
use std::sync::Arc;

use brain_ws_protocol::catalog::{Event, StandardChannel, SystemEvent, SystemStatus};
use brain_ws_protocol::http::{
    ChannelSubscribersResponse, NodeStats, PresenceResponse, PresenceStatsResponse, StatsResponse,
};
use brain_ws_protocol::{ChannelName, EventType, unix_timestamp};
use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::broker::MemoryBroker;
use crate::broker::redis::RedisBroker;
use crate::broker::{Broker, BrokerError, BrokerHealth, Publication, Published};
use crate::clock::Clock;
use crate::config::{BrokerConfig, Config};
use crate::connection::Connection;
use crate::frames::Frame;
use crate::history::{Page, Position, Replay, Start};
use crate::hub::{Hub, Slot, Target};
use crate::metrics::{HubGauges, Metrics};
use crate::presence::{Change, Presence};

/// A handle on a running node: cheap to clone, safe to share.
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    config: Arc<Config>,
    hub: Arc<Hub>,
    broker: Arc<dyn Broker>,
    /// This node's members of presence channels.
    presence: Arc<Presence>,
    metrics: Arc<Metrics>,
    /// Every metric of `GET /metrics`: the node's counters, the hub's
    /// gauges and the broker's state.
    registry: prometheus_client::registry::Registry,
    /// Cancelled when the node shuts down.
    shutdown: CancellationToken,
    /// Every WebSocket session, so shutdown can wait for them (axum's serve
    /// does not track upgraded connections).
    sessions: TaskTracker,
    /// Per-user connection reservations (`max_connections_per_user`).
    user_slots: Arc<crate::user_limit::UserSlots>,
}

/// How often the startup announcement checks whether the broker is up.
const STARTUP_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// Why an event could not be published.
pub type PublishError = BrokerError;

/// Why a presence read was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PresenceError {
    /// The channel has no presence (no `presence_channels` pattern matches
    /// it): HTTP 404 `presence_disabled`.
    #[error("channel {0} does not keep presence (see --presence-channel)")]
    Disabled(ChannelName),
    /// The cluster broker cannot be reached: HTTP 503 `unavailable`.
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

impl Node {
    /// Validates `config` and starts a node (with its heartbeat task) without
    /// a listener: mount [`crate::router`] in your own axum app to serve it.
    /// [`crate::Server::start`] does both.
    ///
    /// With the Redis broker, Redis is asked once first (connect, `AUTH`,
    /// `SELECT`, `PING`, at most 3 s): a configuration it refuses (a
    /// password, a DB index out of range, a peer that is not Redis) fails
    /// with [`crate::StartError::Broker`]; an unreachable Redis does not (the
    /// node starts not ready and keeps retrying).
    ///
    /// # Errors
    /// [`crate::StartError::Config`] for an invalid configuration,
    /// [`crate::StartError::Broker`] for a broker that refuses it.
    pub async fn start(config: Config) -> Result<Self, crate::StartError> {
        config.validate()?;
        if let BrokerConfig::Redis(url) = &config.broker {
            let client = crate::broker::redis::client(url, &config.redis_tls)?;
            let broker = config.broker.redacted();
            if let Err(failure) = crate::broker::redis::probe::check(&client, &broker).await {
                return Err(crate::StartError::Broker { broker, failure });
            }
        }
        let node = Self::new(config)?;
        node.run();
        Ok(node)
    }

    /// [`Node::start`] on the application's own broker: `broker` receives
    /// the node's [`Hub`](crate::broker::Hub), which it delivers to, and the
    /// hub's [`Interests`](crate::broker::Interests) (which channels gain
    /// their first and lose their last local subscriber; drop it if the
    /// broker does not need them), and returns the
    /// [`Broker`](crate::broker::Broker) every publication and subscription
    /// goes through (`config.broker` is not consulted). Wrapping a
    /// [`MemoryBroker`] is the shortest case:
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), brain_ws_server::ConfigError> {
    /// use brain_ws_server::broker::MemoryBroker;
    /// let node = brain_ws_server::Node::start_with_broker(
    ///     brain_ws_server::Config::default(),
    ///     |hub, _interests| MemoryBroker::new(hub),
    /// )?;
    /// # let _ = node; Ok(()) }
    /// ```
    pub fn start_with_broker<B: Broker>(
        config: Config,
        broker: impl FnOnce(Arc<Hub>, crate::broker::Interests) -> B,
    ) -> Result<Self, crate::ConfigError> {
        config.validate()?;
        let config = Arc::new(config);
        let metrics = Arc::new(Metrics::default());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let hub = Arc::new(Hub::new(
            config.clone(),
            Clock::new(),
            metrics.clone(),
            Some(tx),
        ));
        let broker = Arc::new(broker(hub.clone(), rx));
        let node = Self::assemble(config, metrics, hub, broker);
        node.run();
        Ok(node)
    }

    /// Starts the heartbeat task and announces `system_startup`.
    fn run(&self) {
        tokio::spawn(crate::heartbeat::run(self.clone()));
        if self.is_cluster() {
            tokio::spawn(self.clone().announce_startup());
        } else {
            // One node: nothing to wait for, and announced before anyone
            // can subscribe (the in-memory broker publishes synchronously).
            let (channel, event_type, data) = self.startup_event();
            let _ = self.publish(&channel, &event_type, data).now_or_never();
        }
    }

    /// Emits `system_shutdown`, closes every connection with 1001 (going
    /// away) and waits, at most `shutdown_grace`, for their close frames to
    /// go out. New connections are refused from the start.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        self.announce_shutdown();
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

    /// Tells this node's `system` subscribers that it is stopping:
    /// `system_shutdown` with its `node_id`, delivered here only (the other
    /// nodes' clients are not affected) and kept in no history (it carries
    /// no offset).
    fn announce_shutdown(&self) {
        let (event_type, data) = Event::System(SystemEvent::SystemShutdown(SystemStatus {
            status: "stopping".into(),
            node_id: Some(self.inner.config.node_id.clone()),
        }))
        .into_parts();
        let channel = StandardChannel::System.name();
        let frame =
            crate::frames::event(&event_type, Some(&channel), &data, unix_timestamp(), None);
        self.inner
            .hub
            .deliver(crate::hub::Recipients::Channel(&channel, None), &frame);
    }

    /// Publishes `system_startup` once the broker is up (at once in memory;
    /// with Redis, as soon as the first connection succeeds), so it reaches
    /// the cluster's `system` subscribers. One idempotency key for every
    /// attempt: a retry after an ambiguous failure is not delivered twice.
    async fn announce_startup(self) {
        let key = format!("system_startup:{}", uuid::Uuid::new_v4());
        let (channel, event_type, data) = self.startup_event();
        let mut tick = tokio::time::interval(STARTUP_RETRY);
        loop {
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if self.broker_unavailable().is_some() {
                continue;
            }
            let published = self
                .publish_idempotent(&channel, &event_type, data.clone(), &key)
                .await;
            if published.is_ok() {
                return;
            }
        }
    }

    /// `system_startup` naming this node, on `system`.
    fn startup_event(&self) -> (ChannelName, EventType, serde_json::Value) {
        let (event_type, data) = Event::System(SystemEvent::SystemStartup(SystemStatus {
            status: "started".into(),
            node_id: Some(self.inner.config.node_id.clone()),
        }))
        .into_parts();
        (StandardChannel::System.name(), event_type, data)
    }

    /// A node with the configured broker.
    fn new(config: Config) -> Result<Self, crate::ConfigError> {
        let config = Arc::new(config);
        let metrics = Arc::new(Metrics::default());
        let (hub, broker): (Arc<Hub>, Arc<dyn Broker>) = match &config.broker {
            BrokerConfig::Memory => {
                let hub = Arc::new(Hub::new(
                    config.clone(),
                    Clock::new(),
                    metrics.clone(),
                    None,
                ));
                (hub.clone(), Arc::new(MemoryBroker::new(hub)))
            }
            BrokerConfig::Redis(url) => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let hub = Arc::new(Hub::new(
                    config.clone(),
                    Clock::new(),
                    metrics.clone(),
                    Some(tx.clone()),
                ));
                let broker = RedisBroker::start(config.clone(), url, hub.clone(), tx, rx)?;
                tracing::info!(broker = %config.broker.redacted(), prefix = %config.redis_prefix, "using the redis broker");
                (hub, Arc::new(broker))
            }
        };
        Ok(Self::assemble(config, metrics, hub, broker))
    }

    /// The node around its hub and broker, with the metrics registry.
    fn assemble(
        config: Arc<Config>,
        metrics: Arc<Metrics>,
        hub: Arc<Hub>,
        broker: Arc<dyn Broker>,
    ) -> Self {
        let mut registry = prometheus_client::registry::Registry::default();
        metrics.register(&mut registry, hub.clone());
        broker.register_metrics(&mut registry);
        let presence = hub.presence().clone();
        Self {
            inner: Arc::new(NodeInner {
                config,
                hub,
                broker,
                presence,
                metrics,
                registry,
                shutdown: CancellationToken::new(),
                sessions: TaskTracker::new(),
                user_slots: Arc::default(),
            }),
        }
    }

    /// Subscribes a connection: the hub holds its live events back while
    /// the broker answers with the channel's position and the replay
    /// (`since` or `rewind`); then `subscribed`, the replay and the
    /// held-back events go out in order, without gap or duplicate. On a
    /// presence channel the connection then becomes a member (announced
    /// with `join` to the channel's other watchers) and, with `presence`, a
    /// watcher.
    pub(crate) async fn subscribe(
        &self,
        conn: &Arc<Connection>,
        channel: &ChannelName,
        replay: Option<&Replay>,
        presence: bool,
    ) {
        let hub = &self.inner.hub;
        let keeps_presence = self.inner.config.keeps_presence(channel.as_str());
        hub.subscribe_pending(conn, channel);
        let joined = self.inner.broker.subscribe(channel, replay).await;
        hub.activate(conn, channel, joined, presence.then_some(keeps_presence));
        if keeps_presence && let Some(info) = self.inner.presence.join(conn, channel, presence) {
            self.inner
                .broker
                .presence_changed(channel.clone(), Change::Join, info)
                .await;
        }
    }

    /// Reads a history channel's retained events (`history::page`), with
    /// its position; the caller checks that it keeps history.
    pub(crate) async fn history(
        &self,
        channel: &ChannelName,
        start: Start<'_>,
        limit: usize,
    ) -> Result<(Position, Page), BrokerError> {
        self.inner.broker.history(channel, start, limit).await
    }

    /// Ends a connection's subscription; false if it had none.
    pub(crate) fn unsubscribe(&self, conn: &Connection, channel: &ChannelName) -> bool {
        self.leave_presence(conn, channel);
        self.inner.hub.unsubscribe(conn, channel)
    }

    /// Removes `conn` from presence channel `channel` and announces its
    /// `leave` (in the background: the caller is not async).
    fn leave_presence(&self, conn: &Connection, channel: &ChannelName) {
        if !self.inner.config.keeps_presence(channel.as_str()) {
            return;
        }
        if let Some(info) = self.inner.presence.leave(conn, channel) {
            let announced =
                self.inner
                    .broker
                    .presence_changed(channel.clone(), Change::Leave, info);
            tokio::spawn(announced);
        }
    }

    /// Registers a new connection; `welcome` builds its first frame.
    pub(crate) fn register(
        &self,
        user_id: Option<Arc<str>>,
        welcome: impl FnOnce(&Connection) -> Frame,
    ) -> Arc<Connection> {
        self.inner.hub.register(user_id, welcome)
    }

    /// Removes a connection and its subscriptions.
    pub(crate) fn unregister(&self, conn: &Connection, subscriptions: &[ChannelName]) {
        for channel in subscriptions {
            self.leave_presence(conn, channel);
        }
        self.inner.hub.unregister(conn, subscriptions);
    }

    /// Reserves a connection slot; `None` when the node is full.
    pub(crate) fn reserve_slot(&self) -> Option<Slot> {
        self.inner.hub.reserve_slot()
    }

    /// Reserves a place under `max_connections_per_user`.
    pub(crate) fn reserve_user_slot(
        &self,
        user: &Arc<str>,
        max: usize,
    ) -> Option<crate::user_limit::UserSlot> {
        self.inner.user_slots.reserve(user, max)
    }

    /// The node's clock (connection activity, heartbeats).
    pub(crate) fn clock(&self) -> Clock {
        *self.inner.hub.clock()
    }

    /// The node's counters.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The hub, for the heartbeat task.
    pub(crate) fn hub(&self) -> &Arc<Hub> {
        &self.inner.hub
    }

    /// Housekeeping of the broker (expired history and idempotency keys).
    pub(crate) fn maintain(&self) {
        self.inner.broker.maintain();
    }

    /// Tracks a WebSocket session so shutdown waits for it.
    pub(crate) fn sessions(&self) -> &TaskTracker {
        &self.inner.sessions
    }

    /// Cancelled when the node starts shutting down.
    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// `memory` or `redis`.
    pub fn broker_kind(&self) -> &'static str {
        self.inner.broker.kind()
    }

    /// Whether several nodes share the broker (Redis).
    pub fn is_cluster(&self) -> bool {
        self.inner.broker.is_cluster()
    }

    /// The configuration the node runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Publishes an event on a channel. Resolves to what happened
    /// ([`Published`]: delivered on this node, or handed to the cluster), or
    /// fails with [`PublishError::Unavailable`] while the cluster broker is
    /// unreachable, in which case the event was delivered nowhere.
    pub async fn publish(
        &self,
        channel: &ChannelName,
        event_type: &EventType,
        data: serde_json::Value,
    ) -> Result<Published, PublishError> {
        self.send(Target::Channel(channel.clone()), event_type, data, None)
            .await
    }

    /// [`Node::publish`] with an idempotency key: within
    /// [`crate::IDEMPOTENCY_WINDOW`] of a publication with the same key (on
    /// any node sharing the broker), resolves to [`Published::Duplicate`]
    /// without delivering. A publisher that retries after an error or a
    /// timeout sends the same key, and the event is delivered once.
    pub async fn publish_idempotent(
        &self,
        channel: &ChannelName,
        event_type: &EventType,
        data: serde_json::Value,
        idempotency_key: &str,
    ) -> Result<Published, PublishError> {
        let key = Some(idempotency_key.to_owned());
        self.send(Target::Channel(channel.clone()), event_type, data, key)
            .await
    }

    /// Sends an event to every connection of `user_id`; resolves to the
    /// number of connections it reached.
    pub async fn send_to_user(
        &self,
        user_id: &str,
        event_type: &EventType,
        data: serde_json::Value,
    ) -> Result<Published, PublishError> {
        self.send(Target::User(Arc::from(user_id)), event_type, data, None)
            .await
    }

    /// Sends an event to every connection; resolves to how many it reached.
    pub async fn broadcast_all(
        &self,
        event_type: &EventType,
        data: serde_json::Value,
    ) -> Result<Published, PublishError> {
        self.send(Target::All, event_type, data, None).await
    }

    /// Publishes a catalogue event on its standard channel (or, for an
    /// event outside the catalogue, on `system`).
    pub async fn emit(&self, event: Event) -> Result<Published, PublishError> {
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
        idempotency_key: Option<String>,
    ) -> Result<Published, PublishError> {
        self.inner
            .broker
            .publish(Publication {
                target,
                event_type: event_type.clone(),
                data,
                timestamp: unix_timestamp(),
                idempotency_key,
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
    /// totals add up the nodes, except `total_users`, which counts distinct
    /// users (a user connected to two nodes counts once, while each node's
    /// entry in `nodes` counts it), and `nodes` lists each one. With the in-memory broker, the
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
            total_users: view
                .users
                .unwrap_or_else(|| nodes.iter().map(|n| n.total_users).sum()),
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

    /// Every subscriber of presence channel `channel` across the cluster
    /// (`GET /api/ws/channels/{channel}/presence`), oldest join first.
    pub async fn presence(&self, channel: &ChannelName) -> Result<PresenceResponse, PresenceError> {
        self.presence_enabled(channel)?;
        let members = self.inner.broker.presence_members(channel).await?;
        Ok(PresenceResponse {
            channel: channel.clone(),
            members,
        })
    }

    /// The connection and distinct-user counts of presence channel
    /// `channel` across the cluster (`.../presence/stats`): kept as members
    /// come and go, so the read does not grow with the channel.
    pub async fn presence_stats(
        &self,
        channel: &ChannelName,
    ) -> Result<PresenceStatsResponse, PresenceError> {
        self.presence_enabled(channel)?;
        let counts = self.inner.broker.presence_counts(channel).await?;
        Ok(PresenceStatsResponse {
            channel: channel.clone(),
            connections: counts.connections,
            users: counts.users,
        })
    }

    fn presence_enabled(&self, channel: &ChannelName) -> Result<(), PresenceError> {
        if self.inner.config.keeps_presence(channel.as_str()) {
            Ok(())
        } else {
            Err(PresenceError::Disabled(channel.clone()))
        }
    }

    /// Whether the broker is reachable: `None` when it is, or why not
    /// (`/ready` answers 503 and publishing fails meanwhile).
    pub fn broker_unavailable(&self) -> Option<crate::BrokerFailure> {
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
