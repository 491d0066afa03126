//! Command line, environment (`BRAIN_WS_*`) and TOML file configuration of
//! the `brain-ws-server` binary. Precedence: flag, then environment, then
//! the `--config` file, then the defaults of [`Config::default`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use serde::Deserialize;

use crate::config::{Config, ConfigError};
use crate::pattern::ChannelPattern;

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
    /// Address to listen on [default: 127.0.0.1:8000].
    #[arg(long, env = "BRAIN_WS_BIND")]
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
}

/// The `--config` file: the same settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
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
    broker: Option<String>,
    redis_prefix: Option<String>,
    cluster_refresh: Option<String>,
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
    /// Merges flags, environment, the config file and defaults into a
    /// validated [`Config`] and the log format.
    pub fn into_config(self) -> Result<(Config, LogFormat), ConfigError> {
        let file = match &self.config {
            None => FileConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("cannot read config file {}: {e}", path.display()))
                })?;
                toml::from_str(&text)
                    .map_err(|e| ConfigError(format!("config file {}: {e}", path.display())))?
            }
        };
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
            authenticator: None,
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
        };
        config.validate()?;
        Ok((
            config,
            self.log_format.or(file.log_format).unwrap_or_default(),
        ))
    }
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
        assert!(err.contains("expected `memory` or a redis:// URL"), "{err}");
        let err = parse(&["--broker", "redis://"]).expect_err("no host");
        assert!(err.contains("broker URL"), "{err}");
        let err = parse(&["--redis-prefix", "a b"]).expect_err("space");
        assert!(err.contains("redis prefix"), "{err}");
    }
}
