//! The HTTP API: shapes, error statuses, admin protection.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn stats_and_channel_endpoints_count_exactly() {
    let server = start(|_| {}).await;
    let a = Client::subscribed(&server, &["missions", "agents"]).await;
    let b = Client::subscribed(&server, &["missions"]).await;
    let (status, stats) = get(&server, "/api/ws/stats").await;
    assert_eq!(status, 200);
    assert_eq!(
        stats,
        json!({"total_connections": 2, "total_users": 0, "total_channels": 2, "channels": {"missions": 2, "agents": 1}})
    );
    let (status, channel) = get(&server, "/api/ws/channels/missions").await;
    assert_eq!(status, 200);
    assert_eq!(channel["channel"], "missions");
    assert_eq!(channel["subscribers"], 2);
    assert_eq!(channel["connection_ids"].as_array().map(Vec::len), Some(2));
    let (_, empty) = get(&server, "/api/ws/channels/nobody-here").await;
    assert_eq!(
        empty,
        json!({"channel": "nobody-here", "subscribers": 0, "connection_ids": []})
    );
    let (status, bad) = get(&server, "/api/ws/channels/bad%20name").await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("invalid_channel"))
    );

    a.close().await;
    b.close().await;
    eventually("counts return to zero", async || {
        let (_, stats) = get(&server, "/api/ws/stats").await;
        stats == json!({"total_connections": 0, "total_users": 0, "total_channels": 0, "channels": {}})
    })
    .await;
}

#[tokio::test]
async fn bad_bodies_get_json_errors_with_the_documented_statuses() {
    let server = start(|c| c.max_message_size = 1024).await;
    let cases = [
        ("/api/ws/broadcast", "{nope".to_owned(), 400, "invalid_json"),
        (
            "/api/ws/broadcast",
            r#"{"message":1}"#.to_owned(),
            422,
            "invalid_body",
        ),
        (
            "/api/ws/broadcast",
            r#"{"channel":"a b","message":1}"#.to_owned(),
            422,
            "invalid_body",
        ),
        (
            "/api/ws/broadcast",
            r#"{"channel":"m","message":1,"type":"ping"}"#.to_owned(),
            422,
            "invalid_body",
        ),
        (
            "/api/ws/broadcast/all",
            r#"{"data":1}"#.to_owned(),
            422,
            "invalid_body",
        ),
        (
            "/api/ws/users/u/send",
            r#"{"type":"","data":1}"#.to_owned(),
            422,
            "invalid_body",
        ),
        (
            "/api/ws/broadcast",
            format!(r#"{{"channel":"m","message":"{}"}}"#, "x".repeat(2000)),
            413,
            "message_too_large",
        ),
    ];
    for (path, body, status, code) in cases {
        let (got_status, got) = post(&server, path, &body).await;
        assert_eq!(
            (got_status, got["error"]["code"].as_str()),
            (status, Some(code)),
            "{path} {body:.60}"
        );
        assert!(
            got["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (status, body) = get(&server, "/no/such/thing").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[tokio::test]
async fn admin_endpoints_require_the_api_key_when_one_is_configured() {
    let key = "k-0123456789abcdef";
    let server = start(|c| c.api_keys = vec![key.to_owned()]).await;
    let client = reqwest::Client::new();
    let url = http_url(&server, "/api/ws/stats");
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(client.get(&url).send().await.expect("get")), 401);
    assert_eq!(
        status(
            client
                .get(&url)
                .bearer_auth("k-wrong-wrong-wrong")
                .send()
                .await
                .expect("get")
        ),
        403
    );
    assert_eq!(
        status(client.get(&url).bearer_auth(key).send().await.expect("get")),
        200
    );
    let broadcast = http_url(&server, "/api/ws/broadcast");
    let body = r#"{"channel":"m","message":1}"#;
    assert_eq!(
        status(
            client
                .post(&broadcast)
                .body(body)
                .send()
                .await
                .expect("post")
        ),
        401
    );
    assert_eq!(
        status(
            client
                .post(&broadcast)
                .bearer_auth(key)
                .body(body)
                .send()
                .await
                .expect("post")
        ),
        200
    );
    // Info and health stay public.
    assert_eq!(get(&server, "/api/ws/info").await.0, 200);
    assert_eq!(get(&server, "/health").await.0, 200);
}

#[tokio::test]
async fn info_health_ready_metrics_and_openapi_describe_the_server() {
    let server = start(|c| c.max_subscriptions = 7).await;
    let (status, info) = get(&server, "/api/ws/info").await;
    assert_eq!(status, 200);
    assert_eq!(info["protocol"], "brain.v1");
    assert_eq!(info["max_subscriptions"], 7);
    assert_eq!(info["max_message_size"], 65536);
    assert_eq!(info["heartbeat_interval"], 30.0);
    assert_eq!(info["broker"], "memory");
    assert_eq!(
        info["features"],
        json!({"authentication": false, "history": true, "client_publish": false, "multi_node": false, "presence": false, "rewind": true, "history_read": true})
    );
    assert_eq!(
        info["history"]["channels"],
        json!(["missions", "agents", "system", "tasks", "audit", "metrics"])
    );
    assert_eq!(
        get(&server, "/health").await,
        (200, json!({"status": "ok"}))
    );
    assert_eq!(get(&server, "/ready").await.0, 200);
    let (status, openapi) = get(&server, "/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(openapi["openapi"], "3.1.0");
    assert!(openapi["paths"]["/api/ws/broadcast"]["post"].is_object());
    assert!(openapi["components"]["schemas"]["broadcast-request"].is_object());
    let _client = Client::subscribed(&server, &["missions"]).await;
    assert_eq!(metric(&server, "brain_ws_connections").await, 1.0);
    assert_eq!(
        metric(
            &server,
            "brain_ws_channel_subscribers{channel=\"missions\"}"
        )
        .await,
        1.0
    );
    let page = reqwest::get(http_url(&server, "/static/websocket_test.html"))
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.expect("text").contains("BRAiN"));
}

#[tokio::test]
async fn wrong_methods_and_plain_requests_to_websocket_endpoints_get_json_errors() {
    let server = start(|_| {}).await;
    let response = reqwest::Client::new()
        .delete(http_url(&server, "/api/ws/broadcast"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status().as_u16(), 405);
    let body: serde_json::Value = response.json().await.expect("JSON body");
    assert_eq!(body["error"]["code"], "method_not_allowed");

    // A plain GET (no upgrade headers) on a WebSocket endpoint.
    let (status, body) = get(&server, "/ws/connect").await;
    assert!((400..500).contains(&status), "{status}");
    assert_eq!(body["error"]["code"], "invalid_message");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("WebSocket")),
        "{body}"
    );
}
