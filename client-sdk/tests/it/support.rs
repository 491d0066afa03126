//! Test harness: programmable stub servers for failure modes, the real
//! server library on port 0, a TCP proxy that can cut connections, and
//! helpers that wait with generous timeouts.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brain_ws_client::{
    Backoff, ConnectionEvent, ConnectionEvents, Subscription, SubscriptionEvent,
};
use brain_ws_server::{Config, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// How long any "eventually" waits: generous, the machine is shared.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// Short delays so reconnect tests take milliseconds, not seconds.
pub(crate) fn fast_backoff() -> Backoff {
    Backoff::default()
        .initial(Duration::from_millis(20))
        .max(Duration::from_millis(200))
}

/// Awaits `future` or fails the test after [`PATIENCE`].
pub(crate) async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// The next connection event.
pub(crate) async fn next_event(events: &mut ConnectionEvents) -> ConnectionEvent {
    within("a connection event", events.next())
        .await
        .expect("the connection event stream is open")
}

/// Skips events until one matches.
pub(crate) async fn wait_event(
    events: &mut ConnectionEvents,
    what: &str,
    matches: impl Fn(&ConnectionEvent) -> bool,
) -> ConnectionEvent {
    within(what, async {
        loop {
            let event = events.next().await.expect("connection event stream open");
            if matches(&event) {
                return event;
            }
        }
    })
    .await
}

/// The next item of a subscription.
pub(crate) async fn next_item(sub: &mut Subscription) -> SubscriptionEvent {
    within("a subscription item", sub.next())
        .await
        .expect("the subscription stream is open")
}

/// `(event type, mission_id, offset)` of an event item, for exact comparisons.
pub(crate) fn summary(item: &SubscriptionEvent) -> (String, String, Option<u64>) {
    match item {
        SubscriptionEvent::Event(msg) => {
            let (event_type, data) = msg.event.clone().into_parts();
            let id = data["mission_id"].as_str().unwrap_or_default().to_owned();
            (event_type.to_string(), id, msg.offset)
        }
        SubscriptionEvent::Resubscribed { recovered } => (
            format!("resubscribed(recovered={recovered})"),
            String::new(),
            None,
        ),
        SubscriptionEvent::Gap { missed } => {
            (format!("gap(missed={missed:?})"), String::new(), None)
        }
        SubscriptionEvent::Join(who) => ("join".into(), who.connection_id.to_string(), None),
        SubscriptionEvent::Leave(who) => ("leave".into(), who.connection_id.to_string(), None),
    }
}

// ---------------------------------------------------------------- stubs

type Handler =
    Arc<dyn Fn(usize, TcpStream) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>;

/// A TCP listener that hands connection number `i` (from 0) to a handler,
/// counting connections.
pub(crate) struct Stub {
    pub(crate) addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Stub {
    pub(crate) async fn start<F, Fut>(handler: F) -> Stub
    where
        F: Fn(usize, TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind stub");
        let addr = listener.local_addr().expect("stub addr");
        let accepts = Arc::new(AtomicUsize::new(0));
        let handler: Handler = Arc::new(move |i, tcp| Box::pin(handler(i, tcp)));
        let recorded = accepts.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let i = recorded.fetch_add(1, Ordering::SeqCst);
                connections.spawn(handler(i, tcp));
            }
        });
        Stub {
            addr,
            accepts,
            task,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("ws://{}/ws/connect", self.addr)
    }

    /// How many TCP connections were accepted so far.
    pub(crate) fn accepted(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which ends every connection.
        self.task.abort();
    }
}

/// One accepted WebSocket on a stub.
pub(crate) struct StubConn {
    ws: WebSocketStream<TcpStream>,
}

impl StubConn {
    pub(crate) async fn accept(tcp: TcpStream) -> StubConn {
        let ws = tokio_tungstenite::accept_async(tcp)
            .await
            .expect("stub upgrade");
        StubConn { ws }
    }

    /// Sends the `connected` welcome with `heartbeat_interval` seconds.
    pub(crate) async fn welcome(&mut self, heartbeat_interval: f64) {
        self.send(json!({
            "type": "connected",
            "connection_id": uuid::Uuid::new_v4(),
            "timestamp": 1.0,
            "heartbeat_interval": heartbeat_interval,
            "protocol": "brain.v1",
        }))
        .await;
    }

    pub(crate) async fn send(&mut self, value: Value) {
        self.ws
            .send(Frame::text(value.to_string()))
            .await
            .expect("stub send");
    }

    /// The next text frame as JSON; `None` when the connection ends.
    pub(crate) async fn recv(&mut self) -> Option<Value> {
        while let Some(frame) = self.ws.next().await {
            match frame {
                Ok(Frame::Text(text)) => {
                    return Some(serde_json::from_str(&text).expect("client sends JSON"));
                }
                Ok(Frame::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
        None
    }

    pub(crate) async fn close(mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: code.into(),
            reason: reason.into(),
        };
        let _ = self.ws.close(Some(frame)).await;
        // Let the client's close reply arrive.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while self.ws.next().await.is_some() {}
        })
        .await;
    }

    /// Keeps the connection open without reading or writing, forever.
    pub(crate) async fn hold(self) {
        let _keep = self;
        std::future::pending::<()>().await;
    }
}

/// Refuses the upgrade with `status` and a protocol error body.
// The callback's error type is tungstenite's HTTP response.
#[allow(clippy::result_large_err)]
pub(crate) async fn reject(tcp: TcpStream, status: u16, code: &str) {
    let body = json!({"error": {"code": code, "message": format!("stub refuses with {status}")}});
    let callback = move |_req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                         _resp| {
        let mut response = tokio_tungstenite::tungstenite::handshake::server::ErrorResponse::new(
            Some(body.to_string()),
        );
        *response.status_mut() = status.try_into().expect("status");
        Err(response)
    };
    let _ = tokio_tungstenite::accept_hdr_async(tcp, callback).await;
}

// ---------------------------------------------------------------- real server

/// The real server on `127.0.0.1:0` (or `addr`), with short shutdown grace.
pub(crate) async fn start_server(configure: impl FnOnce(&mut Config)) -> Server {
    start_server_on("127.0.0.1:0".parse().expect("addr"), configure).await
}

pub(crate) async fn start_server_on(
    addr: SocketAddr,
    configure: impl FnOnce(&mut Config),
) -> Server {
    let mut config = Config {
        bind: addr,
        shutdown_grace: Duration::from_secs(1),
        ..Config::default()
    };
    configure(&mut config);
    Server::start(config).await.expect("server starts")
}

pub(crate) fn ws_url(server: &Server) -> String {
    format!("ws://{}/ws/connect", server.local_addr())
}

pub(crate) fn http_url(server: &Server) -> String {
    format!("http://{}", server.local_addr())
}

// ---------------------------------------------------------------- proxy

/// A TCP proxy in front of a server, to drop a client's connection while the
/// server (and its history) stays up.
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    task: JoinHandle<()>,
}

impl Proxy {
    pub(crate) async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (flag, list) = (up.clone(), links.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !flag.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                list.lock().expect("links").push(link);
            }
        });
        Proxy {
            addr,
            up,
            links,
            task,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("ws://{}/ws/connect", self.addr)
    }

    /// Drops every proxied connection and refuses new ones.
    pub(crate) fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    /// Accepts connections again.
    pub(crate) fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}
