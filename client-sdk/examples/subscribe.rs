//! Subscribes to channels and prints every event and connection change.
//!
//! ```sh
//! cargo run -p brain-ws-server &                       # the server on 127.0.0.1:8000
//! cargo run -p brain-ws-client --example subscribe -- missions agents
//! ```
//!
//! Environment: `BRAIN_WS_URL` (default `ws://127.0.0.1:8000`),
//! `BRAIN_WS_TOKEN` (optional), `BRAIN_WS_MAX_EVENTS` (exit after that many
//! events; default: run until Ctrl-C). Restart the server while it runs to
//! watch it reconnect and resubscribe.

use brain_ws_client::{Client, ConnectionEvent, SubscriptionEvent};
use futures_util::StreamExt;
use futures_util::stream::SelectAll;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let url = std::env::var("BRAIN_WS_URL").unwrap_or_else(|_| "ws://127.0.0.1:8000".into());
    let max_events: Option<usize> = std::env::var("BRAIN_WS_MAX_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok());
    let mut channels: Vec<String> = std::env::args().skip(1).collect();
    if channels.is_empty() {
        channels.push("missions".into());
    }

    let mut builder = Client::builder(url.clone());
    if let Ok(token) = std::env::var("BRAIN_WS_TOKEN") {
        builder = builder.token(token);
    }
    let client = builder.connect().await?;
    println!(
        "connected to {url} as {}",
        client
            .connection_id()
            .map(|id| id.to_string())
            .unwrap_or_default()
    );

    // Connection changes, printed as they happen.
    let mut connection = client.connection_events();
    tokio::spawn(async move {
        while let Some(event) = connection.next().await {
            match event {
                ConnectionEvent::Reconnecting { attempt, delay } => {
                    println!("reconnecting: attempt {attempt} in {delay:?}")
                }
                other => println!("connection: {other:?}"),
            }
        }
    });

    let mut streams = SelectAll::new();
    for channel in &channels {
        let subscription = client.subscribe(channel).await?;
        println!("subscribed to {channel}");
        let name = channel.clone();
        streams.push(subscription.map(move |item| (name.clone(), item)).boxed());
    }
    let mut inbox = client.events();

    let mut seen = 0;
    loop {
        tokio::select! {
            Some((channel, item)) = streams.next() => match item {
                SubscriptionEvent::Event(message) => {
                    seen += 1;
                    println!("[{channel}] #{} {}: {:?}", message.offset.unwrap_or_default(), message.event_type, message.event);
                }
                SubscriptionEvent::Resubscribed { recovered } => {
                    println!("[{channel}] resubscribed, recovered={recovered}");
                }
                SubscriptionEvent::Gap { missed } => {
                    println!("[{channel}] the stream broke (missed: {missed:?}); events may be missing");
                }
                SubscriptionEvent::Join(who) => println!("[{channel}] {} joined", who.connection_id),
                SubscriptionEvent::Leave(who) => println!("[{channel}] {} left", who.connection_id),
            },
            Some(message) = inbox.next() => {
                seen += 1;
                println!("[direct] {}: {:?}", message.event_type, message.event);
            }
            _ = tokio::signal::ctrl_c() => break,
        }
        if max_events.is_some_and(|max| seen >= max) {
            break;
        }
    }
    client.close().await;
    println!("closed after {seen} events");
    Ok(())
}
