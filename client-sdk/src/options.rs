//! [`ClientBuilder`]: the consuming builder that configures and opens a
//! [`Client`], in the style of async-nats' `ConnectOptions`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "tls")]
use crate::Tls;
use crate::error::{ConnectError, ConnectErrorKind};
use crate::{Backoff, Client, Proxy, endpoint, transport};

type TokenFuture = Pin<Box<dyn Future<Output = Option<String>> + Send>>;

/// Where the token for each connection attempt comes from.
#[derive(Clone)]
pub(crate) enum TokenSource {
    Static(String),
    Callback(Arc<dyn Fn() -> TokenFuture + Send + Sync>),
}

/// Everything the connection task needs to (re)connect.
pub(crate) struct Options {
    pub(crate) url: String,
    pub(crate) token: Option<TokenSource>,
    pub(crate) backoff: Backoff,
    pub(crate) heartbeat_grace: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) subscription_capacity: usize,
    pub(crate) event_capacity: usize,
    #[cfg(feature = "tls")]
    pub(crate) tls: Tls,
    pub(crate) proxy: Proxy,
}

impl Options {
    /// The URL of the next attempt, with a fresh token from the callback.
    pub(crate) async fn attempt_url(&self) -> Result<String, ConnectError> {
        let token = match &self.token {
            None => None,
            Some(TokenSource::Static(token)) => Some(token.clone()),
            Some(TokenSource::Callback(callback)) => callback().await,
        };
        endpoint::ws_url(&self.url, token.as_deref())
            .map_err(|msg| ConnectError::new(ConnectErrorKind::InvalidUrl, msg))
    }
}

/// Configures a [`Client`]; made by [`Client::builder`], finished by
/// [`connect`](ClientBuilder::connect).
///
/// ```no_run
/// use std::time::Duration;
/// use brain_ws_client::{Backoff, Client};
///
/// # async fn demo() -> Result<(), brain_ws_client::ConnectError> {
/// let client = Client::builder("ws://127.0.0.1:8000")
///     .token("eyJhbGciOi...")
///     .backoff(Backoff::default().max(Duration::from_secs(10)))
///     .heartbeat_grace(Duration::from_secs(5))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
pub struct ClientBuilder {
    options: Options,
    retry_initial_connect: bool,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.options.url)
            .field("token", &self.options.token.as_ref().map(|_| "<redacted>"))
            .field("backoff", &self.options.backoff)
            .field("heartbeat_grace", &self.options.heartbeat_grace)
            .field("connect_timeout", &self.options.connect_timeout)
            .field("proxy", &self.options.proxy)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    pub(crate) fn new(url: impl Into<String>) -> Self {
        Self {
            options: Options {
                url: url.into(),
                token: None,
                backoff: Backoff::default(),
                heartbeat_grace: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(10),
                subscription_capacity: 4096,
                event_capacity: 256,
                #[cfg(feature = "tls")]
                tls: Tls::default(),
                proxy: Proxy::default(),
            },
            retry_initial_connect: false,
        }
    }

    /// The token sent as `?token=` on every connection, so the server knows
    /// the user (and delivers their `send_to_user` messages).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), brain_ws_client::ConnectError> {
    /// let client = brain_ws_client::Client::builder("ws://127.0.0.1:8000")
    ///     .token(std::env::var("BRAIN_TOKEN").unwrap_or_default())
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.options.token = Some(TokenSource::Static(token.into()));
        self
    }

    /// Asks `callback` for a token before every connection attempt, so a
    /// reconnect after the server closed with `token_expired` (4002) uses a
    /// fresh one. `None` connects without a token.
    ///
    /// ```no_run
    /// # async fn fetch_token() -> Option<String> { None }
    /// # async fn demo() -> Result<(), brain_ws_client::ConnectError> {
    /// let client = brain_ws_client::Client::builder("ws://127.0.0.1:8000")
    ///     .token_callback(|| async { fetch_token().await })
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn token_callback<F, Fut>(mut self, callback: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        self.options.token = Some(TokenSource::Callback(Arc::new(move || {
            Box::pin(callback()) as TokenFuture
        })));
        self
    }

    /// The reconnect delay policy (see [`Backoff`] for the defaults).
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # async fn demo() -> Result<(), brain_ws_client::ConnectError> {
    /// let client = brain_ws_client::Client::builder("ws://127.0.0.1:8000")
    ///     .backoff(brain_ws_client::Backoff::default().initial(Duration::from_secs(1)))
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.options.backoff = backoff;
        self
    }

    /// How long past the welcome's `heartbeat_interval` the client waits,
    /// hearing nothing, before it declares the server dead and reconnects.
    /// A half-open TCP connection never errors on its own; this is what
    /// notices it. Default 10 s.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # async fn demo() -> Result<(), brain_ws_client::ConnectError> {
    /// let client = brain_ws_client::Client::builder("ws://127.0.0.1:8000")
    ///     .heartbeat_grace(Duration::from_secs(3))
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn heartbeat_grace(mut self, grace: Duration) -> Self {
        self.options.heartbeat_grace = grace;
        self
    }

    /// The longest one attempt may take, TCP connect and upgrade and welcome
    /// together. Default 10 s.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # async fn demo() -> Result<(), brain_ws_client::ConnectError> {
    /// let client = brain_ws_client::Client::builder("ws://127.0.0.1:8000")
    ///     .connect_timeout(Duration::from_secs(3))
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// How many events each [`Subscription`](crate::Subscription) and
    /// [`Events`](crate::Events) stream buffers before the client drops new
    /// ones for it (and reports [`ConnectionEvent::SlowConsumer`](crate::ConnectionEvent::SlowConsumer)),
    /// so one stalled consumer never stalls the socket. Default 4096.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), brain_ws_client::ConnectError> {
    /// let client = brain_ws_client::Client::builder("ws://127.0.0.1:8000")
    ///     .subscription_capacity(65_536)
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn subscription_capacity(mut self, capacity: usize) -> Self {
        self.options.subscription_capacity = capacity.max(1);
        self
    }

    /// Who to trust on `wss://`: by default the public roots of
    /// `webpki-roots`; add a private CA with [`Tls::with_ca_file`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let tls = brain_ws_client::Tls::default().with_ca_file("ca.pem")?;
    /// let client = brain_ws_client::Client::builder("wss://brain.internal")
    ///     .tls(tls)
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: Tls) -> Self {
        self.options.tls = tls;
        self
    }

    /// The HTTP proxy to go through: by default the environment's
    /// (`HTTPS_PROXY` for `wss://`, `HTTP_PROXY` for `ws://`, `NO_PROXY`),
    /// as curl reads them. A proxy is used as a `CONNECT` tunnel.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), brain_ws_client::ConnectError> {
    /// use brain_ws_client::{Client, Proxy};
    /// let client = Client::builder("wss://brain.example")
    ///     .proxy(Proxy::Url("http://proxy.corp:3128".into()))
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.options.proxy = proxy;
        self
    }

    /// Return from [`connect`](ClientBuilder::connect) at once and keep
    /// trying in the background (with the backoff policy), instead of
    /// failing when the server is not up yet. Useful when services start in
    /// any order.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), brain_ws_client::ConnectError> {
    /// let client = brain_ws_client::Client::builder("ws://127.0.0.1:8000")
    ///     .retry_initial_connect()
    ///     .connect()
    ///     .await?; // Ok even if the server is down; see client.state()
    /// # Ok(()) }
    /// ```
    pub fn retry_initial_connect(mut self) -> Self {
        self.retry_initial_connect = true;
        self
    }

    /// Opens the connection and starts the client's task.
    ///
    /// Waits for the server's welcome, so a returned client is connected,
    /// unless [`retry_initial_connect`](ClientBuilder::retry_initial_connect)
    /// was set. A refused token (HTTP 401/403) or a bad URL fails at once.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), brain_ws_client::ConnectError> {
    /// let client = brain_ws_client::Client::builder("ws://127.0.0.1:8000").connect().await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(self) -> Result<Client, ConnectError> {
        endpoint::ws_url(&self.options.url, None)
            .map_err(|msg| ConnectError::new(ConnectErrorKind::InvalidUrl, msg))?;
        let options = Arc::new(self.options);
        let first = if self.retry_initial_connect {
            None
        } else {
            Some(transport::open(&options).await?)
        };
        Ok(Client::spawn(options, first))
    }
}
