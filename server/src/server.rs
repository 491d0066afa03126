//! Starting and stopping a node: the router, the listener, the heartbeat
//! task, and a graceful shutdown that also ends the upgraded WebSocket
//! connections axum's `serve` does not track.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{Config, ConfigError};
use crate::node::Node;
use crate::presence_api;
use crate::tls::Reloadable;
use crate::ws;
use crate::{history_api, http_api};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The TLS certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The broker's configuration can never work (a Redis DB index out of
    /// range, a refused password, a peer that is not Redis). An unreachable
    /// broker is not this: it is retried in the background.
    #[error(
        "the broker at {broker} refuses this configuration: {}",
        crate::broker::redis::health::explain(failure)
    )]
    Broker {
        /// The broker URL without its password.
        broker: String,
        /// Why: [`BrokerFailure::is_permanent`](crate::BrokerFailure::is_permanent) holds.
        failure: crate::BrokerFailure,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running server: a node listening on an address.
pub struct Server {
    node: Node,
    addr: SocketAddr,
    serve: JoinHandle<()>,
    tls: Option<Arc<Reloadable>>,
}

/// Pending connections the kernel queues before `accept`. The default of
/// `TcpListener::bind` (128) drops SYNs during a reconnect storm after a
/// restart, and each dropped client then waits a full second to retry.
const LISTEN_BACKLOG: u32 = 1024;

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

impl Server {
    /// Validates `config`, binds, and serves in the background.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        config.validate()?;
        let addr = config.bind;
        let listener = listen(addr).map_err(|source| StartError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let tls = config.tls.as_ref().map(Reloadable::load).transpose()?;
        let acceptor = tls
            .as_ref()
            .map(|t| t.server_config().map(tokio_rustls::TlsAcceptor::from))
            .transpose()?;
        // Probes the broker: a configuration Redis refuses fails here.
        let node = Node::start(config).await?;
        let app = app(&node);
        let serve = tokio::spawn(crate::serve::run(listener, app, node.clone(), acceptor));
        if let Some(tls) = &tls {
            tracing::info!(%addr, node_id = %node.config().node_id, cert = %tls.cert_path().display(), "listening on {addr} with TLS (https://, wss://)");
            #[cfg(unix)]
            tokio::spawn(crate::tls::reload_on_sighup(
                tls.clone(),
                node.shutdown_token().clone(),
            ));
        } else {
            tracing::info!(%addr, node_id = %node.config().node_id, "listening on {addr}");
        }
        if node.config().api_keys.is_empty() {
            tracing::info!("no API key configured: the admin HTTP API answers loopback peers only");
        }
        log_auth(node.config());
        Ok(Self {
            node,
            addr,
            serve,
            tls,
        })
    }

    /// Re-reads the TLS certificate and key files (what SIGHUP does): new
    /// connections get the new certificate, open ones keep their session.
    /// On error the previous certificate stays in use. A no-op without TLS.
    pub fn reload_tls(&self) -> Result<(), crate::tls::TlsError> {
        match &self.tls {
            Some(tls) => tls.reload(),
            None => Ok(()),
        }
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle to publish and read stats.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Stops accepting, emits `system_shutdown`, closes every connection
    /// with 1001 (going away), waits (bounded by `shutdown_grace`) for their
    /// close frames to go out, and returns.
    pub async fn shutdown(self) {
        self.node.shutdown().await;
        let _ = tokio::time::timeout(Duration::from_secs(1), self.serve).await;
        tracing::info!("stopped");
    }
}

/// Says at start how tokens are treated, so a missing key is not a surprise.
fn log_auth(config: &Config) {
    use brain_ws_protocol::http::AuthMode;
    match (config.effective_auth_mode(), config.authenticator.is_some()) {
        (AuthMode::None, false) => tracing::warn!(
            "no JWT key configured: auth mode none, tokens are ignored and every connection is anonymous"
        ),
        (AuthMode::None, true) => {
            tracing::info!("auth mode none: tokens are ignored and every connection is anonymous");
        }
        (mode, _) => tracing::info!(?mode, "tokens are verified"),
    }
}

/// The whole HTTP surface as the binary serves it: [`router`] plus a JSON
/// 404 for every other path (with `http_api::json_errors` applied by
/// `serve::serve_connection`, not by a layer here). The routes of every part are merged first and
/// the shared layers applied once, around all of them: each layer wraps
/// every route it is applied to, and a request pays for every wrapping on
/// its way (a boxed service clone and a boxed future per layer), so the
/// parts' own [`finish`] (what [`router`] does for an application that
/// mounts them) is not repeated under another pass of the same layers.
pub(crate) fn app(node: &Node) -> Router {
    ws_routes()
        .merge(admin_routes(node))
        .merge(ops_routes())
        .method_not_allowed_fallback(http_api::method_not_allowed)
        // After the 405 fallback: `/` answers other methods with axum's
        // plain 405, made JSON by `json_errors` (as before).
        .route("/", get(http_api::root))
        .fallback(http_api::not_found)
        .layer(DefaultBodyLimit::max(node.config().max_message_size))
        .with_state(node.clone())
    // No `json_errors` layer: `serve::serve_connection` applies it to every
    // answer of this router.
}

/// Every BRAiN endpoint, without a fallback (so it merges into an app that
/// has one): [`ws_router`], [`admin_router`] and [`ops_router`].
pub(crate) fn router(node: &Node) -> Router {
    finish(
        ws_routes().merge(admin_routes(node)).merge(ops_routes()),
        node,
    )
}

/// `/ws/connect` and `/ws/channel/{channel}`.
pub(crate) fn ws_router(node: &Node) -> Router {
    finish(ws_routes(), node)
}

fn ws_routes() -> Router<Node> {
    Router::new()
        .route("/ws/connect", get(ws::connect))
        .route("/ws/channel/{channel}", get(ws::channel))
}

/// The admin HTTP API (publish, stats), behind the API key or loopback
/// guard.
pub(crate) fn admin_router(node: &Node) -> Router {
    finish(admin_routes(node), node)
}

fn admin_routes(node: &Node) -> Router<Node> {
    Router::new()
        .route("/api/ws/broadcast", post(http_api::broadcast))
        .route("/api/ws/broadcast/all", post(http_api::broadcast_all))
        .route("/api/ws/users/{user_id}/send", post(http_api::send_to_user))
        .route("/api/ws/stats", get(http_api::stats))
        .route("/api/ws/channels/{channel}", get(http_api::channel))
        .route(
            "/api/ws/channels/{channel}/history",
            get(history_api::history),
        )
        .route(
            "/api/ws/channels/{channel}/presence",
            get(presence_api::members),
        )
        .route(
            "/api/ws/channels/{channel}/presence/stats",
            get(presence_api::stats),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            node.clone(),
            http_api::admin_guard,
        ))
}

/// `/api/ws/info`, `/health`, `/ready`, `/metrics`, `/openapi.json` and the
/// test page.
pub(crate) fn ops_router(node: &Node) -> Router {
    finish(ops_routes(), node)
}

fn ops_routes() -> Router<Node> {
    Router::new()
        .route("/api/ws/info", get(http_api::info))
        .route("/health", get(http_api::health))
        .route("/ready", get(http_api::ready))
        .route("/metrics", get(http_api::metrics))
        .route("/openapi.json", get(http_api::openapi))
        .route("/static/websocket_test.html", get(http_api::test_page))
}

/// What every part shares: a JSON 405 on its own routes (a per-route
/// setting, which merges), the body limit, the node as state.
fn finish(routes: Router<Node>, node: &Node) -> Router {
    routes
        .method_not_allowed_fallback(http_api::method_not_allowed)
        .layer(DefaultBodyLimit::max(node.config().max_message_size))
        .layer(axum::middleware::map_response(http_api::json_errors))
        .with_state(node.clone())
}
