//! The BRAiN WebSocket server: channels with subscribe/unsubscribe, per-user
//! messages, broadcasts through an HTTP API, heartbeats, history and
//! recovery, on axum + tokio.
//!
//! Run it with `cargo run --release -p brain-ws-server`, or embed it:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use brain_ws_server::{Config, Server};
//! let server = Server::start(Config::default()).await?;
//! server.node().emit_mission_started("mission_123").await?;
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Module map: `hub` owns connections and subscriptions and fans out;
//! `session` runs one connection; `heartbeat` pings and times out;
//! `broker` carries publications between nodes; `node` is the facade;
//! `http_api` and `ws` are the endpoints; `serve` accepts TCP connections.
//! Security (docs/security.md): `auth` and `jwt` say who a connection is,
//! `access` what channels it may use, `origin`, `user_limit` and
//! `rate_limit` bound what a client can do. The binary's flags,
//! environment and TOML file (`cli.rs`) are not part of the library: build
//! a [`Config`] directly.

mod access;
mod auth;
pub mod broker;
mod clock;
mod config;
mod connection;
mod direct;
mod events;
mod frames;
mod heartbeat;
mod history;
mod history_api;
mod http_api;
mod hub;
mod idempotency;
mod jwt;
mod metrics;
mod node;
mod openapi;
mod origin;
mod pattern;
mod presence;
mod presence_api;
mod rate_limit;
mod rewind;
mod serve;
mod server;
mod session;
mod tls;
mod user_limit;
mod ws;

pub use access::{AccessDenied, ChannelRole, InvalidChannelRole};
pub use auth::{AuthError, Authenticator, Identity, InvalidToken, StaticTokens};
pub use brain_ws_protocol::http::AuthMode;
pub use broker::{BrokerError, BrokerFailure, Published};
pub use config::{BrokerConfig, Config, ConfigError, RedisTls};
pub use events::EmitResult;
pub use history::Position;
pub use idempotency::WINDOW as IDEMPOTENCY_WINDOW;
pub use jwt::{JwtAuthenticator, JwtError, JwtKeyError};
pub use node::{Node, PresenceError, PublishError};
pub use pattern::ChannelPattern;
pub use rate_limit::{RateLimit, VIOLATION_WINDOW};
pub use server::{Server, StartError};
pub use tls::{TlsError, TlsFiles};

/// Every BRAiN endpoint of a node, for applications that mount them in
/// their own axum app: [`ws_router`], [`admin_router`] and [`ops_router`]
/// merged. It carries no fallback, so it merges into an app that has its
/// own (the binary's [`Server`] adds a JSON 404), and it may be nested
/// under a prefix (`Router::new().nest("/brain", router(&node))`), in which
/// case `/api/ws/info` lists the prefixed paths. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so that the admin
/// API can tell loopback peers (without it, and without an API key, the
/// admin API answers 403).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let node = brain_ws_server::Node::start(brain_ws_server::Config::default()).await?;
/// let app = axum::Router::new().nest("/brain", brain_ws_server::router(&node));
/// # let _ = app; Ok(()) }
/// ```
pub fn router(node: &Node) -> axum::Router {
    server::router(node)
}

/// `/ws/connect` and `/ws/channel/{channel}` only (no fallback).
pub fn ws_router(node: &Node) -> axum::Router {
    server::ws_router(node)
}

/// The admin HTTP API only: broadcast, broadcast/all, users/send, stats,
/// channels (no fallback), behind the API key or loopback guard.
pub fn admin_router(node: &Node) -> axum::Router {
    server::admin_router(node)
}

/// `/api/ws/info`, `/health`, `/ready`, `/metrics`, `/openapi.json` and the
/// test page only (no fallback). An app with its own `/health` leaves this
/// one out, or nests it.
pub fn ops_router(node: &Node) -> axum::Router {
    server::ops_router(node)
}
