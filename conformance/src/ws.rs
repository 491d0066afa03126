//! The suite's WebSocket client: opens connections to the server under test,
//! records every frame in the scenario's transcript, checks every received
//! frame against `server-message.json`, and offers the expectations the
//! scenarios are written in (`subscribe`, `expect_error`, `barrier`, ...).

use std::time::{Duration, Instant};

use brain_ws_protocol::{
    ClientMessage, Connected, ErrorCode, ErrorMessage, EventEnvelope, ServerMessage,
    StreamPosition, Subscribed, Unsubscribed, unix_timestamp,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::context::Ctx;
use crate::outcome::{Outcome, ensure, fail};
use crate::report::Direction;
use crate::schema::{SERVER_MESSAGE, Schemas};
use crate::transcript::Transcript;

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What arrived on a connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Incoming {
    /// A text frame that matched the schema and decoded.
    Msg(ServerMessage),
    /// The connection ended: the close code, or `None` when it dropped
    /// without a close frame.
    Closed(Option<u16>),
}

/// The answer to an upgrade attempt.
pub(crate) enum Opened {
    /// The server upgraded the connection.
    Conn(Box<WsConn>),
    /// The server answered the upgrade request with an HTTP error.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The response body, as text.
        body: String,
    },
}

/// One WebSocket connection of a scenario.
pub(crate) struct WsConn {
    label: String,
    socket: Socket,
    transcript: Transcript,
    schemas: Schemas,
    step: Duration,
    /// Answer server `ping`s with `pong` (off for the silent-client scenario).
    pub(crate) auto_pong: bool,
    /// The welcome message, once read.
    pub(crate) welcome: Option<Connected>,
    /// When each server heartbeat `ping` arrived.
    pub(crate) pings: Vec<Instant>,
    closed: bool,
    /// Opened with `batch=1`: a text frame may hold several messages, one
    /// per line (docs/protocol.md, Batched frames).
    batched: bool,
    /// Messages of a batched frame not yet returned by [`WsConn::next`].
    queued: std::collections::VecDeque<ServerMessage>,
    /// The most messages one frame held.
    pub(crate) largest_frame: usize,
}

impl Ctx {
    /// The WebSocket upgrade of `request` as every scenario makes it:
    /// through the configured proxy, trusting the configured TLS roots.
    pub(crate) async fn upgrade(
        &self,
        request: tungstenite::handshake::client::Request,
    ) -> Result<(Socket, tungstenite::handshake::client::Response), tungstenite::Error> {
        let config = self.config();
        let stream = config
            .proxy
            .connect(request.uri())
            .await
            .map_err(tungstenite::Error::Io)?;
        let connector = Connector::Rustls(config.tls.client_config());
        tokio_tungstenite::client_async_tls_with_config(request, stream, None, Some(connector))
            .await
    }

    /// Opens a WebSocket to `path` (such as `/ws/connect`) with `token`, and
    /// reports an HTTP refusal of the upgrade as a value.
    pub(crate) async fn try_open(
        &self,
        label: &str,
        path: &str,
        token: Option<&str>,
    ) -> Outcome<Opened> {
        let base = self.config().ws_base();
        let mut url = match reqwest::Url::parse(&format!("{base}{path}")) {
            Ok(url) => url,
            Err(e) => fail!("invalid URL {base}{path}: {e}"),
        };
        if let Some(token) = token {
            url.query_pairs_mut().append_pair("token", token);
        }
        let shown = if token.is_some() {
            format!("{base}{path}?token=…")
        } else {
            format!("{base}{path}")
        };
        self.transcript
            .record(label, Direction::Note, &format!("open {shown}"));
        let open = async {
            let request = url.as_str().into_client_request()?;
            self.upgrade(request).await
        };
        let attempt = tokio::time::timeout(self.step(), open).await;
        match attempt {
            Err(_) => {
                let text = format!("upgrade of {shown} not answered within {:?}", self.step());
                self.transcript.record(label, Direction::Note, &text);
                fail!("{text}")
            }
            Ok(Err(tungstenite::Error::Http(response))) => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                self.transcript.record(
                    label,
                    Direction::Received,
                    &format!("HTTP {status} {body}"),
                );
                Ok(Opened::Refused { status, body })
            }
            Ok(Err(e)) => {
                let text = format!("cannot open {shown}: {e}");
                self.transcript.record(label, Direction::Note, &text);
                fail!("{text}")
            }
            Ok(Ok((socket, _))) => Ok(Opened::Conn(Box::new(WsConn {
                label: label.to_owned(),
                socket,
                transcript: self.transcript.clone(),
                schemas: self.shared.schemas.clone(),
                step: self.step(),
                auto_pong: true,
                welcome: None,
                pings: Vec::new(),
                closed: false,
                batched: url
                    .query_pairs()
                    .any(|(k, v)| k == "batch" && (v == "1" || v == "true")),
                queued: std::collections::VecDeque::new(),
                largest_frame: 0,
            }))),
        }
    }

    /// Opens `path` with the configured token (if any), failing on refusal,
    /// and reads the welcome message.
    pub(crate) async fn open(&self, label: &str, path: &str) -> Outcome<WsConn> {
        let token = self.config().token.clone();
        match self.try_open(label, path, token.as_deref()).await? {
            Opened::Conn(mut conn) => {
                conn.read_welcome().await?;
                Ok(*conn)
            }
            Opened::Refused { status, body } => {
                fail!("upgrade of {path} refused with HTTP {status}: {body}")
            }
        }
    }

    /// A connection to `/ws/connect`, welcome read.
    pub(crate) async fn connect(&self, label: &str) -> Outcome<WsConn> {
        self.open(label, "/ws/connect").await
    }
}

impl WsConn {
    /// The `connection_id` of the welcome message.
    pub(crate) fn connection_id(&self) -> Option<uuid::Uuid> {
        self.welcome.as_ref().map(|w| w.connection_id)
    }

    /// Reads the welcome message, which must be the first frame.
    pub(crate) async fn read_welcome(&mut self) -> Outcome<()> {
        match self.next(self.step).await? {
            Some(Incoming::Msg(ServerMessage::Connected(welcome))) => {
                self.welcome = Some(welcome);
                Ok(())
            }
            Some(Incoming::Msg(other)) => fail!(
                "{}: the first frame must be `connected`, got {}",
                self.label,
                other.to_json()
            ),
            Some(Incoming::Closed(code)) => fail!(
                "{}: closed ({}) before the welcome message",
                self.label,
                show_code(code)
            ),
            None => fail!("{}: no welcome message within {:?}", self.label, self.step),
        }
    }

    /// Sends a text frame.
    pub(crate) async fn send_text(&mut self, text: impl Into<String>) -> Outcome<()> {
        let text: String = text.into();
        self.transcript.record(&self.label, Direction::Sent, &text);
        if let Err(e) = self.socket.send(Message::text(text)).await {
            fail!("{}: sending failed: {e}", self.label);
        }
        Ok(())
    }

    /// Sends a client message.
    pub(crate) async fn send(&mut self, message: &ClientMessage) -> Outcome<()> {
        self.send_text(message.to_json()).await
    }

    /// Sends a JSON value as a text frame.
    pub(crate) async fn send_json(&mut self, value: &Value) -> Outcome<()> {
        self.send_text(value.to_string()).await
    }

    /// Sends a binary frame.
    pub(crate) async fn send_binary(&mut self, bytes: Vec<u8>) -> Outcome<()> {
        self.transcript.record(
            &self.label,
            Direction::Sent,
            &format!("<binary frame, {} bytes>", bytes.len()),
        );
        if let Err(e) = self.socket.send(Message::binary(bytes)).await {
            fail!("{}: sending failed: {e}", self.label);
        }
        Ok(())
    }

    /// The next frame or the end of the connection within `wait`; `None`
    /// on timeout. Server pings are returned too (and answered when
    /// `auto_pong`). A frame that breaks the schema fails the scenario.
    pub(crate) async fn next(&mut self, wait: Duration) -> Outcome<Option<Incoming>> {
        if let Some(message) = self.queued.pop_front() {
            return Ok(Some(Incoming::Msg(message)));
        }
        if self.closed {
            return Ok(Some(Incoming::Closed(None)));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let item = match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return Ok(None),
                Ok(item) => item,
            };
            match item {
                Some(Ok(Message::Text(text))) => {
                    self.transcript
                        .record(&self.label, Direction::Received, text.as_str());
                    // A frame is one message, or with `batch=1` one per line.
                    let lines: Vec<&str> = if self.batched {
                        text.as_str().split('\n').collect()
                    } else {
                        vec![text.as_str()]
                    };
                    self.largest_frame = self.largest_frame.max(lines.len());
                    for line in lines {
                        let message = self.check(line)?;
                        if let ServerMessage::Ping(_) = message {
                            self.pings.push(Instant::now());
                            if self.auto_pong {
                                self.send(&ClientMessage::Pong).await?;
                            }
                        }
                        self.queued.push_back(message);
                    }
                    if let Some(message) = self.queued.pop_front() {
                        return Ok(Some(Incoming::Msg(message)));
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    self.transcript.record(
                        &self.label,
                        Direction::Received,
                        &format!("<binary frame, {} bytes>", bytes.len()),
                    );
                    fail!(
                        "{}: the server sent a binary frame; the protocol is JSON text only",
                        self.label
                    );
                }
                Some(Ok(Message::Close(frame))) => {
                    self.closed = true;
                    let code = frame.as_ref().map(|f| u16::from(f.code));
                    let reason = frame.as_ref().map(|f| f.reason.as_str()).unwrap_or("");
                    self.transcript.record(
                        &self.label,
                        Direction::Received,
                        &format!("<close {} {reason}>", show_code(code)),
                    );
                    return Ok(Some(Incoming::Closed(code)));
                }
                // WebSocket-level ping/pong are answered by tungstenite itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Err(e)) => {
                    self.closed = true;
                    self.transcript.record(
                        &self.label,
                        Direction::Note,
                        &format!("connection ended without a close frame: {e}"),
                    );
                    return Ok(Some(Incoming::Closed(None)));
                }
                None => {
                    self.closed = true;
                    self.transcript.record(
                        &self.label,
                        Direction::Note,
                        "connection ended without a close frame",
                    );
                    return Ok(Some(Incoming::Closed(None)));
                }
            }
        }
    }

    /// Validates a received text frame and decodes it.
    fn check(&self, text: &str) -> Outcome<ServerMessage> {
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => fail!(
                "{}: the server sent a frame that is not JSON: {e}",
                self.label
            ),
        };
        if let Err(e) = self.schemas.check(SERVER_MESSAGE, &value) {
            fail!("{}: the server sent a frame that {e}", self.label);
        }
        match serde_json::from_value::<ServerMessage>(value) {
            Ok(m) => Ok(m),
            Err(e) => fail!(
                "{}: the server sent a frame that matches the schema but does not decode: {e}",
                self.label
            ),
        }
    }

    /// The next frame that is not a server heartbeat, failing on close or
    /// timeout; `waiting_for` names what was expected, for the reason.
    pub(crate) async fn recv(&mut self, waiting_for: &str) -> Outcome<ServerMessage> {
        let deadline = Instant::now() + self.step;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Some(Incoming::Msg(ServerMessage::Ping(_))) => continue,
                Some(Incoming::Msg(message)) => return Ok(message),
                Some(Incoming::Closed(code)) => fail!(
                    "{}: connection closed ({}) while waiting for {waiting_for}",
                    self.label,
                    show_code(code)
                ),
                None => fail!(
                    "{}: timed out after {:?} waiting for {waiting_for}",
                    self.label,
                    self.step
                ),
            }
        }
    }

    /// Expects `subscribed` for `channel` next.
    pub(crate) async fn expect_subscribed(&mut self, channel: &str) -> Outcome<Subscribed> {
        let what = format!("subscribed for {channel}");
        match self.recv(&what).await? {
            ServerMessage::Subscribed(s) if s.channel.as_str() == channel => {
                check_timestamp(s.timestamp, "subscribed.timestamp")?;
                Ok(s)
            }
            other => fail!("{}: expected {what}, got {}", self.label, other.to_json()),
        }
    }

    /// Subscribes to `channel` and expects the confirmation.
    pub(crate) async fn subscribe(&mut self, channel: &str) -> Outcome<Subscribed> {
        self.send_json(&serde_json::json!({"type": "subscribe", "channel": channel}))
            .await?;
        self.expect_subscribed(channel).await
    }

    /// Subscribes to `channel` asking for recovery from `since`.
    pub(crate) async fn subscribe_since(
        &mut self,
        channel: &str,
        since: &StreamPosition,
    ) -> Outcome<Subscribed> {
        self.send_json(
            &serde_json::json!({"type": "subscribe", "channel": channel, "since": since}),
        )
        .await?;
        self.expect_subscribed(channel).await
    }

    /// Unsubscribes from `channel` and expects the confirmation.
    pub(crate) async fn unsubscribe(&mut self, channel: &str) -> Outcome<Unsubscribed> {
        self.send_json(&serde_json::json!({"type": "unsubscribe", "channel": channel}))
            .await?;
        let what = format!("unsubscribed for {channel}");
        match self.recv(&what).await? {
            ServerMessage::Unsubscribed(u) if u.channel.as_str() == channel => Ok(u),
            other => fail!("{}: expected {what}, got {}", self.label, other.to_json()),
        }
    }

    /// Expects an `error` with `code` next.
    pub(crate) async fn expect_error(&mut self, code: &ErrorCode) -> Outcome<ErrorMessage> {
        let what = format!("error {code}");
        match self.recv(&what).await? {
            ServerMessage::Error(e) if &e.code == code => Ok(e),
            other => fail!("{}: expected {what}, got {}", self.label, other.to_json()),
        }
    }

    /// Expects an event next.
    pub(crate) async fn expect_event(&mut self, what: &str) -> Outcome<EventEnvelope> {
        match self.recv(what).await? {
            ServerMessage::Event(e) => {
                check_timestamp(e.timestamp, "event timestamp")?;
                Ok(e)
            }
            other => fail!("{}: expected {what}, got {}", self.label, other.to_json()),
        }
    }

    /// Expects exactly this event next: `event_type`, `channel` (or no
    /// channel when `None`) and `data`.
    pub(crate) async fn expect_exact_event(
        &mut self,
        event_type: &str,
        channel: Option<&str>,
        data: &Value,
    ) -> Outcome<EventEnvelope> {
        let what = match channel {
            Some(c) => format!("event {event_type} on {c} with data {data}"),
            None => format!("event {event_type} without channel with data {data}"),
        };
        let event = self.expect_event(&what).await?;
        let label = &self.label;
        ensure!(
            event.event_type.as_str() == event_type,
            "{label}: expected {what}, got type {:?}",
            event.event_type.as_str()
        );
        let got = event.channel.as_ref().map(|c| c.as_str());
        ensure!(
            got == channel,
            "{label}: expected {what}, got {}",
            match got {
                Some(c) => format!("channel {c:?}"),
                None => "an event without channel".to_owned(),
            }
        );
        ensure!(
            &event.data == data,
            "{label}: expected {what}, got data {}",
            event.data
        );
        Ok(event)
    }

    /// Sends `ping` and expects `pong` as the very next non-heartbeat frame:
    /// proves the connection is usable and, since a server answers in
    /// order, that nothing else was queued for it before the pong.
    pub(crate) async fn barrier(&mut self) -> Outcome<()> {
        self.send(&ClientMessage::Ping).await?;
        match self.recv("pong").await? {
            ServerMessage::Pong(p) => check_timestamp(p.timestamp, "pong.timestamp"),
            other => fail!(
                "{}: expected pong (and nothing before it), got {}",
                self.label,
                other.to_json()
            ),
        }
    }

    /// Waits until the server closes the connection, ignoring frames, and
    /// returns the close code; fails if it stays open for `within`.
    pub(crate) async fn expect_close(&mut self, within: Duration) -> Outcome<Option<u16>> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Some(Incoming::Msg(_)) => continue,
                Some(Incoming::Closed(code)) => return Ok(code),
                None => fail!("{}: still open after {within:?}", self.label),
            }
        }
    }

    /// Closes the connection normally and waits (up to a second) for the
    /// server's close frame, so the server has seen the close before the
    /// next step; best effort.
    pub(crate) async fn close(mut self) {
        if self.closed {
            return;
        }
        self.transcript
            .record(&self.label, Direction::Sent, "<close 1000>");
        let handshake = async {
            self.socket.close(None).await.ok()?;
            while let Some(Ok(_)) = self.socket.next().await {}
            Some(())
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), handshake).await;
    }
}

/// Checks that a timestamp is seconds since the Unix epoch, within five
/// minutes of this machine's clock (not milliseconds, not zero).
pub(crate) fn check_timestamp(ts: f64, what: &str) -> Outcome<()> {
    let now = unix_timestamp();
    ensure!(
        (ts - now).abs() < 300.0,
        "{what} {ts} is not seconds since the Unix epoch near this machine's clock ({now:.3})"
    );
    Ok(())
}

/// A close code for messages: the number, or `no close frame`.
pub(crate) fn show_code(code: Option<u16>) -> String {
    match code {
        Some(c) => format!("code {}", brain_ws_protocol::CloseCode(c)),
        None => "no close frame".to_owned(),
    }
}
