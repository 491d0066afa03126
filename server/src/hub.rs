//! The hub owns this node's connections, their channel subscriptions and the
//! user index, and fans frames out to them.
//!
//! Channels live in shards (a mutex each, chosen by the channel's hash), so
//! broadcasts on different channels never contend on one lock. No lock is
//! held across an `.await`: fan-out only offers pre-serialized frames to
//! bounded queues (`Connection::offer`), which never waits.
//!
//! With the in-memory broker the hub also keeps each channel's history
//! (`local_history`). With a shared broker the history lives in the broker,
//! and the hub instead (a) tells the broker when a channel gains its first or
//! loses its last local subscriber ([`Interest`]), (b) holds a new
//! subscriber's live events in a buffer while the broker fetches its
//! `subscribed` answer and replay ([`Hub::subscribe_pending`],
//! [`Hub::activate`]), and (c) remembers the last offset it delivered per
//! channel so a repeated event is dropped and a gap is reported
//! ([`Hub::deliver_positioned`]).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use brain_ws_protocol::{ChannelName, EventType, StreamPosition};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::Config;
use crate::connection::{Connection, Frame, Offer};
use crate::frames;
use crate::history::{History, Recovery};
use crate::metrics::{Metrics, inc};

const SHARDS: usize = 32;

/// Connections by internal key.
type ConnMap = HashMap<u64, Arc<Connection>>;

/// One channel on this node: its local subscribers and, for history
/// channels, the recent events (in-memory broker) or the position of the
/// last event delivered (shared broker).
#[derive(Default)]
struct ChannelEntry {
    subscribers: HashMap<u64, Subscriber>,
    history: Option<History>,
    last: Option<Position>,
}

/// An event's place in a channel's stream: epoch and offset.
pub(crate) type Position = (Arc<str>, u64);

/// A subscriber, live or waiting for its `subscribed` answer.
struct Subscriber {
    conn: Arc<Connection>,
    /// While the broker prepares the answer: the live events that arrived
    /// meanwhile, with their offsets, to be flushed after the replay.
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
            (Some((epoch, offset)), Some((floor_epoch, floor))) => {
                epoch == floor_epoch && offset <= floor
            }
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

/// What a shared broker needs to hear from the hub, in the order the hub
/// decided it (sent under the channel's lock).
#[derive(Debug)]
pub(crate) enum Interest {
    /// The channel gained its first local subscriber.
    Join(ChannelName),
    /// The channel lost its last local subscriber.
    Leave(ChannelName),
    /// Answered once every earlier `Join`/`Leave` is applied: `true` when the
    /// broker is connected and subscribed.
    Sync(oneshot::Sender<bool>),
}

/// How the hub cooperates with its broker.
pub(crate) struct HubMode {
    /// Keep per-channel history in the hub (in-memory broker).
    pub(crate) local_history: bool,
    /// Where to report channel interest (shared broker).
    pub(crate) interest: Option<mpsc::UnboundedSender<Interest>>,
}

/// The outcome of [`Hub::deliver_positioned`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Positioned {
    /// Delivered to this many local subscribers (0 when there are none).
    Delivered(usize),
    /// Already delivered (an offset at or below the last one): dropped.
    Duplicate,
    /// Events between the last delivered offset and this one are missing:
    /// nothing was delivered; fetch from `from` and deliver in order.
    Gap {
        /// The first missing offset.
        from: u64,
    },
}

/// Where an event goes.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// Every subscriber of a channel.
    Channel(ChannelName),
    /// Every connection of a user.
    User(Arc<str>),
    /// Every connection.
    All,
}

/// This node's connections and subscriptions.
pub(crate) struct Hub {
    config: Arc<Config>,
    clock: Clock,
    metrics: Arc<Metrics>,
    channels: Box<[Mutex<HashMap<ChannelName, ChannelEntry>>]>,
    connections: Box<[Mutex<ConnMap>]>,
    users: Mutex<HashMap<Arc<str>, ConnMap>>,
    connection_count: AtomicUsize,
    next_key: AtomicU64,
    mode: HubMode,
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
        mode: HubMode,
    ) -> Self {
        Self {
            mode,
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

    pub(crate) fn connection_count(&self) -> usize {
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
    pub(crate) fn user_connection_count(&self, user: &str) -> usize {
        lock(&self.users).get(user).map_or(0, HashMap::len)
    }

    /// Subscribes `conn` to `channel` and queues the `subscribed` answer,
    /// followed by the replay when `since` is given. Done under the channel's
    /// lock, so no event published meanwhile can slip between the replay and
    /// the live stream, or be delivered twice.
    pub(crate) fn subscribe(
        &self,
        conn: &Arc<Connection>,
        channel: &ChannelName,
        since: Option<&StreamPosition>,
    ) {
        let now = self.clock.now_ms();
        let keeps_history = self.mode.local_history && self.config.keeps_history(channel.as_str());
        let mut shard = lock(&self.channels[shard_of(channel.as_str())]);
        let entry = shard.entry(channel.clone()).or_default();
        if keeps_history && entry.history.is_none() {
            entry.history = Some(self.new_history());
        }
        if entry.subscribers.is_empty() {
            self.tell(Interest::Join(channel.clone()));
        }
        entry
            .subscribers
            .insert(conn.key, Subscriber::live(conn.clone()));
        match entry.history.as_mut() {
            None => {
                conn.offer(frames::subscribed(channel, None, since.map(|_| false)));
            }
            Some(history) => {
                let (epoch, top) = history.position();
                match since.map(|s| history.recover(s, now)) {
                    None => {
                        conn.offer(frames::subscribed(channel, Some((&epoch, top)), None));
                    }
                    Some(Recovery::Lost) => {
                        conn.offer(frames::subscribed(
                            channel,
                            Some((&epoch, top)),
                            Some(false),
                        ));
                    }
                    Some(Recovery::Complete(replay)) => {
                        conn.offer(frames::subscribed(channel, Some((&epoch, top)), Some(true)));
                        for frame in replay {
                            if conn.offer(frame) != Offer::Queued {
                                break;
                            }
                        }
                    }
                }
            }
        }
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

    /// Ends a pending subscription: queues `head` (the `subscribed` answer
    /// and any replay), then the live events held back, skipping those at
    /// or below `replayed_to` (already part of the replay) when they are of
    /// the same epoch; from then on events flow live. Under the channel's
    /// lock, so nothing slips between the replay and the live stream.
    pub(crate) fn activate(
        &self,
        conn: &Connection,
        channel: &ChannelName,
        head: Vec<Frame>,
        replayed_to: Option<Position>,
    ) {
        let mut shard = lock(&self.channels[shard_of(channel.as_str())]);
        let Some(entry) = shard.get_mut(channel) else {
            return;
        };
        // The node's first known position on this channel: from here on, a
        // jump in offsets is a gap to fill (see `deliver_positioned`).
        if entry.last.is_none() {
            entry.last.clone_from(&replayed_to);
        }
        let Some(sub) = entry.subscribers.get_mut(&conn.key) else {
            return;
        };
        let buffered = sub.pending.take().unwrap_or_default();
        sub.floor = replayed_to;
        for frame in head {
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
        if let Some(tx) = &self.mode.interest {
            // The broker task outlives the hub's users; a send can only fail
            // during shutdown, when interest no longer matters.
            let _ = tx.send(interest);
        }
    }

    fn new_history(&self) -> History {
        let ttl = u64::try_from(self.config.history_ttl.as_millis()).unwrap_or(u64::MAX);
        History::new(self.config.history_size, ttl)
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
        if entry.subscribers.is_empty() && entry.history.as_ref().is_none_or(History::is_empty) {
            shard.remove(channel);
        }
        removed
    }

    /// Serializes an event once and queues it to every local recipient
    /// (in-memory broker: history channels get their offset here).
    /// Returns how many recipients it was offered to.
    pub(crate) fn deliver(
        &self,
        target: &Target,
        event_type: &EventType,
        data: &serde_json::Value,
        timestamp: f64,
    ) -> usize {
        match target {
            Target::Channel(channel) => {
                let started = Instant::now();
                inc(&self.metrics.publications);
                let delivered = self.deliver_channel(channel, event_type, data, timestamp);
                self.metrics.fanout(started.elapsed(), delivered as u64);
                delivered
            }
            Target::User(user) => self.deliver_user(
                user,
                &frames::event(event_type, None, data, timestamp, None),
            ),
            Target::All => {
                self.deliver_all(&frames::event(event_type, None, data, timestamp, None))
            }
        }
    }

    /// Queues a ready frame to every connection of `user`.
    pub(crate) fn deliver_user(&self, user: &str, frame: &Frame) -> usize {
        let started = Instant::now();
        inc(&self.metrics.publications);
        let recipients: Vec<Arc<Connection>> = lock(&self.users)
            .get(user)
            .map(|conns| conns.values().cloned().collect())
            .unwrap_or_default();
        let delivered = offer_all(recipients.iter(), frame);
        self.metrics.fanout(started.elapsed(), delivered as u64);
        delivered
    }

    /// Queues a ready frame to every connection.
    pub(crate) fn deliver_all(&self, frame: &Frame) -> usize {
        let started = Instant::now();
        inc(&self.metrics.publications);
        let delivered = self.offer_everyone(frame);
        self.metrics.fanout(started.elapsed(), delivered as u64);
        delivered
    }

    /// Queues a ready channel frame that carries no stream position (a
    /// channel without history, or an event published while the shared
    /// broker was unreachable) to the channel's local subscribers.
    pub(crate) fn deliver_frame(&self, channel: &ChannelName, frame: &Frame) -> usize {
        let started = Instant::now();
        inc(&self.metrics.publications);
        let limit = self.config.outbound_queue;
        let delivered = lock(&self.channels[shard_of(channel.as_str())])
            .get_mut(channel)
            .map_or(0, |entry| fan_out(entry, None, frame, limit));
        self.metrics.fanout(started.elapsed(), delivered as u64);
        delivered
    }

    /// Queues a ready history frame at `position` (shared broker). Each
    /// offset is delivered once, in order: an offset at or below the last
    /// one delivered is dropped, and one beyond the next is refused with
    /// [`Positioned::Gap`] unless `force` (the caller could not fetch the
    /// gap and accepts the loss). A new epoch starts over.
    pub(crate) fn deliver_positioned(
        &self,
        channel: &ChannelName,
        position: Position,
        frame: &Frame,
        force: bool,
    ) -> Positioned {
        let started = Instant::now();
        let limit = self.config.outbound_queue;
        let mut shard = lock(&self.channels[shard_of(channel.as_str())]);
        let Some(entry) = shard.get_mut(channel) else {
            return Positioned::Delivered(0);
        };
        if let Some((epoch, last)) = &entry.last
            && **epoch == *position.0
        {
            if position.1 <= *last {
                return Positioned::Duplicate;
            }
            if position.1 > last + 1 && !force {
                return Positioned::Gap { from: last + 1 };
            }
        }
        inc(&self.metrics.publications);
        let delivered = fan_out(entry, Some(&position), frame, limit);
        entry.last = Some(position);
        self.metrics.fanout(started.elapsed(), delivered as u64);
        Positioned::Delivered(delivered)
    }

    /// The last stream position delivered on `channel`, if it has local
    /// subscribers and has seen a history event.
    pub(crate) fn last_position(&self, channel: &ChannelName) -> Option<Position> {
        lock(&self.channels[shard_of(channel.as_str())])
            .get(channel)
            .and_then(|e| e.last.clone())
    }

    fn deliver_channel(
        &self,
        channel: &ChannelName,
        event_type: &EventType,
        data: &serde_json::Value,
        timestamp: f64,
    ) -> usize {
        let keeps_history = self.mode.local_history && self.config.keeps_history(channel.as_str());
        let limit = self.config.outbound_queue;
        let mut shard = lock(&self.channels[shard_of(channel.as_str())]);
        let entry = if keeps_history {
            Some(shard.entry(channel.clone()).or_default())
        } else {
            shard.get_mut(channel)
        };
        let Some(entry) = entry else {
            return 0;
        };
        let frame = match (keeps_history, &mut entry.history) {
            (true, history) => {
                let history = history.get_or_insert_with(|| self.new_history());
                let offset = history.next_offset();
                let frame = frames::event(event_type, Some(channel), data, timestamp, Some(offset));
                history.push(offset, self.clock.now_ms(), frame.clone());
                frame
            }
            (false, _) => frames::event(event_type, Some(channel), data, timestamp, None),
        };
        fan_out(entry, None, &frame, limit)
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
    pub(crate) fn subscriber_count(&self, channel: &ChannelName) -> usize {
        lock(&self.channels[shard_of(channel.as_str())])
            .get(channel)
            .map_or(0, |e| e.subscribers.len())
    }

    /// Drops expired history and channel entries nobody uses any more.
    pub(crate) fn sweep(&self) {
        let now = self.clock.now_ms();
        for shard in self.channels.iter() {
            lock(shard).retain(|_, entry| {
                if let Some(h) = entry.history.as_mut() {
                    h.prune(now);
                }
                !entry.subscribers.is_empty()
                    || entry.history.as_ref().is_some_and(|h| !h.is_empty())
            });
        }
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
