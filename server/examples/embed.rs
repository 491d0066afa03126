//! An application that embeds the BRAiN WebSocket server as a library: it
//! starts a [`Node`], mounts the BRAiN router next to its own `GET /hello`,
//! and emits a mission lifecycle with the typed emitters every few seconds,
//! the way a service that owns missions would.
//!
//! ```text
//! cargo run -p brain-ws-server --example embed -- [ADDR] [PERIOD]
//! # defaults: 127.0.0.1:8080, 5s
//! ```
//!
//! Then open `http://127.0.0.1:8080/static/websocket_test.html`, connect,
//! subscribe to `missions` and `system`, and watch the events arrive; or
//! `curl http://127.0.0.1:8080/hello`. Ctrl-C emits `system_shutdown`, closes
//! every WebSocket with 1001 and exits.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use brain_ws_server::{Config, Node};
use serde_json::{Map, json};
use tracing_subscriber::EnvFilter;

/// The embedding application's own route: it can read the node too.
async fn hello(State(node): State<Node>) -> String {
    let stats = node.stats();
    format!(
        "hello from the embedding app: {} WebSocket connections, {} channels\n",
        stats.total_connections, stats.total_channels
    )
}

/// Emits one mission lifecycle (created, started, completed) and a system
/// alert per `period`, forever, logging how many connections each reached.
async fn mission_lifecycles(node: Node, period: Duration) {
    let step = period / 4;
    for n in 1u64.. {
        tokio::time::sleep(step).await;
        let id = format!("mission_{n}");
        let mut data = Map::new();
        data.insert("name".into(), json!(format!("Survey sector {n}")));
        data.insert(
            "priority".into(),
            json!(if n % 2 == 0 { "high" } else { "normal" }),
        );
        report(
            "mission_created",
            node.emit_mission_created(&id, data).await,
        );
        tokio::time::sleep(step).await;
        report("mission_started", node.emit_mission_started(&id).await);
        tokio::time::sleep(step).await;
        let result = json!({ "items_found": n * 3, "duration_ms": step.as_millis() * 2 });
        report(
            "mission_completed",
            node.emit_mission_completed(&id, Some(result)).await,
        );
        tokio::time::sleep(step).await;
        report(
            "system_alert",
            node.emit_system_alert(
                "info",
                &format!("{id} completed"),
                json!({ "mission_id": id, "missions_completed": n }),
            )
            .await,
        );
    }
}

fn report(event: &str, result: brain_ws_server::EmitResult) {
    match result {
        Ok(published) => tracing::info!(event, reached = published.recipients(), "emitted"),
        Err(e) => tracing::warn!(event, error = %e, "emit failed"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args.next().as_deref().unwrap_or("127.0.0.1:8080").parse()?;
    let period = humantime::parse_duration(args.next().as_deref().unwrap_or("5s"))?;
    if period < Duration::from_millis(40) {
        return Err("PERIOD must be at least 40ms".into());
    }

    // The node: hub, broker, heartbeat task. No listener of its own.
    let node = Node::start(Config::default()).await?;

    // The application's router, with the BRAiN endpoints merged in (they
    // carry their own state, so the two routers combine as they are).
    let app = Router::new()
        .route("/hello", get(hello))
        .with_state(node.clone())
        .merge(brain_ws_server::router(&node));

    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tracing::info!(
        "embed example listening on http://{addr} (test page: /static/websocket_test.html)"
    );
    node.emit_system_startup("started").await?;

    let emitter = tokio::spawn(mission_lifecycles(node.clone(), period));

    let stopping = node.clone();
    // The ConnectInfo is what the admin API's loopback check reads.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: shutting down");
        emitter.abort();
        // system_shutdown, close 1001 for every WebSocket, bounded flush.
        stopping.shutdown().await;
    })
    .await?;
    tracing::info!("stopped");
    Ok(())
}
