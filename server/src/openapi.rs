//! The OpenAPI 3.1 document of the HTTP API, built from the same JSON Schemas
//! as `schemas/` (OpenAPI 3.1 schemas are JSON Schema 2020-12). Deriving a
//! second schema description with utoipa would give two sources of truth for
//! one wire format; this keeps the protocol crate the only one.

use brain_ws_protocol::schema::{json_schemas, rewrite_refs};
use serde_json::{Map, Value, json};

/// The document served at `/openapi.json`.
pub(crate) fn document() -> Value {
    let mut components = Map::new();
    for doc in json_schemas() {
        let Some(name) = doc
            .path
            .strip_prefix("http/")
            .and_then(|p| p.strip_suffix(".json"))
        else {
            continue;
        };
        let mut schema = rewrite_refs(doc.document);
        if let Some(Value::Object(defs)) = schema.as_object_mut().and_then(|o| o.remove("$defs")) {
            components.extend(defs);
        }
        if let Some(o) = schema.as_object_mut() {
            o.remove("$schema");
        }
        components.insert(name.to_owned(), schema);
    }
    let body = |name: &str| json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } } });
    let ok = |name: &str| json!({ "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } } } });
    let with_errors = |mut responses: Value, codes: &[&str]| {
        for code in codes {
            responses[*code] = json!({ "description": "Error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/error-body" } } } });
        }
        responses
    };
    let admin = json!([{ "apiKey": [] }]);
    let mutating = ["400", "401", "403", "413", "422", "503"];
    let listing = ["401", "403"];
    let channel_parameter = json!({ "name": "channel", "in": "path", "required": true,
        "description": "A channel name (an invalid one is 400 invalid_channel).",
        "schema": { "$ref": "#/components/schemas/ChannelName" } });
    json!({
        "openapi": "3.1.0",
        "info": { "title": "BRAiN WebSocket System HTTP API", "version": env!("CARGO_PKG_VERSION") },
        "paths": {
            "/api/ws/broadcast": { "post": { "summary": "Broadcast an event to a channel", "security": admin, "requestBody": body("broadcast-request"), "responses": with_errors(ok("broadcast-response"), &mutating) } },
            "/api/ws/broadcast/all": { "post": { "summary": "Broadcast an event to every connection", "security": admin, "requestBody": body("broadcast-all-request"), "responses": with_errors(ok("broadcast-all-response"), &mutating) } },
            "/api/ws/users/{user_id}/send": { "post": { "summary": "Send an event to every connection of a user", "security": admin,
                "parameters": [{ "name": "user_id", "in": "path", "required": true,
                    "description": "The user id: 1 to 256 bytes of UTF-8 (a longer one is 422 invalid_body). The limit is in bytes (x-max-bytes); maxLength counts characters, so 256 characters that take more than 256 bytes are refused too.",
                    "schema": { "type": "string", "minLength": 1, "maxLength": crate::http_api::MAX_USER_ID_BYTES, "x-max-bytes": crate::http_api::MAX_USER_ID_BYTES } }],
                "requestBody": body("send-to-user-request"), "responses": with_errors(ok("send-to-user-response"), &mutating) } },
            "/api/ws/stats": { "get": { "summary": "Connection, user and channel counts", "security": admin, "responses": with_errors(ok("stats-response"), &listing) } },
            "/api/ws/channels/{channel}": { "get": { "summary": "A channel's subscribers", "security": admin,
                "parameters": [{ "name": "channel", "in": "path", "required": true,
                    "description": "A channel name (an invalid one is 400 invalid_channel).",
                    "schema": { "$ref": "#/components/schemas/ChannelName" } }],
                "responses": with_errors(ok("channel-subscribers-response"), &["400", "401", "403", "404", "405"]) } },
            "/api/ws/channels/{channel}/history": { "get": { "summary": "A history channel's retained events, newest last (docs/protocol.md, HTTP API)", "security": admin,
                "parameters": [
                    { "name": "channel", "in": "path", "required": true,
                      "description": "A channel name (an invalid one is 400 invalid_channel; one without history is 404 not_found).",
                      "schema": { "$ref": "#/components/schemas/ChannelName" } },
                    { "name": "limit", "in": "query", "required": false,
                      "description": "Most events to return: 1 to the history size (info history.size), default the history size; outside that 400 invalid_message.",
                      "schema": { "type": "integer", "minimum": 1 } },
                    { "name": "since", "in": "query", "required": false,
                      "description": "EPOCH:OFFSET of the last event read: the events after it. Outside the retained window the oldest retained, with complete false. Malformed: 400 invalid_message.",
                      "schema": { "type": "string", "pattern": "^.+:[0-9]+$" } }
                ],
                "responses": with_errors(ok("history-response"), &["400", "401", "403", "404", "405", "503"]) } },
            "/api/ws/channels/{channel}/presence": { "get": { "summary": "A presence channel's members across the cluster (404 presence_disabled on a channel without presence)", "security": admin,
                "parameters": [channel_parameter.clone()],
                "responses": with_errors(ok("presence-response"), &["400", "401", "403", "404", "405", "503"]) } },
            "/api/ws/channels/{channel}/presence/stats": { "get": { "summary": "A presence channel's connection and distinct-user counts, kept incrementally", "security": admin,
                "parameters": [channel_parameter],
                "responses": with_errors(ok("presence-stats-response"), &["400", "401", "403", "404", "405", "503"]) } },
            "/api/ws/info": { "get": { "summary": "Server settings and features", "responses": ok("info-response") } },
            "/health": { "get": { "summary": "Liveness", "responses": ok("health-response") } },
            "/ready": { "get": { "summary": "Readiness (503 while shutting down or the broker is down)", "responses": with_errors(ok("health-response"), &["503"]) } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "responses": { "200": { "description": "Prometheus text format", "content": { "text/plain": {} } } } } }
        },
        "components": {
            "schemas": components,
            "securitySchemes": { "apiKey": { "type": "http", "scheme": "bearer", "description": "An --api-key value. Without configured keys, loopback peers need none." } }
        }
    })
}
