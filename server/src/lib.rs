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
mod broker;
mod clock;
mod config;
mod connection;
mod direct;
mod events;
mod frames;
mod heartbeat;
mod history;
mod http_api;
mod hub;
mod jwt;
mod metrics;
mod node;
mod openapi;
mod origin;
mod pattern;
mod rate_limit;
mod serve;
mod server;
mod session;
mod tls;
mod user_limit;
mod ws;

pub use access::{ChannelRole, InvalidChannelRole};
pub use auth::{AuthError, Authenticator, Identity, StaticTokens};
pub use brain_ws_protocol::http::AuthMode;
pub use broker::BrokerError;
pub use config::{BrokerConfig, Config, ConfigError, RedisTls};
pub use events::EmitResult;
pub use jwt::{JwtAuthenticator, JwtError, JwtKeyError};
pub use node::{Node, PublishError};
pub use pattern::ChannelPattern;
pub use rate_limit::{RateLimit, VIOLATION_WINDOW};
pub use server::{Server, StartError};
pub use tls::{TlsError, TlsFiles};

/// The router of a node, for applications that mount the BRAiN endpoints in
/// their own axum app. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(node: &Node) -> axum::Router {
    server::router(node.clone())
}
