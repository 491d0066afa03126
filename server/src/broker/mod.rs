//! How events travel between publishers and the hubs that deliver them.
//!
//! The node hands every publication and every subscription to a [`Broker`].
//! The in-memory broker ([`MemoryBroker`]) delivers straight to this node's
//! hub and keeps each history channel's ring. The Redis broker carries each
//! publication through Redis to every node, each of which delivers it to its
//! own hub, and keeps the history in Redis Streams shared by all nodes. Both
//! apply the same recovery rule ([`recover`]). The hub never knows which
//! broker is in use (centrifuge's Node/Hub/Broker split): it gets ready
//! frames through [`Hub::deliver`] and answers through [`Broker::subscribe`].
//!
//! An application can plug in its own broker with
//! [`crate::Node::start_with_broker`]: the node hands the broker its
//! [`Hub`] and the hub's [`Interests`] (which channels have local
//! subscribers, for a broker that subscribes per channel), and the broker
//! implements [`Broker`]. Wrapping the
//! [`MemoryBroker`] (to count, log or mirror publications) is the shortest
//! case; `server/tests/it/custom_broker.rs` does that and runs a real
//! WebSocket subscribe and publish through it.

mod memory;
pub(crate) mod redis;

use brain_ws_protocol::http::NodeStats;
use brain_ws_protocol::{ChannelName, EventType, PresenceInfo};
use futures_util::future::BoxFuture;

pub use crate::frames::Frame;
pub use crate::history::{Page, Position, Replay, Start, recover};
pub use crate::hub::{Hub, Interest, Joined, Outcome, Recipients, Sequenced, Target};
pub use crate::presence::{Change, Counts};

/// The hub's [`Interest`] messages, handed to an application's broker by
/// [`crate::Node::start_with_broker`]: read them, or drop the receiver (the
/// hub then stops sending); a receiver kept but never read grows.
pub type Interests = tokio::sync::mpsc::UnboundedReceiver<Interest>;
pub use memory::MemoryBroker;

/// One event to deliver, as [`crate::Node::publish`] and friends hand it
/// to the broker.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Publication {
    /// Who it is for: a channel's subscribers, a user's connections, or
    /// every connection.
    pub target: Target,
    /// The event's `type`.
    pub event_type: EventType,
    /// The event's `data`.
    pub data: serde_json::Value,
    /// When it was published, in seconds since the Unix epoch (the
    /// envelope's `timestamp`).
    pub timestamp: f64,
    /// The publisher's idempotency key: a second publication with the same
    /// key within [`crate::IDEMPOTENCY_WINDOW`] is not delivered.
    pub idempotency_key: Option<String>,
}

impl Publication {
    /// The event's frame as every recipient receives it (the envelope of
    /// docs/protocol.md, "Events"), serialized once: with its channel for a
    /// channel target, and with `offset` on a history channel.
    pub fn frame(&self, offset: Option<u64>) -> Frame {
        let channel = match &self.target {
            Target::Channel(channel) => Some(channel),
            Target::User(_) | Target::All => None,
        };
        crate::frames::event(
            &self.event_type,
            channel,
            &self.data,
            self.timestamp,
            offset,
        )
    }
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
#[derive(Debug, Clone, thiserror::Error)]
pub enum BrokerError {
    /// The cluster broker (Redis) cannot be reached, or did not confirm the
    /// publication; the HTTP API answers 503 `unavailable` with this
    /// message.
    #[error("broker unavailable: {0}")]
    Unavailable(BrokerFailure),
}

/// The cause of an error of a failure's `source`: shared, so a failure can
/// be kept as the broker's state and handed to every caller.
pub type FailureSource = std::sync::Arc<dyn std::error::Error + Send + Sync>;

/// What is wrong with the cluster broker (Redis, or an application's own):
/// the reason of [`BrokerError::Unavailable`], of `/ready`'s 503
/// (`"redis: unavailable (<reason>)"`) and of [`crate::Node::broker_unavailable`].
/// Each `what` names the operation that failed (`publish`, `connecting`,
/// `ping`, `reading history`, ...). An outage (`Connecting`,
/// `NotConnected`, `ConnectionLost`, `Unreachable`, `Timeout`) ends by
/// itself; the others ([`BrokerFailure::is_permanent`]) need a fix.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerFailure {
    /// The node has not reached the broker yet (it started moments ago).
    #[error("connecting")]
    Connecting,
    /// No connection to send a command on: the last one was lost and the
    /// next is not open yet.
    #[error("not connected")]
    NotConnected,
    /// The broker closed the subscription connection.
    #[error("connection lost")]
    ConnectionLost,
    /// The broker cannot be reached, or the connection broke while doing
    /// `what`: refused, reset, closed, name resolution, TLS, I/O.
    #[error("{what}: {source}")]
    Unreachable {
        /// The operation.
        what: &'static str,
        /// The client library's error (a `redis::RedisError` for Redis).
        source: FailureSource,
    },
    /// The broker refused the node's credentials (`NOAUTH`, `WRONGPASS`).
    #[error("auth: {what}: {source}")]
    Auth {
        /// The operation.
        what: &'static str,
        /// The client library's error.
        source: FailureSource,
    },
    /// The broker refused the database of the URL (Redis: the `/N` is not
    /// below the server's `databases`).
    #[error("database: {what}: {source}")]
    Database {
        /// The operation.
        what: &'static str,
        /// The client library's error.
        source: FailureSource,
    },
    /// The peer does not speak the broker's protocol, or sent a reply the
    /// node cannot read.
    #[error("protocol: {what}: {source}")]
    Protocol {
        /// The operation.
        what: &'static str,
        /// The parser's error, or what is wrong with the reply.
        source: FailureSource,
    },
    /// The broker answered `what` with any other error reply.
    #[error("refused: {what}: {source}")]
    Refused {
        /// The operation.
        what: &'static str,
        /// The broker's error.
        source: FailureSource,
    },
    /// Too many publications are waiting for the broker: `capacity` are
    /// queued already. Refused at once rather than waiting unbounded; the
    /// publisher retries later (HTTP 503).
    #[error("publish queue full: {capacity} publications are waiting for the broker; retry later")]
    QueueFull {
        /// How many publications the queue holds.
        capacity: usize,
    },
    /// The node is shutting down: nothing more is sent to the broker.
    #[error("shutting down")]
    ShuttingDown,
    /// No answer to `what` within the time allowed (2 s per Redis command,
    /// 1 s per connection attempt).
    #[error("{what}: timed out")]
    Timeout {
        /// The operation.
        what: &'static str,
    },
}

impl BrokerFailure {
    /// A [`BrokerFailure::Protocol`] failure of `what`, with `detail` as its
    /// source (for a reply of the wrong shape).
    pub fn protocol(
        what: &'static str,
        detail: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Protocol {
            what,
            source: FailureSource::from(detail.into()),
        }
    }

    /// Whether it lasts until someone changes the broker or the node's
    /// configuration (`Auth`, `Database`, `Protocol`, `Refused`), rather
    /// than ending by itself like an outage. Both are retried.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::Auth { .. }
                | Self::Database { .. }
                | Self::Protocol { .. }
                | Self::Refused { .. }
        )
    }
}

/// Whether the broker can carry events between nodes right now.
#[derive(Debug, Clone)]
pub enum BrokerHealth {
    /// Working (always, for the in-memory broker).
    Up,
    /// Unreachable: publications fail until it returns.
    Down(BrokerFailure),
}

/// Which nodes share the broker, and their counts.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// Every other live node's last report (this node is not included).
    pub others: Vec<NodeStats>,
    /// Distinct users connected anywhere in the cluster (this node
    /// included): a user connected to two nodes counts once. `None` when
    /// it could not be read, or the broker does not count them (the sum of
    /// the nodes' counts is used then).
    pub users: Option<u64>,
}

/// Carries publications to the hubs that deliver them, and answers
/// subscriptions with the history it keeps: the extension point for an
/// application's own broker ([`crate::Node::start_with_broker`]).
///
/// The node calls it from any task, concurrently; no method may block the
/// thread for long (the futures run on the node's tokio runtime). Only
/// [`Broker::publish`], [`Broker::subscribe`] and [`Broker::kind`] must be
/// written; the others have defaults for a broker of one node.
///
/// A broker that subscribes per channel (to carry only the channels this
/// node has subscribers for) reads the hub's [`Interests`]: `Join` when a
/// channel gains its first local subscriber (before that subscriber's
/// [`Broker::subscribe`]), `Leave` when it loses its last.
///
/// History channels ([`crate::Config::keeps_history`]) carry positions: an
/// epoch naming one incarnation of the channel's stream, and offsets 1, 2,
/// 3, ... within it, one per event, with no gap. A broker that keeps no
/// history delivers without positions and answers every subscription with
/// [`Joined::without_history`].
pub trait Broker: Send + Sync + 'static {
    /// Publishes one event. Resolves once it is delivered (a one-node
    /// broker: handed to [`Hub::deliver`]) or confirmed by the cluster
    /// (which then delivers it on every node, this one included), to
    /// [`Published::Local`] or [`Published::Cluster`] with the recipients
    /// reached.
    ///
    /// Contract:
    /// - Order: the events of one channel reach every node's hub in one
    ///   order, the broker's; on a history channel that is offset order.
    ///   Each node delivers to its hub one event of a channel at a time.
    /// - Positions: on a history channel the event takes the channel's next
    ///   offset and is delivered with it (`Recipients::Channel(channel,
    ///   Some(&Sequenced { position, accept_gap: false }))`, the frame built
    ///   by `publication.frame(Some(offset))`); when the hub answers
    ///   [`Outcome::Gap`], the broker delivers the missing offsets from its
    ///   history first (or, when they are gone, delivers with `accept_gap:
    ///   true`, and the subscribers are told what they lost).
    /// - Idempotency: with an `idempotency_key` already used within
    ///   [`crate::IDEMPOTENCY_WINDOW`] (on any node), nothing is delivered
    ///   and the answer is [`Published::Duplicate`].
    /// - Errors: [`BrokerError::Unavailable`] means delivered nowhere, on
    ///   this node either (the HTTP API answers 503 `unavailable` and the
    ///   publisher may retry). A broker never answers `Ok` for an event
    ///   other nodes will not see.
    fn publish(&self, publication: Publication) -> BoxFuture<'_, Result<Published, BrokerError>>;

    /// The answer to a subscription to `channel`: the channel's position
    /// (history channels) and, with `since`, the events after it, or with
    /// `rewind`, the latest retained events.
    ///
    /// Contract:
    /// - When it is called, the hub already holds the subscriber's live
    ///   events back. Every event after the answered `position` must reach
    ///   the hub through [`Hub::deliver`] (those delivered meanwhile are
    ///   buffered and flushed after the replay, deduplicated by offset), so
    ///   nothing falls between the replay and the live stream.
    /// - With `since`: `replay` holds the events after it up to `position`,
    ///   in offset order, and `recovered` is `Some(true)` only if it holds
    ///   every one of them (same epoch, none trimmed or expired: [`recover`]
    ///   applies the rule); otherwise `Some(false)` and an empty replay.
    ///   With `rewind` N: `replay` holds the latest min(N, retained) events
    ///   up to `position` and `replayed` says how many. Without either,
    ///   `recovered` and `replayed` are `None`.
    /// - It always answers: without history (or while the cluster is
    ///   unreachable) the position is `None`, `recovered` is `false` for
    ///   `since` and `replayed` 0 for `rewind`
    ///   ([`Joined::without_history`]).
    fn subscribe<'a>(
        &'a self,
        channel: &'a ChannelName,
        replay: Option<&'a Replay>,
    ) -> BoxFuture<'a, Joined>;

    /// Reads a history channel's retained events by `history::page`'s rule,
    /// with the channel's position (`GET /api/ws/channels/{channel}/history`).
    /// The caller checks that the channel keeps history. Fails only when
    /// the cluster broker is unreachable. The default, for a broker that
    /// keeps no history, fails with [`BrokerFailure::Protocol`] "this
    /// broker keeps no history" (HTTP 503).
    fn history<'a>(
        &'a self,
        channel: &'a ChannelName,
        start: Start<'a>,
        limit: usize,
    ) -> BoxFuture<'a, Result<(Position, Page), BrokerError>> {
        let _ = (channel, start, limit);
        let failure = BrokerFailure::protocol("reading history", "this broker keeps no history");
        Box::pin(std::future::ready(Err(BrokerError::Unavailable(failure))))
    }

    /// Tells the watchers of presence channel `channel` (subscribers that
    /// asked with `presence: true`) on every node that `info` joined or
    /// left (docs/protocol.md, "Presence"); the node has already recorded
    /// the change in its own registry. Resolves when done and never fails:
    /// a broker that could not carry it (Redis unreachable) logs it and
    /// sends it again once it can, so no member is left behind. The
    /// default, for a broker that keeps no presence, announces nothing:
    /// such a node sends no `join` or `leave` (configure no
    /// `presence_channels` with it).
    fn presence_changed(
        &self,
        channel: ChannelName,
        change: Change,
        info: PresenceInfo,
    ) -> BoxFuture<'static, ()> {
        let _ = (channel, change, info);
        Box::pin(std::future::ready(()))
    }

    /// Every member of presence channel `channel` across the cluster,
    /// oldest join first (`GET /api/ws/channels/{channel}/presence`). The
    /// caller checks that the channel keeps presence. Fails only when the
    /// cluster broker is unreachable. The default, for a broker that keeps
    /// no presence, fails with [`BrokerFailure::Protocol`] "this broker
    /// keeps no presence" (HTTP 503).
    fn presence_members<'a>(
        &'a self,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<Vec<PresenceInfo>, BrokerError>> {
        let _ = channel;
        let failure = BrokerFailure::protocol("reading presence", "this broker keeps no presence");
        Box::pin(std::future::ready(Err(BrokerError::Unavailable(failure))))
    }

    /// The [`Counts`] of presence channel `channel` across the cluster
    /// (`GET /api/ws/channels/{channel}/presence/stats`), kept
    /// incrementally: no scan of the members. Errors and default as for
    /// [`Broker::presence_members`].
    fn presence_counts<'a>(
        &'a self,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<Counts, BrokerError>> {
        let _ = channel;
        let failure = BrokerFailure::protocol("reading presence", "this broker keeps no presence");
        Box::pin(std::future::ready(Err(BrokerError::Unavailable(failure))))
    }

    /// The broker's name, as shown in `/api/ws/info` (`broker`) and `/ready`
    /// (`checks.broker`): `memory` or `redis` for the built-in ones.
    fn kind(&self) -> &'static str;

    /// Whether several nodes share this broker (then the node announces
    /// `system_startup` once the broker is up, and `/ready` reports
    /// `<kind>: ok`). Default: false.
    fn is_cluster(&self) -> bool {
        false
    }

    /// The broker's state for `/ready` (503 while down), `/metrics` and
    /// the startup announcement. Default: always up.
    fn health(&self) -> BrokerHealth {
        BrokerHealth::Up
    }

    /// The other nodes on the same broker, read fresh (for
    /// `/api/ws/stats`); `None` for a broker of one node (the default).
    fn cluster(&self) -> BoxFuture<'_, Option<ClusterView>> {
        Box::pin(std::future::ready(None))
    }

    /// Registers the broker's own metrics in the node's registry (read when
    /// `/metrics` is scraped). Default: none.
    fn register_metrics(&self, _registry: &mut prometheus_client::registry::Registry) {}

    /// Periodic housekeeping, every heartbeat interval: expire history and
    /// idempotency keys kept in memory. Default: nothing.
    fn maintain(&self) {}

    /// Stops background tasks and leaves the cluster; called once, last,
    /// by [`crate::Node::shutdown`]. Default: nothing.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}
