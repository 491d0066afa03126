//! The node's single heartbeat task: one ping frame, serialized once, offered
//! to every connection each interval; and, `heartbeat_timeout` after each
//! ping, one pass that closes the connections that have stayed silent since.
//!
//! One task and two O(n) passes per interval cost far less at 20,000
//! connections than a timer per connection (see docs/benchmarks.md).

use std::collections::VecDeque;
use std::sync::Arc;

use brain_ws_protocol::CloseCode;
use tokio::time::{Instant, MissedTickBehavior};

use crate::frames;
use crate::hub::Hub;
use crate::node::Node;

/// Runs until the node shuts down.
pub(crate) async fn run(node: Node) {
    let hub: Arc<Hub> = node.hub().clone();
    let interval = node.config().heartbeat_interval;
    let timeout = node.config().heartbeat_timeout;
    let shutdown = node.shutdown_token().clone();
    let mut ticker = tokio::time::interval_at(Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // (deadline, clock time of the ping) for each ping awaiting its check.
    let mut pending: VecDeque<(Instant, u64)> = VecDeque::new();
    loop {
        let next_check = pending.front().map(|(deadline, _)| *deadline);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {
                let sent_at = hub.clock().now_ms();
                hub.offer_everyone(&frames::ping());
                pending.push_back((Instant::now() + timeout, sent_at));
                node.maintain();
            }
            _ = sleep_until_opt(next_check) => {
                if let Some((_, sent_at)) = pending.pop_front() {
                    close_silent(&hub, sent_at);
                }
            }
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Closes every connection that was registered before the ping sent at
/// `sent_at` and has shown no sign of life since.
fn close_silent(hub: &Hub, sent_at: u64) {
    hub.for_each_connection(|conn| {
        if conn.registered_at < sent_at && conn.last_activity() < sent_at {
            conn.close(CloseCode::HEARTBEAT_TIMEOUT);
        }
    });
}
