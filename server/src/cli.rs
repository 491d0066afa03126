//! Command line, environment (`BRAIN_WS_*`) and TOML file configuration of
//! the `brain-ws-server` binary. Precedence: flag, then environment, then
//! the `--config` file, then the defaults of [`Config::default`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use brain_ws_protocol::http::AuthMode;
use clap::{Args, Parser, ValueEnum};
use serde::Deserialize;

use crate::access::ChannelRole;
use crate::config::{Config, ConfigError};
use crate::jwt::JwtAuthenticator;
use crate::pattern::ChannelPattern;
use crate::rate_limit::RateLimit;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 30s, 500ms, 2m)"))
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
    let command = Cli::command();
    let flag = command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))?;
    let var = flag.get_env()?.to_str()?.to_owned();
    let typed = argv.iter().skip(1).any(|a| {
        a.to_str()
            .is_some_and(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")))
    });
    let from_env = std::env::var_os(&var).is_some();
    if typed || !from_env {
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

/// `ip:port`, or `host:port` resolved now (`localhost:8000`); IPv4 first,
/// as `localhost` usually means 127.0.0.1 to the people who type it.
pub(crate) fn bind_addr(s: &str) -> Result<SocketAddr, String> {
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

fn file_bind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text: Option<String> = Deserialize::deserialize(d)?;
    text.map(|t| bind_addr(&t).map_err(serde::de::Error::custom))
        .transpose()
}

fn auth_mode(s: &str) -> Result<AuthMode, String> {
    match s {
        "none" => Ok(AuthMode::None),
        "optional" => Ok(AuthMode::Optional),
        "required" => Ok(AuthMode::Required),
        other => Err(format!("{other:?}: expected none, optional or required")),
    }
}

/// The BRAiN WebSocket server: channels, per-user messages, broadcasts and
/// heartbeats over WebSocket, with an HTTP API. Runs in memory with no other
/// service needed.
#[derive(Debug, Parser)]
#[command(name = "brain-ws-server", version)]
pub struct Cli {
    /// TOML file with any of the settings below (snake_case keys, e.g.
    /// `heartbeat_interval = "30s"`); flags and environment override it.
    #[arg(long, env = "BRAIN_WS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on, `ip:port` or `host:port` (a host name is
    /// resolved at start, its first address used) [default: 127.0.0.1:8000].
    #[arg(long, env = "BRAIN_WS_BIND", value_parser = bind_addr)]
    pub bind: Option<SocketAddr>,
    /// Time between server pings [default: 30s].
    #[arg(long, env = "BRAIN_WS_HEARTBEAT_INTERVAL", value_parser = duration)]
    pub heartbeat_interval: Option<Duration>,
    /// How long after a ping a silent connection is closed with 4000 [default: 10s].
    #[arg(long, env = "BRAIN_WS_HEARTBEAT_TIMEOUT", value_parser = duration)]
    pub heartbeat_timeout: Option<Duration>,
    /// Most concurrent WebSocket connections; more get 503 [default: 1000].
    #[arg(long, env = "BRAIN_WS_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Largest WebSocket message or HTTP body in bytes; larger frames close with 1009 [default: 65536].
    #[arg(long, env = "BRAIN_WS_MAX_MESSAGE_SIZE")]
    pub max_message_size: Option<usize>,
    /// Most subscriptions per connection [default: 100].
    #[arg(long, env = "BRAIN_WS_MAX_SUBSCRIPTIONS")]
    pub max_subscriptions: Option<usize>,
    /// Frames queued per connection before it is closed as a slow consumer (4001) [default: 1024].
    #[arg(long, env = "BRAIN_WS_OUTBOUND_QUEUE")]
    pub outbound_queue: Option<usize>,
    /// API key for the admin HTTP API (repeatable; comma-separated in the
    /// environment). Without any, the admin API answers loopback peers only.
    #[arg(
        long = "api-key",
        env = "BRAIN_WS_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,
    /// File with one API key per line (blank lines and `#` comments ignored).
    #[arg(long, env = "BRAIN_WS_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Events kept per history channel; 0 disables history [default: 100].
    #[arg(long, env = "BRAIN_WS_HISTORY_SIZE")]
    pub history_size: Option<usize>,
    /// How long history events are kept [default: 5m].
    #[arg(long, env = "BRAIN_WS_HISTORY_TTL", value_parser = duration)]
    pub history_ttl: Option<Duration>,
    /// Channels that keep history, names or `prefix*` patterns (repeatable)
    /// [default: the six standard channels].
    #[arg(
        long = "history-channel",
        env = "BRAIN_WS_HISTORY_CHANNELS",
        value_delimiter = ','
    )]
    pub history_channels: Vec<ChannelPattern>,
    /// Channels on which clients may publish, names or `prefix*` patterns (repeatable) [default: none].
    #[arg(
        long = "client-publish",
        env = "BRAIN_WS_CLIENT_PUBLISH",
        value_delimiter = ','
    )]
    pub client_publish_channels: Vec<ChannelPattern>,
    /// This node's id [default: random].
    #[arg(long, env = "BRAIN_WS_NODE_ID")]
    pub node_id: Option<String>,
    /// How long shutdown waits for close frames to go out [default: 5s].
    #[arg(long, env = "BRAIN_WS_SHUTDOWN_GRACE", value_parser = duration)]
    pub shutdown_grace: Option<Duration>,
    /// `memory` (one node) or `redis://host:port/db` (several nodes sharing
    /// one Redis) [default: memory].
    #[arg(long, env = "BRAIN_WS_BROKER", hide_env_values = true)]
    pub broker: Option<String>,
    /// Prefix of every Redis key and channel [default: brain-ws].
    #[arg(long, env = "BRAIN_WS_REDIS_PREFIX")]
    pub redis_prefix: Option<String>,
    /// How often a node reports its counts to the cluster; it drops out
    /// after three missed reports [default: 2s].
    #[arg(long, env = "BRAIN_WS_CLUSTER_REFRESH", value_parser = duration)]
    pub cluster_refresh: Option<Duration>,
    /// Log format [default: text]. Filter with RUST_LOG (default info).
    #[arg(long, env = "BRAIN_WS_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Authentication, channel authorization and abuse limits (docs/security.md).
    #[command(flatten)]
    pub security: SecurityArgs,
}

/// The security settings (docs/security.md).
#[derive(Debug, Default, Args)]
pub struct SecurityArgs {
    /// How tokens are treated: none (ignored), optional (verified when
    /// presented) or required [default: optional with a JWT key, none
    /// without one].
    #[arg(long = "auth", env = "BRAIN_WS_AUTH", value_parser = auth_mode)]
    pub auth_mode: Option<AuthMode>,
    /// HS256 secret (at least 32 bytes) that verifies tokens. Prefer
    /// --jwt-secret-file or the environment: flags show in `ps`.
    #[arg(long, env = "BRAIN_WS_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// File holding the HS256 secret (surrounding whitespace is trimmed).
    #[arg(long, env = "BRAIN_WS_JWT_SECRET_FILE")]
    pub jwt_secret_file: Option<PathBuf>,
    /// PEM public key that verifies tokens: RSA (RS256) or EC P-256 (ES256) / P-384 (ES384).
    #[arg(long, env = "BRAIN_WS_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,
    /// Accepted token issuer (`iss`), repeatable; when set, `iss` is required.
    #[arg(
        long = "jwt-issuer",
        env = "BRAIN_WS_JWT_ISSUERS",
        value_delimiter = ','
    )]
    pub jwt_issuers: Vec<String>,
    /// Accepted token audience (`aud`), repeatable; when set, `aud` is required.
    #[arg(
        long = "jwt-audience",
        env = "BRAIN_WS_JWT_AUDIENCES",
        value_delimiter = ','
    )]
    pub jwt_audiences: Vec<String>,
    /// Clock-skew allowance for `exp` and `nbf` [default: 30s].
    #[arg(long, env = "BRAIN_WS_JWT_LEEWAY", value_parser = duration)]
    pub jwt_leeway: Option<Duration>,
    /// Channel (name or `prefix*`) anonymous connections may not use (repeatable).
    #[arg(
        long = "private-channel",
        env = "BRAIN_WS_PRIVATE_CHANNELS",
        value_delimiter = ','
    )]
    pub private_channels: Vec<ChannelPattern>,
    /// `pattern=role`: only holders of the role may use matching channels (repeatable).
    #[arg(
        long = "channel-role",
        env = "BRAIN_WS_CHANNEL_ROLES",
        value_delimiter = ','
    )]
    pub channel_roles: Vec<ChannelRole>,
    /// Origin allowed to open WebSocket connections, e.g. https://app.example.com
    /// (repeatable) [default: every origin].
    #[arg(
        long = "allowed-origins",
        alias = "allowed-origin",
        env = "BRAIN_WS_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Most connections per authenticated user on this node; more get 429 [default: no limit].
    #[arg(long, env = "BRAIN_WS_MAX_CONNECTIONS_PER_USER")]
    pub max_connections_per_user: Option<usize>,
    /// Messages per second a connection may send; 0 disables the limit [default: 100].
    #[arg(long, env = "BRAIN_WS_RATE_LIMIT")]
    pub rate_limit: Option<u32>,
    /// Size of the token bucket: messages a connection may send at once,
    /// after which it is held to --rate-limit [default: 200].
    #[arg(long, env = "BRAIN_WS_RATE_BURST")]
    pub rate_burst: Option<u32>,
    /// Dropped messages within 10s after which a connection is closed with 4501 [default: 50].
    #[arg(long, env = "BRAIN_WS_RATE_LIMIT_VIOLATIONS")]
    pub rate_limit_violations: Option<u32>,
    /// Time a client has to send a complete HTTP request head (the upgrade) [default: 10s].
    #[arg(long, env = "BRAIN_WS_HANDSHAKE_TIMEOUT", value_parser = duration)]
    pub handshake_timeout: Option<Duration>,
}

/// The `--config` file: the same settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default, deserialize_with = "file_bind")]
    bind: Option<SocketAddr>,
    heartbeat_interval: Option<String>,
    heartbeat_timeout: Option<String>,
    max_connections: Option<usize>,
    max_message_size: Option<usize>,
    max_subscriptions: Option<usize>,
    outbound_queue: Option<usize>,
    api_keys: Option<Vec<String>>,
    api_key_file: Option<PathBuf>,
    history_size: Option<usize>,
    history_ttl: Option<String>,
    history_channels: Option<Vec<String>>,
    client_publish_channels: Option<Vec<String>>,
    node_id: Option<String>,
    shutdown_grace: Option<String>,
    log_format: Option<LogFormat>,
    auth: Option<String>,
    jwt_secret: Option<String>,
    jwt_secret_file: Option<PathBuf>,
    jwt_public_key: Option<PathBuf>,
    jwt_issuers: Option<Vec<String>>,
    jwt_audiences: Option<Vec<String>>,
    jwt_leeway: Option<String>,
    private_channels: Option<Vec<String>>,
    channel_roles: Option<Vec<String>>,
    allowed_origins: Option<Vec<String>>,
    max_connections_per_user: Option<usize>,
    rate_limit: Option<u32>,
    rate_burst: Option<u32>,
    rate_limit_violations: Option<u32>,
    handshake_timeout: Option<String>,
    broker: Option<String>,
    redis_prefix: Option<String>,
    cluster_refresh: Option<String>,
}

/// The security settings of the `--config` file, taken out of [`FileConfig`].
#[derive(Debug, Default)]
struct SecurityFile {
    auth: Option<String>,
    jwt_secret: Option<String>,
    jwt_secret_file: Option<PathBuf>,
    jwt_public_key: Option<PathBuf>,
    jwt_issuers: Option<Vec<String>>,
    jwt_audiences: Option<Vec<String>>,
    jwt_leeway: Option<String>,
    private_channels: Option<Vec<String>>,
    channel_roles: Option<Vec<String>>,
    allowed_origins: Option<Vec<String>>,
    max_connections_per_user: Option<usize>,
    rate_limit: Option<u32>,
    rate_burst: Option<u32>,
    rate_limit_violations: Option<u32>,
    handshake_timeout: Option<String>,
}

impl FileConfig {
    fn take_security(&mut self) -> SecurityFile {
        SecurityFile {
            auth: self.auth.take(),
            jwt_secret: self.jwt_secret.take(),
            jwt_secret_file: self.jwt_secret_file.take(),
            jwt_public_key: self.jwt_public_key.take(),
            jwt_issuers: self.jwt_issuers.take(),
            jwt_audiences: self.jwt_audiences.take(),
            jwt_leeway: self.jwt_leeway.take(),
            private_channels: self.private_channels.take(),
            channel_roles: self.channel_roles.take(),
            allowed_origins: self.allowed_origins.take(),
            max_connections_per_user: self.max_connections_per_user.take(),
            rate_limit: self.rate_limit.take(),
            rate_burst: self.rate_burst.take(),
            rate_limit_violations: self.rate_limit_violations.take(),
            handshake_timeout: self.handshake_timeout.take(),
        }
    }
}

fn file_duration(key: &str, value: Option<String>) -> Result<Option<Duration>, ConfigError> {
    value
        .map(|v| duration(&v).map_err(|e| ConfigError(format!("{key} = {v:?}: {e}"))))
        .transpose()
}

fn file_patterns(
    key: &str,
    value: Option<Vec<String>>,
) -> Result<Vec<ChannelPattern>, ConfigError> {
    value
        .unwrap_or_default()
        .iter()
        .map(|p| {
            p.parse()
                .map_err(|e| ConfigError(format!("{key}: {p:?}: {e}")))
        })
        .collect()
}

fn read_key_file(path: &Path) -> Result<Vec<String>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read API key file {}: {e}", path.display())))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

impl Cli {
    /// Parses flags and environment like [`Parser::parse`] (exiting with
    /// clap's message on `--help` or an error), except that a bad value
    /// that came from an environment variable is reported under that
    /// variable's name: clap names only the flag, which the user never
    /// typed.
    pub fn parse_or_exit() -> Self {
        let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
        match Self::try_parse_from(&argv) {
            Ok(cli) => cli,
            Err(e) => {
                if let Some(message) = env_value_error(&e, &argv) {
                    eprintln!("brain-ws-server: {message}");
                    std::process::exit(2);
                }
                e.exit()
            }
        }
    }

    /// Merges flags, environment, the config file and defaults into a
    /// validated [`Config`] and the log format.
    pub fn into_config(self) -> Result<(Config, LogFormat), ConfigError> {
        let mut file: FileConfig = match &self.config {
            None => FileConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("cannot read config file {}: {e}", path.display()))
                })?;
                toml::from_str(&text)
                    .map_err(|e| ConfigError(format!("config file {}: {e}", path.display())))?
            }
        };
        let security_file = file.take_security();
        let d = Config::default();
        let pick_vec = |cli: Vec<ChannelPattern>,
                        file: Vec<ChannelPattern>,
                        default: Vec<ChannelPattern>,
                        file_set: bool| {
            if !cli.is_empty() {
                cli
            } else if file_set {
                file
            } else {
                default
            }
        };
        let history_set = file.history_channels.is_some();
        let publish_set = file.client_publish_channels.is_some();
        let mut api_keys = if self.api_keys.is_empty() {
            file.api_keys.unwrap_or_default()
        } else {
            self.api_keys
        };
        if let Some(path) = self.api_key_file.or(file.api_key_file) {
            api_keys.extend(read_key_file(&path)?);
        }
        let config = Config {
            bind: self.bind.or(file.bind).unwrap_or(d.bind),
            heartbeat_interval: self
                .heartbeat_interval
                .or(file_duration(
                    "heartbeat_interval",
                    file.heartbeat_interval,
                )?)
                .unwrap_or(d.heartbeat_interval),
            heartbeat_timeout: self
                .heartbeat_timeout
                .or(file_duration("heartbeat_timeout", file.heartbeat_timeout)?)
                .unwrap_or(d.heartbeat_timeout),
            max_connections: self
                .max_connections
                .or(file.max_connections)
                .unwrap_or(d.max_connections),
            max_message_size: self
                .max_message_size
                .or(file.max_message_size)
                .unwrap_or(d.max_message_size),
            max_subscriptions: self
                .max_subscriptions
                .or(file.max_subscriptions)
                .unwrap_or(d.max_subscriptions),
            outbound_queue: self
                .outbound_queue
                .or(file.outbound_queue)
                .unwrap_or(d.outbound_queue),
            api_keys,
            history_size: self
                .history_size
                .or(file.history_size)
                .unwrap_or(d.history_size),
            history_ttl: self
                .history_ttl
                .or(file_duration("history_ttl", file.history_ttl)?)
                .unwrap_or(d.history_ttl),
            history_channels: pick_vec(
                self.history_channels,
                file_patterns("history_channels", file.history_channels)?,
                d.history_channels.clone(),
                history_set,
            ),
            client_publish_channels: pick_vec(
                self.client_publish_channels,
                file_patterns("client_publish_channels", file.client_publish_channels)?,
                d.client_publish_channels.clone(),
                publish_set,
            ),
            shutdown_grace: self
                .shutdown_grace
                .or(file_duration("shutdown_grace", file.shutdown_grace)?)
                .unwrap_or(d.shutdown_grace),
            node_id: self.node_id.or(file.node_id).unwrap_or(d.node_id),
            broker: self
                .broker
                .or(file.broker)
                .map(|b| b.parse())
                .transpose()?
                .unwrap_or(d.broker),
            redis_prefix: self
                .redis_prefix
                .or(file.redis_prefix)
                .unwrap_or(d.redis_prefix),
            cluster_refresh: self
                .cluster_refresh
                .or(file_duration("cluster_refresh", file.cluster_refresh)?)
                .unwrap_or(d.cluster_refresh),
            ..Config::default()
        };
        let mut config = config;
        apply_security(self.security, security_file, &mut config)?;
        config.validate()?;
        Ok((
            config,
            self.log_format.or(file.log_format).unwrap_or_default(),
        ))
    }
}

fn read_secret_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "cannot read JWT secret file {}: {e}",
            path.display()
        ))
    })?;
    Ok(text.trim().as_bytes().to_vec())
}

/// Builds the JWT authenticator from the key settings, if a key is given.
fn authenticator(
    args: &SecurityArgs,
    file: &SecurityFile,
) -> Result<Option<JwtAuthenticator>, ConfigError> {
    let secret = match (&args.jwt_secret, &args.jwt_secret_file) {
        (Some(s), _) => Some(s.as_bytes().to_vec()),
        (None, Some(path)) => Some(read_secret_file(path)?),
        (None, None) => match (&file.jwt_secret, &file.jwt_secret_file) {
            (Some(s), _) => Some(s.as_bytes().to_vec()),
            (None, Some(path)) => Some(read_secret_file(path)?),
            (None, None) => None,
        },
    };
    let public_key = args
        .jwt_public_key
        .as_ref()
        .or(file.jwt_public_key.as_ref());
    let auth = match (secret, public_key) {
        (Some(_), Some(_)) => {
            return Err(ConfigError(
                "give either a JWT secret or a JWT public key, not both".into(),
            ));
        }
        (Some(secret), None) => {
            JwtAuthenticator::hs256(&secret).map_err(|e| ConfigError(e.to_string()))?
        }
        (None, Some(path)) => {
            let pem = std::fs::read(path).map_err(|e| {
                ConfigError(format!(
                    "cannot read JWT public key {}: {e}",
                    path.display()
                ))
            })?;
            JwtAuthenticator::from_public_key_pem(&pem)
                .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?
        }
        (None, None) => return Ok(None),
    };
    let pick = |cli: &Vec<String>, file: &Option<Vec<String>>| {
        if cli.is_empty() {
            file.clone().unwrap_or_default()
        } else {
            cli.clone()
        }
    };
    let leeway = args
        .jwt_leeway
        .or(file_duration("jwt_leeway", file.jwt_leeway.clone())?)
        .unwrap_or(JwtAuthenticator::DEFAULT_LEEWAY);
    Ok(Some(
        auth.with_issuers(&pick(&args.jwt_issuers, &file.jwt_issuers))
            .with_audiences(&pick(&args.jwt_audiences, &file.jwt_audiences))
            .with_leeway(leeway),
    ))
}

/// Applies the security flags (over the file's settings) to `config`.
fn apply_security(
    args: SecurityArgs,
    file: SecurityFile,
    config: &mut Config,
) -> Result<(), ConfigError> {
    let d = Config::default();
    if let Some(auth) = authenticator(&args, &file)? {
        config.authenticator = Some(Arc::new(auth));
    } else if !args.jwt_issuers.is_empty()
        || !args.jwt_audiences.is_empty()
        || file.jwt_issuers.as_ref().is_some_and(|v| !v.is_empty())
        || file.jwt_audiences.as_ref().is_some_and(|v| !v.is_empty())
    {
        // The same rule for flags and the file: issuer and audience checks
        // without a key would be silently ignored.
        return Err(ConfigError(
            "--jwt-issuer and --jwt-audience (jwt_issuers, jwt_audiences) need a JWT key".into(),
        ));
    }
    // Without a key the default is none; asking for verification without a
    // key is an error rather than a silent none.
    config.auth_mode = match (args.auth_mode, &file.auth) {
        (Some(mode), _) => mode,
        (None, Some(mode)) => auth_mode(mode).map_err(|e| ConfigError(format!("auth = {e}")))?,
        (None, None) if config.authenticator.is_some() => d.auth_mode,
        (None, None) => AuthMode::None,
    };
    if config.auth_mode == AuthMode::Optional && config.authenticator.is_none() {
        return Err(ConfigError(
            "auth mode optional needs a JWT key (--jwt-secret or --jwt-public-key); without one the mode is none".into(),
        ));
    }
    config.private_channels = if args.private_channels.is_empty() {
        file_patterns("private_channels", file.private_channels)?
    } else {
        args.private_channels
    };
    config.channel_roles = if args.channel_roles.is_empty() {
        file.channel_roles
            .unwrap_or_default()
            .iter()
            .map(|r| {
                r.parse()
                    .map_err(|e| ConfigError(format!("channel_roles: {r:?}: {e}")))
            })
            .collect::<Result<_, _>>()?
    } else {
        args.channel_roles
    };
    config.allowed_origins = if args.allowed_origins.is_empty() {
        file.allowed_origins.unwrap_or_default()
    } else {
        args.allowed_origins
    };
    config.max_connections_per_user = args
        .max_connections_per_user
        .or(file.max_connections_per_user);
    let default_limit = RateLimit::default();
    let per_second = args
        .rate_limit
        .or(file.rate_limit)
        .unwrap_or(default_limit.per_second);
    config.rate_limit = (per_second > 0).then(|| RateLimit {
        per_second,
        burst: args
            .rate_burst
            .or(file.rate_burst)
            .unwrap_or(default_limit.burst),
        max_violations: args
            .rate_limit_violations
            .or(file.rate_limit_violations)
            .unwrap_or(default_limit.max_violations),
    });
    config.handshake_timeout = args
        .handshake_timeout
        .or(file_duration("handshake_timeout", file.handshake_timeout)?)
        .unwrap_or(d.handshake_timeout);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(Config, LogFormat), String> {
        let cli =
            Cli::try_parse_from(std::iter::once("brain-ws-server").chain(args.iter().copied()))
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
        assert_eq!(config.broker, crate::config::BrokerConfig::Memory);
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
            crate::config::BrokerConfig::Redis("redis://:s3cret@127.0.0.1:6379/2".into())
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
}
