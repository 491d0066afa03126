//! The router mounted in an application's own axum server: the upgrade
//! cannot take the raw socket back there, so sessions write through axum's
//! `WebSocket`, and the wire behaviour must be the same as on our own
//! accept loop (which writes frames directly).

use brain_ws_protocol::{ChannelName, EventType};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

#[tokio::test]
async fn the_router_served_by_axum_delivers_and_answers_like_our_own_loop() {
    let server = start(|_| {}).await;
    let node = server.node();
    let addr = serve(brain_ws_server::router(node), true).await;
    let (mut ws, response) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws/channel/builds"))
            .await
            .expect("websocket connects");
    assert_eq!(response.status(), 101);
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    assert_eq!(next_json(&mut ws).await["type"], "subscribed");
    let channel = ChannelName::new("builds").expect("channel");
    let event = EventType::new("build_done").expect("event type");
    let delivered = node
        .publish(&channel, &event, json!({"id": 1}))
        .await
        .expect("publish");
    assert_eq!(
        delivered,
        brain_ws_server::Published::Local { recipients: 1 }
    );
    let mut got = next_json(&mut ws).await;
    got.as_object_mut().map(|o| o.remove("timestamp"));
    assert_eq!(
        got,
        json!({"type": "build_done", "channel": "builds", "data": {"id": 1}})
    );
    ws.send(Message::Text(r#"{"type":"ping"}"#.into()))
        .await
        .expect("send");
    assert_eq!(next_json(&mut ws).await["type"], "pong");
    server.shutdown().await;
}

async fn get_text(url: String) -> (u16, String) {
    let r = reqwest::get(url).await.expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// An application with its own `/health` and its own fallback takes the
/// BRAiN routers as they are: no panic, its routes and fallback win, ours
/// serve the rest.
#[tokio::test]
async fn the_routers_merge_into_an_app_with_its_own_fallback_and_health() {
    let server = start(|_| {}).await;
    let node = server.node();
    let app = app_with_its_own_routes()
        .merge(brain_ws_server::ws_router(node))
        .merge(brain_ws_server::admin_router(node));
    let addr = serve(app, true).await;
    the_app_keeps_its_own_routes(addr).await;
    a_broadcast_reaches_a_subscriber(addr, "").await;

    // The combined router merges too, and keeps the app's fallback.
    let app = axum::Router::new()
        .fallback(|| async { (axum::http::StatusCode::IM_A_TEAPOT, "the app's fallback") })
        .merge(brain_ws_server::router(node));
    let addr = serve(app, true).await;
    assert_eq!(get_text(format!("http://{addr}/elsewhere")).await.0, 418);
    assert_eq!(get_text(format!("http://{addr}/api/ws/info")).await.0, 200);
    // A known path with the wrong method still gets our JSON 405.
    let (status, body) = get_text(format!("http://{addr}/api/ws/broadcast")).await;
    assert_eq!(status, 405, "{body}");
    server.shutdown().await;
}

/// Nested under `/brain`: every endpoint answers there, and `/api/ws/info`
/// lists the paths actually served.
#[tokio::test]
async fn the_router_nests_under_a_prefix_and_info_reports_the_served_paths() {
    let server = start(|_| {}).await;
    let node = server.node();
    let app = axum::Router::new().nest("/brain", brain_ws_server::router(node));
    let addr = serve(app, true).await;
    let (status, body) = get_text(format!("http://{addr}/brain/api/ws/info")).await;
    assert_eq!(status, 200);
    let info: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        info["endpoints"]["websocket"],
        json!(["/brain/ws/connect", "/brain/ws/channel/{channel}"])
    );
    let http: Vec<&str> = info["endpoints"]["http"]
        .as_array()
        .expect("list")
        .iter()
        .map(|v| v.as_str().expect("string"))
        .collect();
    assert!(http.contains(&"POST /brain/api/ws/broadcast"), "{http:?}");
    assert!(http.contains(&"GET /brain/health"), "{http:?}");
    assert!(http.iter().all(|e| e.contains(" /brain/")), "{http:?}");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/brain/ws/connect"))
        .await
        .expect("websocket connects");
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    assert_eq!(get_text(format!("http://{addr}/brain/health")).await.0, 200);
    // Not nested, the same router lists the plain paths.
    let (_, body) = get_text(http_url(&server, "/api/ws/info")).await;
    let info: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(info["endpoints"]["websocket"][0], "/ws/connect");
    server.shutdown().await;
}

/// Served without `ConnectInfo` and without an API key, the admin API
/// cannot tell a loopback peer: 403 with the JSON body, not a 500.
#[tokio::test]
async fn the_admin_guard_answers_403_without_connect_info() {
    let server = start(|_| {}).await;
    let addr = serve(brain_ws_server::router(server.node()), false).await;
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/ws/broadcast"))
        .json(&json!({"channel": "builds", "message": {}}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(get_text(format!("http://{addr}/api/ws/info")).await.0, 200);
    server.shutdown().await;
}

/// docs/operations.md's three lines ("Embedding"), as written there (not
/// reformatted, so `docs::the_embedding_lines_are_the_tested_ones` can
/// compare them): an existing `app` and its `listener` take the server.
#[rustfmt::skip]
async fn embed(
    app: axum::Router,
    listener: tokio::net::TcpListener,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use std::net::SocketAddr;
    // embedding: begin
    let node = brain_ws_server::Node::start(brain_ws_server::Config::default()).await?;
    let app = app.nest("/brain", brain_ws_server::router(&node));
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    // embedding: end
    Ok(())
}

/// An application's router with its own `/health` and its own fallback.
fn app_with_its_own_routes() -> axum::Router {
    axum::Router::new()
        .route(
            "/health",
            axum::routing::get(|| async { "the app's own health" }),
        )
        .fallback(|| async { (axum::http::StatusCode::IM_A_TEAPOT, "the app's fallback") })
}

/// The app's `/health` and fallback still answer at `addr`.
async fn the_app_keeps_its_own_routes(addr: std::net::SocketAddr) {
    assert_eq!(
        get_text(format!("http://{addr}/health")).await,
        (200, "the app's own health".into())
    );
    assert_eq!(
        get_text(format!("http://{addr}/elsewhere")).await,
        (418, "the app's fallback".into())
    );
}

/// A WebSocket subscriber of `builds` at `{prefix}/ws/channel/builds` gets
/// the event published through `{prefix}/api/ws/broadcast`.
async fn a_broadcast_reaches_a_subscriber(addr: std::net::SocketAddr, prefix: &str) {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}{prefix}/ws/channel/builds"))
            .await
            .expect("websocket connects");
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    assert_eq!(next_json(&mut ws).await["type"], "subscribed");
    let r = reqwest::Client::new()
        .post(format!("http://{addr}{prefix}/api/ws/broadcast"))
        .json(&json!({"channel": "builds", "type": "done", "message": {"n": 1}}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let event = next_json(&mut ws).await;
    assert_eq!(
        (&event["type"], &event["data"]),
        (&json!("done"), &json!({"n": 1}))
    );
}

/// The three lines in an existing app with its own `/health` and fallback:
/// the app keeps both, and the BRAiN endpoints answer under `/brain`.
#[tokio::test]
async fn three_lines_embed_the_server_in_an_existing_app() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let serving = tokio::spawn(embed(app_with_its_own_routes(), listener));
    the_app_keeps_its_own_routes(addr).await;
    assert_eq!(get_text(format!("http://{addr}/brain/health")).await.0, 200);
    a_broadcast_reaches_a_subscriber(addr, "/brain").await;
    serving.abort();
}
