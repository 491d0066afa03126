//! Errors: one [`Error`] type parameterised by a small `Copy` kind per
//! operation, as async-nats does, so callers `match err.kind()` without
//! string comparisons while the protocol's open [`ErrorCode`] stays available.

use std::fmt;
use std::sync::Arc;

use brain_ws_protocol::{CloseCode, ErrorCode};

/// An error from this crate: a kind to match on, plus what the server said.
///
/// `K` is [`ConnectErrorKind`], [`SubscribeErrorKind`] or
/// [`PublishErrorKind`]; the aliases [`ConnectError`], [`SubscribeError`] and
/// [`PublishError`] name them. Errors are `Clone` so one terminal error can be
/// handed to every waiting caller and to the connection event stream.
///
/// ```no_run
/// # async fn demo(client: brain_ws_client::Client) {
/// use brain_ws_client::SubscribeErrorKind;
///
/// match client.subscribe("missions").await {
///     Ok(_subscription) => {}
///     Err(err) if err.kind() == SubscribeErrorKind::Forbidden => eprintln!("not allowed: {err}"),
///     Err(err) => eprintln!("subscribe failed: {err} (code {:?})", err.code()),
/// }
/// # }
/// ```
#[derive(Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error<K: fmt::Display + fmt::Debug> {
    kind: K,
    message: String,
    code: Option<ErrorCode>,
    status: Option<u16>,
    close_code: Option<CloseCode>,
    #[source]
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl<K: fmt::Display + fmt::Debug + Copy> Error<K> {
    pub(crate) fn new(kind: K, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            code: None,
            status: None,
            close_code: None,
            source: None,
        }
    }

    pub(crate) fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = Some(code);
        self
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub(crate) fn with_close_code(mut self, code: CloseCode) -> Self {
        self.close_code = Some(code);
        self
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// What went wrong, to branch on.
    ///
    /// ```no_run
    /// # fn demo(err: brain_ws_client::ConnectError) {
    /// use brain_ws_client::ConnectErrorKind;
    /// if err.kind() == ConnectErrorKind::Unauthorized {
    ///     // fetch a new token before trying again
    /// }
    /// # }
    /// ```
    pub fn kind(&self) -> K {
        self.kind
    }

    /// The protocol error code the server sent (`error.code` on the
    /// WebSocket, or the HTTP error body's code), so codes this version does
    /// not name are still visible.
    ///
    /// ```no_run
    /// # fn demo(err: brain_ws_client::SubscribeError) {
    /// use brain_ws_protocol::ErrorCode;
    /// assert_eq!(err.code(), Some(&ErrorCode::SUBSCRIPTION_LIMIT));
    /// # }
    /// ```
    pub fn code(&self) -> Option<&ErrorCode> {
        self.code.as_ref()
    }

    /// The HTTP status, when the error is an HTTP answer (the publisher's
    /// requests, or a refused WebSocket upgrade).
    ///
    /// ```no_run
    /// # fn demo(err: brain_ws_client::ConnectError) {
    /// if err.status() == Some(401) { /* refresh the token */ }
    /// # }
    /// ```
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The WebSocket close code, when the server ended the connection with a
    /// code that forbids reconnecting (see [`brain_ws_protocol::should_reconnect`]).
    ///
    /// ```no_run
    /// # fn demo(err: brain_ws_client::ConnectError) {
    /// use brain_ws_protocol::CloseCode;
    /// if err.close_code() == Some(CloseCode::UNAUTHORIZED) { /* log in again */ }
    /// # }
    /// ```
    pub fn close_code(&self) -> Option<CloseCode> {
        self.close_code
    }

    /// The human-readable message (the server's, when it sent one).
    ///
    /// ```no_run
    /// # fn demo(err: brain_ws_client::PublishError) {
    /// eprintln!("{}", err.message());
    /// # }
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl<K: fmt::Display + fmt::Debug> fmt::Debug for Error<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(code) = &self.code {
            d.field("code", code);
        }
        if let Some(status) = self.status {
            d.field("status", &status);
        }
        if let Some(close_code) = self.close_code {
            d.field("close_code", &close_code);
        }
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

/// Why connecting failed, or why a client stopped for good.
///
/// Returned by [`ClientBuilder::connect`](crate::ClientBuilder::connect), and
/// carried by [`ConnectionEvent::Closed`](crate::ConnectionEvent::Closed) and
/// [`Client::closed`](crate::Client::closed) when the client gave up.
///
/// ```no_run
/// use brain_ws_client::{Client, ConnectErrorKind};
///
/// # async fn demo() {
/// match Client::builder("ws://127.0.0.1:8000").token("expired").connect().await {
///     Ok(_client) => {}
///     Err(err) if err.kind() == ConnectErrorKind::Unauthorized => eprintln!("log in again"),
///     Err(err) => eprintln!("cannot connect: {err}"),
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectErrorKind {
    /// The URL is not a `ws://` or `wss://` URL.
    InvalidUrl,
    /// The TCP connection or the TLS session failed (refused, reset, DNS,
    /// a proxy that refused the tunnel).
    Io,
    /// The server's TLS certificate was refused (unknown issuer, expired,
    /// another host's): a trust problem, not a network one. A private CA is
    /// trusted with [`Tls::with_ca_file`](crate::Tls::with_ca_file). Fails
    /// the first connect; later reconnects keep retrying (a server in the
    /// middle of a certificate rotation).
    Certificate,
    /// The upgrade was refused with HTTP 401: the token is missing or invalid. Terminal.
    Unauthorized,
    /// The upgrade was refused with HTTP 403. Terminal.
    Forbidden,
    /// The upgrade was refused with another HTTP status (see
    /// [`Error::status`]); terminal for 4xx other than 408 and 429.
    Rejected,
    /// The server did not speak the protocol: no `connected` welcome first,
    /// or a broken WebSocket handshake.
    Handshake,
    /// Connecting or the welcome took longer than the connect timeout.
    TimedOut,
    /// The server closed the connection with a code that forbids
    /// reconnecting (see [`Error::close_code`]). Terminal.
    TerminalClose,
    /// The backoff policy's attempt limit was reached. Terminal.
    RetriesExhausted,
}

impl ConnectErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::InvalidUrl => "invalid url",
            Self::Io => "i/o error",
            Self::Certificate => "TLS certificate problem",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::Rejected => "upgrade rejected",
            Self::Handshake => "handshake failed",
            Self::TimedOut => "timed out",
            Self::TerminalClose => "closed by the server",
            Self::RetriesExhausted => "reconnect attempts exhausted",
        }
    }
}

impl fmt::Display for ConnectErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a subscribe or unsubscribe failed.
///
/// Server refusals map from the protocol's [`ErrorCode`]; the code itself is
/// kept in [`Error::code`].
///
/// ```no_run
/// # async fn demo(client: brain_ws_client::Client) {
/// use brain_ws_client::SubscribeErrorKind;
///
/// if let Err(err) = client.subscribe("audit").await {
///     match err.kind() {
///         SubscribeErrorKind::Forbidden => eprintln!("this user may not read audit logs"),
///         SubscribeErrorKind::SubscriptionLimit => eprintln!("too many channels"),
///         _ => eprintln!("{err}"),
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscribeErrorKind {
    /// The channel name is invalid (checked locally before sending, or
    /// refused by the server with `invalid_channel`).
    InvalidChannel,
    /// The server refused with `unauthorized`.
    Unauthorized,
    /// The server refused with `forbidden`: the user may not read this channel.
    Forbidden,
    /// The server refused with `subscription_limit`.
    SubscriptionLimit,
    /// The server refused with `rate_limited`.
    RateLimited,
    /// Unsubscribe of a channel the server does not have for this connection.
    NotSubscribed,
    /// The server refused with another code (see [`Error::code`]).
    Server,
    /// A subscribe with `rewind` on a channel this client already
    /// subscribes to: the replay goes to the channel's first subscription
    /// only (a second would deliver old events to the existing ones).
    RewindOnShared,
    /// The client is closed (by [`Client::close`](crate::Client::close) or a
    /// terminal error), so nothing can be subscribed.
    Closed,
}

impl SubscribeErrorKind {
    /// The kind for a server error code.
    pub(crate) fn from_code(code: &ErrorCode) -> Self {
        match code {
            c if *c == ErrorCode::INVALID_CHANNEL => Self::InvalidChannel,
            c if *c == ErrorCode::UNAUTHORIZED => Self::Unauthorized,
            c if *c == ErrorCode::FORBIDDEN => Self::Forbidden,
            c if *c == ErrorCode::SUBSCRIPTION_LIMIT => Self::SubscriptionLimit,
            c if *c == ErrorCode::RATE_LIMITED => Self::RateLimited,
            c if *c == ErrorCode::NOT_SUBSCRIBED => Self::NotSubscribed,
            _ => Self::Server,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::InvalidChannel => "invalid channel",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::SubscriptionLimit => "subscription limit reached",
            Self::RateLimited => "rate limited",
            Self::NotSubscribed => "not subscribed",
            Self::Server => "refused by the server",
            Self::RewindOnShared => "rewind on a channel already subscribed",
            Self::Closed => "client closed",
        }
    }
}

impl fmt::Display for SubscribeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an HTTP API call of the [`Publisher`](crate::Publisher) failed.
///
/// ```no_run
/// # async fn demo(publisher: brain_ws_client::Publisher) {
/// use brain_ws_client::PublishErrorKind;
///
/// if let Err(err) = publisher.stats().await {
///     if matches!(err.kind(), PublishErrorKind::Unauthorized | PublishErrorKind::Forbidden) {
///         eprintln!("check BRAIN_WS_API_KEY: {err}");
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishErrorKind {
    /// The base URL, or a URL built from it, is not valid.
    InvalidUrl,
    /// The channel name is invalid (checked before sending).
    InvalidChannel,
    /// The event type is invalid or reserved (checked before sending).
    InvalidEventType,
    /// The event has no standard channel, so [`Publisher::emit`](crate::Publisher::emit) cannot route it.
    NoChannel,
    /// HTTP 401: a missing or wrong API key.
    Unauthorized,
    /// HTTP 403: the key or peer may not use the admin API.
    Forbidden,
    /// HTTP 404: no such route or resource.
    NotFound,
    /// HTTP 400 or 422: the server refused the body (see [`Error::code`]).
    InvalidBody,
    /// HTTP 413: the body exceeds the server's `max_message_size`.
    PayloadTooLarge,
    /// HTTP 503: the server or its broker is not available.
    Unavailable,
    /// Any other non-success status (see [`Error::status`]).
    Server,
    /// The request did not complete (connection refused, timeout, reset).
    Transport,
    /// The server's TLS certificate was refused (unknown issuer, expired,
    /// another host's); a private CA is trusted with [`Publisher::tls`](crate::Publisher::tls).
    Certificate,
    /// A success answer whose body is not the documented JSON.
    Decode,
}

impl PublishErrorKind {
    pub(crate) fn from_status(status: u16) -> Self {
        match status {
            400 | 422 => Self::InvalidBody,
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            413 => Self::PayloadTooLarge,
            503 => Self::Unavailable,
            _ => Self::Server,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::InvalidUrl => "invalid url",
            Self::InvalidChannel => "invalid channel",
            Self::InvalidEventType => "invalid event type",
            Self::NoChannel => "event has no standard channel",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not found",
            Self::InvalidBody => "invalid body",
            Self::PayloadTooLarge => "payload too large",
            Self::Unavailable => "unavailable",
            Self::Server => "server error",
            Self::Transport => "transport error",
            Self::Certificate => "TLS certificate problem",
            Self::Decode => "undecodable answer",
        }
    }
}

impl fmt::Display for PublishErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Connecting failed, or the client stopped for good.
///
/// ```no_run
/// async fn connect() -> Result<brain_ws_client::Client, brain_ws_client::ConnectError> {
///     brain_ws_client::Client::builder("ws://127.0.0.1:8000").connect().await
/// }
/// ```
pub type ConnectError = Error<ConnectErrorKind>;
/// A subscribe or unsubscribe failed.
///
/// ```no_run
/// async fn missions(
///     client: &brain_ws_client::Client,
/// ) -> Result<brain_ws_client::Subscription, brain_ws_client::SubscribeError> {
///     client.subscribe("missions").await
/// }
/// ```
pub type SubscribeError = Error<SubscribeErrorKind>;
/// An HTTP API call failed.
///
/// ```no_run
/// async fn users(publisher: &brain_ws_client::Publisher) -> Result<u64, brain_ws_client::PublishError> {
///     Ok(publisher.stats().await?.total_users)
/// }
/// ```
pub type PublishError = Error<PublishErrorKind>;

impl ConnectError {
    /// Whether reconnecting could not help: the client stops instead of looping.
    pub(crate) fn is_terminal(&self) -> bool {
        match self.kind {
            ConnectErrorKind::InvalidUrl
            | ConnectErrorKind::Unauthorized
            | ConnectErrorKind::Forbidden
            | ConnectErrorKind::TerminalClose
            | ConnectErrorKind::RetriesExhausted => true,
            ConnectErrorKind::Rejected => self
                .status
                .is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429),
            // A refused certificate is retried: the usual cause on a
            // reconnect is a server mid-rotation, which fixes itself.
            ConnectErrorKind::Io
            | ConnectErrorKind::Certificate
            | ConnectErrorKind::Handshake
            | ConnectErrorKind::TimedOut => false,
        }
    }
}

impl SubscribeError {
    /// The error for a server `error` answer.
    pub(crate) fn from_server(code: ErrorCode, message: String) -> Self {
        Self::new(SubscribeErrorKind::from_code(&code), message).with_code(code)
    }

    pub(crate) fn closed() -> Self {
        Self::new(SubscribeErrorKind::Closed, "the client is closed")
    }
}
