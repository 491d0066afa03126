//! The cluster registry: every `cluster_refresh` each node writes its counts
//! (`NodeStats` as JSON) under `<prefix>:node:<id>` and its connections per
//! user under `<prefix>:node:<id>:users`, both expiring after three
//! intervals, and adds its id to the `<prefix>:nodes` set. Readers take the
//! set, fetch the reports, and drop (and remove from the set) ids whose
//! report has expired: a node that crashed stops counting after its TTL; a
//! node that shuts down deregisters at once.

use std::time::Duration;

use brain_ws_protocol::http::NodeStats;

use super::{Shared, failure, ms, timed};
use crate::broker::BrokerFailure;

fn ttl(shared: &Shared) -> Duration {
    shared.config.cluster_refresh * 3
}

/// This node's report.
fn local(shared: &Shared) -> NodeStats {
    let hub = &shared.hub;
    NodeStats {
        node_id: shared.config.node_id.clone(),
        total_connections: hub.connection_count() as u64,
        total_users: hub.user_count() as u64,
        channels: hub.channel_counts(),
    }
}

/// Sends this node's report and reads the others'; run every
/// `cluster_refresh` by [`super::every_refresh`].
pub(super) async fn refresh(shared: &Shared) -> Result<(), BrokerFailure> {
    let id = &shared.config.node_id;
    let report = serde_json::to_string(&local(shared))
        .map_err(|e| BrokerFailure::protocol("reporting", e))?;
    let users = shared.hub.user_counts();
    let ttl = ms(ttl(shared));
    let users_key = shared.keys.node_users(id);
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("SET")
        .arg(shared.keys.node(id))
        .arg(report)
        .arg("PX")
        .arg(ttl)
        .ignore()
        .cmd("SADD")
        .arg(shared.keys.nodes())
        .arg(id)
        .ignore()
        .cmd("DEL")
        .arg(&users_key)
        .ignore();
    if !users.is_empty() {
        pipe.cmd("HSET").arg(&users_key);
        for (user, n) in &users {
            pipe.arg(user).arg(n);
        }
        pipe.ignore()
            .cmd("PEXPIRE")
            .arg(&users_key)
            .arg(ttl)
            .ignore();
    }
    let mut conn = shared.commands()?;
    timed("reporting", pipe.query_async::<()>(&mut conn)).await?;
    let others = read_others(shared).await?;
    *shared.others.lock().unwrap_or_else(|p| p.into_inner()) = others;
    Ok(())
}

/// Every other live node's report, by node id.
pub(super) async fn read_others(shared: &Shared) -> Result<Vec<NodeStats>, BrokerFailure> {
    let (mut conn, ids) = shared
        .set_members("reading cluster", shared.keys.nodes())
        .await?;
    let ids: Vec<String> = ids
        .into_iter()
        .filter(|id| *id != shared.config.node_id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = ids.iter().map(|id| shared.keys.node(id)).collect();
    let reports: Vec<Option<String>> = timed(
        "reading cluster",
        redis::cmd("MGET").arg(&keys).query_async(&mut conn),
    )
    .await?;
    let mut others = Vec::new();
    let mut expired = Vec::new();
    for (id, report) in ids.into_iter().zip(reports) {
        match report.map(|r| serde_json::from_str::<NodeStats>(&r)) {
            Some(Ok(stats)) => others.push(stats),
            Some(Err(e)) => {
                tracing::warn!(node_id = %id, error = %e, "unreadable node report, ignored");
            }
            None => expired.push(id),
        }
    }
    if !expired.is_empty() {
        let _ = timed(
            "pruning cluster",
            redis::cmd("SREM")
                .arg(shared.keys.nodes())
                .arg(&expired)
                .query_async::<u64>(&mut conn),
        )
        .await;
    }
    others.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    Ok(others)
}

/// How many connections `user` has on the other nodes, per their reports.
pub(super) async fn user_connections(shared: &Shared, user: &str) -> Result<u64, BrokerFailure> {
    let others = shared.others();
    if others.is_empty() {
        return Ok(0);
    }
    let mut pipe = redis::pipe();
    for node in &others {
        pipe.cmd("HGET")
            .arg(shared.keys.node_users(&node.node_id))
            .arg(user);
    }
    let mut conn = shared.commands()?;
    let counts: Vec<Option<u64>> = timed("counting", pipe.query_async(&mut conn)).await?;
    Ok(counts.into_iter().flatten().sum())
}

/// Distinct users across this node and `others` (a user connected to
/// several nodes counts once), from the nodes' user hashes.
pub(super) async fn distinct_users(
    shared: &Shared,
    others: &[NodeStats],
) -> Result<u64, BrokerFailure> {
    let mut users: std::collections::HashSet<String> = shared
        .hub
        .user_counts()
        .into_iter()
        .map(|(user, _)| user)
        .collect();
    let with_users: Vec<&NodeStats> = others.iter().filter(|n| n.total_users > 0).collect();
    if !with_users.is_empty() {
        let mut pipe = redis::pipe();
        for node in &with_users {
            pipe.cmd("HKEYS").arg(shared.keys.node_users(&node.node_id));
        }
        let mut conn = shared.commands()?;
        let remote: Vec<Vec<String>> = timed("counting users", pipe.query_async(&mut conn)).await?;
        users.extend(remote.into_iter().flatten());
    }
    Ok(users.len() as u64)
}

/// Leaves the cluster at shutdown.
pub(super) async fn deregister(shared: &Shared) -> Result<(), BrokerFailure> {
    let id = &shared.config.node_id;
    let mut pipe = redis::pipe();
    pipe.cmd("DEL")
        .arg(shared.keys.node(id))
        .arg(shared.keys.node_users(id))
        .ignore()
        .cmd("SREM")
        .arg(shared.keys.nodes())
        .arg(id)
        .ignore();
    let mut conn = shared.commands()?;
    tokio::time::timeout(Duration::from_secs(1), pipe.query_async::<()>(&mut conn))
        .await
        .map_err(|_| BrokerFailure::Timeout {
            what: "deregistering",
        })?
        .map_err(|e| failure::classify("deregistering", e))
}
