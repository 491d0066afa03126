//! Presence (docs/protocol.md, "Presence"): who is subscribed to the
//! channels that `presence_channels` names, on this node.
//!
//! The node records a member when a subscription to a presence channel is
//! answered and removes it when the connection unsubscribes or closes; the
//! broker then tells the channel's watchers (subscribers that asked with
//! `presence: true`) with a `join` or `leave`, on every node, and answers
//! the cluster-wide reads (the in-memory broker from this registry, the
//! Redis broker from Redis: `broker/redis/presence.rs`).
//!
//! Counts are kept as members come and go (connections per channel, and
//! connections per user per channel), so reading them costs the same for
//! 10 or 100,000 subscribers. Channels without presence never reach this
//! module: the broadcast path does not know it exists.

use std::collections::HashMap;
use std::collections::hash_map::{DefaultHasher, Entry};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use brain_ws_protocol::{ChannelName, PresenceInfo, unix_timestamp};
use uuid::Uuid;

use crate::connection::Connection;
use crate::frames::Frame;

const SHARDS: usize = 32;

/// A `join` or a `leave` (docs/protocol.md, "Presence").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A connection subscribed to a presence channel.
    Join,
    /// A connection left it (unsubscribed, closed, or its node died).
    Leave,
}

/// A presence channel's counts (`GET .../presence/stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Subscribed connections.
    pub connections: u64,
    /// Distinct authenticated users among them.
    pub users: u64,
}

/// One presence channel on this node.
#[derive(Default)]
struct Local {
    /// Members by the connection's internal key.
    members: HashMap<u64, PresenceInfo>,
    /// Connections per user among the members.
    users: HashMap<Arc<str>, usize>,
    /// Members that asked for `join` and `leave`.
    watchers: HashMap<u64, Arc<Connection>>,
}

/// This node's presence channels.
pub(crate) struct Presence {
    node_id: String,
    shards: Box<[Mutex<HashMap<ChannelName, Local>>]>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn shard_of(channel: &ChannelName) -> usize {
    let mut h = DefaultHasher::new();
    channel.as_str().hash(&mut h);
    (h.finish() as usize) % SHARDS
}

impl Presence {
    pub(crate) fn new(node_id: &str) -> Self {
        Self {
            node_id: node_id.to_owned(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard(&self, channel: &ChannelName) -> MutexGuard<'_, HashMap<ChannelName, Local>> {
        lock(&self.shards[shard_of(channel)])
    }

    /// Records `conn` on `channel`, watching `join`/`leave` if `watch`. The
    /// member's entry when it is new (to announce); `None` when it was
    /// already a member (a repeated subscribe: only `watch` changes).
    pub(crate) fn join(
        &self,
        conn: &Arc<Connection>,
        channel: &ChannelName,
        watch: bool,
    ) -> Option<PresenceInfo> {
        let mut shard = self.shard(channel);
        let local = shard.entry(channel.clone()).or_default();
        if watch {
            local.watchers.insert(conn.key, conn.clone());
        } else {
            local.watchers.remove(&conn.key);
        }
        let Entry::Vacant(slot) = local.members.entry(conn.key) else {
            return None;
        };
        let info = PresenceInfo {
            connection_id: conn.id,
            user_id: conn.user_id.as_deref().map(str::to_owned),
            node_id: self.node_id.clone(),
            joined_at: unix_timestamp(),
        };
        slot.insert(info.clone());
        if let Some(user) = &conn.user_id {
            *local.users.entry(user.clone()).or_default() += 1;
        }
        Some(info)
    }

    /// Removes `conn` from `channel`: its entry, to announce, or `None` if
    /// it was not a member.
    pub(crate) fn leave(&self, conn: &Connection, channel: &ChannelName) -> Option<PresenceInfo> {
        let mut shard = self.shard(channel);
        let local = shard.get_mut(channel)?;
        local.watchers.remove(&conn.key);
        let info = local.members.remove(&conn.key)?;
        if let Some(user) = &conn.user_id
            && let Entry::Occupied(mut n) = local.users.entry(user.clone())
        {
            *n.get_mut() -= 1;
            if *n.get() == 0 {
                n.remove();
            }
        }
        if local.members.is_empty() {
            shard.remove(channel);
        }
        Some(info)
    }

    /// Offers a `join` or `leave` frame to this node's watchers of
    /// `channel`, except the connection it is about (its own join is not
    /// echoed). How many it was offered to.
    pub(crate) fn notify(&self, channel: &ChannelName, about: Uuid, frame: &Frame) -> usize {
        let shard = self.shard(channel);
        let Some(local) = shard.get(channel) else {
            return 0;
        };
        local
            .watchers
            .values()
            .filter(|conn| conn.id != about)
            .filter(|conn| conn.offer(frame.clone()) == crate::connection::Offer::Queued)
            .count()
    }

    /// This node's members of `channel`, oldest join first.
    pub(crate) fn members(&self, channel: &ChannelName) -> Vec<PresenceInfo> {
        let mut members: Vec<PresenceInfo> = self
            .shard(channel)
            .get(channel)
            .map(|local| local.members.values().cloned().collect())
            .unwrap_or_default();
        sort(&mut members);
        members
    }

    /// This node's counts for `channel`.
    pub(crate) fn counts(&self, channel: &ChannelName) -> Counts {
        self.shard(channel)
            .get(channel)
            .map(|local| Counts {
                connections: local.members.len() as u64,
                users: local.users.len() as u64,
            })
            .unwrap_or_default()
    }

    /// Every member on this node, by channel (to write again to a cluster
    /// store that lost them).
    pub(crate) fn all(&self) -> Vec<(ChannelName, Vec<PresenceInfo>)> {
        self.shards
            .iter()
            .flat_map(|shard| {
                lock(shard)
                    .iter()
                    .map(|(channel, local)| {
                        (channel.clone(), local.members.values().cloned().collect())
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// Orders members oldest join first (then by connection id, so the order
/// is stable).
pub(crate) fn sort(members: &mut [PresenceInfo]) {
    members.sort_by(|a, b| {
        a.joined_at
            .total_cmp(&b.joined_at)
            .then(a.connection_id.cmp(&b.connection_id))
    });
}
