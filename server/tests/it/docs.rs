//! docs/protocol.md's examples, executed: every JSON example of a message,
//! request or response is produced by a real server and compared with the
//! document by status and shape (the same keys, recursively, with values of
//! the same JSON type; `type`, `status`, `code` and `protocol` to the
//! letter). A new example, or a new row in the error table, that this file
//! does not know how to produce fails the test, so the document cannot drift
//! from the server unnoticed.

use std::collections::BTreeSet;

use brain_ws_server::{Config, Server};
use serde_json::{Map, Value, json};

use crate::security::{claims, hs, hs_auth};
use crate::support::*;

const PROTOCOL: &str = include_str!("../../../docs/protocol.md");

/// The text under the heading line that starts with `heading`, up to the
/// next heading of the same or a higher level.
fn section(heading: &str) -> &'static str {
    let level = heading.split(' ').next().expect("#s").len();
    let start = PROTOCOL
        .lines()
        .position(|l| l.starts_with(heading))
        .unwrap_or_else(|| panic!("docs/protocol.md has no heading {heading:?}"));
    let lines: Vec<&str> = PROTOCOL.lines().collect();
    let end = (start + 1..lines.len())
        .find(|&i| {
            let hashes = lines[i].chars().take_while(|c| *c == '#').count();
            hashes > 0 && hashes <= level && lines[i].chars().nth(hashes) == Some(' ')
        })
        .unwrap_or(lines.len());
    let from = PROTOCOL.find(lines[start]).expect("line");
    let to = if end == lines.len() {
        PROTOCOL.len()
    } else {
        from + PROTOCOL[from..].find(lines[end]).expect("line")
    };
    &PROTOCOL[from..to]
}

/// Every JSON value in the ```json blocks of `text`, block by block.
fn json_blocks(text: &str) -> Vec<Vec<Value>> {
    text.split("```json")
        .skip(1)
        .map(|rest| {
            let block = &rest[..rest.find("```").expect("closed block")];
            serde_json::Deserializer::from_str(block)
                .into_iter::<Value>()
                .collect::<Result<_, _>>()
                .unwrap_or_else(|e| panic!("a JSON example does not parse: {e}\n{block}"))
        })
        .collect()
}

/// Keys whose values the examples give to the letter.
const EXACT: [&str; 4] = ["type", "status", "code", "protocol"];

/// Why `actual` does not have the shape of the documented `doc`, if it does not.
fn shape_mismatch(doc: &Value, actual: &Value, path: &str) -> Option<String> {
    match (doc, actual) {
        (Value::Object(d), Value::Object(a)) => {
            let dk: BTreeSet<&String> = d.keys().collect();
            let ak: BTreeSet<&String> = a.keys().collect();
            if dk != ak {
                return Some(format!(
                    "{path}: the docs have keys {dk:?}, the server sends {ak:?}"
                ));
            }
            d.iter().find_map(|(k, v)| {
                if EXACT.contains(&k.as_str()) && v != &a[k] {
                    return Some(format!("{path}.{k}: the docs say {v}, the server {}", a[k]));
                }
                shape_mismatch(v, &a[k], &format!("{path}.{k}"))
            })
        }
        (Value::Array(d), Value::Array(a)) => match d.first() {
            Some(first) => a
                .iter()
                .enumerate()
                .find_map(|(i, v)| shape_mismatch(first, v, &format!("{path}[{i}]"))),
            None => {
                (!a.is_empty()).then(|| format!("{path}: the docs show [], the server {actual}"))
            }
        },
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => None,
        _ => Some(format!(
            "{path}: the docs show {doc}, the server sends {actual}"
        )),
    }
}

#[track_caller]
fn assert_shape(doc: &Value, actual: &Value) {
    if let Some(why) = shape_mismatch(doc, actual, "$") {
        panic!("{why}\n  docs:   {doc}\n  server: {actual}");
    }
}

/// A server with the defaults, as the HTTP examples assume.
async fn default_server() -> Server {
    start(|_| {}).await
}

/// A server that verifies tokens, lets clients publish on `chat:*` and keeps
/// history on `missions` only, for the WebSocket examples.
async fn ws_server() -> Server {
    start(|c: &mut Config| {
        c.authenticator = Some(hs_auth());
        c.client_publish_channels = vec!["chat:*".parse().expect("pattern")];
        c.history_channels = vec!["missions".parse().expect("pattern")];
        c.heartbeat_interval = std::time::Duration::from_millis(200);
    })
    .await
}

async fn request(server: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut request =
        reqwest::Client::new().request(method.parse().expect("method"), http_url(server, path));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_http_api_example_is_what_the_server_answers() {
    let server = default_server().await;
    // Subscribers on the channels the stats example shows.
    let _subscriber = Client::subscribed(&server, &["agents", "missions", "system"]).await;
    let api = section("## HTTP API");
    let mut executed = 0;
    for part in api.split("\n### `").skip(1) {
        let heading = &part[..part.find('`').expect("closing backtick")];
        let blocks = json_blocks(part);
        let (method, path) = heading.split_once(' ').expect("METHOD /path");
        let path = path
            .replace("{user_id}", "user-42")
            .replace("{channel}", "missions");
        match (method, blocks.as_slice()) {
            ("POST", [request_body, response]) => {
                let status: u16 = part
                    .split("→ `")
                    .nth(1)
                    .and_then(|s| s.split('`').next())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("{heading}: no → `status`"));
                let (got, body) = request(&server, method, &path, Some(&request_body[0])).await;
                assert_eq!(got, status, "{heading}: {body}");
                assert_shape(&response[0], &body);
            }
            ("GET", [response]) if path == "/api/ws/info" => {
                let (got, mut body) = request(&server, method, &path, None).await;
                assert_eq!(got, 200);
                // "values are the defaults; name, version and node_id are
                // illustrative": everything else to the letter.
                let mut doc = response[0].clone();
                for key in ["name", "version", "node_id"] {
                    assert_shape(&doc[key], &body[key]);
                    doc[key] = Value::Null;
                    body[key] = Value::Null;
                }
                assert_eq!(body, doc, "{heading}");
            }
            ("GET", [response]) => {
                let (got, body) = request(&server, method, &path, None).await;
                assert_eq!(got, 200, "{heading}: {body}");
                assert_shape(&response[0], &body);
            }
            ("GET", []) if heading.starts_with("GET /health") => {
                // `200 {"status": "ok"}` and `200 {"status": "ok", "checks": {...}}`.
                assert!(
                    part.contains(r#"`/health`: `200 {"status": "ok"}`"#),
                    "{part}"
                );
                let (got, body) = request(&server, "GET", "/health", None).await;
                assert_eq!((got, body), (200, json!({"status": "ok"})));
                assert!(
                    part.contains(
                        r#"`200
{"status": "ok", "checks": {...}}`"#
                    ),
                    "{part}"
                );
                let (got, body) = request(&server, "GET", "/ready", None).await;
                assert_eq!(got, 200);
                assert_eq!(body["status"], "ok");
                assert!(body["checks"].is_object(), "{body}");
            }
            ("GET", []) if heading.starts_with("GET /metrics") => {
                let text = metrics_text(&server).await;
                assert!(text.contains("# TYPE brain_ws_connections gauge"), "{text}");
                let (got, body) = request(&server, "GET", "/openapi.json", None).await;
                assert_eq!(got, 200);
                assert!(
                    body["openapi"]
                        .as_str()
                        .is_some_and(|v| v.starts_with("3.1")),
                    "{body}"
                );
            }
            _ => panic!("{heading}: an example this test does not know how to execute"),
        }
        executed += 1;
    }
    assert_eq!(executed, 9, "every endpoint section of ## HTTP API");
}

/// The error-body example and every row of the status table.
#[tokio::test]
async fn every_http_error_the_protocol_lists_is_what_the_server_answers() {
    let api = section("## HTTP API");
    // The inline example: request and answer.
    assert!(api.contains(
        "`POST /api/ws/broadcast` with the body `{\"channel\":\"\"}` gets `422`\n\
         `{\"error\": {\"code\": \"invalid_body\", \"message\": \"channel name is empty at line 1 column 14\"}}`"
    ));
    let open = default_server().await;
    let (status, body) = post(&open, "/api/ws/broadcast", r#"{"channel":""}"#).await;
    assert_eq!(
        (status, body),
        (
            422,
            json!({"error": {"code": "invalid_body", "message": "channel name is empty at line 1 column 14"}})
        )
    );
    let keyed = start(|c| {
        c.api_keys = vec!["docs-test-key-0123456789".into()];
        c.max_message_size = 256;
    })
    .await;
    let rows: Vec<(u16, String)> = api
        .lines()
        .filter(|l| l.starts_with("| 4") || l.starts_with("| 5"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            (
                cells[0].parse().expect("status"),
                cells[1].trim_matches('`').to_owned(),
            )
        })
        .collect();
    assert!(rows.len() >= 12, "{rows:?}");
    for (status, code) in rows {
        let (got, body) = match (status, code.as_str()) {
            (400, "invalid_json") => post(&open, "/api/ws/broadcast", "{").await,
            (400, "invalid_channel") => get(&open, "/api/ws/channels/bad%20name").await,
            (400, "invalid_message") => get(&open, "/ws/connect").await,
            (401, "unauthorized") => get(&keyed, "/api/ws/stats").await,
            (403, "forbidden") => {
                let response = reqwest::Client::new()
                    .get(http_url(&keyed, "/api/ws/stats"))
                    .bearer_auth("docs-test-key-wrong-0123")
                    .send()
                    .await
                    .expect("GET");
                (
                    response.status().as_u16(),
                    response.json().await.unwrap_or(Value::Null),
                )
            }
            (404, "not_found") => get(&open, "/no/such/route").await,
            (404, "presence_disabled") => get(&open, "/api/ws/channels/missions/presence").await,
            (405, "method_not_allowed") => {
                let response = reqwest::Client::new()
                    .delete(http_url(&open, "/api/ws/broadcast"))
                    .send()
                    .await
                    .expect("DELETE");
                assert_eq!(response.headers()["allow"], "POST");
                (
                    response.status().as_u16(),
                    response.json().await.unwrap_or(Value::Null),
                )
            }
            (413, "message_too_large") => {
                let big = json!({"channel": "missions", "message": "x".repeat(300)}).to_string();
                let response = reqwest::Client::new()
                    .post(http_url(&keyed, "/api/ws/broadcast"))
                    .bearer_auth("docs-test-key-0123456789")
                    .header("content-type", "application/json")
                    .body(big)
                    .send()
                    .await
                    .expect("POST");
                (
                    response.status().as_u16(),
                    response.json().await.unwrap_or(Value::Null),
                )
            }
            (422, "invalid_body") => post(&open, "/api/ws/broadcast", r#"{"channel": 7}"#).await,
            // The upgrade refusals and the broker's 503 are proved by the
            // lifecycle, security and multinode tests with the same bodies;
            // /ready's 503 by the multinode outage test.
            (429, "connection_limit")
            | (503, "connection_limit")
            | (503, "unavailable")
            | (503, "(health body)") => continue,
            other => panic!("a status row this test does not know: {other:?}"),
        };
        assert_eq!(got, status, "{code}: {body}");
        assert_eq!(body["error"]["code"], code.as_str(), "{status}: {body}");
        assert!(body["error"]["message"].is_string(), "{body}");
        assert_eq!(body.as_object().map(Map::len), Some(1), "{body}");
    }
}

#[tokio::test]
async fn every_websocket_example_is_what_the_server_sends() {
    let server = ws_server().await;
    // The welcome, with the token's user.
    let welcome_doc = json_blocks(section("## Connection lifecycle"));
    let token = hs(&claims("user-42", 600));
    let (mut client, welcome) =
        Client::connect_to(&server, &format!("/ws/connect?token={token}")).await;
    assert_eq!(welcome_doc.len(), 1);
    assert_shape(&welcome_doc[0][0], &welcome);
    assert_eq!(welcome["user_id"], "user-42");

    // The server-message examples, one scenario each.
    let examples = json_blocks(section("## Server messages"));
    assert_eq!(examples.len(), 1, "one block of examples");
    for doc in &examples[0] {
        let actual = match (doc["type"].as_str(), doc.get("epoch")) {
            (Some("ping"), _) => loop {
                let frame = client.recv().await;
                if frame["type"] == "ping" {
                    break frame;
                }
            },
            (Some("pong"), _) => {
                client.send_json(json!({"type": "ping"})).await;
                next_not_ping(&mut client).await
            }
            // A channel without history: no epoch or offset.
            (Some("subscribed"), None) => {
                client
                    .send_json(json!({"type": "subscribe", "channel": "tasks"}))
                    .await;
                next_not_ping(&mut client).await
            }
            // A history channel recovered from a known position.
            (Some("subscribed"), Some(_)) => {
                server
                    .node()
                    .emit_mission_started("m-1")
                    .await
                    .expect("emits");
                let mut probe = Client::subscribed(&server, &[]).await;
                let position = probe.subscribe("missions").await;
                client
                    .send_json(json!({"type": "subscribe", "channel": "missions",
                        "since": {"epoch": position["epoch"], "offset": 0}}))
                    .await;
                let reply = next_not_ping(&mut client).await;
                let replayed = next_not_ping(&mut client).await;
                assert_eq!(replayed["type"], "mission_started", "{replayed}");
                reply
            }
            (Some("unsubscribed"), _) => {
                client
                    .send_json(json!({"type": "unsubscribe", "channel": "tasks"}))
                    .await;
                next_not_ping(&mut client).await
            }
            (Some("error"), _) => {
                client
                    .send_json(json!({"type": "subscribe", "channel": ""}))
                    .await;
                let error = next_not_ping(&mut client).await;
                assert_eq!(&error, doc, "the error example to the letter");
                error
            }
            _ => panic!("a server-message example this test does not know: {doc}"),
        };
        assert_shape(doc, &actual);
    }
}

#[tokio::test]
async fn every_client_message_example_gets_the_documented_answer() {
    let server = ws_server().await;
    let mut listener = Client::subscribed(&server, &["chat:1"]).await;
    let (mut client, _) = Client::connect(&server).await;
    let rows: Vec<&str> = section("## Client messages")
        .lines()
        .filter(|l| l.starts_with("| `{"))
        .collect();
    assert_eq!(rows.len(), 5, "{rows:?}");
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        let message: Value = serde_json::from_str(cells[0].trim_matches('`')).expect("JSON");
        client.send_json(message.clone()).await;
        if cells[2].starts_with("nothing") {
            assert_eq!(client.roundtrip().await, Vec::<Value>::new(), "{message}");
        } else {
            let answer = cells[2].split('`').nth(1).expect("a `type`");
            let reply = next_not_ping(&mut client).await;
            assert_eq!(reply["type"], answer, "{message}: {reply}");
        }
        if message["type"] == "publish" {
            let event = next_not_ping(&mut listener).await;
            assert_eq!(event["type"], message["event"]);
            assert_eq!(event["channel"], message["channel"]);
            assert_eq!(event["data"], message["data"]);
        }
    }
}

#[tokio::test]
async fn the_event_envelope_and_catalogue_examples_are_what_subscribers_get() {
    let server = ws_server().await;
    let mut subscriber = Client::subscribed(&server, &["missions"]).await;
    // The envelope example, from the broadcast request example.
    let envelope = &json_blocks(section("## Event envelope"))[0][0];
    let broadcast = &json_blocks(section("### `POST /api/ws/broadcast`"))[0][0];
    let (status, _) = request(&server, "POST", "/api/ws/broadcast", Some(broadcast)).await;
    assert_eq!(status, 200);
    let event = next_not_ping(&mut subscriber).await;
    assert_shape(envelope, &event);
    assert_eq!(event["data"], envelope["data"]);
    // The catalogue example: the seed's emit_mission_created.
    let created = &json_blocks(section("## Event catalogue"))[0][0];
    let mut data = Map::new();
    data.insert("name".into(), json!("Deploy Application"));
    data.insert("priority".into(), json!("high"));
    server
        .node()
        .emit_mission_created("mission_123", data)
        .await
        .expect("emits");
    let event = next_not_ping(&mut subscriber).await;
    assert_shape(created, &event);
    assert_eq!(event["data"], created["data"]);
}

/// The next frame that is not a server heartbeat.
async fn next_not_ping(client: &mut Client) -> Value {
    loop {
        let frame = client.recv().await;
        if frame["type"] != "ping" {
            return frame;
        }
    }
}

/// `name kind` of every `# TYPE` line of a server's `/metrics`.
async fn exported_metrics(server: &Server) -> BTreeSet<(String, String)> {
    metrics_text(server)
        .await
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (name, kind) = l.split_once(' ').expect("name kind");
            (name.to_owned(), kind.to_owned())
        })
        .collect()
}

/// docs/operations.md's metric table is exactly what the two brokers export.
#[tokio::test]
async fn the_metrics_table_lists_every_metric_a_node_exports() {
    let operations = include_str!("../../../docs/operations.md");
    let documented: BTreeSet<(String, String)> = operations
        .lines()
        .filter(|l| l.starts_with("| `brain_ws_"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            let name = cells[0].trim_matches('`');
            let name = name.split('{').next().expect("name");
            (name.to_owned(), cells[1].to_owned())
        })
        .collect();
    let memory = default_server().await;
    let mut exported = exported_metrics(&memory).await;
    let redis_only: BTreeSet<(String, String)> = documented
        .iter()
        .filter(|(name, _)| {
            operations
                .lines()
                .any(|l| l.starts_with(&format!("| `{name}`")) && l.contains("Redis broker only"))
        })
        .cloned()
        .collect();
    assert!(exported.is_disjoint(&redis_only), "{exported:?}");
    let Some(url) = crate::multinode::shared_redis("docs::metrics").await else {
        assert_eq!(exported, &documented - &redis_only);
        return;
    };
    let prefix = crate::multinode::unique_prefix();
    let redis = start(|c| {
        c.broker = brain_ws_server::BrokerConfig::Redis(url);
        c.redis_prefix = prefix;
    })
    .await;
    let with_redis = exported_metrics(&redis).await;
    assert_eq!(
        &with_redis - &exported,
        redis_only,
        "the Redis broker's metrics"
    );
    exported.extend(with_redis);
    assert_eq!(exported, documented, "docs/operations.md's metric table");
    redis.shutdown().await;
}

/// The Presence section's examples: the subscribe exchange, `join` and
/// `leave`, and the inline bodies of the two reads and of the 404.
#[tokio::test]
async fn the_presence_examples_are_what_the_server_sends() {
    let server = start(|c| {
        c.presence_channels = vec!["agents".parse().expect("pattern")];
        c.authenticator = Some(std::sync::Arc::new(
            brain_ws_server::StaticTokens::new().with("tok-42", "user-42"),
        ));
    })
    .await;
    let text = section("## Presence");
    let examples = json_blocks(text);
    assert_eq!(examples.len(), 1, "one block of examples");
    let [subscribe, subscribed, join, leave] = examples[0].as_slice() else {
        panic!("subscribe, subscribed, join, leave: {:?}", examples[0]);
    };
    let (mut watcher, _) = Client::connect_to(&server, "/ws/connect?token=tok-42").await;
    watcher.send_json(subscribe.clone()).await;
    assert_shape(subscribed, &watcher.recv().await);
    let (mut member, _) = Client::connect_to(&server, "/ws/connect?token=tok-42").await;
    member.subscribe("agents").await;
    assert_shape(join, &watcher.recv().await);

    // The inline bodies: `{...}` spans of the bullet list.
    let bodies: Vec<Value> = text
        .split('`')
        .filter(|span| span.starts_with('{') && !span.contains("\"type\""))
        .map(|span| serde_json::from_str(span).unwrap_or_else(|e| panic!("{span}: {e}")))
        .collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    let (status, members) = get(&server, "/api/ws/channels/agents/presence").await;
    assert_eq!(status, 200);
    assert_shape(&bodies[0], &members);
    let (status, stats) = get(&server, "/api/ws/channels/agents/presence/stats").await;
    assert_eq!(status, 200);
    assert_shape(&bodies[1], &stats);
    assert_eq!(
        (&stats["connections"], &stats["users"]),
        (&json!(2), &json!(1)),
        "two connections of one user"
    );
    let (status, refused) = get(&server, "/api/ws/channels/missions/presence").await;
    assert_eq!((status, &refused), (404, &bodies[2]));

    member
        .send_json(json!({"type": "unsubscribe", "channel": "agents"}))
        .await;
    assert_shape(leave, &watcher.recv().await);
    server.shutdown().await;
}

/// docs/operations.md's three embedding lines are, to the character, the
/// ones `embedded::three_lines_embed_the_server_in_an_existing_app` runs.
#[test]
fn the_embedding_lines_are_the_tested_ones() {
    let operations = include_str!("../../../docs/operations.md");
    let section = &operations[operations
        .find("## Embedding")
        .expect("the Embedding section")..];
    let block = section
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a rust block");
    let test = include_str!("embedded.rs");
    let tested = test
        .split("// embedding: begin\n")
        .nth(1)
        .and_then(|rest| rest.split("    // embedding: end").next())
        .expect("the marked lines");
    let tested: Vec<&str> = tested.lines().map(str::trim).collect();
    let documented: Vec<&str> = block.lines().collect();
    assert_eq!(documented.len(), 3, "{block}");
    assert_eq!(documented, tested);
}
