//! Server configuration: the settings every other module reads, with the
//! seed's defaults. A plain type: embedders start from [`Config::default`];
//! the binary's settings module (`cli.rs`, not part of the library) builds
//! one from flags, environment and a TOML file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use brain_ws_protocol::catalog::StandardChannel;
use brain_ws_protocol::http::AuthMode;

use crate::access::ChannelRole;
use crate::auth::Authenticator;
use crate::pattern::ChannelPattern;
use crate::rate_limit::RateLimit;
use crate::tls::TlsFiles;

/// Everything a [`crate::Server`] needs to run. Fields are public so tests and
/// embedding applications can start from [`Config::default`] and change what
/// they need.
#[derive(Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (see `Server::local_addr`).
    pub bind: SocketAddr,
    /// Time between server pings.
    pub heartbeat_interval: Duration,
    /// How long after a ping a silent connection is closed (code 4000).
    pub heartbeat_timeout: Duration,
    /// Most concurrent WebSocket connections; more are refused with 503.
    pub max_connections: usize,
    /// Largest accepted WebSocket frame or message, and HTTP body, in bytes.
    pub max_message_size: usize,
    /// Most channels one connection may subscribe to.
    pub max_subscriptions: usize,
    /// Frames queued for one connection before it counts as a slow consumer
    /// and is closed with 4001.
    pub outbound_queue: usize,
    /// Bearer keys for the admin HTTP API; empty means loopback peers only.
    pub api_keys: Vec<String>,
    /// Events kept per history channel.
    pub history_size: usize,
    /// How long history events are kept.
    pub history_ttl: Duration,
    /// Channels that keep history (names or `prefix*` patterns).
    pub history_channels: Vec<ChannelPattern>,
    /// Channels on which clients may `publish`.
    pub client_publish_channels: Vec<ChannelPattern>,
    /// Channels that keep presence (names or `prefix*` patterns; empty:
    /// presence off): their subscribers are listed and counted, and
    /// subscribers asking with `presence: true` hear `join` and `leave`.
    pub presence_channels: Vec<ChannelPattern>,
    /// How long shutdown waits for connections to flush their close frames.
    pub shutdown_grace: Duration,
    /// This node's id in stats and logs.
    pub node_id: String,
    /// How tokens are treated (docs/security.md): `none` ignores them,
    /// `optional` (the default) verifies a token when one is presented,
    /// `required` refuses connections without a valid one. Without an
    /// authenticator there is nothing to verify with, so `optional` acts as
    /// `none` (see [`Config::effective_auth_mode`]).
    pub auth_mode: AuthMode,
    /// How connection tokens are verified (e.g. [`crate::JwtAuthenticator`]);
    /// `required` without one is a configuration error.
    pub authenticator: Option<Arc<dyn Authenticator>>,
    /// Channels anonymous connections may not subscribe to or publish on.
    pub private_channels: Vec<ChannelPattern>,
    /// Channels only holders of a role may use (`pattern=role`).
    pub channel_roles: Vec<ChannelRole>,
    /// Origins allowed to open WebSocket connections (`https://app.example.com`,
    /// or `*`); empty allows every origin. Upgrades without `Origin` are allowed.
    pub allowed_origins: Vec<String>,
    /// Most connections one authenticated user may hold on this node; more
    /// are refused with 429 before the upgrade. `None` for no limit.
    pub max_connections_per_user: Option<usize>,
    /// Inbound rate limit per connection; `None` disables it.
    pub rate_limit: Option<RateLimit>,
    /// How long a client has to send its complete HTTP request head (the
    /// upgrade request, or the next request on a kept-alive connection)
    /// before the TCP connection is closed.
    pub handshake_timeout: Duration,
    /// What carries events between publishers and subscribers: this process
    /// only, or Redis shared by several nodes.
    pub broker: BrokerConfig,
    /// Prefix of every Redis key and channel, so several deployments (or
    /// tests) can share one Redis without seeing each other.
    pub redis_prefix: String,
    /// How often a node reports its counts to the cluster registry (Redis
    /// broker); a node that stops reporting drops out after three intervals.
    pub cluster_refresh: Duration,
    /// TLS on the listener (`--tls-cert`, `--tls-key`): HTTPS and WSS on
    /// the same port, the certificate re-read on SIGHUP. `None`: plain TCP
    /// (TLS ends at a proxy in front, docs/operations.md#tls).
    pub tls: Option<TlsFiles>,
    /// Trust settings of a `rediss://` broker: a private CA and a client
    /// certificate (docs/operations.md#redis-tls).
    pub redis_tls: RedisTls,
}

/// TLS settings of the connection to Redis (`rediss://` URLs). Every path
/// is a PEM file; without `ca` the public roots of `webpki-roots` are trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisTls {
    /// CA certificate(s) that sign Redis's certificate (`--redis-tls-ca`);
    /// replaces the public roots.
    pub ca: Option<PathBuf>,
    /// Client certificate, for a Redis that asks for one (`tls-auth-clients`).
    pub client_cert: Option<PathBuf>,
    /// The client certificate's key.
    pub client_key: Option<PathBuf>,
}

impl RedisTls {
    /// Whether anything is set (otherwise the URL alone decides).
    pub fn is_set(&self) -> bool {
        self.ca.is_some() || self.client_cert.is_some() || self.client_key.is_some()
    }
}

/// The broker a node uses (`--broker`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BrokerConfig {
    /// In this process: one node, no other service needed.
    #[default]
    Memory,
    /// Redis at this URL (`redis://host:port/db`), shared by every node.
    Redis(String),
}

impl std::str::FromStr for BrokerConfig {
    type Err = ConfigError;

    /// `memory`, or a `redis://` / `rediss://` URL.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "memory" {
            return Ok(Self::Memory);
        }
        if s.starts_with("redis://") || s.starts_with("rediss://") || s.starts_with("unix://") {
            redis::Client::open(s).map_err(|e| ConfigError::Broker {
                what: format!("broker URL {:?}", Self::Redis(s.to_owned()).redacted()),
                source: Box::new(e),
            })?;
            return Ok(Self::Redis(s.to_owned()));
        }
        // The value may hold a password: only its scheme is quoted.
        let scheme = s.split_once("://").map_or("(none)", |(scheme, _)| scheme);
        Err(ConfigError::invalid(
            "broker",
            format!(
                "broker URL scheme {scheme:?}: expected `memory` or a redis://, rediss:// or unix:// URL"
            ),
        ))
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            heartbeat_interval: Duration::from_secs(30),
            heartbeat_timeout: Duration::from_secs(10),
            max_connections: 1000,
            max_message_size: 65536,
            max_subscriptions: 100,
            outbound_queue: 1024,
            api_keys: Vec::new(),
            history_size: 100,
            history_ttl: Duration::from_secs(300),
            history_channels: StandardChannel::ALL
                .iter()
                .map(|c| ChannelPattern::exact(c.name()))
                .collect(),
            client_publish_channels: Vec::new(),
            presence_channels: Vec::new(),
            shutdown_grace: Duration::from_secs(5),
            node_id: format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            auth_mode: AuthMode::Optional,
            authenticator: None,
            private_channels: Vec::new(),
            channel_roles: Vec::new(),
            allowed_origins: Vec::new(),
            max_connections_per_user: None,
            rate_limit: Some(RateLimit::default()),
            handshake_timeout: Duration::from_secs(10),
            broker: BrokerConfig::Memory,
            redis_prefix: "brain-ws".to_owned(),
            cluster_refresh: Duration::from_secs(2),
            tls: None,
            redis_tls: RedisTls::default(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("heartbeat_timeout", &self.heartbeat_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_message_size", &self.max_message_size)
            .field("max_subscriptions", &self.max_subscriptions)
            .field("outbound_queue", &self.outbound_queue)
            .field("api_keys", &format_args!("[{} keys]", self.api_keys.len()))
            .field("history_size", &self.history_size)
            .field("history_ttl", &self.history_ttl)
            .field("history_channels", &self.history_channels)
            .field("client_publish_channels", &self.client_publish_channels)
            .field("presence_channels", &self.presence_channels)
            .field("node_id", &self.node_id)
            .field("auth_mode", &self.auth_mode)
            .field("authenticator", &self.authenticator.is_some())
            .field("private_channels", &self.private_channels)
            .field("channel_roles", &self.channel_roles)
            .field("allowed_origins", &self.allowed_origins)
            .field("max_connections_per_user", &self.max_connections_per_user)
            .field("rate_limit", &self.rate_limit)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("broker", &self.broker.redacted())
            .field("redis_prefix", &self.redis_prefix)
            .field("cluster_refresh", &self.cluster_refresh)
            .field("tls", &self.tls)
            .field("redis_tls", &self.redis_tls)
            .finish()
    }
}

/// A configuration that cannot work; the message starts with `invalid
/// configuration: ` and names the setting or file to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value out of range, or settings that contradict each other.
    #[error("invalid configuration: {message}")]
    Invalid {
        /// The [`Config`] field at fault (`heartbeat_interval`,
        /// `auth_mode`, `tls`, `redis_tls`, ...).
        setting: &'static str,
        /// What is wrong and what is accepted.
        message: std::borrow::Cow<'static, str>,
    },
    /// A file the configuration names cannot be read.
    #[error("invalid configuration: cannot read {what} {}: {source}", .path.display())]
    Unreadable {
        /// Which file (`config file`, `API key file`, `JWT public key`,
        /// `Redis TLS CA`, ...).
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The `--config` TOML file does not parse, or holds an unknown or
    /// mistyped setting.
    #[error("invalid configuration: config file {}: {source}", .path.display())]
    File {
        /// Its path.
        path: PathBuf,
        /// The parser's error (a `toml::de::Error`), with line and column.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A JWT key that cannot be used; `path` names the public key file.
    #[error("invalid configuration: {}{source}", .path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    JwtKey {
        /// The public key file, for a key read from one.
        path: Option<PathBuf>,
        /// What is wrong with the key.
        source: crate::JwtKeyError,
    },
    /// The broker URL (shown without its password) or its TLS settings
    /// cannot be used.
    #[error("invalid configuration: {what}: {source}")]
    Broker {
        /// `broker URL "<url>"`, `broker URL` or `broker TLS`.
        what: String,
        /// The Redis client's error, or what is wrong with the URL.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ConfigError {
    /// A [`ConfigError::Invalid`] of `setting`.
    pub fn invalid(
        setting: &'static str,
        message: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Self {
        Self::Invalid {
            setting,
            message: message.into(),
        }
    }
}

impl Config {
    /// Checks values that would make the server misbehave rather than fail.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |setting, message: &'static str| Err(ConfigError::invalid(setting, message));
        if self.heartbeat_interval < Duration::from_millis(10) {
            return bad(
                "heartbeat_interval",
                "heartbeat interval must be at least 10ms",
            );
        }
        if self.heartbeat_timeout < Duration::from_millis(10) {
            return bad(
                "heartbeat_timeout",
                "heartbeat timeout must be at least 10ms",
            );
        }
        if self.max_connections == 0 {
            return bad("max_connections", "max connections must be at least 1");
        }
        if self.max_message_size < 256 {
            return bad(
                "max_message_size",
                "max message size must be at least 256 bytes",
            );
        }
        if self.max_subscriptions == 0 {
            return bad("max_subscriptions", "max subscriptions must be at least 1");
        }
        if self.outbound_queue < 2 {
            return bad(
                "outbound_queue",
                "outbound queue must hold at least 2 frames",
            );
        }
        if self.api_keys.iter().any(|k| k.len() < 16) {
            return bad("api_keys", "api keys must be at least 16 characters");
        }
        if self.node_id.is_empty() {
            return bad("node_id", "node id must not be empty");
        }
        if self.auth_mode == AuthMode::Required && self.authenticator.is_none() {
            return bad(
                "auth_mode",
                "auth mode required needs a JWT key (--jwt-secret or --jwt-public-key)",
            );
        }
        if self.max_connections_per_user == Some(0) {
            return bad(
                "max_connections_per_user",
                "max connections per user must be at least 1",
            );
        }
        if let Some(limit) = &self.rate_limit
            && (limit.per_second == 0 || limit.burst == 0 || limit.max_violations == 0)
        {
            return bad(
                "rate_limit",
                "rate limit, burst and violations must be at least 1 (or disable the limit)",
            );
        }
        if self.handshake_timeout < Duration::from_millis(10) {
            return bad(
                "handshake_timeout",
                "handshake timeout must be at least 10ms",
            );
        }
        if let Some(o) = self
            .allowed_origins
            .iter()
            .find(|o| !crate::origin::is_valid_entry(o))
        {
            return Err(ConfigError::invalid(
                "allowed_origins",
                format!("allowed origin {o:?} must be * or scheme://host[:port]"),
            ));
        }
        if let BrokerConfig::Redis(url) = &self.broker {
            url.parse::<BrokerConfig>()?;
        }
        if self.redis_prefix.is_empty() || self.redis_prefix.contains(char::is_whitespace) {
            return bad(
                "redis_prefix",
                "redis prefix must be non-empty without whitespace",
            );
        }
        if self.cluster_refresh < Duration::from_millis(50) {
            return bad("cluster_refresh", "cluster refresh must be at least 50ms");
        }
        if self.redis_tls.client_cert.is_some() != self.redis_tls.client_key.is_some() {
            return bad(
                "redis_tls",
                "a Redis client certificate needs its key, and a key its certificate",
            );
        }
        if self.redis_tls.is_set()
            && !matches!(&self.broker, BrokerConfig::Redis(url) if url.starts_with("rediss://"))
        {
            return bad(
                "redis_tls",
                "Redis TLS settings need a rediss:// broker URL",
            );
        }
        Ok(())
    }

    /// The mode the server actually applies and reports in `/api/ws/info`:
    /// `optional` without an authenticator is `none`, since no token could
    /// be verified; anything else as configured.
    pub fn effective_auth_mode(&self) -> AuthMode {
        match (self.auth_mode, &self.authenticator) {
            (AuthMode::Optional, None) => AuthMode::None,
            (mode, _) => mode,
        }
    }

    /// Whether `channel` keeps history: history is on (`history_size > 0`)
    /// and a `history_channels` pattern matches it.
    pub fn keeps_history(&self, channel: &str) -> bool {
        self.history_size > 0 && self.history_channels.iter().any(|p| p.matches(channel))
    }

    /// Whether `channel` keeps presence: a `presence_channels` pattern
    /// matches it.
    pub fn keeps_presence(&self, channel: &str) -> bool {
        self.presence_channels.iter().any(|p| p.matches(channel))
    }

    /// Whether clients may publish on `channel`: a `client_publish_channels`
    /// pattern matches it.
    pub fn allows_client_publish(&self, channel: &str) -> bool {
        self.client_publish_channels
            .iter()
            .any(|p| p.matches(channel))
    }
}

impl BrokerConfig {
    /// The broker for logs: a Redis URL without its password.
    pub fn redacted(&self) -> String {
        match self {
            Self::Memory => "memory".to_owned(),
            Self::Redis(url) => match url.split_once('@') {
                Some((scheme_user, host)) => match scheme_user.rsplit_once(':') {
                    Some((user, _password)) if user.contains("//") => format!("{user}:***@{host}"),
                    _ => url.clone(),
                },
                None => url.clone(),
            },
        }
    }
}
