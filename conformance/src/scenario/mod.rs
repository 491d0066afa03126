//! The catalogue of scenarios: one module per part of the protocol, each
//! scenario with a stable id, the section of `docs/protocol.md` it checks,
//! and the optional feature it needs.

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

use crate::config::Feature;
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure, fail, skip};

mod auth;
mod batch;
mod broadcast;
mod connect;
mod delivery;
mod errors;
mod faults;
mod heartbeat;
mod history;
mod http_api;
mod limits;
mod multi_node;
mod presence;
mod publish;
mod rewind;
mod stats;
mod subscribe;
mod user;

/// Sections of `docs/protocol.md` that scenarios refer to (its explicit
/// `<a id>` anchors).
pub(crate) mod section {
    pub(crate) const LIFECYCLE: &str = "docs/protocol.md#lifecycle";
    pub(crate) const SUBSCRIPTIONS: &str = "docs/protocol.md#subscriptions";
    pub(crate) const EVENT_ENVELOPE: &str = "docs/protocol.md#event-envelope";
    pub(crate) const HTTP_API: &str = "docs/protocol.md#http-api";
    pub(crate) const ERROR_CODES: &str = "docs/protocol.md#error-codes";
    pub(crate) const CLOSE_CODES: &str = "docs/protocol.md#close-codes";
    pub(crate) const HISTORY: &str = "docs/protocol.md#history";
    pub(crate) const STREAM_RESTARTS: &str = "docs/protocol.md#stream-restarts";
    pub(crate) const REWIND: &str = "docs/protocol.md#rewind";
    pub(crate) const BATCHED_FRAMES: &str = "docs/protocol.md#batched-frames";
    pub(crate) const CLIENT_PUBLISH: &str = "docs/protocol.md#client-publish";
    pub(crate) const PRESENCE: &str = "docs/protocol.md#presence";
    pub(crate) const DECISIONS: &str = "docs/protocol.md#decisions";
}

/// A boxed scenario future.
pub(crate) type ScenarioFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// One scenario of the catalogue.
pub(crate) struct Scenario {
    pub(crate) id: &'static str,
    pub(crate) section: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) requires: Option<Feature>,
    /// Runs alone: it reads server-wide counts, or sends to every
    /// connection, so other scenarios would disturb it or be disturbed.
    pub(crate) exclusive: bool,
    /// Waits for several heartbeat intervals, so its time limit grows with
    /// the server's interval (when a slow heartbeat is forced).
    pub(crate) heartbeat_paced: bool,
    pub(crate) run: fn(Ctx) -> ScenarioFuture,
}

impl Scenario {
    pub(crate) fn new(
        id: &'static str,
        section: &'static str,
        summary: &'static str,
        run: fn(Ctx) -> ScenarioFuture,
    ) -> Self {
        Self {
            id,
            section,
            summary,
            requires: None,
            exclusive: false,
            heartbeat_paced: false,
            run,
        }
    }

    pub(crate) fn requires(mut self, feature: Feature) -> Self {
        self.requires = Some(feature);
        self
    }

    pub(crate) fn exclusive(mut self) -> Self {
        self.exclusive = true;
        self
    }

    pub(crate) fn heartbeat_paced(mut self) -> Self {
        self.heartbeat_paced = true;
        self
    }

    fn info(&self) -> ScenarioInfo {
        ScenarioInfo {
            id: self.id,
            section: self.section,
            summary: self.summary,
            requires: self.requires,
            exclusive: self.exclusive,
        }
    }
}

/// Boxes an `async fn(Ctx) -> Outcome` as a scenario body.
macro_rules! body {
    ($f:path) => {
        |ctx| Box::pin($f(ctx))
    };
}
pub(crate) use body;

/// A scenario as `--list` and callers of [`crate::catalogue`] see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ScenarioInfo {
    /// Stable id, such as `errors.invalid_json`.
    pub id: &'static str,
    /// The section of `docs/protocol.md` it checks.
    pub section: &'static str,
    /// What it proves.
    pub summary: &'static str,
    /// The optional feature it needs, if any.
    pub requires: Option<Feature>,
    /// Whether it runs alone (it reads server-wide counts or reaches every
    /// connection).
    pub exclusive: bool,
}

/// Every scenario, in report order.
pub(crate) fn all() -> Vec<Scenario> {
    let mut all = Vec::new();
    all.extend(connect::scenarios());
    all.extend(subscribe::scenarios());
    all.extend(broadcast::scenarios());
    all.extend(user::scenarios());
    all.extend(http_api::scenarios());
    all.extend(stats::scenarios());
    all.extend(heartbeat::scenarios());
    all.extend(errors::scenarios());
    all.extend(faults::scenarios());
    all.extend(limits::scenarios());
    all.extend(delivery::scenarios());
    all.extend(history::scenarios());
    all.extend(presence::scenarios());
    all.extend(rewind::scenarios());
    all.extend(batch::scenarios());
    all.extend(auth::scenarios());
    all.extend(publish::scenarios());
    all.extend(multi_node::scenarios());
    all
}

/// A channel of a feature's `patterns` as listed by `GET /api/ws/info`
/// (`setting` names the list): a pattern with its `*` replaced by a unique
/// word, or else the first plain name listed; with the feature forced and
/// nothing listed, a suite channel.
pub(crate) fn listed_channel(
    ctx: &Ctx,
    patterns: &[String],
    feature: Feature,
    tag: &str,
    setting: &str,
) -> Outcome<String> {
    let unique = ctx.unique(tag);
    let candidate = patterns
        .iter()
        .find(|p| p.contains('*'))
        .map(|p| p.replacen('*', &unique, 1).replace('*', ""))
        .or_else(|| patterns.first().cloned());
    match candidate {
        Some(c) if brain_ws_protocol::ChannelName::validate(&c).is_ok() => Ok(c),
        Some(c) => fail!("{setting} names {c:?}, which is not a valid channel"),
        None if ctx.forced(feature) => Ok(ctx.channel(tag)),
        None => skip!("{} is on but {setting} lists no channel", feature.name()),
    }
}

/// Opens `path` (with the configured token) expecting the upgrade to be
/// refused with `status` and the JSON error body's `code`.
pub(crate) async fn expect_upgrade_refused(
    ctx: &Ctx,
    path: &str,
    status: u16,
    code: &str,
) -> Outcome {
    match ctx
        .try_open("A", path, ctx.config().token.as_deref())
        .await?
    {
        crate::ws::Opened::Conn(conn) => {
            conn.close().await;
            fail!("the server upgraded {path}; it must be refused with {status}")
        }
        crate::ws::Opened::Refused { status: got, body } => {
            ensure!(
                got == status,
                "{path} was refused with {got}, expected {status}"
            );
            let reply = crate::http::Reply::from_text(got, body);
            let got = ctx.expect_error_body(&format!("GET {path}"), &reply, status)?;
            ensure!(
                got == code,
                "{path} was refused with error code {got:?}, expected {code}"
            );
            Ok(())
        }
    }
}

/// Every scenario's id, section, summary and requirement, in report order.
pub fn catalogue() -> Vec<ScenarioInfo> {
    all().iter().map(Scenario::info).collect()
}

/// The heading of a group of scenarios (the part of the id before the first
/// dot) in the text report.
pub(crate) fn group_title(group: &str) -> &'static str {
    match group {
        "connect" => "Connecting",
        "subscribe" => "Subscribing",
        "unsubscribe" => "Unsubscribing",
        "broadcast" => "Channel broadcasts",
        "user" => "Messages to users",
        "http" => "HTTP API",
        "stats" => "Statistics",
        "heartbeat" => "Heartbeat",
        "errors" => "Bad input",
        "limits" => "Limits",
        "order" => "Ordering",
        "fanout" => "Fan-out",
        "history" => "History and recovery",
        "presence" => "Presence",
        "rewind" => "Rewind",
        "frames" => "Batched frames",
        "auth" => "Authentication",
        "publish" => "Client publish",
        "multi_node" => "Multi-node",
        _ => "Other",
    }
}
