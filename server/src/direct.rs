//! Direct-write WebSockets: the server's own upgrade, so that the fan-out
//! can write pre-encoded frames straight to the socket.
//!
//! With axum's `WebSocket`, every delivery woke the connection's task, went
//! through tungstenite's `Sink` (poll_ready, feed, flush, re-encoding the
//! frame) and re-polled the read side: a third of the server's CPU per
//! delivery (docs/benchmarks.md). Here the upgrade is answered by us, the
//! session keeps the raw `TcpStream`, and `Connection::offer` writes the
//! frame (encoded once per broadcast) with a non-blocking `try_write` when
//! nothing is queued. tungstenite still does all the reading (parsing,
//! unmasking, limits, UTF-8), over [`DirectIo`], whose writes (pong replies,
//! close frames) join the connection's outbox so that no two writes ever
//! interleave.
//!
//! Direct mode is only offered on connections accepted by our own accept
//! loop (`serve.rs` marks them with [`DirectCapable`]), where the upgraded
//! IO is known to be a `TokioIo<TcpStream>`; a router served by anything
//! else keeps axum's path.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::Response;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::{Role, WebSocketConfig};

use crate::connection::Connection;

/// Marks a request as served by our own accept loop over a plain
/// `TcpStream`, so a direct upgrade can take the socket back.
#[derive(Clone, Copy)]
pub(crate) struct DirectCapable;

/// The upgrade of a WebSocket endpoint, in one extractor because the order
/// of its two steps matters: on a direct-capable request the real upgrade
/// handle is taken first (a placeholder left in its place), then axum's
/// `WebSocketUpgrade` validates the handshake exactly as on any router (same
/// refusals) against the placeholder. Two extractors in a handler's
/// argument list would depend on their order; this cannot be misplaced.
pub(crate) struct Upgrade {
    /// The real upgrade handle, when this request may go direct.
    pub(crate) direct: Option<OnUpgrade>,
    /// axum's handshake validation: the upgrade, or why it is none.
    pub(crate) websocket: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let direct = take_direct(parts);
        let websocket = WebSocketUpgrade::from_request_parts(parts, state).await;
        Ok(Self { direct, websocket })
    }
}

/// The real upgrade handle of a direct-capable request, replaced by one
/// that never upgrades: axum's extractor only needs one to be present; the
/// response and the socket are ours.
fn take_direct(parts: &mut Parts) -> Option<OnUpgrade> {
    parts.extensions.get::<DirectCapable>()?;
    let real = parts.extensions.remove::<OnUpgrade>()?;
    parts
        .extensions
        .insert(hyper::upgrade::on(hyper::Request::new(())));
    Some(real)
}

/// The `101 Switching Protocols` answer, as axum builds it.
pub(crate) fn switching_protocols(key: &HeaderValue, protocol: Option<&HeaderValue>) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) =
        HeaderValue::from_str(&tungstenite::handshake::derive_accept_key(key.as_bytes()))
    {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(protocol) = protocol {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol.clone());
    }
    response
}

/// Completes the upgrade: the raw socket and a tungstenite reader over it.
/// `None` when the upgrade failed or the IO is not a plain `TcpStream`.
pub(crate) async fn open(
    on_upgrade: OnUpgrade,
    config: WebSocketConfig,
) -> Option<(Arc<TcpStream>, DirectSocketParts)> {
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(e) => {
            tracing::debug!(error = %e, "upgrade failed");
            return None;
        }
    };
    match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => Some((
            Arc::new(no_delay(parts.io.into_inner())),
            DirectSocketParts {
                read_buf: parts.read_buf.to_vec(),
                config,
            },
        )),
        Err(_) => {
            tracing::error!(
                "direct upgrade over an IO that is not a TcpStream; connection dropped"
            );
            None
        }
    }
}

/// Sets TCP_NODELAY on a socket the fan-out writes to directly, whatever
/// accepted it: each event is one small write that must leave at once, not
/// wait for the ACK of the previous one (Nagle's algorithm). Our accept
/// loop sets it already; this keeps the direct path right on its own.
fn no_delay(stream: TcpStream) -> TcpStream {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY not set");
    }
    stream
}

/// What remains to build the reader once the connection exists.
pub(crate) struct DirectSocketParts {
    read_buf: Vec<u8>,
    config: WebSocketConfig,
}

/// tungstenite over a direct-write connection.
pub(crate) type DirectSocket = WebSocketStream<DirectIo>;

impl DirectSocketParts {
    /// The reader, once `conn` owns the socket's writes.
    pub(crate) async fn into_socket(
        self,
        stream: Arc<TcpStream>,
        conn: Arc<Connection>,
    ) -> DirectSocket {
        WebSocketStream::from_partially_read(
            DirectIo { stream, conn },
            self.read_buf,
            Role::Server,
            Some(self.config),
        )
        .await
    }
}

/// Reads from the socket; writes through the connection's outbox.
pub(crate) struct DirectIo {
    stream: Arc<TcpStream>,
    conn: Arc<Connection>,
}

impl AsyncRead for DirectIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            std::task::ready!(self.stream.poll_read_ready(cx))?;
            match self.stream.try_read_buf(buf) {
                Ok(_) => return Poll::Ready(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for DirectIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.conn.write_raw(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.conn.poll_flush_direct(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.conn.poll_flush_direct(cx)
    }
}
