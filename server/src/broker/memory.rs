//! The in-memory broker: one node, no other service. Publications go
//! straight to the hub, which keeps the history rings (`history.rs`).

use std::sync::Arc;

use brain_ws_protocol::{ChannelName, StreamPosition};
use futures_util::future::BoxFuture;

use super::{Broker, BrokerError, BrokerHealth, ClusterView, Publication};
use crate::connection::Connection;
use crate::hub::Hub;

/// Delivers on this node only.
pub(crate) struct MemoryBroker {
    hub: Arc<Hub>,
}

impl MemoryBroker {
    pub(crate) fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }
}

impl Broker for MemoryBroker {
    fn publish(&self, p: Publication) -> BoxFuture<'_, Result<usize, BrokerError>> {
        let delivered = self
            .hub
            .deliver(&p.target, &p.event_type, &p.data, p.timestamp);
        Box::pin(std::future::ready(Ok(delivered)))
    }

    fn subscribe<'a>(
        &'a self,
        conn: &'a Arc<Connection>,
        channel: &'a ChannelName,
        since: Option<&'a StreamPosition>,
    ) -> BoxFuture<'a, ()> {
        self.hub.subscribe(conn, channel, since);
        Box::pin(std::future::ready(()))
    }

    fn kind(&self) -> &'static str {
        "memory"
    }

    fn health(&self) -> BrokerHealth {
        BrokerHealth::Up
    }

    fn cluster(&self) -> BoxFuture<'_, Option<ClusterView>> {
        Box::pin(std::future::ready(None))
    }

    /// Nothing: the hub's metrics say it all.
    fn register_metrics(&self, _registry: &mut prometheus_client::registry::Registry) {}

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}
