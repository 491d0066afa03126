//! The outcome of a run: one result per selected scenario, with the evidence
//! of every failure. Renderers for people and CI systems live in `render`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What one scenario concluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// The server behaved as the protocol says.
    Pass,
    /// The server did not; `reason` says how, the evidence shows it.
    Fail {
        /// What was expected and what happened instead.
        reason: String,
    },
    /// The scenario did not run; `reason` says why (an optional feature the
    /// server reports as off, a missing credential, a too-slow heartbeat).
    Skipped {
        /// Why the scenario did not run.
        reason: String,
    },
}

impl Verdict {
    /// Whether this is a failure.
    pub fn is_fail(&self) -> bool {
        matches!(self, Verdict::Fail { .. })
    }

    /// Whether this is a pass.
    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass)
    }

    /// Whether the scenario was skipped.
    pub fn is_skipped(&self) -> bool {
        matches!(self, Verdict::Skipped { .. })
    }
}

/// Which way a recorded frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the suite to the server.
    Sent,
    /// From the server to the suite.
    Received,
    /// Something that is not a frame: a connection opened or closed, an
    /// upgrade refused, a timeout.
    Note,
}

impl Direction {
    /// A one-character arrow for text output.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Sent => ">",
            Direction::Received => "<",
            Direction::Note => "*",
        }
    }
}

/// One line of evidence: a frame or HTTP exchange seen during a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Frame {
    /// Seconds since the scenario started.
    pub at: f64,
    /// Which connection (`A`, `B`, ...) or `http`.
    pub conn: String,
    /// Sent, received or a note.
    pub direction: Direction,
    /// The frame's text (cut when very long) or the note.
    pub text: String,
}

/// What a failed scenario sent and received, so the failure can be
/// understood without re-running it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Evidence {
    /// The recorded frames, oldest first.
    pub frames: Vec<Frame>,
    /// How many frames were left out in the middle of a long transcript.
    pub omitted: usize,
}

/// The result of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScenarioResult {
    /// The scenario's stable id, such as `errors.invalid_json`.
    pub id: String,
    /// The section of `docs/protocol.md` the scenario checks.
    pub section: String,
    /// One line saying what the scenario proves.
    pub summary: String,
    /// Pass, fail or skipped.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// How long the scenario ran, in seconds.
    #[serde(with = "secs")]
    pub duration: Duration,
    /// On failure: the frames sent and received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// What the server said about itself in `GET /api/ws/info`, for the report
/// header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServerSummary {
    /// Server name and version.
    pub name: String,
    /// Protocol identifier.
    pub protocol: String,
    /// The optional features it announced.
    pub features: Vec<String>,
    /// Its heartbeat interval in seconds.
    pub heartbeat_interval: f64,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// The WebSocket URL tested.
    pub target: String,
    /// What the server announced, when `GET /api/ws/info` answered.
    pub server: Option<ServerSummary>,
    /// Why `GET /api/ws/info` could not be read, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info_error: Option<String>,
    /// One result per selected scenario, in catalogue order.
    pub results: Vec<ScenarioResult>,
    /// Wall-clock time of the whole run, in seconds.
    #[serde(with = "secs")]
    pub duration: Duration,
}

impl Report {
    /// True when no selected scenario failed (skips do not count against it).
    pub fn is_success(&self) -> bool {
        !self.results.iter().any(|r| r.verdict.is_fail())
    }

    /// Ids of the failed scenarios, in catalogue order.
    pub fn failed_ids(&self) -> Vec<&str> {
        self.ids_where(Verdict::is_fail)
    }

    /// Ids of the skipped scenarios, in catalogue order.
    pub fn skipped_ids(&self) -> Vec<&str> {
        self.ids_where(Verdict::is_skipped)
    }

    /// Ids of the passed scenarios, in catalogue order.
    pub fn passed_ids(&self) -> Vec<&str> {
        self.ids_where(Verdict::is_pass)
    }

    /// The result of scenario `id`, if it was selected.
    pub fn result(&self, id: &str) -> Option<&ScenarioResult> {
        self.results.iter().find(|r| r.id == id)
    }

    /// Counts of passed, failed and skipped scenarios.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |f: fn(&Verdict) -> bool| self.results.iter().filter(|r| f(&r.verdict)).count();
        (
            count(Verdict::is_pass),
            count(Verdict::is_fail),
            count(Verdict::is_skipped),
        )
    }

    fn ids_where(&self, keep: fn(&Verdict) -> bool) -> Vec<&str> {
        self.results
            .iter()
            .filter(|r| keep(&r.verdict))
            .map(|r| r.id.as_str())
            .collect()
    }
}

/// Durations as fractional seconds in JSON.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}
