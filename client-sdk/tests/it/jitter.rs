//! A herd of clients dropped at once does not come back at once: full
//! jitter spreads the first reconnect attempts over the backoff window.

use std::time::Duration;

use brain_ws_client::{Backoff, Client, ConnectionEvent};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::support::{start_server, within, ws_url};

const CLIENTS: usize = 500;
const WINDOW: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_clients_dropped_together_reconnect_spread_by_jitter() {
    let server = start_server(|_| {}).await;
    let url = ws_url(&server);
    let backoff = Backoff::default().initial(WINDOW).max(WINDOW * 2);

    let mut clients = Vec::with_capacity(CLIENTS);
    for chunk in 0..CLIENTS / 50 {
        let batch = futures_util::future::join_all((0..50).map(|_| {
            Client::builder(url.clone())
                .backoff(backoff.clone())
                .connect()
        }));
        for client in within(&format!("batch {chunk} to connect"), batch).await {
            clients.push(client.expect("connects"));
        }
    }
    assert_eq!(server.node().stats().total_connections, CLIENTS as u64);

    // Per client: when it lost the connection, and when its first attempt began.
    let (times_tx, mut times) = mpsc::unbounded_channel();
    for client in &clients {
        let mut events = client.connection_events();
        let times_tx = times_tx.clone();
        tokio::spawn(async move {
            let mut lost = None;
            while let Some(event) = events.next().await {
                match event {
                    ConnectionEvent::Disconnected { .. } => lost = Some(Instant::now()),
                    ConnectionEvent::Connecting => {
                        if let Some(lost) = lost {
                            let _ = times_tx.send((lost, Instant::now()));
                            return;
                        }
                    }
                    _ => {}
                }
            }
        });
    }

    server.shutdown().await;
    let mut samples = Vec::with_capacity(CLIENTS);
    while samples.len() < CLIENTS {
        samples.push(
            within("first reconnect attempts", times.recv())
                .await
                .expect("open"),
        );
    }
    drop(clients);

    let first = samples.iter().map(|(_, a)| *a).min().expect("samples");
    let last = samples.iter().map(|(_, a)| *a).max().expect("samples");
    let spread = last - first;
    let lost_first = samples.iter().map(|(l, _)| *l).min().expect("samples");
    let lost_last = samples.iter().map(|(l, _)| *l).max().expect("samples");
    let mut delays: Vec<Duration> = samples.iter().map(|(l, a)| *a - *l).collect();
    delays.sort();
    let mut buckets = [0usize; 10];
    for delay in &delays {
        let i = (delay.as_secs_f64() / WINDOW.as_secs_f64() * 10.0) as usize;
        buckets[i.min(9)] += 1;
    }
    println!(
        "{CLIENTS} clients: disconnects spread over {:?}; first reconnect attempts spread over {spread:?}; \
         delay p10 {:?} p50 {:?} p90 {:?}; per 100 ms of the 1 s window: {buckets:?}",
        lost_last - lost_first,
        delays[CLIENTS / 10],
        delays[CLIENTS / 2],
        delays[CLIENTS * 9 / 10],
    );
    assert!(
        spread > Duration::from_millis(50),
        "all within 50 ms: {spread:?}"
    );
    // Uniform over the window: most tenths hold some attempts. Without
    // jitter every delay would be the same 1 s and fill one bucket.
    let used = buckets.iter().filter(|n| **n > 0).count();
    assert!(used >= 5, "{buckets:?}");
}
