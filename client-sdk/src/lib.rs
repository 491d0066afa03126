//! Async Rust client for the BRAiN WebSocket system (`brain.v1`).
//!
//! Rust services use this crate to receive BRAiN events over a WebSocket and
//! to publish them through the HTTP API. It is shaped like async-nats:
//!
//! * [`Client`] is a cheap `Clone` handle. Every clone sends commands to one
//!   background task that owns the socket and the subscription table.
//! * [`Client::subscribe`] waits for the server's `subscribed` (or its
//!   error, as a typed [`SubscribeError`]) and returns a [`Subscription`], a
//!   `Stream` of [`SubscriptionEvent`]s whose events are decoded into the
//!   protocol's typed catalogue ([`brain_ws_protocol::catalog::Event`]).
//!   Dropping it unsubscribes. [`Client::events`] receives what has no
//!   channel (messages to the user, broadcasts to everyone).
//! * [`Client::state`] (a `watch` of [`ConnectionState`]) and
//!   [`Client::connection_events`] make the connection's life visible.
//! * [`Publisher`] calls the HTTP API (`broadcast`, `broadcast_all`,
//!   `send_to_user`, `stats`, `channel`, `info`).
//!
//! # What the task does for you
//!
//! * Answers every server `ping` with `pong`.
//! * Treats a server it has heard nothing from for the welcome's
//!   `heartbeat_interval` plus [a grace period](ClientBuilder::heartbeat_grace)
//!   as dead, drops the socket and reconnects: a half-open TCP connection
//!   never reports an error by itself.
//! * Reconnects with exponential backoff and full jitter ([`Backoff`]:
//!   500 ms initial, 30 s max, no attempt limit by default), and honours the
//!   server's close code through the protocol's
//!   [`should_reconnect`](brain_ws_protocol::should_reconnect): a terminal
//!   code (4500 unauthorized, 1000, ...) or an HTTP 401/403 on the upgrade
//!   stops the client ([`ConnectionState::Closed`], [`Client::closed`]
//!   returns the error) instead of looping.
//! * Resubscribes every live subscription after a reconnect. On channels
//!   with history it sends `since` with the last offset seen, reports
//!   whether the server recovered everything
//!   ([`SubscriptionEvent::Resubscribed`]), and delivers the replayed events
//!   in order.
//! * Never drops an event because of its offset: a live stream that breaks
//!   without a reconnect (offsets going back after a restart in a new
//!   epoch, or skipping ahead) is reported with [`SubscriptionEvent::Gap`]
//!   at that point of the stream, and every event is still delivered.
//!
//! # Why `backon` and not `backoff`
//!
//! The backoff schedule comes from the `backon` crate. The older `backoff`
//! crate is unmaintained (RUSTSEC-2025-0012) and depends on the
//! unmaintained `instant` crate (RUSTSEC-2024-0384), so it is not used.
//! `backon`'s own jitter only adds to the delay; the full jitter on top is
//! ours (see [`Backoff`]).
//!
//! # Example
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use brain_ws_client::{Client, SubscriptionEvent};
//! use brain_ws_protocol::catalog::{Event, MissionEvent};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder("ws://127.0.0.1:8000").connect().await?;
//! let mut missions = client.subscribe("missions").await?;
//! while let Some(item) = missions.next().await {
//!     match item {
//!         SubscriptionEvent::Event(msg) => match msg.event {
//!             Event::Mission(MissionEvent::MissionCreated(created)) => {
//!                 println!("new mission {}", created.mission_id)
//!             }
//!             other => println!("{other:?}"),
//!         },
//!         SubscriptionEvent::Resubscribed { recovered } => println!("reconnected, recovered={recovered}"),
//!         SubscriptionEvent::Gap { missed } => println!("stream broke, missed {missed:?}"),
//!         SubscriptionEvent::Join(who) => println!("{} joined", who.connection_id),
//!         SubscriptionEvent::Leave(who) => println!("{} left", who.connection_id),
//!     }
//! }
//! # Ok(()) }
//! ```

mod backoff;
mod client;
mod driver;
mod endpoint;
mod error;
mod message;
mod options;
mod proxy;
mod publisher;
mod state;
mod subscription;
mod table;
#[cfg(feature = "tls")]
mod tls;
mod transport;

pub use backoff::Backoff;
pub use client::Client;
pub use error::{
    ConnectError, ConnectErrorKind, Error, PublishError, PublishErrorKind, SubscribeError,
    SubscribeErrorKind,
};
pub use message::Message;
pub use options::ClientBuilder;
pub use proxy::Proxy;
pub use publisher::Publisher;
pub use state::{ConnectionEvent, ConnectionEvents, ConnectionState};
pub use subscription::{Events, SubscribeOptions, Subscription, SubscriptionEvent};
#[cfg(feature = "tls")]
pub use tls::{Tls, TlsError};

/// Without the `tls` feature no certificate is ever checked.
#[cfg(not(feature = "tls"))]
mod tls {
    pub(crate) fn certificate_problem(_: &(dyn std::error::Error + 'static)) -> Option<String> {
        None
    }
}
