//! The in-memory broker: one node, no other service. It owns each history
//! channel's ring (`history.rs`) as the Redis broker owns its streams, and
//! hands every publication, serialized once, to the hub.
//!
//! A history event takes its offset, enters the ring and is delivered under
//! the ring shard's lock (then the hub's channel lock: see the lock order in
//! `hub.rs`), so offsets reach subscribers in order and a subscription that
//! reads the ring meanwhile is deduplicated by offset in `Hub::activate`.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use brain_ws_protocol::{ChannelName, PresenceInfo};
use futures_util::future::BoxFuture;

use super::{Broker, BrokerError, Publication, Published};
use crate::frames;
use crate::history::{Page, Position, Replay, Ring, Start};
use crate::hub::{Hub, Joined, Recipients, Sequenced, Target};
use crate::idempotency::Remembered;
use crate::presence::{Change, Counts, Presence};

const SHARDS: usize = 32;

type Rings = HashMap<ChannelName, Ring>;

/// Delivers on this node only: the default broker, and the one to wrap
/// for an application's own ([`crate::Node::start_with_broker`]).
pub struct MemoryBroker {
    hub: Arc<Hub>,
    /// This node's presence registry, which is the whole system's.
    presence: Arc<Presence>,
    rings: Box<[Mutex<Rings>]>,
    /// Idempotency keys seen within the window.
    keys: Remembered,
}

fn lock(m: &Mutex<Rings>) -> MutexGuard<'_, Rings> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn shard_of(channel: &ChannelName) -> usize {
    let mut h = DefaultHasher::new();
    channel.as_str().hash(&mut h);
    (h.finish() as usize) % SHARDS
}

impl MemoryBroker {
    /// The broker of the node whose hub is `hub`; history size, TTL and
    /// channels come from the hub's configuration, presence from the hub's
    /// registry.
    pub fn new(hub: Arc<Hub>) -> Self {
        let presence = hub.presence().clone();
        Self {
            keys: Remembered::default(),
            hub,
            presence,
            rings: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn new_ring(&self) -> Ring {
        let config = self.hub.config();
        let ttl = u64::try_from(config.history_ttl.as_millis()).unwrap_or(u64::MAX);
        Ring::new(config.history_size, ttl)
    }

    fn deliver(&self, p: &Publication) -> usize {
        match &p.target {
            Target::Channel(channel) if self.hub.config().keeps_history(channel.as_str()) => {
                let now = self.hub.now_ms();
                let mut rings = lock(&self.rings[shard_of(channel)]);
                let ring = rings
                    .entry(channel.clone())
                    .or_insert_with(|| self.new_ring());
                let (frame, position) = ring.append(now, |offset| p.frame(Some(offset)));
                let sequenced = Sequenced {
                    position,
                    accept_gap: false,
                };
                self.hub
                    .deliver(Recipients::Channel(channel, Some(&sequenced)), &frame)
                    .recipients()
            }
            Target::Channel(channel) => self
                .hub
                .deliver(Recipients::Channel(channel, None), &p.frame(None))
                .recipients(),
            Target::User(user) => self
                .hub
                .deliver(Recipients::User(user), &p.frame(None))
                .recipients(),
            Target::All => self
                .hub
                .deliver(Recipients::All, &p.frame(None))
                .recipients(),
        }
    }

    fn join(&self, channel: &ChannelName, replay: Option<&Replay>) -> Joined {
        if !self.hub.config().keeps_history(channel.as_str()) {
            return Joined::without_history(replay);
        }
        let now = self.hub.now_ms();
        self.with_ring(channel, |ring| ring.join(replay, now))
    }

    /// Runs `f` on the channel's ring (created if new) under its shard's lock.
    fn with_ring<T>(&self, channel: &ChannelName, f: impl FnOnce(&mut Ring) -> T) -> T {
        let mut rings = lock(&self.rings[shard_of(channel)]);
        f(rings
            .entry(channel.clone())
            .or_insert_with(|| self.new_ring()))
    }
}

impl Broker for MemoryBroker {
    fn publish(&self, p: Publication) -> BoxFuture<'_, Result<Published, BrokerError>> {
        let fresh = p
            .idempotency_key
            .as_deref()
            .is_none_or(|key| self.keys.first_time(key, self.hub.now_ms()));
        let published = if fresh {
            Published::Local {
                recipients: self.deliver(&p),
            }
        } else {
            Published::Duplicate
        };
        Box::pin(std::future::ready(Ok(published)))
    }

    fn subscribe<'a>(
        &'a self,
        channel: &'a ChannelName,
        replay: Option<&'a Replay>,
    ) -> BoxFuture<'a, Joined> {
        Box::pin(std::future::ready(self.join(channel, replay)))
    }

    fn history<'a>(
        &'a self,
        channel: &'a ChannelName,
        start: Start<'a>,
        limit: usize,
    ) -> BoxFuture<'a, Result<(Position, Page), BrokerError>> {
        let now = self.hub.clock().now_ms();
        let read = self.with_ring(channel, |ring| {
            let page = ring.page(start, limit, now);
            (ring.position(), page)
        });
        Box::pin(std::future::ready(Ok(read)))
    }

    /// Delivers at once (before the future is polled), so a `leave` the
    /// node does not wait for is out when the call returns.
    fn presence_changed(
        &self,
        channel: ChannelName,
        change: Change,
        info: PresenceInfo,
    ) -> BoxFuture<'static, ()> {
        let frame = frames::presence(change, &channel, &info);
        self.presence.notify(&channel, info.connection_id, &frame);
        Box::pin(std::future::ready(()))
    }

    fn presence_members<'a>(
        &'a self,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<Vec<PresenceInfo>, BrokerError>> {
        Box::pin(std::future::ready(Ok(self.presence.members(channel))))
    }

    fn presence_counts<'a>(
        &'a self,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<Counts, BrokerError>> {
        Box::pin(std::future::ready(Ok(self.presence.counts(channel))))
    }

    fn kind(&self) -> &'static str {
        "memory"
    }

    /// Drops expired events, and rings that hold nothing and serve no
    /// subscriber (a later subscriber gets a new epoch, as after a restart).
    fn maintain(&self) {
        let now = self.hub.now_ms();
        self.keys.prune(now);
        for shard in self.rings.iter() {
            lock(shard).retain(|channel, ring| {
                ring.prune(now);
                !ring.is_empty() || self.hub.subscriber_count(channel) > 0
            });
        }
    }
}
