//! Presence across the cluster (docs/protocol.md, "Presence"; keys in
//! `wire.rs`).
//!
//! Each node writes its own members: per channel a hash of connection id
//! to `PresenceInfo` JSON (`pm:<node>:<channel>`) and a hash of its
//! connections per user (`pnu:<node>:<channel>`); a channel's hash of users
//! across the cluster (`pu:<channel>`, user -> number of nodes the user is a
//! member on) gives the distinct users as its length. Scripts keep them
//! together, so every count is maintained as members come and go.
//!
//! A node proves it is alive with a marker (`pa:<node>`) that expires after
//! three `cluster_refresh` intervals unless its presence task refreshes it.
//! Any node's sweep (every interval, and before every read) removes the
//! members of a node whose marker expired (a `kill -9`) and announces their
//! `leave`: no ghost member outlives the TTL. A node that was swept while
//! alive (Redis unreachable for longer than the TTL) writes its members
//! again when it is back.
//!
//! `join` and `leave` travel as `p` payloads on the channel's pub/sub
//! channel; every node with local subscribers of the channel (the
//! announcing node included) hands them to its watchers.

use std::time::Duration;

use brain_ws_protocol::{ChannelName, PresenceInfo};
use redis::Script;

use super::{Shared, ms, timed, wire};
use crate::broker::BrokerFailure;
use crate::frames;
use crate::presence::{Change, Counts};

/// How long a node's members outlive its last refresh: three intervals.
pub(super) fn ttl(shared: &Shared) -> Duration {
    shared.config.cluster_refresh * 3
}

/// Records a member. KEYS: alive marker, node set, the node's channel set,
/// members hash, node users hash, channel users hash. ARGV: node id,
/// channel, connection id, member JSON, user id (or empty), TTL ms.
/// Idempotent (a member already recorded changes nothing). Returns 1 when
/// the node was not in the node set (it was swept: write every member again).
fn join_script() -> Script {
    Script::new(
        r"
redis.call('SET', KEYS[1], '1', 'PX', ARGV[6])
local added = redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
if redis.call('HSET', KEYS[4], ARGV[3], ARGV[4]) == 1 and ARGV[5] ~= '' then
  if redis.call('HINCRBY', KEYS[5], ARGV[5], 1) == 1 then
    redis.call('HINCRBY', KEYS[6], ARGV[5], 1)
  end
end
return added
",
    )
}

/// Removes a member. KEYS and ARGV as [`join_script`] (ARGV[4] and [6]
/// unused). Returns 1 if it was recorded.
fn leave_script() -> Script {
    Script::new(
        r"
if redis.call('HDEL', KEYS[4], ARGV[3]) == 0 then return 0 end
if ARGV[5] ~= '' and redis.call('HINCRBY', KEYS[5], ARGV[5], -1) <= 0 then
  redis.call('HDEL', KEYS[5], ARGV[5])
  if redis.call('HINCRBY', KEYS[6], ARGV[5], -1) <= 0 then
    redis.call('HDEL', KEYS[6], ARGV[5])
  end
end
if redis.call('HLEN', KEYS[4]) == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
return 1
",
    )
}

/// Refreshes a node's marker. KEYS: alive marker, node set. ARGV: node
/// id, TTL ms. Returns 1 when the node was not in the set (swept).
fn alive_script() -> Script {
    Script::new(
        r"
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
return redis.call('SADD', KEYS[2], ARGV[1])
",
    )
}

/// Removes every node whose marker expired, with its members, and takes
/// them out of the channels' user counts. KEYS: node set. ARGV: key
/// prefix. Returns `channel, member JSON, ...` of the removed members.
fn sweep_script() -> Script {
    Script::new(
        r"
local p = ARGV[1]
local out = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', p .. ':pa:' .. node) == 0 then
    redis.call('SREM', KEYS[1], node)
    local pch = p .. ':pch:' .. node
    for _, ch in ipairs(redis.call('SMEMBERS', pch)) do
      local pm = p .. ':pm:' .. node .. ':' .. ch
      local pnu = p .. ':pnu:' .. node .. ':' .. ch
      local pu = p .. ':pu:' .. ch
      for _, user in ipairs(redis.call('HKEYS', pnu)) do
        if redis.call('HINCRBY', pu, user, -1) <= 0 then redis.call('HDEL', pu, user) end
      end
      for _, m in ipairs(redis.call('HVALS', pm)) do
        out[#out + 1] = ch
        out[#out + 1] = m
      end
      redis.call('DEL', pm, pnu)
    end
    redis.call('DEL', pch)
  end
end
return out
",
    )
}

/// A channel's counts. KEYS: node set. ARGV: key prefix, channel. Returns
/// `{connections, users}`.
fn counts_script() -> Script {
    Script::new(
        r"
local n = 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + redis.call('HLEN', ARGV[1] .. ':pm:' .. node .. ':' .. ARGV[2])
end
return {n, redis.call('HLEN', ARGV[1] .. ':pu:' .. ARGV[2])}
",
    )
}

/// The presence scripts, loaded once per broker.
pub(super) struct Scripts {
    join: Script,
    leave: Script,
    alive: Script,
    sweep: Script,
    counts: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            join: join_script(),
            leave: leave_script(),
            alive: alive_script(),
            sweep: sweep_script(),
            counts: counts_script(),
        }
    }
}

/// Keeps this node's marker alive and sweeps dead nodes; run every
/// `cluster_refresh` by [`super::every_refresh`] when presence is on.
pub(super) async fn refresh(shared: &Shared) -> Result<(), BrokerFailure> {
    let id = &shared.config.node_id;
    let mut conn = shared.commands()?;
    let mut invocation = shared
        .presence_scripts
        .alive
        .key(shared.keys.presence_alive(id));
    invocation
        .key(shared.keys.presence_nodes())
        .arg(id)
        .arg(ms(ttl(shared)));
    let swept: i64 = timed("refreshing presence", invocation.invoke_async(&mut conn)).await?;
    if swept == 1 {
        rewrite(shared).await?;
    }
    retry(shared).await?;
    sweep(shared).await
}

/// Writes every local member again (after this node was swept).
async fn rewrite(shared: &Shared) -> Result<(), BrokerFailure> {
    for (channel, members) in shared.presence.all() {
        for info in members {
            record(shared, &channel, Change::Join, &info).await?;
        }
    }
    Ok(())
}

/// Keeps a change Redis did not take (unreachable), for the presence task
/// to retry: a leave that never reached Redis would leave a ghost member
/// for as long as this node lives.
pub(super) fn retry_later(
    shared: &Shared,
    channel: ChannelName,
    change: Change,
    info: PresenceInfo,
) {
    lock(&shared.presence_retries).push((channel, change, info));
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Retries the changes Redis did not take, in order. A join whose member
/// has left meanwhile is dropped (its leave is retried, or was recorded as
/// a no-op).
async fn retry(shared: &Shared) -> Result<(), BrokerFailure> {
    let pending = std::mem::take(&mut *lock(&shared.presence_retries));
    let mut left = pending.into_iter();
    while let Some((channel, change, info)) = left.next() {
        let still_member = || {
            shared
                .presence
                .members(&channel)
                .iter()
                .any(|m| m.connection_id == info.connection_id)
        };
        if change == Change::Join && !still_member() {
            continue;
        }
        if let Err(e) = changed(shared, &channel, change, &info).await {
            let mut retries = lock(&shared.presence_retries);
            let later = std::mem::take(&mut *retries);
            retries.push((channel, change, info));
            retries.extend(left);
            retries.extend(later);
            return Err(e);
        }
    }
    Ok(())
}

/// Removes dead nodes' members and announces their `leave`.
async fn sweep(shared: &Shared) -> Result<(), BrokerFailure> {
    let mut conn = shared.commands()?;
    let mut invocation = shared
        .presence_scripts
        .sweep
        .key(shared.keys.presence_nodes());
    invocation.arg(shared.keys.prefix());
    let gone: Vec<String> = timed("sweeping presence", invocation.invoke_async(&mut conn)).await?;
    let mut pipe = redis::pipe();
    let mut any = false;
    for pair in gone.chunks_exact(2) {
        let (Ok(channel), Ok(info)) = (
            ChannelName::new(&pair[0]),
            serde_json::from_str::<PresenceInfo>(&pair[1]),
        ) else {
            continue;
        };
        tracing::debug!(%channel, connection_id = %info.connection_id, node_id = %info.node_id, "presence: member of a dead node removed");
        let frame = frames::presence(Change::Leave, &channel, &info);
        pipe.cmd("PUBLISH")
            .arg(shared.keys.channel(&channel))
            .arg(wire::encode_presence(info.connection_id, frame.as_str()))
            .ignore();
        any = true;
    }
    if any {
        timed("announcing leaves", pipe.query_async::<()>(&mut conn)).await?;
    }
    Ok(())
}

/// Records a join or leave of this node's member in Redis. With a join
/// that finds this node swept, writes every member again.
async fn record(
    shared: &Shared,
    channel: &ChannelName,
    change: Change,
    info: &PresenceInfo,
) -> Result<bool, BrokerFailure> {
    let id = &shared.config.node_id;
    let scripts = &shared.presence_scripts;
    let keys = &shared.keys;
    let script = match change {
        Change::Join => &scripts.join,
        Change::Leave => &scripts.leave,
    };
    let json = serde_json::to_string(info)
        .map_err(|e| BrokerFailure::protocol("recording presence", e))?;
    let mut invocation = script.key(keys.presence_alive(id));
    invocation
        .key(keys.presence_nodes())
        .key(keys.presence_channels(id))
        .key(keys.presence_members(id, channel.as_str()))
        .key(keys.presence_node_users(id, channel.as_str()))
        .key(keys.presence_users(channel.as_str()))
        .arg(id)
        .arg(channel.as_str())
        .arg(info.connection_id.to_string())
        .arg(json)
        .arg(info.user_id.as_deref().unwrap_or_default())
        .arg(ms(ttl(shared)));
    let mut conn = shared.commands()?;
    let n: i64 = timed("recording presence", invocation.invoke_async(&mut conn)).await?;
    Ok(change == Change::Join && n == 1)
}

/// Records this node's change and announces it to every node's watchers.
pub(super) async fn changed(
    shared: &Shared,
    channel: &ChannelName,
    change: Change,
    info: &PresenceInfo,
) -> Result<(), BrokerFailure> {
    if record(shared, channel, change, info).await? {
        rewrite(shared).await?;
    }
    let frame = frames::presence(change, channel, info);
    let mut conn = shared.commands()?;
    timed(
        "announcing presence",
        redis::cmd("PUBLISH")
            .arg(shared.keys.channel(channel))
            .arg(wire::encode_presence(info.connection_id, frame.as_str()))
            .query_async::<u64>(&mut conn),
    )
    .await?;
    Ok(())
}

/// Every live member of `channel`, oldest join first.
pub(super) async fn members(
    shared: &Shared,
    channel: &ChannelName,
) -> Result<Vec<PresenceInfo>, BrokerFailure> {
    sweep(shared).await?;
    let (mut conn, nodes) = shared
        .set_members("reading presence", shared.keys.presence_nodes())
        .await?;
    if nodes.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for node in &nodes {
        pipe.cmd("HVALS")
            .arg(shared.keys.presence_members(node, channel.as_str()));
    }
    let values: Vec<Vec<String>> = timed("reading presence", pipe.query_async(&mut conn)).await?;
    let mut members: Vec<PresenceInfo> = values
        .iter()
        .flatten()
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect();
    crate::presence::sort(&mut members);
    Ok(members)
}

/// The counts of `channel` across the cluster.
pub(super) async fn counts(
    shared: &Shared,
    channel: &ChannelName,
) -> Result<Counts, BrokerFailure> {
    sweep(shared).await?;
    let mut conn = shared.commands()?;
    let mut invocation = shared
        .presence_scripts
        .counts
        .key(shared.keys.presence_nodes());
    invocation.arg(shared.keys.prefix()).arg(channel.as_str());
    let (connections, users): (u64, u64) =
        timed("counting presence", invocation.invoke_async(&mut conn)).await?;
    Ok(Counts { connections, users })
}

/// Leaves at shutdown: this node's marker goes, and its members with it
/// (announced as `leave` to the other nodes' watchers).
pub(super) async fn deregister(shared: &Shared) -> Result<(), BrokerFailure> {
    if shared.config.presence_channels.is_empty() {
        return Ok(());
    }
    let mut conn = shared.commands()?;
    timed(
        "leaving presence",
        redis::cmd("DEL")
            .arg(shared.keys.presence_alive(&shared.config.node_id))
            .query_async::<u64>(&mut conn),
    )
    .await?;
    sweep(shared).await
}
