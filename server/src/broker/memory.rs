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

use brain_ws_protocol::ChannelName;
use futures_util::future::BoxFuture;

use super::{Broker, BrokerError, BrokerHealth, ClusterView, Publication, Published};
use crate::config::Config;
use crate::frames;
use crate::history::{Page, Position, Replay, Ring, Start, joined_without_history};
use crate::hub::{Hub, Joined, Recipients, Sequenced, Target};
use crate::idempotency::Remembered;

const SHARDS: usize = 32;

type Rings = HashMap<ChannelName, Ring>;

/// Delivers on this node only.
pub(crate) struct MemoryBroker {
    config: Arc<Config>,
    hub: Arc<Hub>,
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
    pub(crate) fn new(config: Arc<Config>, hub: Arc<Hub>) -> Self {
        Self {
            keys: Remembered::default(),
            config,
            hub,
            rings: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn new_ring(&self) -> Ring {
        let ttl = u64::try_from(self.config.history_ttl.as_millis()).unwrap_or(u64::MAX);
        Ring::new(self.config.history_size, ttl)
    }

    fn deliver(&self, p: &Publication) -> usize {
        match &p.target {
            Target::Channel(channel) if self.config.keeps_history(channel.as_str()) => {
                let now = self.hub.clock().now_ms();
                let mut rings = lock(&self.rings[shard_of(channel)]);
                let ring = rings
                    .entry(channel.clone())
                    .or_insert_with(|| self.new_ring());
                let (frame, position) = ring.append(now, |offset| {
                    frames::event(
                        &p.event_type,
                        Some(channel),
                        &p.data,
                        p.timestamp,
                        Some(offset),
                    )
                });
                let sequenced = Sequenced {
                    position,
                    accept_gap: false,
                };
                self.hub
                    .deliver(Recipients::Channel(channel, Some(&sequenced)), &frame)
                    .recipients()
            }
            Target::Channel(channel) => {
                let frame = frames::event(&p.event_type, Some(channel), &p.data, p.timestamp, None);
                self.hub
                    .deliver(Recipients::Channel(channel, None), &frame)
                    .recipients()
            }
            Target::User(user) => {
                let frame = frames::event(&p.event_type, None, &p.data, p.timestamp, None);
                self.hub
                    .deliver(Recipients::User(user), &frame)
                    .recipients()
            }
            Target::All => {
                let frame = frames::event(&p.event_type, None, &p.data, p.timestamp, None);
                self.hub.deliver(Recipients::All, &frame).recipients()
            }
        }
    }

    fn join(&self, channel: &ChannelName, replay: Option<&Replay>) -> Joined {
        if !self.config.keeps_history(channel.as_str()) {
            return joined_without_history(replay);
        }
        let now = self.hub.clock().now_ms();
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
            .is_none_or(|key| self.keys.first_time(key, self.hub.clock().now_ms()));
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

    fn kind(&self) -> &'static str {
        "memory"
    }

    fn is_cluster(&self) -> bool {
        false
    }

    fn health(&self) -> BrokerHealth {
        BrokerHealth::Up
    }

    fn cluster(&self) -> BoxFuture<'_, Option<ClusterView>> {
        Box::pin(std::future::ready(None))
    }

    /// Nothing: the hub's metrics say it all.
    fn register_metrics(&self, _registry: &mut prometheus_client::registry::Registry) {}

    /// Drops expired events, and rings that hold nothing and serve no
    /// subscriber (a later subscriber gets a new epoch, as after a restart).
    fn maintain(&self) {
        let now = self.hub.clock().now_ms();
        self.keys.prune(now);
        for shard in self.rings.iter() {
            lock(shard).retain(|channel, ring| {
                ring.prune(now);
                !ring.is_empty() || self.hub.subscriber_count(channel) > 0
            });
        }
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}
