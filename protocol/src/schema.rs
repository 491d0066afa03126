//! The JSON Schema and AsyncAPI documents generated from this crate's types.
//!
//! `schemas/` holds these documents, committed; `protocol/tests/schemas.rs`
//! fails when they differ from what the types generate, and regenerates them
//! with `UPDATE_SCHEMAS=1 cargo test -p brain-ws-protocol --test schemas`.
//! The conformance suite validates every frame it receives against them.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use crate::catalog::{AgentEvent, AuditEvent, MetricsEvent, MissionEvent, SystemEvent, TaskEvent};
use crate::http::{
    BroadcastAllRequest, BroadcastAllResponse, BroadcastRequest, BroadcastResponse,
    ChannelSubscribersResponse, ErrorBody, HealthResponse, HistoryResponse, InfoResponse,
    PresenceResponse, PresenceStatsResponse, SendToUserRequest, SendToUserResponse, StatsResponse,
};
use crate::{ClientMessage, PROTOCOL_VERSION, ServerMessage};

/// One generated document and where it lives under `schemas/`.
#[derive(Debug, Clone)]
pub struct SchemaDocument {
    /// Path relative to `schemas/`, such as `client-message.json`.
    pub path: &'static str,
    /// The document.
    pub document: Value,
}

fn schema_of<T: JsonSchema>() -> Value {
    let schema: Schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.to_value()
}

/// Every JSON Schema document, draft 2020-12, in a stable order.
pub fn json_schemas() -> Vec<SchemaDocument> {
    macro_rules! docs {
        ($($path:literal => $ty:ty),* $(,)?) => {
            vec![$(SchemaDocument { path: $path, document: schema_of::<$ty>() }),*]
        };
    }
    docs![
        "client-message.json" => ClientMessage,
        "server-message.json" => ServerMessage,
        "http/broadcast-request.json" => BroadcastRequest,
        "http/broadcast-response.json" => BroadcastResponse,
        "http/broadcast-all-request.json" => BroadcastAllRequest,
        "http/broadcast-all-response.json" => BroadcastAllResponse,
        "http/send-to-user-request.json" => SendToUserRequest,
        "http/send-to-user-response.json" => SendToUserResponse,
        "http/stats-response.json" => StatsResponse,
        "http/channel-subscribers-response.json" => ChannelSubscribersResponse,
        "http/info-response.json" => InfoResponse,
        "http/presence-response.json" => PresenceResponse,
        "http/presence-stats-response.json" => PresenceStatsResponse,
        "http/history-response.json" => HistoryResponse,
        "http/health-response.json" => HealthResponse,
        "http/error-body.json" => ErrorBody,
        "events/missions.json" => MissionEvent,
        "events/agents.json" => AgentEvent,
        "events/system.json" => SystemEvent,
        "events/tasks.json" => TaskEvent,
        "events/audit.json" => AuditEvent,
        "events/metrics.json" => MetricsEvent,
    ]
}

/// Every document: the JSON Schemas, `close-codes.json` and `asyncapi.json`.
pub fn documents() -> Vec<SchemaDocument> {
    let mut docs = json_schemas();
    docs.push(SchemaDocument {
        path: "close-codes.json",
        document: crate::CloseCode::document(),
    });
    docs.push(SchemaDocument {
        path: "asyncapi.json",
        document: asyncapi(),
    });
    docs
}

/// An AsyncAPI 3.0 document for the two WebSocket endpoints, built from the
/// same schemas: one message per client and server message type.
pub fn asyncapi() -> Value {
    let mut components = Map::new();
    let mut client_messages = Map::new();
    let mut server_messages = Map::new();

    // Client and server both have `ping` and `pong`: message ids carry the sender.
    for (root, sink, sender) in [
        (schema_of::<ClientMessage>(), &mut client_messages, "client"),
        (schema_of::<ServerMessage>(), &mut server_messages, "server"),
    ] {
        collect_defs(&root, &mut components);
        for (name, payload) in variants(&root, &components) {
            sink.insert(
                format!("{sender}_{name}"),
                json!({ "name": name, "title": format!("{name} ({sender} to {})", if sender == "client" { "server" } else { "client" }), "contentType": "application/json", "payload": payload }),
            );
        }
    }

    let refs = |msgs: &Map<String, Value>| -> Value {
        msgs.keys()
            .map(|k| {
                (
                    k.clone(),
                    json!({ "$ref": format!("#/components/messages/{k}") }),
                )
            })
            .collect::<Map<_, _>>()
            .into()
    };
    let channel_refs = |channel: &str, msgs: &Map<String, Value>| -> Value {
        msgs.keys()
            .map(|k| json!({ "$ref": format!("#/channels/{channel}/messages/{k}") }))
            .collect::<Vec<_>>()
            .into()
    };
    let mut all_messages = client_messages.clone();
    all_messages.extend(server_messages.clone());
    let token_binding = json!({
        "ws": {
            "query": {
                "type": "object",
                "properties": {
                    "token": { "type": "string", "description": "Optional JWT (also accepted as Authorization: Bearer or Sec-WebSocket-Protocol)" }
                }
            }
        }
    });

    let mut channels = Map::new();
    let mut operations = Map::new();
    for (id, address) in [
        ("connect", "/ws/connect"),
        ("channel", "/ws/channel/{channel}"),
    ] {
        let mut channel = json!({
            "address": address,
            "messages": refs(&all_messages),
            "bindings": token_binding,
        });
        if id == "channel" {
            channel["description"] = json!(
                "Connect and subscribe to {channel} at once; the server sends `connected` then `subscribed`."
            );
            channel["parameters"] =
                json!({ "channel": { "description": "A channel name (see ChannelName)" } });
        } else {
            channel["description"] =
                json!("Connect, then subscribe and unsubscribe with messages.");
        }
        channels.insert(id.into(), channel);
        operations.insert(
            format!("{id}.receive"),
            json!({
                "action": "receive",
                "channel": { "$ref": format!("#/channels/{id}") },
                "summary": "Messages the server receives from a client.",
                "messages": channel_refs(id, &client_messages),
            }),
        );
        operations.insert(
            format!("{id}.send"),
            json!({
                "action": "send",
                "channel": { "$ref": format!("#/channels/{id}") },
                "summary": "Messages the server sends to a client.",
                "messages": channel_refs(id, &server_messages),
            }),
        );
    }

    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "BRAiN WebSocket System",
            "version": PROTOCOL_VERSION,
            "description": "Real-time pub/sub over WebSocket: channels, per-user messages, broadcasts, heartbeat. See docs/protocol.md."
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": { "host": "127.0.0.1:8000", "protocol": "ws", "description": "brain-ws-server with its defaults" }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": components,
            "messages": all_messages,
        }
    })
}

/// Moves a root schema's `$defs` into AsyncAPI's `components.schemas`.
fn collect_defs(root: &Value, components: &mut Map<String, Value>) {
    if let Some(Value::Object(defs)) = root.get("$defs") {
        for (name, def) in defs {
            components.insert(name.clone(), rewrite_refs(def.clone()));
        }
    }
}

/// The branches of a root `oneOf` (following `$ref`s), named by their `type`
/// constant; a branch without one (the event envelope) is named `event`.
fn variants(root: &Value, components: &Map<String, Value>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let Some(Value::Array(branches)) = root.get("oneOf") else {
        return out;
    };
    for branch in branches {
        let branch = rewrite_refs(branch.clone());
        let resolved = match branch.get("$ref").and_then(Value::as_str) {
            Some(r) => r
                .strip_prefix("#/components/schemas/")
                .and_then(|n| components.get(n))
                .cloned()
                .unwrap_or(Value::Null),
            None => branch.clone(),
        };
        if let Some(Value::Array(inner)) = resolved.get("oneOf") {
            let nested = json!({ "oneOf": inner });
            out.extend(variants(&nested, components));
            continue;
        }
        let name = branch
            .pointer("/properties/type/const")
            .or_else(|| resolved.pointer("/properties/type/const"))
            .and_then(Value::as_str)
            .unwrap_or("event")
            .to_owned();
        out.push((name, branch));
    }
    out
}

/// Rewrites `#/$defs/X` references to `#/components/schemas/X`, for embedding
/// these schemas in AsyncAPI and OpenAPI documents.
pub fn rewrite_refs(value: Value) -> Value {
    match value {
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| {
                let v = match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        Value::String(r.replace("#/$defs/", "#/components/schemas/"))
                    }
                    (_, v) => rewrite_refs(v),
                };
                (k, v)
            })
            .collect::<Map<_, _>>()
            .into(),
        Value::Array(items) => items.into_iter().map(rewrite_refs).collect(),
        other => other,
    }
}
