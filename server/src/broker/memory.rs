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

use brain_ws_protocol::{ChannelName, PresenceInfo, StreamPosition};
use futures_util::future::BoxFuture;

use super::{Broker, BrokerError, BrokerHealth, ClusterView, Publication, Published};
use crate::config::Config;
use crate::frames;
use crate::history::Ring;
use crate::hub::{Hub, Joined, Recipients, Sequenced, Target};
use crate::idempotency::Remembered;
use crate::presence::{Change, Counts, Presence};

const SHARDS: usize = 32;

type Rings = HashMap<ChannelName, Ring>;

/// Delivers on this node only.
pub(crate) struct MemoryBroker {
    config: Arc<Config>,
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
    pub(crate) fn new(config: Arc<Config>, hub: Arc<Hub>, presence: Arc<Presence>) -> Self {
        Self {
            keys: Remembered::default(),
            config,
            hub,
            presence,
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

    fn join(&self, channel: &ChannelName, since: Option<&StreamPosition>) -> Joined {
        if !self.config.keeps_history(channel.as_str()) {
            return Joined {
                position: None,
                recovered: since.map(|_| false),
                replay: Vec::new(),
                presence: None,
            };
        }
        let now = self.hub.clock().now_ms();
        let mut rings = lock(&self.rings[shard_of(channel)]);
        let ring = rings
            .entry(channel.clone())
            .or_insert_with(|| self.new_ring());
        let position = Some(ring.position());
        match since.map(|s| ring.recover(s, now)) {
            None => Joined {
                position,
                recovered: None,
                replay: Vec::new(),
                presence: None,
            },
            Some(replay) => Joined {
                position,
                recovered: Some(replay.is_some()),
                replay: replay.unwrap_or_default(),
                presence: None,
            },
        }
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
        since: Option<&'a StreamPosition>,
    ) -> BoxFuture<'a, Joined> {
        Box::pin(std::future::ready(self.join(channel, since)))
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
