//! The protocol's JSON Schemas, compiled once per run, against which every
//! frame and HTTP body the suite receives is checked: a server that sends
//! something its schema forbids fails the scenario, so the schemas are
//! tested against real servers too.

use std::collections::HashMap;
use std::sync::Arc;

use brain_ws_protocol::schema::json_schemas;
use serde_json::Value;

/// The schema of every WebSocket frame a server sends.
pub(crate) const SERVER_MESSAGE: &str = "server-message.json";
/// `POST /api/ws/broadcast` response.
pub(crate) const BROADCAST_RESPONSE: &str = "http/broadcast-response.json";
/// `POST /api/ws/broadcast/all` response.
pub(crate) const BROADCAST_ALL_RESPONSE: &str = "http/broadcast-all-response.json";
/// `POST /api/ws/users/{u}/send` response.
pub(crate) const SEND_TO_USER_RESPONSE: &str = "http/send-to-user-response.json";
/// `GET /api/ws/stats` response.
pub(crate) const STATS_RESPONSE: &str = "http/stats-response.json";
/// `GET /api/ws/channels/{c}` response.
pub(crate) const CHANNEL_RESPONSE: &str = "http/channel-subscribers-response.json";
/// `GET /api/ws/info` response.
pub(crate) const INFO_RESPONSE: &str = "http/info-response.json";
/// `GET /health` response.
pub(crate) const HEALTH_RESPONSE: &str = "http/health-response.json";
/// Every 4xx/5xx body.
pub(crate) const ERROR_BODY: &str = "http/error-body.json";

/// Why the schemas could not be compiled (a defect of this crate or of the
/// protocol crate, never of the server under test).
#[derive(Debug, Clone, thiserror::Error)]
#[error("schema {path} does not compile: {reason}")]
pub(crate) struct SchemaError {
    path: &'static str,
    reason: String,
}

/// Compiled validators by schema path (relative to `schemas/`).
#[derive(Clone)]
pub(crate) struct Schemas {
    validators: Arc<HashMap<&'static str, jsonschema::Validator>>,
}

impl Schemas {
    /// Compiles every JSON Schema of the protocol crate, with `format`
    /// checks on (so `connection_id` must be a UUID).
    pub(crate) fn compile() -> Result<Self, SchemaError> {
        let mut validators = HashMap::new();
        for doc in json_schemas() {
            let validator = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&doc.document)
                .map_err(|e| SchemaError {
                    path: doc.path,
                    reason: e.to_string(),
                })?;
            validators.insert(doc.path, validator);
        }
        Ok(Self {
            validators: Arc::new(validators),
        })
    }

    /// Checks `value` against schema `path`; the error names the first
    /// violations and where in the value they are.
    pub(crate) fn check(&self, path: &str, value: &Value) -> Result<(), String> {
        let Some(validator) = self.validators.get(path) else {
            return Err(format!("no schema named {path}"));
        };
        let errors: Vec<String> = validator
            .iter_errors(value)
            .take(3)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("at {at}: {e}")
                }
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("does not match {path}: {}", errors.join("; ")))
        }
    }
}
