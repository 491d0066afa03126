//! Test harness: start a server, talk to it over real sockets.

use std::time::Duration;

use brain_ws_server::{Config, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any "eventually" waits: generous, the machine is shared.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

pub(crate) async fn start(configure: impl FnOnce(&mut Config)) -> Server {
    let mut config = Config {
        bind: "127.0.0.1:0".parse().expect("addr"),
        ..Config::default()
    };
    configure(&mut config);
    Server::start(config).await.expect("server starts")
}

pub(crate) fn ws_url(server: &Server, path: &str) -> String {
    format!("ws://{}{}", server.local_addr(), path)
}

pub(crate) fn http_url(server: &Server, path: &str) -> String {
    format!("http://{}{}", server.local_addr(), path)
}

pub(crate) struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// Connects to `path` without reading anything.
    pub(crate) async fn raw(server: &Server, path: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(ws_url(server, path))
            .await
            .expect("websocket connects");
        Client { ws }
    }

    /// Connects to `/ws/connect` and returns the client with its welcome.
    pub(crate) async fn connect(server: &Server) -> (Client, Value) {
        Self::connect_to(server, "/ws/connect").await
    }

    pub(crate) async fn connect_to(server: &Server, path: &str) -> (Client, Value) {
        let mut client = Self::raw(server, path).await;
        let welcome = client.recv().await;
        assert_eq!(welcome["type"], "connected", "{welcome}");
        (client, welcome)
    }

    /// Connects and subscribes to each channel, consuming the confirmations.
    pub(crate) async fn subscribed(server: &Server, channels: &[&str]) -> Client {
        let (mut client, _) = Self::connect(server).await;
        for channel in channels {
            client.subscribe(channel).await;
        }
        client
    }

    pub(crate) async fn subscribe(&mut self, channel: &str) -> Value {
        self.send_json(serde_json::json!({"type": "subscribe", "channel": channel}))
            .await;
        let mut reply = self.recv().await;
        // A heartbeat may come first when the machine is slow enough that
        // a test outlives the 30 s interval.
        while reply["type"] == "ping" {
            reply = self.recv().await;
        }
        assert_eq!(reply["type"], "subscribed", "{reply}");
        assert_eq!(reply["channel"], channel);
        reply
    }

    pub(crate) async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send text");
    }

    pub(crate) async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub(crate) async fn send_message(&mut self, message: Message) {
        self.ws.send(message).await.expect("send");
    }

    /// The next JSON text frame (protocol-level pings are skipped).
    pub(crate) async fn recv(&mut self) -> Value {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame within the patience window");
            match next {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text).expect("server sends JSON");
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Sends a ping and waits for its pong, returning every frame that came
    /// before it: proves the connection works and nothing else was queued.
    pub(crate) async fn roundtrip(&mut self) -> Vec<Value> {
        self.send_json(serde_json::json!({"type": "ping"})).await;
        let mut before = Vec::new();
        loop {
            let frame = self.recv().await;
            if frame["type"] == "pong" {
                return before;
            }
            before.push(frame);
        }
    }

    /// Reads until the server closes; returns the close frame.
    pub(crate) async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("close within the patience window");
            match next {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    pub(crate) async fn close(mut self) {
        let _ = self.ws.close(None).await;
        // Drain until the server's close arrives.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}

pub(crate) async fn get(server: &Server, path: &str) -> (u16, Value) {
    let response = reqwest::get(http_url(server, path)).await.expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn post(server: &Server, path: &str, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(http_url(server, path))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls `check` until it is true or the patience runs out.
pub(crate) async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// The text of `/metrics`.
pub(crate) async fn metrics_text(server: &Server) -> String {
    reqwest::get(http_url(server, "/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("text")
}

/// A metric's value from `/metrics`.
pub(crate) async fn metric(server: &Server, name: &str) -> f64 {
    let text = metrics_text(server).await;
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("metric {name} not found in:\n{text}"))
}

/// Attempts a WebSocket connection that the server must refuse before the
/// upgrade; returns the HTTP status and JSON error body.
pub(crate) async fn refused(server: &Server, path: &str) -> (u16, Value) {
    let err = tokio_tungstenite::connect_async(ws_url(server, path))
        .await
        .expect_err("the server refuses the upgrade");
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("expected an HTTP refusal, got {err:?}");
    };
    let body = serde_json::from_slice(response.body().as_deref().unwrap_or_default())
        .unwrap_or(Value::Null);
    (response.status().as_u16(), body)
}

/// Spawns the server binary with `command`'s arguments (killed on drop) and
/// waits, within `wait`, for the address it logs as `listening on ...`;
/// the rest of its output is drained so it never blocks on a full pipe.
pub(crate) async fn spawn_listening(
    mut command: tokio::process::Command,
    wait: Duration,
) -> (tokio::process::Child, std::net::SocketAddr) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = command
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the server binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let addr = tokio::time::timeout(wait, async {
        while let Some(line) = lines.next_line().await.expect("read the server's log") {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let addr = rest.split_whitespace().next().expect("an address");
                return addr.parse().expect("a socket address");
            }
        }
        panic!("the server exited without listening");
    })
    .await
    .expect("the server listens in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

/// A client WebSocket opened with `tokio_tungstenite::connect_async`.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The next JSON text frame of `ws` (other frames are skipped).
pub(crate) async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a frame in time")
            .expect("stream open")
            .expect("frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).expect("json");
        }
    }
}

/// Serves an application's `app` on a free port, with `ConnectInfo` when
/// `connect_info` (as `into_make_service_with_connect_info` does).
pub(crate) async fn serve(app: axum::Router, connect_info: bool) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        if connect_info {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
        } else {
            axum::serve(listener, app).await
        }
    });
    addr
}
