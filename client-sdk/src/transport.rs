//! Opening one connection: the WebSocket upgrade, the classification of its
//! failures (terminal or worth retrying) and the server's welcome.

use std::time::Duration;

use brain_ws_protocol::http::ErrorBody;
use brain_ws_protocol::{CloseCode, Connected, ServerMessage, should_reconnect};
use futures_util::StreamExt;
use tokio::net::TcpStream;
#[cfg(feature = "tls")]
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message as Frame};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{ConnectError, ConnectErrorKind};
use crate::options::Options;

/// The socket type the client task owns.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An open connection whose welcome has arrived.
pub(crate) struct Socket {
    pub(crate) ws: Ws,
    pub(crate) welcome: Connected,
}

impl Socket {
    /// The server's ping period, or `None` when the welcome's value is unusable.
    pub(crate) fn heartbeat_interval(&self) -> Option<Duration> {
        let secs = self.welcome.heartbeat_interval;
        (secs.is_finite() && secs > 0.0 && secs < 1e9).then(|| Duration::from_secs_f64(secs))
    }
}

/// Connects, upgrades and reads the welcome, all within the connect timeout.
pub(crate) async fn open(options: &Options) -> Result<Socket, ConnectError> {
    let url = options.attempt_url().await?;
    let attempt = async {
        let request = url.as_str().into_client_request().map_err(classify)?;
        let stream = options
            .proxy
            .connect(request.uri())
            .await
            .map_err(|e| classify(tungstenite::Error::Io(e)))?;
        let (mut ws, _response) = handshake(request, stream, options)
            .await
            .map_err(classify)?;
        let welcome = read_welcome(&mut ws).await?;
        Ok(Socket { ws, welcome })
    };
    tokio::time::timeout(options.connect_timeout, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(ConnectError::new(
                ConnectErrorKind::TimedOut,
                format!("no welcome within {:?}", options.connect_timeout),
            ))
        })
}

/// The WebSocket upgrade over `stream`, TLS first for `wss://`.
#[cfg(feature = "tls")]
async fn handshake(
    request: tungstenite::handshake::client::Request,
    stream: TcpStream,
    options: &Options,
) -> Result<(Ws, tungstenite::handshake::client::Response), tungstenite::Error> {
    let connector = Connector::Rustls(options.tls.client_config());
    tokio_tungstenite::client_async_tls_with_config(request, stream, None, Some(connector)).await
}

/// The WebSocket upgrade over `stream`; `wss://` needs the `tls` feature.
#[cfg(not(feature = "tls"))]
async fn handshake(
    request: tungstenite::handshake::client::Request,
    stream: TcpStream,
    _options: &Options,
) -> Result<(Ws, tungstenite::handshake::client::Response), tungstenite::Error> {
    if request.uri().scheme_str() == Some("wss") {
        return Err(tungstenite::Error::Url(
            tungstenite::error::UrlError::TlsFeatureNotEnabled,
        ));
    }
    tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await
}

/// Sorts a failed upgrade into the kinds a caller and the reconnect loop act on.
fn classify(err: tungstenite::Error) -> ConnectError {
    match err {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice::<ErrorBody>(b).ok());
            let kind = match status {
                401 => ConnectErrorKind::Unauthorized,
                403 => ConnectErrorKind::Forbidden,
                _ => ConnectErrorKind::Rejected,
            };
            let message = body
                .as_ref()
                .map(|b| b.error.message.clone())
                .unwrap_or_else(|| format!("the server answered the upgrade with HTTP {status}"));
            let err = ConnectError::new(kind, message).with_status(status);
            match body {
                Some(body) => err.with_code(body.error.code),
                None => err,
            }
        }
        tungstenite::Error::Url(tungstenite::error::UrlError::TlsFeatureNotEnabled) => {
            ConnectError::new(
                ConnectErrorKind::InvalidUrl,
                "wss:// needs the `tls` feature of brain-ws-client (on by default)",
            )
        }
        tungstenite::Error::Url(e) => {
            ConnectError::new(ConnectErrorKind::InvalidUrl, e.to_string()).with_source(e)
        }
        tungstenite::Error::Io(e) => match crate::tls::certificate_problem(&e) {
            Some(problem) => {
                ConnectError::new(ConnectErrorKind::Certificate, problem).with_source(e)
            }
            None => ConnectError::new(ConnectErrorKind::Io, e.to_string()).with_source(e),
        },
        other => {
            ConnectError::new(ConnectErrorKind::Handshake, other.to_string()).with_source(other)
        }
    }
}

/// Reads frames until the `connected` welcome; anything else first is a
/// server that does not speak `brain.v1`.
async fn read_welcome(ws: &mut Ws) -> Result<Connected, ConnectError> {
    loop {
        let frame = ws.next().await.ok_or_else(|| {
            ConnectError::new(
                ConnectErrorKind::Handshake,
                "the connection ended before the welcome",
            )
        })?;
        let frame = frame
            .map_err(|e| ConnectError::new(ConnectErrorKind::Io, e.to_string()).with_source(e))?;
        match frame {
            Frame::Text(text) => {
                return match ServerMessage::from_json(&text) {
                    Ok(ServerMessage::Connected(welcome)) => {
                        if welcome.protocol != brain_ws_protocol::PROTOCOL_VERSION {
                            tracing::warn!(protocol = %welcome.protocol, "server speaks another protocol version");
                        }
                        Ok(welcome)
                    }
                    _ => Err(ConnectError::new(
                        ConnectErrorKind::Handshake,
                        format!("expected a `connected` welcome first, got {text}"),
                    )),
                };
            }
            Frame::Close(frame) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((CloseCode::ABNORMAL.0, String::new()));
                let kind = if should_reconnect(code) {
                    ConnectErrorKind::Handshake
                } else {
                    ConnectErrorKind::TerminalClose
                };
                return Err(ConnectError::new(
                    kind,
                    format!(
                        "closed before the welcome with {}: {reason}",
                        CloseCode(code)
                    ),
                )
                .with_close_code(CloseCode(code)));
            }
            Frame::Ping(_) | Frame::Pong(_) | Frame::Frame(_) | Frame::Binary(_) => {}
        }
    }
}
