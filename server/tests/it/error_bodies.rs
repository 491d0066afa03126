//! Every error of every endpoint is the documented JSON error body
//! (`{"error": {"code", "message"}}`, `application/json`) with the
//! documented status and code: bad path bytes, bad queries, bad bodies,
//! wrong methods, unknown routes, refused upgrades (issue 14, item 8). One
//! table, one request each, on a real server.

use serde_json::{Value, json};

use crate::support::*;

/// `(method, path, extra headers, body, status, code)`.
type Case = (
    &'static str,
    String,
    Vec<(&'static str, &'static str)>,
    &'static str,
    u16,
    &'static str,
);

const UPGRADE: [(&str, &str); 4] = [
    ("connection", "Upgrade"),
    ("upgrade", "websocket"),
    ("sec-websocket-version", "13"),
    ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
];

fn cases() -> Vec<Case> {
    let long_user = "u".repeat(257);
    let big = Box::leak(
        format!(
            r#"{{"channel":"missions","message":"{}"}}"#,
            "x".repeat(2048)
        )
        .into_boxed_str(),
    );
    vec![
        (
            "GET",
            "/api/ws/channels/%FF".into(),
            vec![],
            "",
            400,
            "invalid_channel",
        ),
        (
            "GET",
            "/api/ws/channels/%C3%28".into(),
            vec![],
            "",
            400,
            "invalid_channel",
        ),
        (
            "GET",
            "/api/ws/channels/bad%20name".into(),
            vec![],
            "",
            400,
            "invalid_channel",
        ),
        (
            "GET",
            "/ws/channel/%FF".into(),
            UPGRADE.to_vec(),
            "",
            400,
            "invalid_channel",
        ),
        (
            "GET",
            "/ws/channel/%FF".into(),
            vec![],
            "",
            400,
            "invalid_message",
        ),
        (
            "POST",
            "/api/ws/users/%FF/send".into(),
            vec![],
            r#"{"type":"t","data":{}}"#,
            422,
            "invalid_body",
        ),
        (
            "POST",
            format!("/api/ws/users/{long_user}/send"),
            vec![],
            r#"{"type":"t","data":{}}"#,
            422,
            "invalid_body",
        ),
        (
            "GET",
            "/ws/connect?token=%FF%FE".into(),
            vec![],
            "",
            400,
            "invalid_message",
        ),
        (
            "GET",
            "/ws/connect".into(),
            vec![("upgrade", "websocket")],
            "",
            400,
            "invalid_message",
        ),
        (
            "GET",
            "/ws/connect".into(),
            vec![
                ("connection", "Upgrade"),
                ("upgrade", "websocket"),
                ("sec-websocket-version", "8"),
                ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
            "",
            400,
            "invalid_message",
        ),
        (
            "POST",
            "/api/ws/broadcast".into(),
            vec![],
            "{not json",
            400,
            "invalid_json",
        ),
        (
            "POST",
            "/api/ws/broadcast".into(),
            vec![],
            r#"{"channel":"bad name","message":{}}"#,
            422,
            "invalid_body",
        ),
        (
            "POST",
            "/api/ws/broadcast".into(),
            vec![],
            r#"{"message":{}}"#,
            422,
            "invalid_body",
        ),
        (
            "POST",
            "/api/ws/broadcast".into(),
            vec![],
            big,
            413,
            "message_too_large",
        ),
        (
            "DELETE",
            "/api/ws/broadcast".into(),
            vec![],
            "",
            405,
            "method_not_allowed",
        ),
        (
            "POST",
            "/health".into(),
            vec![],
            "",
            405,
            "method_not_allowed",
        ),
        (
            "PUT",
            "/ws/connect".into(),
            vec![],
            "",
            405,
            "method_not_allowed",
        ),
        (
            "GET",
            "/api/ws/nothing".into(),
            vec![],
            "",
            404,
            "not_found",
        ),
        ("GET", "/static/%FF".into(), vec![], "", 404, "not_found"),
    ]
}

#[tokio::test]
async fn every_error_of_every_endpoint_is_the_documented_json_body() {
    let server = start(|c| c.max_message_size = 1024).await;
    let http = reqwest::Client::new();
    let mut got = Vec::new();
    let mut expected = Vec::new();
    for (method, path, headers, body, status, code) in cases() {
        let mut request = http.request(method.parse().expect("method"), http_url(&server, &path));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await.expect("request");
        let got_status = response.status().as_u16();
        let json = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let message_ok = body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty());
        let keys: Vec<&String> = body
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        got.push((
            format!("{method} {path:.60}"),
            got_status,
            json,
            body["error"]["code"].clone(),
            message_ok,
            keys.len(),
        ));
        expected.push((
            format!("{method} {path:.60}"),
            status,
            true,
            Value::from(code),
            true,
            1,
        ));
    }
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_bad_path_keeps_the_reason_and_a_405_keeps_its_allow_header() {
    let server = start(|_| {}).await;
    let (status, body) = get(&server, "/api/ws/channels/%FF").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "Invalid URL: Invalid UTF-8 in `channel`"
    );
    let response = reqwest::Client::new()
        .delete(http_url(&server, "/api/ws/stats"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(
        response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("GET,HEAD")
    );
}

#[tokio::test]
async fn openapi_path_parameters_carry_their_real_constraints() {
    let server = start(|_| {}).await;
    let (_, doc) = get(&server, "/openapi.json").await;
    let channel = &doc["paths"]["/api/ws/channels/{channel}"]["get"]["parameters"][0]["schema"];
    assert_eq!(channel["$ref"], "#/components/schemas/ChannelName");
    assert_eq!(
        doc["components"]["schemas"]["ChannelName"]["pattern"],
        "^[A-Za-z0-9_.:@-]{1,128}$"
    );
    let user = &doc["paths"]["/api/ws/users/{user_id}/send"]["post"]["parameters"][0]["schema"];
    assert_eq!(
        (&user["minLength"], &user["maxLength"], &user["x-max-bytes"]),
        (&Value::from(1), &Value::from(256), &Value::from(256))
    );
}

/// The OpenAPI `maxLength` counts characters, the server bytes: both
/// documents (the schema's `x-max-bytes`, docs/protocol.md) say the limit is
/// in bytes, and a string of 4-byte characters is accepted exactly up to it.
#[tokio::test]
async fn multi_byte_strings_are_limited_in_bytes_as_documented() {
    let server = start(|_| {}).await;
    let (_, doc) = get(&server, "/openapi.json").await;
    let key = &doc["components"]["schemas"]["broadcast-request"]["properties"]["idempotency_key"];
    assert_eq!(
        (&key["maxLength"], &key["x-max-bytes"]),
        (&Value::from(128), &Value::from(128)),
        "{key}"
    );
    let http = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let request = http.post(http_url(&server, &path)).json(&body);
        async move {
            let response = request.send().await.expect("POST");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("JSON body");
            (status, body)
        }
    };
    // U+1F600 is 4 bytes of UTF-8: 64 of them are 256 bytes, 65 are 260
    // bytes but only 65 characters (within maxLength 256).
    let face = "\u{1F600}";
    let event = json!({"type": "t", "data": {}});
    let (status, body) = post(
        format!("/api/ws/users/{}/send", face.repeat(64)),
        event.clone(),
    )
    .await;
    assert_eq!(
        (status, &body["user_id"]),
        (200, &Value::from(face.repeat(64)))
    );
    let (status, body) = post(format!("/api/ws/users/{}/send", face.repeat(65)), event).await;
    assert_eq!(
        (status, &body["error"]["code"], &body["error"]["message"]),
        (
            422,
            &Value::from("invalid_body"),
            &Value::from("user id must be 1 to 256 bytes")
        )
    );
    // 32 of them are 128 bytes, 33 are 132 bytes in 33 characters.
    let publish = |key: String| json!({"channel": "plain", "message": {}, "idempotency_key": key});
    let (status, body) = post("/api/ws/broadcast".into(), publish(face.repeat(32))).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &Value::from("broadcasted"))
    );
    let (status, body) = post("/api/ws/broadcast".into(), publish(face.repeat(33))).await;
    assert_eq!(
        (status, &body["error"]["code"], &body["error"]["message"]),
        (
            422,
            &Value::from("invalid_body"),
            &Value::from("idempotency_key must be 1 to 128 bytes")
        )
    );
}
