//! The hub owns this node's connections, their channel subscriptions and the
//! user index, and fans frames out to them.
//!
//! Channels live in shards (a mutex each, chosen by the channel's hash), so
//! broadcasts on different channels never contend on one lock. No lock is
//! held across an `.await`: fan-out only offers pre-serialized frames to
//! bounded queues (`Connection::offer`), which never waits.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use brain_ws_protocol::{ChannelName, EventType, StreamPosition};
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
/// channels, the recent events.
#[derive(Default)]
struct ChannelEntry {
    subscribers: HashMap<u64, Arc<Connection>>,
    history: Option<History>,
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
    pub(crate) fn new(config: Arc<Config>, clock: Clock, metrics: Arc<Metrics>) -> Self {
        Self {
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
    ) -> (Arc<Connection>, tokio::sync::mpsc::Receiver<Frame>) {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let (conn, rx) = Connection::new(key, user_id, self.config.outbound_queue, &self.clock);
        conn.offer(welcome(&conn));
        lock(&self.connections[shard_of(&key)]).insert(key, conn.clone());
        if let Some(user) = &conn.user_id {
            lock(&self.users)
                .entry(user.clone())
                .or_default()
                .insert(key, conn.clone());
        }
        inc(&self.metrics.connections_opened);
        (conn, rx)
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
        let keeps_history = self.config.keeps_history(channel.as_str());
        let mut shard = lock(&self.channels[shard_of(channel.as_str())]);
        let entry = shard.entry(channel.clone()).or_default();
        if keeps_history && entry.history.is_none() {
            entry.history = Some(self.new_history());
        }
        entry.subscribers.insert(conn.key, conn.clone());
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
        if entry.subscribers.is_empty() && entry.history.as_ref().is_none_or(History::is_empty) {
            shard.remove(channel);
        }
        removed
    }

    /// Serializes an event once and queues it to every local recipient.
    /// Returns how many recipients it was offered to.
    pub(crate) fn deliver(
        &self,
        target: &Target,
        event_type: &EventType,
        data: &serde_json::Value,
        timestamp: f64,
    ) -> usize {
        inc(&self.metrics.publications);
        let started = Instant::now();
        let delivered = match target {
            Target::Channel(channel) => self.deliver_channel(channel, event_type, data, timestamp),
            Target::User(user) => {
                let frame = frames::event(event_type, None, data, timestamp, None);
                let recipients: Vec<Arc<Connection>> = lock(&self.users)
                    .get(user)
                    .map(|conns| conns.values().cloned().collect())
                    .unwrap_or_default();
                offer_all(recipients.iter(), &frame)
            }
            Target::All => {
                let frame = frames::event(event_type, None, data, timestamp, None);
                self.offer_everyone(&frame)
            }
        };
        self.metrics.fanout(started.elapsed(), delivered as u64);
        delivered
    }

    fn deliver_channel(
        &self,
        channel: &ChannelName,
        event_type: &EventType,
        data: &serde_json::Value,
        timestamp: f64,
    ) -> usize {
        let keeps_history = self.config.keeps_history(channel.as_str());
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
        offer_all(entry.subscribers.values(), &frame)
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
            .map(|e| e.subscribers.values().map(|c| c.id).collect())
            .unwrap_or_default()
    }

    pub(crate) fn user_count(&self) -> usize {
        lock(&self.users).len()
    }

    /// How many connections `user` has (for send-to-user answers).
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
