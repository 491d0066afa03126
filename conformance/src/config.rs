//! What a run targets and which scenarios it selects: the library form of
//! the command line.

use std::time::Duration;

use brain_ws_client::{Proxy, Tls};
use serde::Serialize;

/// An optional part of the protocol. A server announces the ones it
/// implements in `GET /api/ws/info` (`features`); scenarios that need one are
/// skipped when it is off, unless the run forces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Feature {
    /// Token verification (`features.authentication`).
    Authentication,
    /// Channel history and `subscribe.since` recovery (`features.history`).
    History,
    /// Client `publish` on some channels (`features.client_publish`).
    ClientPublish,
    /// Several nodes sharing a broker (`features.multi_node`).
    MultiNode,
    /// Presence on some channels (`features.presence`).
    Presence,
    /// `subscribe.rewind` (`features.rewind`).
    Rewind,
    /// `GET /api/ws/channels/{channel}/history` (`features.history_read`).
    HistoryRead,
    /// Not a server feature: the heartbeat scenarios wait several heartbeat
    /// intervals, so they are skipped when the interval is longer than
    /// [`Config::max_heartbeat`] unless this is forced.
    SlowHeartbeat,
}

impl Feature {
    /// The name used in `--force` and in skip reasons.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Authentication => "authentication",
            Feature::History => "history",
            Feature::ClientPublish => "client-publish",
            Feature::MultiNode => "multi-node",
            Feature::Presence => "presence",
            Feature::Rewind => "rewind",
            Feature::HistoryRead => "history-read",
            Feature::SlowHeartbeat => "slow-heartbeat",
        }
    }
}

/// Everything a run needs: where the server is, the credentials it may ask
/// for, which scenarios to run and how long to wait.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Base WebSocket URL, such as `ws://127.0.0.1:8000`; `/ws/connect` and
    /// `/ws/channel/{c}` are appended to its path.
    pub ws_url: String,
    /// Base HTTP URL of the same server; derived from `ws_url` when `None`.
    pub http_url: Option<String>,
    /// A token for WebSocket connections (`?token=`). Needed for `user.send`
    /// and `auth.user_id`, and for every connection when the server's auth
    /// mode is `required`.
    pub token: Option<String>,
    /// The server's HS256 secret (`--jwt-secret`), so the suite can sign
    /// tokens of its own: an expired one for `auth.expired_token`. Without
    /// it that scenario is skipped.
    pub jwt_secret: Option<String>,
    /// An admin API key sent as `Authorization: Bearer` on HTTP calls.
    pub api_key: Option<String>,
    /// Patterns selecting scenario ids (empty selects all); see
    /// [`crate::matches_filter`].
    pub filter: Vec<String>,
    /// Optional features to exercise even when the server says they are off.
    pub force: Vec<Feature>,
    /// How long one step (one expected frame, one HTTP answer) may take.
    pub step_timeout: Duration,
    /// How long one whole scenario may take.
    pub scenario_timeout: Duration,
    /// How many independent scenarios run at once.
    pub concurrency: usize,
    /// Heartbeat scenarios are skipped (unless forced) when the server's
    /// interval is longer than this, so a default-configured deployment does
    /// not make the suite take minutes.
    pub max_heartbeat: Duration,
    /// Who to trust on `wss://` and `https://`: the public roots by
    /// default, plus a private CA (`--ca-file`).
    pub tls: Tls,
    /// The HTTP proxy for both WebSocket and HTTP (by default the
    /// environment's `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`).
    pub proxy: Proxy,
}

impl Config {
    /// A configuration for the server at `ws_url` with default timeouts,
    /// every scenario selected and nothing forced.
    pub fn new(ws_url: impl Into<String>) -> Self {
        Self {
            ws_url: ws_url.into(),
            http_url: None,
            token: None,
            jwt_secret: None,
            api_key: None,
            filter: Vec::new(),
            force: Vec::new(),
            step_timeout: Duration::from_secs(5),
            scenario_timeout: Duration::from_secs(60),
            concurrency: 16,
            max_heartbeat: Duration::from_secs(5),
            tls: Tls::default(),
            proxy: Proxy::default(),
        }
    }

    /// Whether `feature` was forced on.
    pub fn forced(&self, feature: Feature) -> bool {
        self.force.contains(&feature)
    }

    /// The HTTP base URL: `http_url`, or `ws_url` with `ws` replaced by
    /// `http` (and `wss` by `https`).
    pub fn http_base(&self) -> String {
        let base = match &self.http_url {
            Some(url) => url.clone(),
            None => {
                if let Some(rest) = self.ws_url.strip_prefix("wss://") {
                    format!("https://{rest}")
                } else if let Some(rest) = self.ws_url.strip_prefix("ws://") {
                    format!("http://{rest}")
                } else {
                    self.ws_url.clone()
                }
            }
        };
        base.trim_end_matches('/').to_owned()
    }

    /// The WebSocket base URL without a trailing slash.
    pub fn ws_base(&self) -> String {
        self.ws_url.trim_end_matches('/').to_owned()
    }
}
