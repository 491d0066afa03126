//! How events travel between publishers and the hubs that deliver them.
//!
//! The node hands every publication to a [`Broker`]. The in-memory broker
//! delivers straight to this node's hub; a shared broker (Redis) carries the
//! publication to every node, each of which delivers it to its own hub. The
//! hub never knows which broker is in use (centrifuge's Node/Hub/Broker split).

use std::sync::Arc;

use brain_ws_protocol::EventType;
use futures_util::future::BoxFuture;

use crate::hub::{Hub, Target};

/// One event to deliver.
#[derive(Debug, Clone)]
pub(crate) struct Publication {
    pub(crate) target: Target,
    pub(crate) event_type: EventType,
    pub(crate) data: serde_json::Value,
    pub(crate) timestamp: f64,
}

/// Why a publication could not be handed over.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The shared broker cannot be reached.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
}

/// Carries publications to the hubs that deliver them.
pub(crate) trait Broker: Send + Sync + 'static {
    /// Publishes; resolves to the number of recipients on this node.
    fn publish(&self, publication: Publication) -> BoxFuture<'_, Result<usize, BrokerError>>;

    /// `memory` or `redis`, as shown in `/api/ws/info`.
    fn kind(&self) -> &'static str;
}

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

    fn kind(&self) -> &'static str {
        "memory"
    }
}
