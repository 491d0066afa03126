//! The accept loop: HTTP/1 on each TCP connection, with upgrades, a
//! handshake timeout and graceful shutdown.
//!
//! `axum::serve` sets no timer, so a client that opens a TCP connection and
//! never sends a request (or trickles its headers) would hold a socket and a
//! task forever. Here hyper's `header_read_timeout` bounds the time from
//! accepting the connection (and from the end of each kept-alive request) to
//! a complete request head: `Config::handshake_timeout`. Once upgraded, a
//! WebSocket is the heartbeat's to police.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::Refusal;
use crate::node::Node;

/// Serves `app` on `listener` until the node shuts down, then lets requests
/// in flight finish (WebSocket sessions are tracked and closed by the node).
/// With `tls`, every connection is a TLS session first (HTTPS and WSS on
/// the same port).
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    node: Node,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let shutdown = node.shutdown_token().clone();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(node.config().handshake_timeout);
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(&e, &shutdown).await;
                    continue;
                }
            },
        };
        // Events are small frames written as they happen: without
        // TCP_NODELAY, Nagle's algorithm holds one back until the client's
        // delayed ACK of the previous one (up to 40 ms on Linux).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "TCP_NODELAY not set");
        }
        let builder = builder.clone();
        let node = node.clone();
        let shutdown = shutdown.clone();
        let app = app.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            match tls {
                None => serve_connection(stream, peer, true, app, builder, node, shutdown).await,
                Some(acceptor) => {
                    let timeout = node.config().handshake_timeout;
                    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            // Direct writes need the plain socket; over TLS
                            // the session writes through axum's WebSocket.
                            serve_connection(stream, peer, false, app, builder, node, shutdown)
                                .await;
                        }
                        Ok(Err(e)) => {
                            node.metrics().refused(Refusal::TlsHandshake);
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        }
                        Err(_) => {
                            node.metrics().refused(Refusal::HandshakeTimeout);
                            tracing::debug!(%peer, "no TLS handshake within the handshake timeout");
                        }
                    }
                }
            }
        });
    }
    connections.close();
    connections.wait().await;
}

/// Serves HTTP/1 (with upgrades) on one accepted connection until it ends
/// or the node shuts down. `direct` marks requests as able to take the raw
/// socket back (`direct.rs`): only for a plain `TcpStream`.
async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    direct: bool,
    app: Router,
    builder: http1::Builder,
    node: Node,
    shutdown: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let served = Arc::new(AtomicBool::new(false));
    let service = {
        let served = served.clone();
        let app = TowerToHyperService::new(app);
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            served.store(true, Ordering::Relaxed);
            req.extensions_mut().insert(ConnectInfo(peer));
            if direct {
                req.extensions_mut().insert(crate::direct::DirectCapable);
            }
            let response = app.call(req.map(Body::new));
            // The router's answers get the JSON error body here rather than
            // through a `map_response` layer: a layer around the router
            // would wrap every route once more (a boxed clone and a boxed
            // future per request).
            async move { Ok::<_, Infallible>(crate::http_api::json_errors(response.await?).await) }
        })
    };
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // An idle kept-alive connection timing out is normal; one
        // that never completed a request is a refused handshake.
        if e.is_timeout() && !served.load(Ordering::Relaxed) {
            node.metrics().refused(Refusal::HandshakeTimeout);
            tracing::debug!(%peer, "no complete request within the handshake timeout");
        } else {
            tracing::trace!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// Per-connection accept errors (the peer reset before we accepted) are
/// skipped; others (out of file descriptors) pause accepting for a moment,
/// as hyper and axum do, instead of spinning.
async fn accept_error(e: &std::io::Error, shutdown: &CancellationToken) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept error");
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(Duration::from_millis(200)) => {}
    }
}
