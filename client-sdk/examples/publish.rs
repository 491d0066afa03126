//! Publishes one event through the HTTP API and prints the server's stats.
//!
//! ```sh
//! cargo run -p brain-ws-server &
//! cargo run -p brain-ws-client --example publish -- missions mission_created '{"mission_id":"m-1","name":"Survey"}'
//! ```
//!
//! Arguments: channel, event type, JSON payload (defaults as above).
//! Environment: `BRAIN_WS_HTTP_URL` (default `http://127.0.0.1:8000`),
//! `BRAIN_WS_API_KEY` (needed when the server has API keys configured).

use brain_ws_client::Publisher;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("BRAIN_WS_HTTP_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    let mut args = std::env::args().skip(1);
    let channel = args.next().unwrap_or_else(|| "missions".into());
    let event_type = args.next().unwrap_or_else(|| "mission_created".into());
    let payload: serde_json::Value = match args.next() {
        Some(json) => serde_json::from_str(&json)?,
        None => serde_json::json!({"mission_id": "m-1", "name": "Survey"}),
    };

    let mut publisher = Publisher::new(url);
    if let Ok(key) = std::env::var("BRAIN_WS_API_KEY") {
        publisher = publisher.api_key(key);
    }
    let info = publisher.info().await?;
    println!(
        "server {} {} ({}), node {}",
        info.name, info.version, info.protocol, info.node_id
    );

    let sent = publisher.broadcast(&channel, &event_type, payload).await?;
    println!(
        "published {event_type} on {}: {} subscriber(s)",
        sent.channel, sent.subscribers
    );

    let stats = publisher.stats().await?;
    println!(
        "{} connection(s), {} user(s), subscribers per channel: {:?}",
        stats.total_connections, stats.total_users, stats.channels
    );
    Ok(())
}
