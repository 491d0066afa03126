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
/// `GET /api/ws/channels/{c}/history` response.
pub(crate) const HISTORY_RESPONSE: &str = "http/history-response.json";
/// `GET /api/ws/info` response.
pub(crate) const INFO_RESPONSE: &str = "http/info-response.json";
/// `GET /api/ws/channels/{channel}/presence`.
pub(crate) const PRESENCE_RESPONSE: &str = "http/presence-response.json";
/// `GET /api/ws/channels/{channel}/presence/stats`.
pub(crate) const PRESENCE_STATS_RESPONSE: &str = "http/presence-stats-response.json";
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

/// The `$defs` entry of `server-message.json` that describes each control
/// message type; anything else is an `EventEnvelope`.
const SERVER_VARIANTS: &[(&str, &str)] = &[
    ("connected", "Connected"),
    ("ping", "Ping"),
    ("pong", "Pong"),
    ("subscribed", "Subscribed"),
    ("unsubscribed", "Unsubscribed"),
    ("error", "ErrorMessage"),
];
const EVENT_VARIANT: &str = "EventEnvelope";

/// Compiled validators by schema path (relative to `schemas/`).
#[derive(Clone)]
pub(crate) struct Schemas {
    validators: Arc<HashMap<&'static str, jsonschema::Validator>>,
    /// One validator per server message type, used only to explain a frame
    /// that fails `server-message.json`: its `oneOf` alone would only say
    /// "not valid under any of the schemas".
    server_variants: Arc<HashMap<&'static str, jsonschema::Validator>>,
}

impl Schemas {
    /// Compiles every JSON Schema of the protocol crate, with `format`
    /// checks on (so `connection_id` must be a UUID).
    pub(crate) fn compile() -> Result<Self, SchemaError> {
        let mut validators = HashMap::new();
        let mut server_variants = HashMap::new();
        for doc in json_schemas() {
            validators.insert(doc.path, build(doc.path, &doc.document)?);
            if doc.path == SERVER_MESSAGE {
                let defs = doc.document.get("$defs").cloned().unwrap_or_default();
                let names = SERVER_VARIANTS
                    .iter()
                    .map(|(_, n)| *n)
                    .chain([EVENT_VARIANT]);
                for name in names {
                    let variant = serde_json::json!({
                        "$schema": doc.document.get("$schema"),
                        "$defs": defs,
                        "$ref": format!("#/$defs/{name}"),
                    });
                    server_variants.insert(name, build(doc.path, &variant)?);
                }
            }
        }
        Ok(Self {
            validators: Arc::new(validators),
            server_variants: Arc::new(server_variants),
        })
    }

    /// Checks `value` against schema `path`; the error names the first
    /// violations and where in the value they are.
    pub(crate) fn check(&self, path: &str, value: &Value) -> Result<(), String> {
        let Some(validator) = self.validators.get(path) else {
            return Err(format!("no schema named {path}"));
        };
        if validator.is_valid(value) {
            return Ok(());
        }
        // For a server frame, explain with the schema of its own type.
        let specific = (path == SERVER_MESSAGE)
            .then(|| {
                let kind = value.get("type").and_then(Value::as_str)?;
                let name = SERVER_VARIANTS
                    .iter()
                    .find(|(t, _)| *t == kind)
                    .map_or(EVENT_VARIANT, |(_, n)| *n);
                let variant = self.server_variants.get(name)?;
                let errors = describe(variant, value);
                (!errors.is_empty()).then(|| format!("as {name}: {}", errors.join("; ")))
            })
            .flatten();
        let reason = specific.unwrap_or_else(|| describe(validator, value).join("; "));
        Err(format!("does not match {path}: {reason}"))
    }
}

fn build(path: &'static str, schema: &Value) -> Result<jsonschema::Validator, SchemaError> {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| SchemaError {
            path,
            reason: e.to_string(),
        })
}

/// The first few violations of `value`, each with where it is.
fn describe(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
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
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn frames_are_checked_with_their_formats() {
        let schemas = Schemas::compile().expect("schemas compile");
        let mut welcome = json!({"type": "connected", "connection_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "timestamp": 1703001234.56, "heartbeat_interval": 30.0, "protocol": "brain.v1"});
        assert_eq!(schemas.check(SERVER_MESSAGE, &welcome), Ok(()));
        welcome["connection_id"] = json!("abc");
        assert_eq!(
            schemas.check(SERVER_MESSAGE, &welcome),
            Err(r#"does not match server-message.json: as Connected: at /connection_id: "abc" is not a "uuid""#.into())
        );
        let unsubscribed = json!({"type": "unsubscribed", "channel": "missions"});
        assert_eq!(
            schemas.check(SERVER_MESSAGE, &unsubscribed),
            Err(r#"does not match server-message.json: as Unsubscribed: "timestamp" is a required property"#.into())
        );
        let event = json!({"type": "mission_created", "channel": "bad channel", "data": {}, "timestamp": 1.5});
        assert_eq!(
            schemas.check(SERVER_MESSAGE, &event),
            Err(r#"does not match server-message.json: as EventEnvelope: at /channel: "bad channel" is not valid under any of the schemas listed in the 'anyOf' keyword"#.into())
        );
    }
}
