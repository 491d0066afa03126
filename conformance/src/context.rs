//! What a scenario gets to work with: the run's configuration, what the
//! server announced in `GET /api/ws/info`, the compiled schemas, an HTTP
//! client, unique channel names, and its own transcript.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use brain_ws_protocol::http::InfoResponse;

use crate::config::{Config, Feature};
use crate::outcome::{Outcome, Stop};
use crate::schema::Schemas;
use crate::transcript::Transcript;

/// State shared by every scenario of one run.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) schemas: Schemas,
    pub(crate) http: reqwest::Client,
    /// The server's `GET /api/ws/info`, or why it could not be read.
    pub(crate) info: Result<InfoResponse, String>,
    /// Distinguishes this run's channel names from other runs' on the same server.
    nonce: String,
    counter: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        config: Config,
        schemas: Schemas,
        http: reqwest::Client,
        info: Result<InfoResponse, String>,
    ) -> Self {
        let nonce = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        Self {
            config,
            schemas,
            http,
            info,
            nonce,
            counter: AtomicU64::new(0),
        }
    }
}

/// One scenario's handle on the run: cheap to clone, so a scenario can drive
/// several connections and HTTP calls at once.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) transcript: Transcript,
}

impl Ctx {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            transcript: Transcript::new(),
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.shared.config
    }

    /// How long one step may take.
    pub(crate) fn step(&self) -> Duration {
        self.shared.config.step_timeout
    }

    /// The server's info; a scenario that needs it fails when it could not
    /// be read.
    pub(crate) fn info(&self) -> Outcome<&InfoResponse> {
        self.shared.info.as_ref().map_err(|e| {
            Stop::Fail(format!(
                "this scenario needs GET /api/ws/info, which failed: {e}"
            ))
        })
    }

    /// Whether `feature` was forced with `--force`.
    pub(crate) fn forced(&self, feature: Feature) -> bool {
        self.shared.config.forced(feature)
    }

    /// A channel name no other scenario or run uses, such as
    /// `conformance.order.1a2b3c4d.7`.
    pub(crate) fn channel(&self, tag: &str) -> String {
        let n = self.shared.counter.fetch_add(1, Ordering::Relaxed);
        format!("conformance.{tag}.{}.{n}", self.shared.nonce)
    }

    /// A unique word (for user ids and payload markers).
    pub(crate) fn unique(&self, tag: &str) -> String {
        let n = self.shared.counter.fetch_add(1, Ordering::Relaxed);
        format!("conformance-{tag}-{}-{n}", self.shared.nonce)
    }

    /// Records a note in the transcript.
    pub(crate) fn note(&self, text: &str) {
        self.transcript
            .record("-", crate::report::Direction::Note, text);
    }
}
