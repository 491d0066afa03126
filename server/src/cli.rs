//! The `brain-ws-server` binary's settings: one definition, [`Settings`],
//! from which the flags, the `BRAIN_WS_*` environment variables and the
//! `--config` TOML keys all come, merged once into the library's plain
//! [`Config`]. Precedence: flag, then environment, then the `--config` file,
//! then the defaults of [`Config::default`].
//!
//! This module belongs to the binary (`main.rs`), not to the library: an
//! embedding application builds a [`Config`] itself and never sees clap.
//! docs/operations.md's settings tables are checked against it by the tests
//! below.

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use brain_ws_server::{
    AuthMode, ChannelPattern, ChannelRole, Config, ConfigError, JwtAuthenticator, RateLimit,
    RedisTls, TlsFiles,
};
use clap::{ArgAction, Parser, ValueEnum};
use serde::{Deserialize, Deserializer};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 30s, 500ms, 2m)"))
}

fn auth_mode(s: &str) -> Result<AuthMode, String> {
    match s {
        "none" => Ok(AuthMode::None),
        "optional" => Ok(AuthMode::Optional),
        "required" => Ok(AuthMode::Required),
        other => Err(format!("{other:?}: expected none, optional or required")),
    }
}

/// A TOML value parsed by the same function as the flag, so both sources
/// accept the same text and answer with the same message.
fn parsed_with<'de, D, T, E>(d: D, parse: fn(&str) -> Result<T, E>) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    E: Display,
{
    Option::<String>::deserialize(d)?
        .map(|s| parse(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// `ip:port`, or `host:port` resolved now (`localhost:8000`); IPv4 first,
/// as `localhost` usually means 127.0.0.1 to the people who type it.
fn bind_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    let example =
        "expected ip:port or host:port, e.g. 127.0.0.1:8000, [::1]:8000 or localhost:8000";
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(s)
        .map_err(|e| format!("{s:?}: {e} ({example})"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{s:?} resolves to no address ({example})"))
}

fn toml_bind<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    parsed_with(d, bind_addr)
}

fn toml_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    parsed_with(d, duration)
}

fn toml_auth_mode<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AuthMode>, D::Error> {
    parsed_with(d, auth_mode)
}

/// A TOML list of strings, each parsed with the type's `FromStr` (channel
/// patterns, `pattern=role` rules), as the flag parses each value.
fn toml_list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    Option::<Vec<String>>::deserialize(d)?
        .map(|list| {
            list.iter()
                .map(|s| {
                    s.parse()
                        .map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
                })
                .collect()
        })
        .transpose()
}

/// Defines [`Settings`] and its one merge from a single list of fields:
/// every field is an `Option`, `None` meaning "not given here".
macro_rules! settings {
    (
        $(#[$meta:meta])*
        pub(crate) struct Settings {
            $( $(#[$field_meta:meta])* pub(crate) $field:ident: Option<$ty:ty>, )*
        }
    ) => {
        $(#[$meta])*
        pub(crate) struct Settings {
            $( $(#[$field_meta])* pub(crate) $field: Option<$ty>, )*
        }

        impl Settings {
            /// Each setting from `self` where given, else from `lower`.
            fn or(self, lower: Self) -> Self {
                Self { $( $field: self.$field.or(lower.$field), )* }
            }
        }
    };
}

settings! {
/// The BRAiN WebSocket server: channels, per-user messages, broadcasts and
/// heartbeats over WebSocket, with an HTTP API. Runs in memory with no other
/// service needed.
// Every field is a flag (`--kebab-case`), an environment variable
// (`BRAIN_WS_*`) and a TOML key (the field's name) of the `--config` file.
#[derive(Debug, Default, Parser, Deserialize)]
#[command(name = "brain-ws-server", version)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Settings {
    /// TOML file with any of the settings below (snake_case keys, e.g.
    /// `heartbeat_interval = "30s"`); flags and environment override it.
    #[arg(long, env = "BRAIN_WS_CONFIG")]
    #[serde(skip)]
    pub(crate) config: Option<PathBuf>,
    /// Address to listen on, `ip:port` or `host:port` (a host name is
    /// resolved at start, its first IPv4 address used) [default: 127.0.0.1:8000].
    #[arg(long, env = "BRAIN_WS_BIND", value_parser = bind_addr)]
    #[serde(deserialize_with = "toml_bind")]
    pub(crate) bind: Option<SocketAddr>,
    /// Time between server pings [default: 30s].
    #[arg(long, env = "BRAIN_WS_HEARTBEAT_INTERVAL", value_parser = duration)]
    #[serde(deserialize_with = "toml_duration")]
    pub(crate) heartbeat_interval: Option<Duration>,
    /// How long after a ping a silent connection is closed with 4000 [default: 10s].
    #[arg(long, env = "BRAIN_WS_HEARTBEAT_TIMEOUT", value_parser = duration)]
    #[serde(deserialize_with = "toml_duration")]
    pub(crate) heartbeat_timeout: Option<Duration>,
    /// Most concurrent WebSocket connections; more get 503 [default: 1000].
    #[arg(long, env = "BRAIN_WS_MAX_CONNECTIONS")]
    pub(crate) max_connections: Option<usize>,
    /// Largest WebSocket message or HTTP body in bytes; larger frames close with 1009 [default: 65536].
    #[arg(long, env = "BRAIN_WS_MAX_MESSAGE_SIZE")]
    pub(crate) max_message_size: Option<usize>,
    /// Most subscriptions per connection [default: 100].
    #[arg(long, env = "BRAIN_WS_MAX_SUBSCRIPTIONS")]
    pub(crate) max_subscriptions: Option<usize>,
    /// Frames queued per connection before it is closed as a slow consumer (4001) [default: 1024].
    #[arg(long, env = "BRAIN_WS_OUTBOUND_QUEUE")]
    pub(crate) outbound_queue: Option<usize>,
    /// API key for the admin HTTP API (repeatable; comma-separated in the
    /// environment). Without any, the admin API answers loopback peers only.
    #[arg(
        long = "api-key",
        env = "BRAIN_WS_API_KEYS",
        value_delimiter = ',',
        action = ArgAction::Append,
        num_args = 1,
        hide_env_values = true
    )]
    pub(crate) api_keys: Option<Vec<String>>,
    /// File with one API key per line (blank lines and `#` comments ignored).
    #[arg(long, env = "BRAIN_WS_API_KEY_FILE")]
    pub(crate) api_key_file: Option<PathBuf>,
    /// Events kept per history channel; 0 disables history [default: 100].
    #[arg(long, env = "BRAIN_WS_HISTORY_SIZE")]
    pub(crate) history_size: Option<usize>,
    /// How long history events are kept [default: 5m].
    #[arg(long, env = "BRAIN_WS_HISTORY_TTL", value_parser = duration)]
    #[serde(deserialize_with = "toml_duration")]
    pub(crate) history_ttl: Option<Duration>,
    /// Channels that keep history, names or `prefix*` patterns (repeatable)
    /// [default: the six standard channels].
    #[arg(
        long = "history-channel",
        env = "BRAIN_WS_HISTORY_CHANNELS",
        value_delimiter = ',',
        action = ArgAction::Append,
        num_args = 1
    )]
    #[serde(deserialize_with = "toml_list")]
    pub(crate) history_channels: Option<Vec<ChannelPattern>>,
    /// Channels on which clients may publish, names or `prefix*` patterns (repeatable) [default: none].
    #[arg(
        long = "client-publish",
        env = "BRAIN_WS_CLIENT_PUBLISH",
        value_delimiter = ',',
        action = ArgAction::Append,
        num_args = 1
    )]
    #[serde(deserialize_with = "toml_list")]
    pub(crate) client_publish_channels: Option<Vec<ChannelPattern>>,
    /// Channels that keep presence, names or `prefix*` patterns (repeatable;
    /// `--presence-channels agents,missions*`): their subscribers are listed
    /// and counted, and `join`/`leave` go to subscribers that ask [default: none].
    #[arg(
        long = "presence-channel",
        alias = "presence-channels",
        env = "BRAIN_WS_PRESENCE_CHANNELS",
        value_delimiter = ',',
        action = ArgAction::Append,
        num_args = 1
    )]
    #[serde(deserialize_with = "toml_list")]
    pub(crate) presence_channels: Option<Vec<ChannelPattern>>,
    /// This node's id [default: random].
    #[arg(long, env = "BRAIN_WS_NODE_ID")]
    pub(crate) node_id: Option<String>,
    /// How long shutdown waits for close frames to go out [default: 5s].
    #[arg(long, env = "BRAIN_WS_SHUTDOWN_GRACE", value_parser = duration)]
    #[serde(deserialize_with = "toml_duration")]
    pub(crate) shutdown_grace: Option<Duration>,
    /// `memory` (one node) or `redis://host:port/db` (several nodes sharing
    /// one Redis) [default: memory].
    #[arg(long, env = "BRAIN_WS_BROKER", hide_env_values = true)]
    pub(crate) broker: Option<String>,
    /// Prefix of every Redis key and channel [default: brain-ws].
    #[arg(long, env = "BRAIN_WS_REDIS_PREFIX")]
    pub(crate) redis_prefix: Option<String>,
    /// How often a node reports its counts to the cluster; it drops out
    /// after three missed reports [default: 2s].
    #[arg(long, env = "BRAIN_WS_CLUSTER_REFRESH", value_parser = duration)]
    #[serde(deserialize_with = "toml_duration")]
    pub(crate) cluster_refresh: Option<Duration>,
    // TLS (docs/operations.md#tls): on the listener, and to a rediss:// broker.
    /// TLS certificate chain (PEM, leaf first): serve HTTPS and WSS on
    /// --bind; re-read with the key on SIGHUP. Needs --tls-key [default: plain TCP].
    #[arg(long, env = "BRAIN_WS_TLS_CERT")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "BRAIN_WS_TLS_KEY")]
    pub(crate) tls_key: Option<PathBuf>,
    /// CA certificate (PEM) that signs a rediss:// broker's certificate
    /// [default: the public roots of webpki-roots].
    #[arg(long, env = "BRAIN_WS_REDIS_TLS_CA")]
    pub(crate) redis_tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for a rediss:// broker that asks for one.
    #[arg(long, env = "BRAIN_WS_REDIS_TLS_CERT")]
    pub(crate) redis_tls_cert: Option<PathBuf>,
    /// Key (PEM) of --redis-tls-cert.
    #[arg(long, env = "BRAIN_WS_REDIS_TLS_KEY")]
    pub(crate) redis_tls_key: Option<PathBuf>,
    /// Log format [default: text]. Filter with RUST_LOG (default info).
    #[arg(long, env = "BRAIN_WS_LOG_FORMAT", value_enum)]
    pub(crate) log_format: Option<LogFormat>,
    // Security (docs/security.md): authentication, channel authorization
    // and abuse limits.
    /// How tokens are treated: none (ignored), optional (verified when
    /// presented) or required [default: optional with a JWT key, none
    /// without one].
    #[arg(long, env = "BRAIN_WS_AUTH", value_parser = auth_mode)]
    #[serde(deserialize_with = "toml_auth_mode")]
    pub(crate) auth: Option<AuthMode>,
    /// HS256 secret (at least 32 bytes) that verifies tokens. Prefer
    /// --jwt-secret-file or the environment: flags show in `ps`.
    #[arg(long, env = "BRAIN_WS_JWT_SECRET", hide_env_values = true)]
    pub(crate) jwt_secret: Option<String>,
    /// File holding the HS256 secret (surrounding whitespace is trimmed).
    #[arg(long, env = "BRAIN_WS_JWT_SECRET_FILE")]
    pub(crate) jwt_secret_file: Option<PathBuf>,
    /// PEM public key that verifies tokens: RSA (RS256) or EC P-256 (ES256) / P-384 (ES384).
    #[arg(long, env = "BRAIN_WS_JWT_PUBLIC_KEY")]
    pub(crate) jwt_public_key: Option<PathBuf>,
    /// Accepted token issuer (`iss`), repeatable; when set, `iss` is required.
    #[arg(
        long = "jwt-issuer",
        env = "BRAIN_WS_JWT_ISSUERS",
        value_delimiter = ',',
        action = ArgAction::Append,
        num_args = 1
    )]
    pub(crate) jwt_issuers: Option<Vec<String>>,
    /// Accepted token audience (`aud`), repeatable; when set, `aud` is required.
    #[arg(
        long = "jwt-audience",
        env = "BRAIN_WS_JWT_AUDIENCES",
        value_delimiter = ',',
        action = ArgAction::Append,
        num_args = 1
    )]
    pub(crate) jwt_audiences: Option<Vec<String>>,
    /// Clock-skew allowance for `exp` and `nbf` [default: 30s].
    #[arg(long, env = "BRAIN_WS_JWT_LEEWAY", value_parser = duration)]
    #[serde(deserialize_with = "toml_duration")]
    pub(crate) jwt_leeway: Option<Duration>,
    /// Channel (name or `prefix*`) anonymous connections may not use (repeatable).
    #[arg(
        long = "private-channel",
        env = "BRAIN_WS_PRIVATE_CHANNELS",
        value_delimiter = ',',
        action = ArgAction::Append,
        num_args = 1
    )]
    #[serde(deserialize_with = "toml_list")]
    pub(crate) private_channels: Option<Vec<ChannelPattern>>,
    /// `pattern=role`: only holders of the role may use matching channels (repeatable).
    #[arg(
        long = "channel-role",
        env = "BRAIN_WS_CHANNEL_ROLES",
        value_delimiter = ',',
        action = ArgAction::Append,
        num_args = 1
    )]
    #[serde(deserialize_with = "toml_list")]
    pub(crate) channel_roles: Option<Vec<ChannelRole>>,
    /// Origin allowed to open WebSocket connections, e.g. https://app.example.com
    /// (repeatable) [default: every origin].
    #[arg(
        long = "allowed-origins",
        alias = "allowed-origin",
        env = "BRAIN_WS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        action = ArgAction::Append,
        num_args = 1
    )]
    pub(crate) allowed_origins: Option<Vec<String>>,
    /// Most connections per authenticated user on this node; more get 429 [default: no limit].
    #[arg(long, env = "BRAIN_WS_MAX_CONNECTIONS_PER_USER")]
    pub(crate) max_connections_per_user: Option<usize>,
    /// Messages per second a connection may send; 0 disables the limit [default: 100].
    #[arg(long, env = "BRAIN_WS_RATE_LIMIT")]
    pub(crate) rate_limit: Option<u32>,
    /// Size of the token bucket: messages a connection may send at once,
    /// after which it is held to --rate-limit [default: 200].
    #[arg(long, env = "BRAIN_WS_RATE_BURST")]
    pub(crate) rate_burst: Option<u32>,
    /// Dropped messages within 10s after which a connection is closed with 4501 [default: 50].
    #[arg(long, env = "BRAIN_WS_RATE_LIMIT_VIOLATIONS")]
    pub(crate) rate_limit_violations: Option<u32>,
    /// Time a client has to send a complete HTTP request head (the upgrade) [default: 10s].
    #[arg(long, env = "BRAIN_WS_HANDSHAKE_TIMEOUT", value_parser = duration)]
    #[serde(deserialize_with = "toml_duration")]
    pub(crate) handshake_timeout: Option<Duration>,
}
}

fn read_text(what: &'static str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
        what,
        path: path.to_owned(),
        source,
    })
}

fn read_key_file(path: &Path) -> Result<Vec<String>, ConfigError> {
    Ok(read_text("API key file", path)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// The message for a bad value that clap read from an environment variable
/// (the flag is absent from `argv`), naming the variable; `None` for any
/// other error.
fn env_value_error(e: &clap::Error, argv: &[std::ffi::OsString]) -> Option<String> {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg.strip_prefix("--")?.split([' ', '=']).next()?;
    let command = Settings::command();
    let flag = command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))?;
    let var = flag.get_env()?.to_str()?.to_owned();
    let typed = argv.iter().skip(1).any(|a| {
        a.to_str()
            .is_some_and(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")))
    });
    if typed || std::env::var_os(&var).is_none() {
        return None;
    }
    let value = match e.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) if !flag.is_hide_env_values_set() => format!(" {v:?}"),
        _ => String::new(),
    };
    let reason = std::error::Error::source(e)
        .map_or_else(|| "not accepted".to_owned(), |source| source.to_string());
    Some(format!(
        "invalid value{value} in environment variable {var} (the --{long} setting): {reason}"
    ))
}

impl Settings {
    /// Parses flags and environment like [`Parser::parse`] (exiting with
    /// clap's message on `--help` or an error), except that a bad value
    /// that came from an environment variable is reported under that
    /// variable's name: clap names only the flag, which the user never
    /// typed.
    pub(crate) fn parse_or_exit() -> Self {
        let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
        match Self::try_parse_from(&argv) {
            Ok(settings) => settings,
            Err(e) => {
                if let Some(message) = env_value_error(&e, &argv) {
                    eprintln!("brain-ws-server: {message}");
                    std::process::exit(2);
                }
                e.exit()
            }
        }
    }

    /// The `--config` file's settings, or none without one.
    fn file(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        toml::from_str(&read_text("config file", path)?).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    /// Merges flags and environment (`self`) over the `--config` file over
    /// the defaults into a validated [`Config`] and the log format.
    pub(crate) fn into_config(self) -> Result<(Config, LogFormat), ConfigError> {
        let mut file = Self::file(self.config.as_deref())?;
        // The secret and its file are one setting given two ways: the first
        // of flag/environment then file wins as a pair, so a file's
        // `jwt_secret` does not beat a `--jwt-secret-file` flag.
        if self.jwt_secret.is_some() || self.jwt_secret_file.is_some() {
            file.jwt_secret = None;
            file.jwt_secret_file = None;
        }
        let s = self.or(file);
        let d = Config::default();
        let authenticator = s.authenticator()?;
        let mut api_keys = s.api_keys.unwrap_or_default();
        if let Some(path) = &s.api_key_file {
            api_keys.extend(read_key_file(path)?);
        }
        // Without a key the default is none; asking for verification without
        // a key is an error rather than a silent none.
        let auth_mode = match (s.auth, &authenticator) {
            (Some(mode), _) => mode,
            (None, Some(_)) => d.auth_mode,
            (None, None) => AuthMode::None,
        };
        if auth_mode == AuthMode::Optional && authenticator.is_none() {
            return Err(ConfigError::invalid(
                "auth_mode",
                "auth mode optional needs a JWT key (--jwt-secret or --jwt-public-key); without one the mode is none",
            ));
        }
        let default_limit = RateLimit::default();
        let per_second = s.rate_limit.unwrap_or(default_limit.per_second);
        let config = Config {
            bind: s.bind.unwrap_or(d.bind),
            heartbeat_interval: s.heartbeat_interval.unwrap_or(d.heartbeat_interval),
            heartbeat_timeout: s.heartbeat_timeout.unwrap_or(d.heartbeat_timeout),
            max_connections: s.max_connections.unwrap_or(d.max_connections),
            max_message_size: s.max_message_size.unwrap_or(d.max_message_size),
            max_subscriptions: s.max_subscriptions.unwrap_or(d.max_subscriptions),
            outbound_queue: s.outbound_queue.unwrap_or(d.outbound_queue),
            api_keys,
            history_size: s.history_size.unwrap_or(d.history_size),
            history_ttl: s.history_ttl.unwrap_or(d.history_ttl),
            history_channels: s.history_channels.unwrap_or(d.history_channels),
            client_publish_channels: s
                .client_publish_channels
                .unwrap_or(d.client_publish_channels),
            presence_channels: s.presence_channels.unwrap_or(d.presence_channels),
            shutdown_grace: s.shutdown_grace.unwrap_or(d.shutdown_grace),
            node_id: s.node_id.unwrap_or(d.node_id),
            auth_mode,
            authenticator: authenticator.map(|a| Arc::new(a) as _),
            private_channels: s.private_channels.unwrap_or(d.private_channels),
            channel_roles: s.channel_roles.unwrap_or(d.channel_roles),
            allowed_origins: s.allowed_origins.unwrap_or(d.allowed_origins),
            max_connections_per_user: s.max_connections_per_user.or(d.max_connections_per_user),
            rate_limit: (per_second > 0).then(|| RateLimit {
                per_second,
                burst: s.rate_burst.unwrap_or(default_limit.burst),
                max_violations: s
                    .rate_limit_violations
                    .unwrap_or(default_limit.max_violations),
            }),
            handshake_timeout: s.handshake_timeout.unwrap_or(d.handshake_timeout),
            broker: s.broker.map(|b| b.parse()).transpose()?.unwrap_or(d.broker),
            redis_prefix: s.redis_prefix.unwrap_or(d.redis_prefix),
            cluster_refresh: s.cluster_refresh.unwrap_or(d.cluster_refresh),
            tls: match (s.tls_cert, s.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                (None, None) => None,
                _ => {
                    return Err(ConfigError::invalid(
                        "tls",
                        "TLS needs both a certificate and a key (--tls-cert, --tls-key)",
                    ));
                }
            },
            redis_tls: RedisTls {
                ca: s.redis_tls_ca,
                client_cert: s.redis_tls_cert,
                client_key: s.redis_tls_key,
            },
        };
        config.validate()?;
        Ok((config, s.log_format.unwrap_or_default()))
    }

    /// The JWT authenticator of the key settings, if a key is given.
    fn authenticator(&self) -> Result<Option<JwtAuthenticator>, ConfigError> {
        let secret = match (&self.jwt_secret, &self.jwt_secret_file) {
            (Some(s), _) => Some(s.as_bytes().to_vec()),
            (None, Some(path)) => Some(
                read_text("JWT secret file", path)?
                    .trim()
                    .as_bytes()
                    .to_vec(),
            ),
            (None, None) => None,
        };
        let auth = match (secret, &self.jwt_public_key) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "authenticator",
                    "give either a JWT secret or a JWT public key, not both",
                ));
            }
            (Some(secret), None) => JwtAuthenticator::hs256(&secret)
                .map_err(|source| ConfigError::JwtKey { path: None, source })?,
            (None, Some(path)) => {
                let pem = std::fs::read(path).map_err(|source| ConfigError::Unreadable {
                    what: "JWT public key",
                    path: path.to_owned(),
                    source,
                })?;
                JwtAuthenticator::from_public_key_pem(&pem).map_err(|source| {
                    ConfigError::JwtKey {
                        path: Some(path.to_owned()),
                        source,
                    }
                })?
            }
            (None, None) => {
                // The same rule for flags and the file: issuer and audience
                // checks without a key would be silently ignored.
                let given = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
                if given(&self.jwt_issuers) || given(&self.jwt_audiences) {
                    return Err(ConfigError::invalid(
                        "authenticator",
                        "--jwt-issuer and --jwt-audience (jwt_issuers, jwt_audiences) need a JWT key",
                    ));
                }
                return Ok(None);
            }
        };
        Ok(Some(
            auth.with_issuers(self.jwt_issuers.as_deref().unwrap_or_default())
                .with_audiences(self.jwt_audiences.as_deref().unwrap_or_default())
                .with_leeway(self.jwt_leeway.unwrap_or(JwtAuthenticator::DEFAULT_LEEWAY)),
        ))
    }
}
#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<(Config, LogFormat), String> {
        let cli = Settings::try_parse_from(
            std::iter::once("brain-ws-server").chain(args.iter().copied()),
        )
        .map_err(|e| e.to_string())?;
        cli.into_config().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_the_seeds() {
        let (config, format) = parse(&[]).expect("defaults parse");
        assert_eq!(config.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(config.heartbeat_interval, Duration::from_secs(30));
        assert_eq!(config.heartbeat_timeout, Duration::from_secs(10));
        assert_eq!(config.max_connections, 1000);
        assert_eq!(config.max_message_size, 65536);
        assert_eq!(config.max_subscriptions, 100);
        assert_eq!(format, LogFormat::Text);
    }

    #[test]
    fn flags_accept_human_durations_and_patterns() {
        let (config, format) = parse(&[
            "--heartbeat-interval",
            "500ms",
            "--heartbeat-timeout",
            "2s",
            "--client-publish",
            "chat:*",
            "--client-publish",
            "lobby",
            "--api-key",
            "0123456789abcdef0",
            "--log-format",
            "json",
        ])
        .expect("parses");
        assert_eq!(config.heartbeat_interval, Duration::from_millis(500));
        assert_eq!(config.heartbeat_timeout, Duration::from_secs(2));
        assert!(config.allows_client_publish("chat:42"));
        assert!(config.allows_client_publish("lobby"));
        assert!(!config.allows_client_publish("missions"));
        assert_eq!(config.api_keys, vec!["0123456789abcdef0".to_owned()]);
        assert_eq!(format, LogFormat::Json);
    }

    #[test]
    fn bad_configuration_fails_with_a_clear_message() {
        let err = parse(&["--heartbeat-interval", "soon"]).expect_err("bad duration");
        assert!(err.contains("examples: 30s, 500ms"), "{err}");
        let err = parse(&["--max-connections", "0"]).expect_err("zero");
        assert!(err.contains("max connections must be at least 1"), "{err}");
        let err = parse(&["--client-publish", "bad name"]).expect_err("bad pattern");
        assert!(err.contains("bad name"), "{err}");
        let err = parse(&["--api-key", "short"]).expect_err("short key");
        assert!(err.contains("at least 16"), "{err}");
    }

    #[test]
    fn jwt_issuer_without_a_key_is_refused_from_flags_and_file_alike() {
        let err = parse(&["--jwt-issuer", "brain"]).expect_err("flag without key");
        assert!(err.contains("need a JWT key"), "{err}");
        let dir = std::env::temp_dir().join(format!("brain-ws-cli-iss-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join("server.toml");
        std::fs::write(&path, "jwt_issuers = [\"brain\"]\n").expect("write");
        let err =
            parse(&["--config", path.to_str().expect("utf-8")]).expect_err("file without key");
        assert!(err.contains("need a JWT key"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_toml_file_is_read_and_flags_override_it() {
        let dir = std::env::temp_dir().join(format!("brain-ws-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join("server.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9001\"\nheartbeat_interval = \"5s\"\nmax_subscriptions = 7\nhistory_channels = [\"orders:*\"]\n",
        )
        .expect("write");
        let file = path.to_str().expect("utf-8 path");
        let (config, _) = parse(&["--config", file, "--max-subscriptions", "9"]).expect("parses");
        assert_eq!(config.bind.to_string(), "127.0.0.1:9001");
        assert_eq!(config.heartbeat_interval, Duration::from_secs(5));
        assert_eq!(config.max_subscriptions, 9);
        assert!(config.keeps_history("orders:1"));
        assert!(!config.keeps_history("missions"));

        std::fs::write(&path, "heartbeat_intervall = \"5s\"\n").expect("write");
        let err = parse(&["--config", file]).expect_err("unknown key");
        assert!(err.contains("heartbeat_intervall"), "{err}");
        std::fs::write(&path, "heartbeat_interval = \"fast\"\n").expect("write");
        let err = parse(&["--config", file]).expect_err("bad duration");
        assert!(err.contains("heartbeat_interval"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn broker_flags_select_redis_and_bad_brokers_are_refused() {
        let (config, _) = parse(&[]).expect("defaults");
        assert_eq!(config.broker, brain_ws_server::BrokerConfig::Memory);
        assert_eq!(config.redis_prefix, "brain-ws");
        assert_eq!(config.cluster_refresh, Duration::from_secs(2));
        let (config, _) = parse(&[
            "--broker",
            "redis://:s3cret@127.0.0.1:6379/2",
            "--redis-prefix",
            "prod-eu",
            "--cluster-refresh",
            "500ms",
        ])
        .expect("parses");
        assert_eq!(
            config.broker,
            brain_ws_server::BrokerConfig::Redis("redis://:s3cret@127.0.0.1:6379/2".into())
        );
        assert_eq!(config.broker.redacted(), "redis://:***@127.0.0.1:6379/2");
        assert!(!format!("{config:?}").contains("s3cret"));
        assert_eq!(config.redis_prefix, "prod-eu");
        assert_eq!(config.cluster_refresh, Duration::from_millis(500));
        let err = parse(&["--broker", "kafka://x"]).expect_err("unknown broker");
        assert!(
            err.contains("expected `memory` or a redis://, rediss:// or unix:// URL"),
            "{err}"
        );
        let err = parse(&["--broker", "redis://"]).expect_err("no host");
        assert!(err.contains("broker URL"), "{err}");
        let err = parse(&["--redis-prefix", "a b"]).expect_err("space");
        assert!(err.contains("redis prefix"), "{err}");
    }

    /// One row of docs/operations.md's settings tables.
    struct Row {
        flag: String,
        env: String,
        key: String,
        default: String,
    }

    fn operations_rows() -> Vec<Row> {
        let doc = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/operations.md"
        ));
        let first_code = |cell: &str| cell.split('`').nth(1).unwrap_or("").to_owned();
        doc.lines()
            .filter(|l| l.starts_with("| `--"))
            .map(|line| {
                let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
                let flag = first_code(cells[0]);
                Row {
                    flag: flag.split_whitespace().next().unwrap_or("").to_owned(),
                    env: first_code(cells[1]),
                    key: if cells[2] == "–" {
                        "–".to_owned()
                    } else {
                        first_code(cells[2])
                    },
                    default: cells[3].to_owned(),
                }
            })
            .collect()
    }

    /// `[default: ...]` of an argument's help, if it has one.
    fn help_default(arg: &clap::Arg) -> Option<String> {
        let help = arg.get_help()?.to_string().replace('\n', " ");
        let start = help.find("[default: ")? + "[default: ".len();
        Some(help[start..start + help[start..].find(']')?].to_owned())
    }

    #[test]
    fn the_operations_tables_list_every_setting_as_the_binary_reads_it() {
        let command = Settings::command();
        let args: Vec<&clap::Arg> = command
            .get_arguments()
            .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
            .collect();
        let rows = operations_rows();
        let mut documented: Vec<&str> = rows.iter().map(|r| r.flag.as_str()).collect();
        let mut flags: Vec<String> = args
            .iter()
            .map(|a| format!("--{}", a.get_long().expect("every setting is a long flag")))
            .collect();
        documented.sort_unstable();
        flags.sort_unstable();
        assert_eq!(
            documented, flags,
            "docs/operations.md lists every flag once"
        );
        for arg in args {
            let flag = format!("--{}", arg.get_long().expect("long"));
            let row = rows.iter().find(|r| r.flag == flag).expect("documented");
            let env = arg.get_env().expect("every setting has a variable");
            assert_eq!(row.env, env.to_string_lossy(), "{flag}: environment");
            // The TOML key is the field's name, which is clap's id.
            let key = match arg.get_id().as_str() {
                "config" => "–",
                id => id,
            };
            assert_eq!(row.key, key, "{flag}: TOML key");
            let documented_default = row.default.replace('`', "");
            match help_default(arg) {
                Some(help) => assert!(
                    documented_default.contains(&help),
                    "{flag}: --help says [default: {help}], the docs {documented_default:?}"
                ),
                None => assert_eq!(documented_default, "none", "{flag}: no default in --help"),
            }
            // A default written as one value means exactly that value: giving
            // it explicitly changes nothing.
            let single = row.default.starts_with('`')
                && row.default.ends_with('`')
                && row.default.matches('`').count() == 2;
            if single {
                let value = row.default.trim_matches('`');
                let base = ["--node-id", "n"];
                let (implicit, implicit_format) = parse(&base).expect("defaults parse");
                let (explicit, explicit_format) =
                    parse(&[&base[..], &[flag.as_str(), value]].concat()).expect("default parses");
                assert_eq!(
                    format!("{explicit:?} {explicit_format:?}"),
                    format!("{implicit:?} {implicit_format:?}"),
                    "{flag} {value} is the default"
                );
            }
        }
    }

    #[test]
    fn every_help_text_the_docs_quote_is_what_help_prints() {
        let help = Settings::command().render_long_help().to_string();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        for (name, doc) in [
            (
                "operations.md",
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../docs/operations.md"
                )),
            ),
            (
                "security.md",
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/security.md")),
            ),
            (
                "README.md",
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")),
            ),
        ] {
            let doc = doc.split_whitespace().collect::<Vec<_>>().join(" ");
            for quote in doc.split("`[default: ").skip(1) {
                let quoted = &quote[..quote.find("]`").expect("closed quote")];
                assert!(
                    help.contains(&format!("[default: {quoted}]")),
                    "{name} quotes [default: {quoted}], which --help does not print"
                );
            }
        }
    }

    #[test]
    fn tls_settings_come_from_flags_and_file_and_half_a_pair_is_refused() {
        let (config, _) = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).expect("parses");
        assert_eq!(
            config.tls,
            Some(TlsFiles {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
        let err = parse(&["--tls-cert", "c.pem"]).expect_err("no key");
        assert!(err.contains("both a certificate and a key"), "{err}");
        let dir = std::env::temp_dir().join(format!("brain-ws-cli-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join("server.toml");
        let file = path.to_str().expect("utf-8");
        // A pair split between the file and a flag is one pair.
        std::fs::write(&path, "tls_key = \"k.pem\"\n").expect("write");
        let (config, _) = parse(&["--config", file, "--tls-cert", "c.pem"]).expect("parses");
        assert_eq!(config.tls.map(|t| t.key), Some("k.pem".into()));
        std::fs::write(
            &path,
            "broker = \"rediss://r:6380/0\"\nredis_tls_ca = \"ca.pem\"\nredis_tls_cert = \"n.pem\"\nredis_tls_key = \"n-key.pem\"\n",
        )
        .expect("write");
        let (config, _) = parse(&["--config", file]).expect("parses");
        assert_eq!(
            config.redis_tls,
            RedisTls {
                ca: Some("ca.pem".into()),
                client_cert: Some("n.pem".into()),
                client_key: Some("n-key.pem".into()),
            }
        );
        let err = parse(&["--redis-tls-ca", "ca.pem"]).expect_err("not rediss");
        assert!(err.contains("need a rediss:// broker URL"), "{err}");
        let err = parse(&["--broker", "rediss://r:6380", "--redis-tls-cert", "n.pem"])
            .expect_err("cert without key");
        assert!(err.contains("needs its key"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
