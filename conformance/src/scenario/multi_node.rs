//! Multi-node: what a single URL can tell about a cluster.

use super::{Scenario, body, section};
use crate::config::Feature;
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "multi_node.stats_nodes",
            section::HTTP_API,
            "stats list each node, including the one answering, and the totals add up",
            body!(stats_nodes),
        )
        .requires(Feature::MultiNode),
    ]
}

async fn stats_nodes(ctx: Ctx) -> Outcome {
    let node = ctx.info()?.node_id.clone();
    let stats = ctx.stats().await?;
    ensure!(
        stats.nodes.iter().any(|n| n.node_id == node),
        "stats.nodes {:?} does not list the answering node {node:?}",
        stats.nodes.iter().map(|n| &n.node_id).collect::<Vec<_>>()
    );
    let sum: u64 = stats.nodes.iter().map(|n| n.total_connections).sum();
    ensure!(
        sum == stats.total_connections,
        "the nodes' connections add up to {sum}, but total_connections is {}",
        stats.total_connections
    );
    Ok(())
}
