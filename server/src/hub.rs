//! The hub owns this node's connections, their channel subscriptions and the
//! user index, and fans frames out to them. It keeps no history and does
//! not know which broker runs: brokers hand it ready frames through one
//! entry, [`Hub::deliver`], and every subscription goes through one path,
//! [`Hub::subscribe_pending`] then [`Hub::activate`].
//!
//! Channels live in shards (a mutex each, chosen by the channel's hash), so
//! broadcasts on different channels never contend on one lock. No lock is
//! held across an `.await`. Lock order (the only place it is written): a
//! broker's own lock (the in-memory ring's shard) before a hub channel
//! shard, a hub channel shard before a connection's outbox
//! (`Connection::offer`, which with direct writes also writes to the socket
//! without blocking, `try_write`). Offers never wait for a slow client: a
//! full outbox closes its connection (4008) instead.
//!
//! For history channels the hub remembers the position of the last event it
//! delivered, so a repeated event is dropped and a jump is reported back to
//! the broker ([`Outcome::Gap`]) to be filled from history. When a jump
//! cannot be filled, or the stream restarted (a new epoch), the hub tells
//! every subscriber with a `subscribed` carrying `recovered: false` and the
//! position the stream continues from (docs/protocol.md, "Stream
//! restarts"), so no subscriber is left with a hole it does not know about.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use brain_ws_protocol::ChannelName;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::Config;
use crate::connection::{Connection, Offer};
use crate::frames;
use crate::frames::Frame;
use crate::history::Position;
use crate::metrics::{Metrics, inc};
use crate::presence::Presence;

const SHARDS: usize = 32;

/// Connections by internal key.
type ConnMap = HashMap<u64, Arc<Connection>>;

/// One channel on this node: its local subscribers and, for history
/// channels, the position of the last event delivered.
#[derive(Default)]
struct ChannelEntry {
    subscribers: HashMap<u64, Subscriber>,
    last: Option<Position>,
}

/// A subscriber, live or waiting for its `subscribed` answer.
struct Subscriber {
    conn: Arc<Connection>,
    /// While the broker prepares the answer: the live events that arrived
    /// meanwhile, with their positions, to be flushed after the replay.
    pending: Option<Vec<(Option<Position>, Frame)>>,
    /// The position the subscriber was answered with (`subscribed` offset,
    /// after its replay): events at or below it of the same epoch are not
    /// sent again.
    floor: Option<Position>,
}

impl Subscriber {
    fn live(conn: Arc<Connection>) -> Self {
        Self {
            conn,
            pending: None,
            floor: None,
        }
    }

    /// Whether the subscriber already has the event at `position`.
    fn has(&self, position: Option<&Position>) -> bool {
        match (position, &self.floor) {
            (Some(p), Some(floor)) => p.is_at_or_before(floor),
            _ => false,
        }
    }

    /// Queues a frame, or buffers it while the subscription is pending. A
    /// buffer that outgrows the outbound queue is a slow consumer too.
    fn offer(&mut self, position: Option<&Position>, frame: &Frame, limit: usize) -> bool {
        if self.has(position) {
            return false;
        }
        match &mut self.pending {
            None => self.conn.offer(frame.clone()) == Offer::Queued,
            Some(buffer) if buffer.len() < limit => {
                buffer.push((position.cloned(), frame.clone()));
                true
            }
            Some(_) => {
                self.conn.close(brain_ws_protocol::CloseCode::SLOW_CONSUMER);
                false
            }
        }
    }
}

/// What a shared broker needs to hear from the hub (a broker that
/// subscribes per channel, like Redis's): sent under the channel's lock, so
/// a channel's `Join`s and `Leave`s arrive in the order the hub decided them.
#[derive(Debug)]
#[non_exhaustive]
pub enum Interest {
    /// The channel gained its first local subscriber (sent before that
    /// subscriber's [`crate::broker::Broker::subscribe`] call).
    Join(ChannelName),
    /// The channel lost its last local subscriber.
    Leave(ChannelName),
    /// Never sent by the hub: a broker that queues its own marker behind the
    /// hub's messages (as the Redis broker does, to wait until its
    /// subscriptions are applied) answers it once every earlier `Join` and
    /// `Leave` is applied: `true` when the broker is connected and subscribed.
    Sync(oneshot::Sender<bool>),
}

/// Who a delivery is for (the first argument of [`Hub::deliver`]).
#[derive(Debug, Clone, Copy)]
pub enum Recipients<'a> {
    /// The local subscribers of a channel; with the event's position on a
    /// history channel.
    Channel(&'a ChannelName, Option<&'a Sequenced>),
    /// Every local connection of a user.
    User(&'a str),
    /// Every local connection.
    All,
}

/// A history event's position, and what to do if it does not follow the
/// last one delivered.
#[derive(Debug, Clone)]
pub struct Sequenced {
    /// The event's epoch and offset.
    pub position: Position,
    /// `false`: refuse a jump ([`Outcome::Gap`]) so the caller can fill it.
    /// `true`: deliver anyway, telling the subscribers what they lost.
    pub accept_gap: bool,
}

/// The outcome of [`Hub::deliver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered to this many local recipients (0 when there are none).
    Delivered(usize),
    /// Already delivered (an offset at or below the last one): dropped.
    Duplicate,
    /// Events between the last delivered position and this one are missing
    /// (a jump, or a new epoch that does not start at 1): nothing was
    /// delivered; fetch from offset `from` and deliver in order.
    Gap {
        /// The first missing offset (of the event's epoch).
        from: u64,
    },
}

impl Outcome {
    /// How many recipients it reached.
    pub fn recipients(self) -> usize {
        match self {
            Self::Delivered(n) => n,
            Self::Duplicate | Self::Gap { .. } => 0,
        }
    }
}

/// Where an event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every subscriber of a channel.
    Channel(ChannelName),
    /// Every connection of a user.
    User(Arc<str>),
    /// Every connection.
    All,
}

/// A broker's answer to a subscription: what `subscribed` says and the
/// events to replay before live ones.
#[derive(Debug, Default)]
pub struct Joined {
    /// The channel's position (history channels only): the `epoch` and
    /// `offset` of `subscribed`.
    pub position: Option<Position>,
    /// With `since`: whether every missed event is in `replay` (`None`
    /// without `since`).
    pub recovered: Option<bool>,
    /// With `rewind`: how many events `replay` holds (`None` without
    /// `rewind`).
    pub replayed: Option<u64>,
    /// The missed events (`since`: offsets after it up to `position`) or
    /// the latest ones (`rewind`), in order.
    pub replay: Vec<Frame>,
}

impl Joined {
    /// The answer for a channel without history (or while the cluster is
    /// unreachable): no position; with `since`, `recovered: false` (the
    /// client may have missed events); with `rewind`, `replayed: 0`.
    pub fn without_history(replay: Option<&crate::history::Replay>) -> Self {
        use crate::history::Replay;
        Self {
            position: None,
            recovered: matches!(replay, Some(Replay::Since(_))).then_some(false),
            replayed: matches!(replay, Some(Replay::Rewind(_))).then_some(0),
            replay: Vec::new(),
        }
    }
}

/// This node's connections and subscriptions: a broker hands it every
/// event through [`Hub::deliver`] (module docs of [`crate::broker`]).
pub struct Hub {
    config: Arc<Config>,
    clock: Clock,
    metrics: Arc<Metrics>,
    channels: Box<[Mutex<HashMap<ChannelName, ChannelEntry>>]>,
    connections: Box<[Mutex<ConnMap>]>,
    users: Mutex<HashMap<Arc<str>, ConnMap>>,
    connection_count: AtomicUsize,
    next_key: AtomicU64,
    /// Where to report channel interest, for a broker that subscribes per
    /// channel (Redis); `None` when the broker needs no reports.
    interest: Option<mpsc::UnboundedSender<Interest>>,
    /// This node's presence registry (members and watchers of the channels
    /// `presence_channels` names), shared by the node and its broker.
    presence: Arc<Presence>,
}

/// A poisoned lock only means another thread panicked while holding it; the
/// maps stay structurally valid, so keep serving rather than cascade.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn shard_of<K: Hash + ?Sized>(key: &K) -> usize {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() as usize) % SHARDS
}

impl Hub {
    pub(crate) fn new(
        config: Arc<Config>,
        clock: Clock,
        metrics: Arc<Metrics>,
        interest: Option<mpsc::UnboundedSender<Interest>>,
    ) -> Self {
        Self {
            presence: Arc::new(Presence::new(&config.node_id)),
            interest,
            config,
            clock,
            metrics,
            channels: (0..SHARDS).map(|_| Mutex::default()).collect(),
            connections: (0..SHARDS).map(|_| Mutex::default()).collect(),
            users: Mutex::default(),
            connection_count: AtomicUsize::new(0),
            next_key: AtomicU64::new(1),
        }
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The node's clock: milliseconds since the node started (monotonic),
    /// the time base of history TTLs and idempotency windows.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The configuration the node runs with (history channels and size,
    /// outbound queue, ...).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This node's presence registry.
    pub(crate) fn presence(&self) -> &Arc<Presence> {
        &self.presence
    }

    /// Reserves a connection slot; `None` when the node is full. The slot is
    /// released when the returned guard drops, whether the upgrade succeeds
    /// and the session ends, or the upgrade fails.
    pub(crate) fn reserve_slot(self: &Arc<Self>) -> Option<Slot> {
        let max = self.config.max_connections;
        self.connection_count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot { hub: self.clone() })
    }

    /// How many connections this node has (reserved slots included).
    pub fn connection_count(&self) -> usize {
        self.connection_count.load(Ordering::Acquire)
    }

    /// Creates and registers a connection. The caller must queue the welcome
    /// frame before anything else can reach it, so it is queued here.
    pub(crate) fn register(
        &self,
        user_id: Option<Arc<str>>,
        welcome: impl FnOnce(&Connection) -> Frame,
    ) -> Arc<Connection> {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let conn = Connection::new(key, user_id, self.config.outbound_queue, &self.clock);
        conn.offer(welcome(&conn));
        lock(&self.connections[shard_of(&key)]).insert(key, conn.clone());
        if let Some(user) = &conn.user_id {
            lock(&self.users)
                .entry(user.clone())
                .or_default()
                .insert(key, conn.clone());
        }
        inc(&self.metrics.connections_opened);
        conn
    }

    /// Removes a connection and all its subscriptions.
    pub(crate) fn unregister(&self, conn: &Connection, subscriptions: &[ChannelName]) {
        for channel in subscriptions {
            self.unsubscribe(conn, channel);
        }
        lock(&self.connections[shard_of(&conn.key)]).remove(&conn.key);
        if let Some(user) = &conn.user_id {
            let mut users = lock(&self.users);
            if let Some(conns) = users.get_mut(user) {
                conns.remove(&conn.key);
                if conns.is_empty() {
                    users.remove(user);
                }
            }
        }
        inc(&self.metrics.connections_closed);
    }

    /// How many connections `user` has on this node.
    pub fn user_connection_count(&self, user: &str) -> usize {
        lock(&self.users).get(user).map_or(0, HashMap::len)
    }

    /// Registers `conn` on `channel` with its live events held back until
    /// [`Hub::activate`]. A connection already subscribed is held back too,
    /// so a second `subscribe` is answered in order like the first.
    pub(crate) fn subscribe_pending(&self, conn: &Arc<Connection>, channel: &ChannelName) {
        let mut shard = lock(&self.channels[shard_of(channel.as_str())]);
        let entry = shard.entry(channel.clone()).or_default();
        if entry.subscribers.is_empty() {
            self.tell(Interest::Join(channel.clone()));
        }
        entry
            .subscribers
            .entry(conn.key)
            .or_insert_with(|| Subscriber::live(conn.clone()))
            .pending
            .get_or_insert_with(Vec::new);
    }

    /// Ends a pending subscription with the broker's answer: queues
    /// `subscribed` and the replay, then the live events held back, skipping
    /// those at or below the answered position (already part of the
    /// replay); from then on events flow live. Under the channel's lock, so
    /// nothing slips between the replay and the live stream. `presence` is
    /// `subscribed.presence` (`None` when the subscribe did not ask).
    pub(crate) fn activate(
        &self,
        conn: &Connection,
        channel: &ChannelName,
        joined: Joined,
        presence: Option<bool>,
    ) {
        let mut shard = lock(&self.channels[shard_of(channel.as_str())]);
        let Some(entry) = shard.get_mut(channel) else {
            return;
        };
        // The node's first known position on this channel: from here on, a
        // jump in offsets is a gap to fill (see `deliver_sequenced`).
        if entry.last.is_none() {
            entry.last.clone_from(&joined.position);
        }
        let Some(sub) = entry.subscribers.get_mut(&conn.key) else {
            return;
        };
        let buffered = sub.pending.take().unwrap_or_default();
        let answer = frames::subscribed(
            channel,
            joined.position.as_ref(),
            joined.recovered,
            presence,
            joined.replayed,
        );
        sub.floor = joined.position;
        for frame in std::iter::once(answer).chain(joined.replay) {
            if conn.offer(frame) != Offer::Queued {
                return;
            }
        }
        for (position, frame) in buffered {
            if !sub.has(position.as_ref()) && conn.offer(frame) != Offer::Queued {
                return;
            }
        }
    }

    fn tell(&self, interest: Interest) {
        if let Some(tx) = &self.interest {
            // The broker task outlives the hub's users; a send can only fail
            // during shutdown, when interest no longer matters.
            let _ = tx.send(interest);
        }
    }

    /// Removes `conn` from `channel`; false if it was not subscribed.
    pub(crate) fn unsubscribe(&self, conn: &Connection, channel: &ChannelName) -> bool {
        let mut shard = lock(&self.channels[shard_of(channel.as_str())]);
        let Some(entry) = shard.get_mut(channel) else {
            return false;
        };
        let removed = entry.subscribers.remove(&conn.key).is_some();
        if removed && entry.subscribers.is_empty() {
            self.tell(Interest::Leave(channel.clone()));
        }
        if entry.subscribers.is_empty() {
            shard.remove(channel);
        }
        removed
    }

    /// The one delivery entry: queues a ready frame (serialized once by
    /// the broker) to every local recipient, counting the publication and
    /// its fan-out time. Never waits: a recipient whose outbound queue is
    /// full is closed with 4008 (slow consumer) instead.
    ///
    /// A history event (`Recipients::Channel` with a [`Sequenced`]
    /// position) is delivered at most once per position and in offset
    /// order: an offset at or below the last one delivered answers
    /// [`Outcome::Duplicate`]; a jump answers [`Outcome::Gap`] (nothing
    /// delivered) unless `accept_gap`, so the broker can deliver the missing
    /// offsets first. Events of one channel must be delivered one at a time
    /// in the order the broker decided (a broker that delivers from several
    /// threads keeps its own per-channel lock around this call, taken before
    /// the hub's: see the lock order above).
    pub fn deliver(&self, to: Recipients<'_>, frame: &Frame) -> Outcome {
        let started = Instant::now();
        let outcome = match to {
            Recipients::Channel(channel, None) => {
                let limit = self.config.outbound_queue;
                Outcome::Delivered(
                    lock(&self.channels[shard_of(channel.as_str())])
                        .get_mut(channel)
                        .map_or(0, |entry| fan_out(entry, None, frame, limit)),
                )
            }
            Recipients::Channel(channel, Some(sequenced)) => {
                self.deliver_sequenced(channel, sequenced, frame)
            }
            Recipients::User(user) => {
                let recipients: Vec<Arc<Connection>> = lock(&self.users)
                    .get(user)
                    .map(|conns| conns.values().cloned().collect())
                    .unwrap_or_default();
                Outcome::Delivered(offer_all(recipients.iter(), frame))
            }
            Recipients::All => Outcome::Delivered(self.offer_everyone(frame)),
        };
        if let Outcome::Delivered(n) = outcome {
            inc(&self.metrics.publications);
            self.metrics.fanout(started.elapsed(), n as u64);
        }
        outcome
    }

    /// A history event: each position delivered once, in order. An offset
    /// at or below the last one is dropped; a jump (or a new epoch that does
    /// not start at 1) is refused unless `accept_gap`, in which case the
    /// subscribers are first told, with `subscribed` and `recovered: false`,
    /// where the stream continues from.
    fn deliver_sequenced(&self, channel: &ChannelName, s: &Sequenced, frame: &Frame) -> Outcome {
        let limit = self.config.outbound_queue;
        let mut shard = lock(&self.channels[shard_of(channel.as_str())]);
        let Some(entry) = shard.get_mut(channel) else {
            return Outcome::Delivered(0);
        };
        let position = &s.position;
        let follows = match &entry.last {
            None => true,
            Some(last) if last.epoch == position.epoch => {
                if position.offset <= last.offset {
                    return Outcome::Duplicate;
                }
                position.offset == last.offset + 1
            }
            // A new epoch: the stream restarted (Redis lost its data).
            Some(_) => false,
        };
        if !follows {
            let from = match &entry.last {
                Some(last) if last.epoch == position.epoch => last.offset + 1,
                _ => 1,
            };
            if !s.accept_gap && position.offset > from {
                return Outcome::Gap { from };
            }
            let before = Position::new(position.epoch.clone(), position.offset - 1);
            self.announce(channel, entry, &before);
        }
        let delivered = fan_out(entry, Some(position), frame, limit);
        entry.last = Some(position.clone());
        Outcome::Delivered(delivered)
    }

    /// Tells the subscribers of `channel` that its stream continues after
    /// `before` and that what came between their position and it is lost:
    /// `subscribed` with `recovered: false` (docs/protocol.md, "Stream
    /// restarts"). Those already at or past `before` are not told.
    fn announce(&self, channel: &ChannelName, entry: &mut ChannelEntry, before: &Position) {
        inc(&self.metrics.stream_discontinuities);
        let limit = self.config.outbound_queue;
        let notice = frames::subscribed(channel, Some(before), Some(false), None, None);
        for sub in entry.subscribers.values_mut() {
            if !sub.has(Some(before)) {
                sub.offer(None, &notice, limit);
            }
        }
        entry.last = Some(before.clone());
    }

    /// The stream of `channel` restarted at `start` (a new epoch, found on
    /// reconnecting to Redis): tells the subscribers now rather than at the
    /// next event.
    pub(crate) fn restart(&self, channel: &ChannelName, start: &Position) {
        let mut shard = lock(&self.channels[shard_of(channel.as_str())]);
        if let Some(entry) = shard.get_mut(channel)
            && entry
                .last
                .as_ref()
                .is_some_and(|last| last.epoch != start.epoch)
        {
            self.announce(channel, entry, start);
        }
    }

    /// The last stream position delivered on `channel`, if it has local
    /// subscribers and has seen a history event.
    pub(crate) fn last_position(&self, channel: &ChannelName) -> Option<Position> {
        lock(&self.channels[shard_of(channel.as_str())])
            .get(channel)
            .and_then(|e| e.last.clone())
    }

    /// Offers one frame to every connection on the node (pings, broadcast-all).
    pub(crate) fn offer_everyone(&self, frame: &Frame) -> usize {
        self.connections
            .iter()
            .map(|shard| offer_all(lock(shard).values(), frame))
            .sum()
    }

    /// Calls `f` on every connection, one shard lock at a time.
    pub(crate) fn for_each_connection(&self, mut f: impl FnMut(&Arc<Connection>)) {
        for shard in self.connections.iter() {
            for conn in lock(shard).values() {
                f(conn);
            }
        }
    }

    /// Subscriber counts of every channel with at least one subscriber.
    pub(crate) fn channel_counts(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for shard in self.channels.iter() {
            for (name, entry) in lock(shard).iter() {
                if !entry.subscribers.is_empty() {
                    out.insert(name.to_string(), entry.subscribers.len() as u64);
                }
            }
        }
        out
    }

    /// The subscribers of one channel.
    pub(crate) fn channel_subscribers(&self, channel: &ChannelName) -> Vec<Uuid> {
        lock(&self.channels[shard_of(channel.as_str())])
            .get(channel)
            .map(|e| e.subscribers.values().map(|s| s.conn.id).collect())
            .unwrap_or_default()
    }

    /// Connections per user on this node (for the cluster registry).
    pub(crate) fn user_counts(&self) -> Vec<(String, usize)> {
        lock(&self.users)
            .iter()
            .map(|(user, conns)| (user.to_string(), conns.len()))
            .collect()
    }

    pub(crate) fn user_count(&self) -> usize {
        lock(&self.users).len()
    }

    /// How many local subscribers `channel` has.
    pub fn subscriber_count(&self, channel: &ChannelName) -> usize {
        lock(&self.channels[shard_of(channel.as_str())])
            .get(channel)
            .map_or(0, |e| e.subscribers.len())
    }
}

/// Subscribers from which a channel fan-out is split over two threads.
///
/// With direct writes (`direct.rs`) every offer to an idle connection is a
/// `sendto` on the publishing thread, ~7 us on this machine: a broadcast to
/// 10,000 subscribers would run on one core for 70 ms while the other idles.
/// Splitting it, as the two-thread floor does, halves the time to the last
/// delivery. Below this size the cost of a thread outweighs the gain.
const PARALLEL_FAN_OUT: usize = 2048;

/// Offers `frame` to each subscriber of a channel (buffering for pending
/// ones). The channel's lock is held throughout, so every subscriber sees
/// the channel's events in the same order, split or not.
fn fan_out(
    entry: &mut ChannelEntry,
    position: Option<&Position>,
    frame: &Frame,
    limit: usize,
) -> usize {
    let offer_each = |subs: &mut dyn Iterator<Item = &mut Subscriber>| {
        offer_subscribers(subs, position, frame, limit)
    };
    if entry.subscribers.len() < PARALLEL_FAN_OUT || !parallel_fan_out() {
        // The common case: no list of subscribers to build per broadcast.
        return offer_subscribers(entry.subscribers.values_mut(), position, frame, limit);
    }
    let mut subs: Vec<&mut Subscriber> = entry.subscribers.values_mut().collect();
    let mid = subs.len() / 2;
    let split = std::thread::scope(|scope| {
        let (head, tail) = subs.split_at_mut(mid);
        let helper = std::thread::Builder::new()
            .name("brain-fanout".into())
            .spawn_scoped(scope, move || {
                offer_each(&mut tail.iter_mut().map(|s| &mut **s))
            });
        match helper {
            Ok(helper) => {
                let here = offer_each(&mut head.iter_mut().map(|s| &mut **s));
                // `offer` does not panic; if it did, that half counts as none.
                Some(here + helper.join().unwrap_or(0))
            }
            // No thread to be had (resource limits): nothing offered yet.
            Err(_) => None,
        }
    });
    split.unwrap_or_else(|| offer_each(&mut subs.iter_mut().map(|s| &mut **s)))
}

/// Offers `frame` to each subscriber; how many queued (or wrote) it.
fn offer_subscribers<'a>(
    subs: impl Iterator<Item = &'a mut Subscriber>,
    position: Option<&Position>,
    frame: &Frame,
    limit: usize,
) -> usize {
    subs.map(|s| s.offer(position, frame, limit))
        .filter(|queued| *queued)
        .count()
}

/// Whether the machine has a second core to split fan-outs over.
fn parallel_fan_out() -> bool {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from)) > 1
}

/// Offers `frame` to each connection; slow ones close themselves.
fn offer_all<'a>(conns: impl Iterator<Item = &'a Arc<Connection>>, frame: &Frame) -> usize {
    let mut offered = 0;
    for conn in conns {
        if conn.offer(frame.clone()) == Offer::Queued {
            offered += 1;
        }
    }
    offered
}

/// A reserved connection slot, released on drop.
pub(crate) struct Slot {
    hub: Arc<Hub>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.hub.connection_count.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    /// A fan-out large enough to be split over two threads still offers
    /// every frame to every subscriber exactly once, in publishing order.
    #[test]
    fn a_split_fan_out_reaches_everyone_once_in_order() {
        let clock = Clock::new();
        let n = PARALLEL_FAN_OUT * 2 + 1;
        let conns: Vec<Arc<Connection>> = (0..n as u64)
            .map(|key| Connection::new(key, None, 8, &clock))
            .collect();
        let mut entry = ChannelEntry::default();
        for conn in &conns {
            entry
                .subscribers
                .insert(conn.key, Subscriber::live(conn.clone()));
        }
        assert_eq!(fan_out(&mut entry, None, &Frame::from("a"), 8), n);
        assert_eq!(fan_out(&mut entry, None, &Frame::from("b"), 8), n);
        for conn in &conns {
            assert_eq!(conn.try_next().map(|f| f.to_string()), Some("a".into()));
            assert_eq!(conn.try_next().map(|f| f.to_string()), Some("b".into()));
            assert_eq!(conn.try_next().map(|f| f.to_string()), None);
        }
    }
}
