//! The Redis broker: several nodes behind a load balancer behave as one.
//!
//! - Publishing: one Redis command per event. A channel without history is a
//!   `PUBLISH` of the ready frame; a history channel runs the `publish` Lua
//!   script (offset, `XADD` to the channel's stream, `PUBLISH`, atomically);
//!   user-directed and broadcast-all events are a `PUBLISH` on the single
//!   node-wide channel. Concurrent publications share round trips: they
//!   queue (bounded) for writer tasks that send each batch as one pipeline
//!   (`pipeline.rs`), keeping each channel's order. Every node, the publisher included, delivers what its
//!   subscription receives to its own hub, so every node sees one order per
//!   channel: Redis's.
//! - Subscribing: one Redis subscription per node per channel with local
//!   subscribers, plus the node-wide one, kept by a supervised task
//!   (`subscriber.rs`) that reconnects with backoff and re-subscribes the
//!   current set by itself.
//! - History: Redis Streams shared by all nodes (`scripts.rs`); the node
//!   registers a subscriber with its live events held back, the broker
//!   reads the stream (`Broker::subscribe`), and the hub flushes replay and
//!   held-back events deduplicated by offset (`Hub::activate`).
//! - Outage: while Redis is unreachable, a publication fails with
//!   [`BrokerError::Unavailable`] and is delivered nowhere (HTTP 503): no
//!   event reaches some nodes and not others, and the publisher knows to
//!   retry. `/ready` answers 503 and `brain_ws_broker_up` is 0. When Redis
//!   answers again (the next attempt, at most 200 ms later, opens fresh
//!   connections), history channels with local subscribers are caught up
//!   from their streams, and subscribers whose stream restarted (Redis came
//!   back empty) are told so (`Hub::deliver`, `subscribed` with
//!   `recovered: false`).
//! - Cluster stats: each node reports its counts under a key with a TTL
//!   (`cluster.rs`).
//!
//! Why a hand-written subscriber rather than the redis crate's
//! `ConnectionManager` with automatic resubscription: its resubscription
//! replays only subscriptions Redis had confirmed (one requested while Redis
//! was down is silently dropped), it stops retrying after a fixed number of
//! attempts until the next command, and it does not tell us when it
//! reconnected, which we need to mark the node ready again and to catch up
//! history channels. Commands use a multiplexed connection opened by the
//! same supervisor on every (re)connection: the redis crate's
//! `ConnectionManager` kept the dead socket after an outage, so the first
//! command after Redis returned always failed ("broken pipe") and the node
//! came back one backoff step late.

mod cluster;
mod failure;
pub(crate) mod health;
mod metrics;
mod pipeline;
mod presence;
pub(crate) mod probe;
mod scripts;
mod subscriber;
mod wire;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brain_ws_protocol::ChannelName;
use brain_ws_protocol::PresenceInfo;
use brain_ws_protocol::http::NodeStats;
use futures_util::future::BoxFuture;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{
    Broker, BrokerError, BrokerFailure, BrokerHealth, ClusterView, Publication, Published,
};
use crate::config::{Config, ConfigError, RedisTls};
use crate::frames;
use crate::frames::Frame;
use crate::history::{Page, Position, Replay, Start, joined, new_epoch, page};
use crate::hub::{Hub, Interest, Joined, Target};
use crate::presence::{Change, Counts, Presence};
use health::Cause;
use wire::Keys;

/// How long one Redis command may take before it counts as a failure.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a subscribing session waits for the node's Redis subscription.
const SYNC_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a channel's epoch outlives its last publish or subscribe, on
/// top of the history TTL: long enough that a client idle for a day still
/// hears `recovered: true` when it missed nothing.
const META_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The Redis broker of one node.
pub(crate) struct RedisBroker {
    shared: Arc<Shared>,
}

/// What the broker's tasks share.
struct Shared {
    config: Arc<Config>,
    hub: Arc<Hub>,
    /// This node's presence members and watchers.
    presence: Arc<Presence>,
    presence_scripts: presence::Scripts,
    /// Presence changes Redis did not take, retried by the presence task.
    presence_retries: Mutex<Vec<(ChannelName, Change, PresenceInfo)>>,
    keys: Keys,
    client: redis::Client,
    /// The command connection of the current Redis session, replaced by the
    /// supervisor on every reconnection; `None` before the first.
    commands: Mutex<Option<MultiplexedConnection>>,
    interest: mpsc::UnboundedSender<Interest>,
    state: State,
    /// The other nodes' latest reports, refreshed by the cluster task.
    others: Mutex<Vec<NodeStats>>,
    publish_script: redis::Script,
    publish_once_script: redis::Script,
    /// The publish queues feeding the writer tasks (`pipeline.rs`).
    queues: pipeline::Queues,
    position_script: redis::Script,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

/// Whether Redis is reachable, why not, and the counters of `/metrics`.
struct State {
    up: AtomicBool,
    /// Why it is down; `None` before the first connection (`connecting`).
    down: Mutex<Option<BrokerFailure>>,
    errors: AtomicU64,
    reconnects: AtomicU64,
    /// Publications refused: Redis unreachable or too slow, or the publish
    /// queue full.
    refused: AtomicU64,
    gap_fills: AtomicU64,
}

impl Default for State {
    fn default() -> Self {
        Self {
            up: AtomicBool::new(false),
            down: Mutex::new(None),
            errors: AtomicU64::default(),
            reconnects: AtomicU64::default(),
            refused: AtomicU64::default(),
            gap_fills: AtomicU64::default(),
        }
    }
}

impl State {
    fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    fn set_up(&self) {
        if !self.up.swap(true, Ordering::AcqRel) {
            if self.reconnects.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::info!("redis broker connected");
            } else {
                tracing::info!("redis broker reconnected: cross-node delivery resumed");
            }
        }
    }

    /// Marks the broker down because of `failure`. An outage is logged as a
    /// warning when it starts; a permanent cause (a refused password, a bad
    /// DB index, ...) as an error each time the cause or its text changes,
    /// not on every retry.
    fn set_down(&self, failure: BrokerFailure) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let was_up = self.up.swap(false, Ordering::AcqRel);
        let cause = Cause::of(&failure);
        let mut down = self.down.lock().unwrap_or_else(|p| p.into_inner());
        let before = down.as_ref().map(|f| (Cause::of(f), f.to_string()));
        let changed = before.as_ref() != Some(&(cause, failure.to_string()));
        if cause.is_permanent() {
            if changed || was_up {
                tracing::error!(
                    cause = cause.label(),
                    reason = %format_args!("{failure}{}", cause.hint()),
                    "redis refuses this node's configuration: publishing fails (503) until Redis or the broker URL is fixed; retrying with backoff"
                );
            }
        } else if was_up
            || self.reconnects.load(Ordering::Relaxed) == 0
            || before.is_some_and(|(c, _)| c.is_permanent())
        {
            tracing::warn!(
                reason = %failure,
                "redis broker unavailable: publishing fails (503) until it returns"
            );
        }
        *down = Some(failure);
    }

    /// Why the broker is down, as `/ready` and publish errors give it.
    fn reason(&self) -> BrokerFailure {
        self.down
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or(BrokerFailure::Connecting)
    }

    /// The cause in effect: `None` while up.
    fn cause(&self) -> Option<Cause> {
        if self.is_up() {
            return None;
        }
        Some(
            self.down
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map_or(Cause::Unreachable, Cause::of),
        )
    }

    /// A failed command that did not (yet) take the subscription down.
    fn error(&self, what: &str, e: &dyn std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(error = %e, "redis broker: {what} failed");
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Runs one Redis command with [`COMMAND_TIMEOUT`]; a failure says what
/// failed and why ([`Failure`]; `?` turns it into its text where only the
/// text matters).
async fn timed<T>(
    what: &'static str,
    fut: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, BrokerFailure> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(failure::classify(what, e)),
        Err(_) => Err(BrokerFailure::Timeout { what }),
    }
}

impl RedisBroker {
    /// Starts the broker's tasks; Redis is reached in the background, so a
    /// node starts (not ready) even while Redis is down.
    pub(crate) fn start(
        config: Arc<Config>,
        url: &str,
        hub: Arc<Hub>,
        interest: mpsc::UnboundedSender<Interest>,
        interest_rx: mpsc::UnboundedReceiver<Interest>,
    ) -> Result<Self, ConfigError> {
        let client = client(url, &config.redis_tls)?;
        let (queues, writers) = pipeline::Queues::new();
        let presence = hub.presence().clone();
        let shared = Arc::new(Shared {
            keys: Keys::new(&config.redis_prefix),
            config,
            hub,
            presence,
            presence_scripts: presence::Scripts::default(),
            presence_retries: Mutex::default(),
            client,
            commands: Mutex::default(),
            interest,
            state: State::default(),
            others: Mutex::default(),
            publish_script: scripts::publish(),
            publish_once_script: scripts::publish_once(),
            queues,
            position_script: scripts::position(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        });
        shared
            .tasks
            .spawn(subscriber::run(shared.clone(), interest_rx));
        shared.tasks.spawn(every_refresh(
            shared.clone(),
            "reporting to the cluster",
            |s| Box::pin(cluster::refresh(s)),
        ));
        if !shared.config.presence_channels.is_empty() {
            shared
                .tasks
                .spawn(every_refresh(shared.clone(), "refreshing presence", |s| {
                    Box::pin(presence::refresh(s))
                }));
        }
        for writer in writers {
            shared.tasks.spawn(pipeline::run(shared.clone(), writer));
        }
        shared.tasks.close();
        Ok(Self { shared })
    }
}

/// The Redis client for `url`; a `rediss://` URL with [`RedisTls`]
/// settings trusts their CA (instead of the public roots) and presents
/// their client certificate.
pub(crate) fn client(url: &str, tls: &RedisTls) -> Result<redis::Client, ConfigError> {
    if !tls.is_set() {
        return redis::Client::open(url).map_err(|e| ConfigError::Broker {
            what: "broker URL".into(),
            source: Box::new(e),
        });
    }
    let read = |what, path: &std::path::Path| {
        std::fs::read(path).map_err(|source| ConfigError::Unreadable {
            what,
            path: path.to_owned(),
            source,
        })
    };
    let client_tls = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: read("Redis TLS client certificate", cert)?,
            client_key: read("Redis TLS client key", key)?,
        }),
        _ => None,
    };
    let root_cert = tls
        .ca
        .as_deref()
        .map(|ca| read("Redis TLS CA", ca))
        .transpose()?;
    redis::Client::build_with_tls(
        url,
        redis::TlsCertificates {
            client_tls,
            root_cert,
        },
    )
    .map_err(|e| ConfigError::Broker {
        what: "broker TLS".into(),
        source: Box::new(e),
    })
}

impl Shared {
    fn others(&self) -> Vec<NodeStats> {
        self.others
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The sum of `count` over the other nodes' latest reports (read in
    /// place: a publication must not copy every node's channel map).
    fn sum_others(&self, count: impl Fn(&NodeStats) -> u64) -> u64 {
        self.others
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(count)
            .sum()
    }

    /// Waits until the subscription task has applied every interest change
    /// sent so far; true when Redis is subscribed.
    async fn sync(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.interest.send(Interest::Sync(tx)).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(SYNC_TIMEOUT, rx).await, Ok(Ok(true)))
    }

    fn history_ttl(&self) -> u64 {
        ms(self.config.history_ttl).max(1)
    }

    /// A handle on the current command connection (a clone of a
    /// multiplexed connection, cheap), or why there is none.
    fn commands(&self) -> Result<MultiplexedConnection, BrokerFailure> {
        self.commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(BrokerFailure::NotConnected)
    }

    /// The members of the set at `key` (`SMEMBERS`, failing as `what`),
    /// with the command connection it was read on, for the reads that
    /// follow.
    async fn set_members(
        &self,
        what: &'static str,
        key: String,
    ) -> Result<(MultiplexedConnection, Vec<String>), BrokerFailure> {
        let mut conn = self.commands()?;
        let members = timed(what, redis::cmd("SMEMBERS").arg(key).query_async(&mut conn)).await?;
        Ok((conn, members))
    }

    /// Opens a fresh command connection (the supervisor, on every
    /// (re)connection) and checks it answers.
    async fn reconnect_commands(&self) -> Result<(), BrokerFailure> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT));
        let mut conn = timed(
            "connecting",
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await?;
        timed("ping", redis::cmd("PING").query_async::<String>(&mut conn)).await?;
        *self.commands.lock().unwrap_or_else(|p| p.into_inner()) = Some(conn);
        Ok(())
    }

    fn idempotency_key(&self, p: &Publication) -> String {
        p.idempotency_key
            .as_deref()
            .map(|k| self.keys.idempotency(k))
            .unwrap_or_default()
    }

    /// Queues `PUBLISH`, or with an idempotency key the script that
    /// publishes once per key; `None` for a repeated key.
    async fn publish_message(
        &self,
        p: &Publication,
        channel: String,
        message: &str,
    ) -> Result<Option<u64>, BrokerFailure> {
        let command = match &p.idempotency_key {
            None => {
                let mut command = redis::cmd("PUBLISH");
                command.arg(&channel).arg(message);
                command
            }
            Some(key) => pipeline::evalsha(&self.publish_once_script, |c| {
                c.arg(1)
                    .arg(self.keys.idempotency(key))
                    .arg(&channel)
                    .arg(message)
                    .arg(ms(crate::idempotency::WINDOW));
            }),
        };
        let reply = self.queues.call(&channel, command).await?;
        let n: i64 =
            redis::from_redis_value(reply).map_err(|e| BrokerFailure::protocol("publish", e))?;
        Ok(u64::try_from(n).ok())
    }

    async fn publish(&self, p: &Publication) -> Result<Published, BrokerFailure> {
        let recipients = match &p.target {
            Target::Channel(channel) => {
                let frame = frames::event(&p.event_type, Some(channel), &p.data, p.timestamp, None);
                if self.config.keeps_history(channel.as_str()) {
                    let open = wire::open_frame(&frame)
                        .ok_or_else(|| BrokerFailure::protocol("publish", "frame shape"))?;
                    let redis_channel = self.keys.channel(channel);
                    let command = pipeline::evalsha(&self.publish_script, |c| {
                        c.arg(3)
                            .arg(self.keys.meta(channel))
                            .arg(self.keys.stream(channel))
                            .arg(self.idempotency_key(p))
                            .arg(new_epoch())
                            .arg(open)
                            .arg(self.config.history_size)
                            .arg(self.history_ttl())
                            .arg(self.history_ttl() + ms(META_GRACE))
                            .arg(&redis_channel)
                            .arg(ms(crate::idempotency::WINDOW));
                    });
                    let reply = self.queues.call(&redis_channel, command).await?;
                    let (_, _, n): (String, u64, i64) = redis::from_redis_value(reply)
                        .map_err(|e| BrokerFailure::protocol("publish", e))?;
                    if n < 0 {
                        return Ok(Published::Duplicate);
                    }
                } else if self
                    .publish_message(p, self.keys.channel(channel), frame.as_str())
                    .await?
                    .is_none()
                {
                    return Ok(Published::Duplicate);
                }
                let remote =
                    self.sum_others(|n| n.channels.get(channel.as_str()).copied().unwrap_or(0));
                self.hub.subscriber_count(channel) + remote as usize
            }
            Target::User(user) => {
                let frame = frames::event(&p.event_type, None, &p.data, p.timestamp, None);
                let message = wire::encode_user(user, &frame);
                if self
                    .publish_message(p, self.keys.node_wide(), &message)
                    .await?
                    .is_none()
                {
                    return Ok(Published::Duplicate);
                }
                let remote = match cluster::user_connections(self, user).await {
                    Ok(n) => n,
                    Err(e) => {
                        self.state.error("counting a user's connections", &e);
                        0
                    }
                };
                self.hub.user_connection_count(user) + remote as usize
            }
            Target::All => {
                let frame = frames::event(&p.event_type, None, &p.data, p.timestamp, None);
                let message = wire::encode_all(&frame);
                if self
                    .publish_message(p, self.keys.node_wide(), &message)
                    .await?
                    .is_none()
                {
                    return Ok(Published::Duplicate);
                }
                let remote = self.sum_others(|n| n.total_connections);
                self.hub.connection_count() + remote as usize
            }
        };
        Ok(Published::Cluster { recipients })
    }

    /// The channel's position, the time in Redis and the stream entries
    /// `start` asks for (at most `count`), in one atomic script.
    async fn read(
        &self,
        channel: &ChannelName,
        start: Option<Start<'_>>,
        count: usize,
    ) -> Result<(Position, u64, Vec<(u64, u64, Frame)>), BrokerFailure> {
        let mut conn = self.commands()?;
        let mut invocation = self.position_script.key(self.keys.meta(channel));
        invocation
            .key(self.keys.stream(channel))
            .arg(new_epoch())
            .arg(match start {
                None => "none",
                Some(Start::Latest) => "latest",
                Some(Start::After(_)) => "after",
            })
            .arg(self.history_ttl() + ms(META_GRACE))
            .arg(count);
        if let Some(Start::After(since)) = start {
            invocation.arg(&since.epoch).arg(since.offset);
        }
        let reply: Vec<redis::Value> =
            timed("reading history", invocation.invoke_async(&mut conn)).await?;
        let mut items = reply.into_iter();
        let bad = |detail: &'static str| BrokerFailure::protocol("reading history", detail);
        let mut next_string = || -> Result<String, BrokerFailure> {
            let v = items.next().ok_or_else(|| bad("short history reply"))?;
            redis::from_redis_value::<String>(v)
                .map_err(|e| BrokerFailure::protocol("reading history", e))
        };
        let epoch: Arc<str> = Arc::from(next_string()?);
        let top: u64 = next_string()?.parse().map_err(|_| bad("bad top"))?;
        let now: u64 = next_string()?.parse().map_err(|_| bad("bad time"))?;
        let mut entries = Vec::new();
        while let Ok(id) = next_string() {
            let at: u64 = next_string()?.parse().unwrap_or(0);
            let frame = next_string()?;
            let offset = wire::offset_of_id(&id).ok_or_else(|| bad("bad stream id"))?;
            entries.push((offset, at, Frame::from(frame)));
        }
        Ok((Position::new(epoch, top), now, entries))
    }

    /// The channel's position and the events `replay` asks for
    /// (`history::joined`).
    async fn position(
        &self,
        channel: &ChannelName,
        replay: Option<&Replay>,
    ) -> Result<Joined, BrokerFailure> {
        let (start, count) = match replay {
            None => (None, 0),
            Some(Replay::Since(since)) => (Some(Start::After(since)), self.config.history_size + 1),
            Some(Replay::Rewind(n)) => (
                Some(Start::Latest),
                usize::try_from(*n)
                    .unwrap_or(usize::MAX)
                    .min(self.config.history_size),
            ),
        };
        let (position, now, entries) = self.read(channel, start, count).await?;
        Ok(joined(position, replay, now, self.history_ttl(), entries))
    }

    /// A history read (see [`Broker::history`]).
    async fn history(
        &self,
        channel: &ChannelName,
        start: Start<'_>,
        limit: usize,
    ) -> Result<(Position, Page), BrokerFailure> {
        let count = limit.min(self.config.history_size);
        let (position, now, entries) = self.read(channel, Some(start), count).await?;
        let read = page(start, &position, now, self.history_ttl(), limit, entries);
        Ok((position, read))
    }

    /// Reads the stream entries `from..=to` (catching up after a gap).
    async fn range(
        &self,
        channel: &ChannelName,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Frame)>, BrokerFailure> {
        let mut conn = self.commands()?;
        let reply: redis::streams::StreamRangeReply = timed(
            "reading history",
            redis::cmd("XRANGE")
                .arg(self.keys.stream(channel))
                .arg(format!("{from}-0"))
                .arg(format!("{to}-0"))
                .query_async(&mut conn),
        )
        .await?;
        Ok(reply
            .ids
            .into_iter()
            .filter_map(|entry| {
                let offset = wire::offset_of_id(&entry.id)?;
                let frame: String = entry.get("f")?;
                Some((offset, Frame::from(frame)))
            })
            .collect())
    }

    /// Answers a subscription (see [`Broker::subscribe`]).
    async fn subscribe(&self, channel: &ChannelName, replay: Option<&Replay>) -> Joined {
        let synced = self.sync().await;
        if synced && self.config.keeps_history(channel.as_str()) {
            match self.position(channel, replay).await {
                Ok(joined) => return joined,
                Err(e) => self.state.error("reading a channel's position", &e),
            }
        }
        // No history here, or Redis unreachable (then the client learns, with
        // `recovered: false`, that it may have missed events).
        Joined::without_history(replay)
    }
}

impl Broker for RedisBroker {
    fn publish(&self, p: Publication) -> BoxFuture<'_, Result<Published, BrokerError>> {
        Box::pin(async move {
            let s = &self.shared;
            let outcome = if s.state.is_up() {
                s.publish(&p)
                    .await
                    .inspect_err(|e| s.state.error("publishing", e))
            } else {
                Err(s.state.reason())
            };
            outcome.map_err(|reason| {
                s.state.refused.fetch_add(1, Ordering::Relaxed);
                BrokerError::Unavailable(reason)
            })
        })
    }

    fn subscribe<'a>(
        &'a self,
        channel: &'a ChannelName,
        replay: Option<&'a Replay>,
    ) -> BoxFuture<'a, Joined> {
        Box::pin(self.shared.subscribe(channel, replay))
    }

    fn history<'a>(
        &'a self,
        channel: &'a ChannelName,
        start: Start<'a>,
        limit: usize,
    ) -> BoxFuture<'a, Result<(Position, Page), BrokerError>> {
        Box::pin(async move {
            let s = &self.shared;
            if !s.state.is_up() {
                return Err(BrokerError::Unavailable(s.state.reason()));
            }
            s.history(channel, start, limit)
                .await
                .inspect_err(|e| s.state.error("reading history", e))
                .map_err(BrokerError::Unavailable)
        })
    }

    fn presence_changed(
        &self,
        channel: ChannelName,
        change: Change,
        info: PresenceInfo,
    ) -> BoxFuture<'static, ()> {
        let shared = self.shared.clone();
        Box::pin(async move {
            if let Err(e) = presence::changed(&shared, &channel, change, &info).await {
                shared.state.error("recording presence", &e);
                presence::retry_later(&shared, channel, change, info);
            }
        })
    }

    fn presence_members<'a>(
        &'a self,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<Vec<PresenceInfo>, BrokerError>> {
        Box::pin(async move {
            presence::members(&self.shared, channel)
                .await
                .map_err(BrokerError::Unavailable)
        })
    }

    fn presence_counts<'a>(
        &'a self,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<Counts, BrokerError>> {
        Box::pin(async move {
            presence::counts(&self.shared, channel)
                .await
                .map_err(BrokerError::Unavailable)
        })
    }

    fn kind(&self) -> &'static str {
        "redis"
    }

    fn is_cluster(&self) -> bool {
        true
    }

    fn health(&self) -> BrokerHealth {
        let state = &self.shared.state;
        if state.is_up() {
            BrokerHealth::Up
        } else {
            BrokerHealth::Down(state.reason())
        }
    }

    fn cluster(&self) -> BoxFuture<'_, Option<ClusterView>> {
        Box::pin(async move {
            let s = &self.shared;
            if !s.state.is_up() {
                return Some(ClusterView::default());
            }
            match cluster::read_others(s).await {
                Ok(others) => {
                    let users = cluster::distinct_users(s, &others)
                        .await
                        .inspect_err(|e| s.state.error("counting distinct users", e))
                        .ok();
                    Some(ClusterView { others, users })
                }
                Err(e) => {
                    s.state.error("reading cluster stats", &e);
                    Some(ClusterView::default())
                }
            }
        })
    }

    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register_collector(Box::new(metrics::BrokerMetrics(self.shared.clone())));
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let s = &self.shared;
            s.shutdown.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(1), s.tasks.wait()).await;
            if let Err(e) = cluster::deregister(s).await {
                tracing::debug!(error = %e, "could not deregister from the cluster");
            }
            if let Err(e) = presence::deregister(s).await {
                tracing::debug!(error = %e, "could not leave presence");
            }
        })
    }
}

/// Runs `step` every `cluster_refresh` while Redis is up, until shutdown
/// (a missed tick waits for the next); a failure goes to the broker's
/// health as `what` failing. The cluster report and presence's liveness
/// marker both keep time this way.
async fn every_refresh(
    shared: Arc<Shared>,
    what: &'static str,
    step: for<'a> fn(&'a Shared) -> BoxFuture<'a, Result<(), BrokerFailure>>,
) {
    let mut tick = tokio::time::interval(shared.config.cluster_refresh);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tick.tick() => {
                if !shared.state.is_up() {
                    continue;
                }
                if let Err(e) = step(&shared).await {
                    shared.state.error(what, &e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_ws_protocol::EventType;

    #[test]
    fn the_script_built_frame_equals_the_hub_frame() {
        let channel = ChannelName::new("missions").unwrap();
        let t = EventType::new("mission_started").unwrap();
        let data = serde_json::json!({"mission_id": "m1", "n": [1, 2]});
        let open = frames::event(&t, Some(&channel), &data, 1.5, None);
        let built = format!("{},\"offset\":42}}", wire::open_frame(&open).unwrap());
        assert_eq!(
            built,
            frames::event(&t, Some(&channel), &data, 1.5, Some(42)).as_str()
        );
    }
}
