//! Wire protocol of the BRAiN WebSocket system (`brain.v1`).
//!
//! This crate is the single source of truth for what crosses the wire between
//! a BRAiN server, its WebSocket clients and its HTTP API callers. The server,
//! the client SDK and the conformance suite all use these types, and the JSON
//! Schemas in `schemas/` and the TypeScript types in `typescript/` are generated
//! from them ([`schema::documents`]).
//!
//! The specification is the BRAiN WebSocket System document; section names in
//! the doc comments refer to it. Where the document is vague, `docs/protocol.md`
//! records the decision taken here.
//!
//! * [`ClientMessage`] — what a WebSocket client sends; decode it with
//!   [`decode_client_message`], which classifies bad input so a server can
//!   answer with the right [`ErrorCode`] instead of closing the connection.
//! * [`ServerMessage`] — what a server sends: control messages and the
//!   [`EventEnvelope`] that carries events.
//! * [`http`] — the bodies of the HTTP API.
//! * [`catalog`] — the typed event catalogue of the standard channels.
//! * [`CloseCode`] and [`should_reconnect`] — the close-code table that server
//!   and clients share.

pub mod catalog;
mod channel;
mod client;
mod close_code;
mod decode;
mod error_code;
mod event_type;
pub mod http;
pub mod schema;
mod server;

pub use channel::{ChannelName, InvalidChannelName, MAX_CHANNEL_LEN};
pub use client::{ClientMessage, StreamPosition};
pub use close_code::{CloseCode, should_reconnect};
pub use decode::{DecodeError, decode_client_message};
pub use error_code::ErrorCode;
pub use event_type::{EventType, InvalidEventType, MAX_EVENT_TYPE_LEN, RESERVED_TYPES};
pub use server::{
    Connected, ErrorMessage, EventEnvelope, Join, Leave, Ping, Pong, PresenceInfo, ServerMessage,
    Subscribed, Unsubscribed,
};

/// The protocol identifier sent in the welcome message (`connected.protocol`)
/// and in `GET /api/ws/info`. It changes only with an incompatible change.
pub const PROTOCOL_VERSION: &str = "brain.v1";

/// Seconds since the Unix epoch as a float, the timestamp format of the seed
/// ("timestamp": 1703001234.56).
pub fn unix_timestamp() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
