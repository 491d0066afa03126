//! [`Publisher`]: the HTTP API client for services that emit events without
//! holding a WebSocket (API Reference, "HTTP API Endpoints").

use std::time::Duration;

use brain_ws_protocol::catalog::Event;
use brain_ws_protocol::http::{
    BroadcastAllRequest, BroadcastAllResponse, BroadcastRequest, BroadcastResponse,
    ChannelSubscribersResponse, ErrorBody, HistoryResponse, InfoResponse, SendToUserRequest,
    SendToUserResponse, StatsResponse,
};
use brain_ws_protocol::{ChannelName, ErrorCode, EventType, StreamPosition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Proxy;
#[cfg(feature = "tls")]
use crate::Tls;
use crate::endpoint::percent_encode;
use crate::error::{PublishError, PublishErrorKind};

/// Publishes events and reads statistics through a BRAiN server's HTTP API.
///
/// Cheap to clone (one shared connection pool). Every call returns the
/// documented response body, or a [`PublishError`] whose kind follows the
/// HTTP status and whose [`code`](crate::Error::code) is the server's error
/// code. `http://` and `https://` work out of the box (rustls, the public
/// roots of `webpki-roots`; a private CA with [`Publisher::tls`]), through
/// the environment's `HTTPS_PROXY` / `NO_PROXY` unless [`Publisher::proxy`]
/// says otherwise.
///
/// ```no_run
/// use brain_ws_client::Publisher;
/// use serde_json::json;
///
/// # async fn demo() -> Result<(), brain_ws_client::PublishError> {
/// let publisher = Publisher::new("http://127.0.0.1:8000").api_key("secret");
/// let sent = publisher
///     .broadcast("missions", "mission_started", json!({"mission_id": "m-1"}))
///     .await?;
/// println!("{} subscribers", sent.subscribers);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Publisher {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
    #[cfg(feature = "tls")]
    tls: Option<Tls>,
    proxy: Proxy,
    retry: Retry,
}

/// How [`Publisher::broadcast`] and [`Publisher::emit`] retry.
#[derive(Debug, Clone, Copy)]
struct Retry {
    /// Attempts in all, the first included.
    attempts: u32,
    /// The wait before the first retry; doubled for each next one, up to
    /// [`MAX_RETRY_DELAY`], with full jitter.
    first_delay: Duration,
}

/// The longest wait between two attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);

/// How long one HTTP API call may take, connecting included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl Publisher {
    /// A publisher for the server at `base_url` (`http://host:port`, no path).
    ///
    /// ```no_run
    /// let publisher = brain_ws_client::Publisher::new("http://127.0.0.1:8000");
    /// ```
    pub fn new(base_url: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            http,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            api_key: None,
            #[cfg(feature = "tls")]
            tls: None,
            proxy: Proxy::default(),
            retry: Retry {
                attempts: 5,
                first_delay: Duration::from_millis(100),
            },
        }
    }

    /// How often [`broadcast`](Publisher::broadcast) and
    /// [`emit`](Publisher::emit) try (default 5 attempts in all), and the
    /// wait before the first retry (default 100 ms, doubled per retry up to
    /// 2 s, with full jitter). They retry when the server answers 503
    /// (`unavailable`: e.g. its Redis is unreachable, and the event was
    /// delivered nowhere) or another 5xx, or the request does not complete
    /// (connection refused or reset, timeout). Every attempt carries the
    /// same `idempotency_key`, so an event whose first attempt did go out
    /// (its answer was lost) is not delivered twice: the server answers the
    /// retry with status `duplicate`. `attempts(1)` turns retrying off.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let publisher = brain_ws_client::Publisher::new("http://brain:8000")
    ///     .retry(8, Duration::from_millis(250));
    /// ```
    pub fn retry(mut self, attempts: u32, first_delay: Duration) -> Self {
        self.retry = Retry {
            attempts: attempts.max(1),
            first_delay,
        };
        self
    }

    /// Who to trust on `https://` (by default the public roots of
    /// `webpki-roots`). Replaces a client set with [`Publisher::http_client`].
    /// Fails with [`PublishErrorKind::Transport`] only if the HTTP client
    /// cannot be built.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use brain_ws_client::{Publisher, Tls};
    /// let tls = Tls::default().with_ca_file("ca.pem")?;
    /// let publisher = Publisher::new("https://brain.internal").tls(&tls)?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: &Tls) -> Result<Self, PublishError> {
        self.tls = Some(tls.clone());
        self.rebuild()?;
        Ok(self)
    }

    /// The HTTP proxy to go through (by default the environment's
    /// `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`). Replaces a client set
    /// with [`Publisher::http_client`].
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), brain_ws_client::PublishError> {
    /// use brain_ws_client::{Proxy, Publisher};
    /// let publisher = Publisher::new("https://brain.example").proxy(Proxy::Direct)?;
    /// # Ok(()) }
    /// ```
    pub fn proxy(mut self, proxy: Proxy) -> Result<Self, PublishError> {
        self.proxy = proxy;
        self.rebuild()?;
        Ok(self)
    }

    /// Builds the reqwest client from the TLS and proxy settings.
    fn rebuild(&mut self) -> Result<(), PublishError> {
        let build_error =
            |e: reqwest::Error| PublishError::new(PublishErrorKind::Transport, e.to_string());
        let mut builder = reqwest::Client::builder().timeout(REQUEST_TIMEOUT);
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            builder = builder.use_preconfigured_tls((*tls.client_config()).clone());
        }
        builder = self.proxy.apply_to(builder).map_err(|e| {
            PublishError::new(PublishErrorKind::InvalidUrl, format!("proxy: {e}")).with_source(e)
        })?;
        self.http = builder.build().map_err(build_error)?;
        Ok(())
    }

    /// The key sent as `Authorization: Bearer <key>`, needed when the
    /// server is configured with API keys (otherwise it serves the admin API
    /// to loopback peers only).
    ///
    /// ```no_run
    /// let publisher = brain_ws_client::Publisher::new("http://brain:8000").api_key("secret");
    /// ```
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Uses `client` for requests, to share a pool or set proxies, TLS and
    /// timeouts.
    ///
    /// ```no_run
    /// let http = reqwest::Client::new();
    /// let publisher = brain_ws_client::Publisher::new("http://brain:8000").http_client(http);
    /// ```
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = client;
        self
    }

    /// `POST /api/ws/broadcast`: publishes an event of type `event_type`
    /// with payload `message` on `channel`, retrying with one idempotency
    /// key as [`retry`](Publisher::retry) says: the event is delivered at
    /// most once. A 200 with status `duplicate` means an earlier attempt
    /// delivered it.
    ///
    /// ```no_run
    /// # async fn demo(publisher: brain_ws_client::Publisher) -> Result<(), brain_ws_client::PublishError> {
    /// publisher
    ///     .broadcast("agents", "agent_started", serde_json::json!({"agent_id": "a-7"}))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn broadcast(
        &self,
        channel: impl AsRef<str>,
        event_type: impl AsRef<str>,
        message: impl Serialize,
    ) -> Result<BroadcastResponse, PublishError> {
        let body = BroadcastRequest {
            channel: channel_name(channel.as_ref())?,
            message: to_json(message)?,
            event_type: Some(event_type_name(event_type.as_ref())?),
            idempotency_key: Some(uuid::Uuid::new_v4().to_string()),
        };
        self.post_with_retry("/api/ws/broadcast", &body).await
    }

    /// Publishes a catalogue event on its standard channel (a mission event
    /// on `missions`, ...). [`Event::Other`] has no channel and fails with
    /// [`PublishErrorKind::NoChannel`]; use [`broadcast`](Publisher::broadcast).
    ///
    /// ```no_run
    /// # async fn demo(publisher: brain_ws_client::Publisher) -> Result<(), brain_ws_client::PublishError> {
    /// use brain_ws_protocol::catalog::{Event, MissionEvent, MissionRef};
    ///
    /// let started = Event::Mission(MissionEvent::MissionStarted(MissionRef { mission_id: "m-1".into() }));
    /// publisher.emit(started).await?;
    /// # Ok(()) }
    /// ```
    pub async fn emit(&self, event: Event) -> Result<BroadcastResponse, PublishError> {
        let channel = event.channel().ok_or_else(|| {
            PublishError::new(
                PublishErrorKind::NoChannel,
                "only catalogue events have a standard channel",
            )
        })?;
        let (event_type, message) = event.into_parts();
        let body = BroadcastRequest {
            channel: channel.name(),
            message,
            event_type: Some(event_type),
            idempotency_key: Some(uuid::Uuid::new_v4().to_string()),
        };
        self.post_with_retry("/api/ws/broadcast", &body).await
    }

    /// `POST /api/ws/broadcast/all`: sends an event to every connection,
    /// whatever it subscribed to.
    ///
    /// ```no_run
    /// # async fn demo(publisher: brain_ws_client::Publisher) -> Result<(), brain_ws_client::PublishError> {
    /// let sent = publisher
    ///     .broadcast_all("maintenance", serde_json::json!({"in_minutes": 5}))
    ///     .await?;
    /// println!("reached {} connections", sent.total_connections);
    /// # Ok(()) }
    /// ```
    pub async fn broadcast_all(
        &self,
        event_type: impl AsRef<str>,
        data: impl Serialize,
    ) -> Result<BroadcastAllResponse, PublishError> {
        let body = BroadcastAllRequest {
            event_type: event_type_name(event_type.as_ref())?,
            data: to_json(data)?,
        };
        self.post("/api/ws/broadcast/all", &body).await
    }

    /// `POST /api/ws/users/{user_id}/send`: sends an event to every
    /// connection of one user.
    ///
    /// ```no_run
    /// # async fn demo(publisher: brain_ws_client::Publisher) -> Result<(), brain_ws_client::PublishError> {
    /// publisher
    ///     .send_to_user("user-42", "notification", serde_json::json!({"text": "hello"}))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_to_user(
        &self,
        user_id: impl AsRef<str>,
        event_type: impl AsRef<str>,
        data: impl Serialize,
    ) -> Result<SendToUserResponse, PublishError> {
        let body = SendToUserRequest {
            event_type: event_type_name(event_type.as_ref())?,
            data: to_json(data)?,
        };
        let path = format!("/api/ws/users/{}/send", percent_encode(user_id.as_ref()));
        self.post(&path, &body).await
    }

    /// `GET /api/ws/stats`: connections, users and subscribers per channel.
    ///
    /// ```no_run
    /// # async fn demo(publisher: brain_ws_client::Publisher) -> Result<(), brain_ws_client::PublishError> {
    /// let stats = publisher.stats().await?;
    /// println!("{} connections", stats.total_connections);
    /// # Ok(()) }
    /// ```
    pub async fn stats(&self) -> Result<StatsResponse, PublishError> {
        self.get("/api/ws/stats").await
    }

    /// `GET /api/ws/channels/{channel}`: one channel's subscribers.
    ///
    /// ```no_run
    /// # async fn demo(publisher: brain_ws_client::Publisher) -> Result<(), brain_ws_client::PublishError> {
    /// let missions = publisher.channel("missions").await?;
    /// println!("{} subscribers", missions.subscribers);
    /// # Ok(()) }
    /// ```
    pub async fn channel(
        &self,
        channel: impl AsRef<str>,
    ) -> Result<ChannelSubscribersResponse, PublishError> {
        let channel = channel_name(channel.as_ref())?;
        self.get(&format!("/api/ws/channels/{channel}")).await
    }

    /// `GET /api/ws/channels/{channel}/presence`: every member of a
    /// presence channel across the cluster, oldest join first. A channel
    /// without presence fails with the server's `presence_disabled` (404).
    ///
    /// ```no_run
    /// # async fn demo(publisher: brain_ws_client::Publisher) -> Result<(), brain_ws_client::PublishError> {
    /// for member in publisher.presence("agents").await?.members {
    ///     println!("{} on {}", member.connection_id, member.node_id);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn presence(
        &self,
        channel: impl AsRef<str>,
    ) -> Result<brain_ws_protocol::http::PresenceResponse, PublishError> {
        let channel = channel_name(channel.as_ref())?;
        self.get(&format!("/api/ws/channels/{channel}/presence"))
            .await
    }

    /// `GET /api/ws/channels/{channel}/presence/stats`: a presence
    /// channel's connections and distinct users, across the cluster.
    ///
    /// ```no_run
    /// # async fn demo(publisher: brain_ws_client::Publisher) -> Result<(), brain_ws_client::PublishError> {
    /// let agents = publisher.presence_stats("agents").await?;
    /// println!("{} connections, {} users", agents.connections, agents.users);
    /// # Ok(()) }
    /// ```
    pub async fn presence_stats(
        &self,
        channel: impl AsRef<str>,
    ) -> Result<brain_ws_protocol::http::PresenceStatsResponse, PublishError> {
        let channel = channel_name(channel.as_ref())?;
        self.get(&format!("/api/ws/channels/{channel}/presence/stats"))
            .await
    }

    /// `GET /api/ws/channels/{channel}/history`: a history channel's
    /// retained events, oldest first, with its epoch and latest offset
    /// (docs/protocol.md). Without `since`, the latest `limit` (the server's
    /// history size when `None`); with `since`, the first `limit` after that
    /// position: page forward by passing the last event's position.
    /// `complete: false` says events before the first returned are lost.
    /// Errors: the server's 404 `not_found` for a channel without history, 400
    /// `invalid_message` for a `limit` outside 1 to the history size.
    ///
    /// ```no_run
    /// # async fn demo(publisher: brain_ws_client::Publisher) -> Result<(), brain_ws_client::PublishError> {
    /// let page = publisher.history("missions", Some(20), None).await?;
    /// for event in &page.events {
    ///     println!("{:?} {}", event.offset, event.event_type);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn history(
        &self,
        channel: impl AsRef<str>,
        limit: Option<u64>,
        since: Option<&StreamPosition>,
    ) -> Result<HistoryResponse, PublishError> {
        let channel = channel_name(channel.as_ref())?;
        let mut query = Vec::new();
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(since) = since {
            query.push(format!(
                "since={}:{}",
                percent_encode(&since.epoch),
                since.offset
            ));
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        self.get(&format!("/api/ws/channels/{channel}/history{query}"))
            .await
    }

    /// `GET /api/ws/info`: the server's version, features and limits.
    ///
    /// ```no_run
    /// # async fn demo(publisher: brain_ws_client::Publisher) -> Result<(), brain_ws_client::PublishError> {
    /// let info = publisher.info().await?;
    /// println!("{} {} speaks {}", info.name, info.version, info.protocol);
    /// # Ok(()) }
    /// ```
    pub async fn info(&self) -> Result<InfoResponse, PublishError> {
        self.get("/api/ws/info").await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, PublishError> {
        let url = self.url(path)?;
        self.send(self.http.get(url)).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, PublishError> {
        let url = self.url(path)?;
        self.send(self.http.post(url).json(body)).await
    }

    /// [`post`](Self::post), retried on 5xx and transport errors (the body
    /// carries an idempotency key, so a retry cannot deliver twice).
    async fn post_with_retry<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, PublishError> {
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            match self.post(path, body).await {
                Err(e) if attempt < self.retry.attempts && retryable(&e) => {
                    let wait = delay.mul_f64(fastrand::f64());
                    tracing::debug!(error = %e, attempt, ?wait, "publish failed, retrying");
                    tokio::time::sleep(wait).await;
                    delay = (delay * 2).min(MAX_RETRY_DELAY);
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, PublishError> {
        let url = format!("{}{path}", self.base_url);
        reqwest::Url::parse(&url).map_err(|e| {
            PublishError::new(PublishErrorKind::InvalidUrl, format!("{url:?}: {e}")).with_source(e)
        })
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, PublishError> {
        let request = match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        };
        let transport = |e: reqwest::Error| match crate::tls::certificate_problem(&e) {
            Some(problem) => {
                PublishError::new(PublishErrorKind::Certificate, problem).with_source(e)
            }
            None => PublishError::new(PublishErrorKind::Transport, e.to_string()).with_source(e),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(transport)?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|e| {
                PublishError::new(PublishErrorKind::Decode, e.to_string())
                    .with_status(status)
                    .with_source(e)
            });
        }
        let kind = PublishErrorKind::from_status(status);
        Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => PublishError::new(kind, body.error.message)
                .with_code(body.error.code)
                .with_status(status),
            Err(_) => PublishError::new(
                kind,
                format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                ),
            )
            .with_status(status),
        })
    }
}

/// Whether a failed publish may have failed for a passing reason.
fn retryable(e: &PublishError) -> bool {
    match e.kind() {
        PublishErrorKind::Unavailable | PublishErrorKind::Transport => true,
        PublishErrorKind::Server => e.status().is_some_and(|s| s >= 500),
        _ => false,
    }
}

fn channel_name(name: &str) -> Result<ChannelName, PublishError> {
    ChannelName::new(name).map_err(|e| {
        PublishError::new(PublishErrorKind::InvalidChannel, e.to_string())
            .with_code(ErrorCode::INVALID_CHANNEL)
            .with_source(e)
    })
}

fn event_type_name(name: &str) -> Result<EventType, PublishError> {
    EventType::new(name).map_err(|e| {
        PublishError::new(PublishErrorKind::InvalidEventType, e.to_string()).with_source(e)
    })
}

fn to_json(value: impl Serialize) -> Result<serde_json::Value, PublishError> {
    serde_json::to_value(value)
        .map_err(|e| PublishError::new(PublishErrorKind::InvalidBody, e.to_string()).with_source(e))
}
