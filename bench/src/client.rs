//! The bench's WebSocket clients: a hand-rolled handshake and frame reader on a
//! tokio `TcpStream` (or a TLS session over one, `stream.rs`), one small task per connection with a buffer that
//! starts at 512 bytes, so ten thousand of them cost the client side less
//! than the server it measures. Every delivery is time-stamped once per read
//! and recorded in the shared [`Probe`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use base64::Engine as _;
use bytes::{Buf as _, BytesMut};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{Notify, OwnedSemaphorePermit};

use crate::envelope::{Inbound, classify};
use crate::stats::Histogram;
use crate::stream::{Connector, Stream};
use crate::wire::{self, WireError};

/// Initial read buffer per connection; it grows only for larger frames.
const READ_BUF: usize = 512;
/// Slots in the throughput mode's ring of send times.
const SENT_RING: usize = 1 << 20;

/// Why a client connection ended or never started.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Socket error.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent bytes that are not WebSocket frames.
    #[error("wire: {0}")]
    Wire(#[from] WireError),
    /// The upgrade was refused or malformed.
    #[error("handshake: {0}")]
    Handshake(String),
    /// The server closed the connection (EOF or a close frame with this code).
    #[error("closed by server (code {0:?})")]
    Closed(Option<u16>),
}

/// State shared by every client task and the orchestrator: what was delivered
/// when, and how many connections are up.
pub struct Probe {
    base: Instant,
    /// `seq + 1` of the broadcast being timed in latency mode; 0 when none.
    current: AtomicU64,
    /// Per client, nanoseconds since `base` when the current broadcast arrived; 0 = not yet.
    recv_at: Vec<AtomicU64>,
    received: AtomicUsize,
    expected: AtomicUsize,
    done: Notify,
    /// Throughput mode: nanoseconds since `base` when publish `seq` was sent, by `seq % SENT_RING`.
    sent_at: Vec<AtomicU64>,
    /// Throughput mode: delivery latencies.
    pub hist: Histogram,
    delivered: AtomicU64,
    last_delivery: AtomicU64,
    late: AtomicU64,
    duplicates: AtomicU64,
    ready: AtomicUsize,
    failed: AtomicUsize,
    dropped: AtomicUsize,
    pings: AtomicU64,
    last_error: std::sync::Mutex<Option<String>>,
}

impl Probe {
    /// A probe for `clients` connections; `throughput` allocates the send-time ring.
    pub fn new(clients: usize, throughput: bool) -> Self {
        let atomics = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        Self {
            base: Instant::now(),
            current: AtomicU64::new(0),
            recv_at: atomics(clients),
            received: AtomicUsize::new(0),
            expected: AtomicUsize::new(usize::MAX),
            done: Notify::new(),
            sent_at: if throughput {
                atomics(SENT_RING)
            } else {
                Vec::new()
            },
            hist: Histogram::default(),
            delivered: AtomicU64::new(0),
            last_delivery: AtomicU64::new(0),
            late: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            ready: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            pings: AtomicU64::new(0),
            last_error: std::sync::Mutex::new(None),
        }
    }

    /// Nanoseconds since the probe was made (never 0).
    pub fn now_ns(&self) -> u64 {
        (self.base.elapsed().as_nanos() as u64).max(1)
    }

    /// Starts timing broadcast `seq`, expecting `expected` deliveries.
    pub fn begin(&self, seq: u64, expected: usize) {
        for slot in &self.recv_at {
            slot.store(0, Ordering::Relaxed);
        }
        self.received.store(0, Ordering::Relaxed);
        self.expected.store(expected, Ordering::Relaxed);
        self.current.store(seq + 1, Ordering::Release);
    }

    /// Waits until every expected delivery of the current broadcast arrived
    /// or `deadline` passed; returns how many arrived.
    pub async fn wait_current(&self, deadline: tokio::time::Instant) -> usize {
        loop {
            let notified = self.done.notified();
            let got = self.received.load(Ordering::Acquire);
            if got >= self.expected.load(Ordering::Relaxed) {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.received.load(Ordering::Acquire);
            }
        }
    }

    /// Stops timing; returns the receipt times (ns since base) that arrived.
    pub fn end(&self) -> Vec<u64> {
        self.current.store(0, Ordering::Release);
        self.recv_at
            .iter()
            .map(|s| s.load(Ordering::Acquire))
            .filter(|&t| t != 0)
            .collect()
    }

    /// Throughput mode: notes that publish `seq` is being sent now.
    pub fn mark_sent(&self, seq: u64) {
        if let Some(slot) = self.sent_at.get(seq as usize % SENT_RING) {
            slot.store(self.now_ns(), Ordering::Release);
        }
    }

    fn on_bench(&self, client: usize, seq: u64, now: u64) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.last_delivery.fetch_max(now, Ordering::Relaxed);
        if !self.sent_at.is_empty() {
            let sent = self.sent_at[seq as usize % SENT_RING].load(Ordering::Acquire);
            if sent != 0 && now >= sent {
                self.hist.record(now - sent);
            }
        }
        let current = self.current.load(Ordering::Acquire);
        if current == 0 {
            return;
        }
        if current != seq + 1 {
            self.late.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(slot) = self.recv_at.get(client) else {
            return;
        };
        if slot.swap(now, Ordering::AcqRel) != 0 {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let got = self.received.fetch_add(1, Ordering::AcqRel) + 1;
        if got >= self.expected.load(Ordering::Relaxed) {
            self.done.notify_one();
        }
    }

    fn note_error(&self, error: &ClientError) {
        if let Ok(mut slot) = self.last_error.lock() {
            *slot = Some(error.to_string());
        }
    }

    /// Deliveries of bench events so far (all modes).
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }
    /// When the latest delivery arrived, ns since base.
    pub fn last_delivery_ns(&self) -> u64 {
        self.last_delivery.load(Ordering::Relaxed)
    }
    /// Deliveries of a broadcast that had already timed out.
    pub fn late(&self) -> u64 {
        self.late.load(Ordering::Relaxed)
    }
    /// Second deliveries of the same broadcast to the same client.
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }
    /// Connections that completed the handshake (and subscription).
    pub fn ready(&self) -> usize {
        self.ready.load(Ordering::Relaxed)
    }
    /// Connections that never became ready.
    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::Relaxed)
    }
    /// Ready connections that later ended.
    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::Relaxed)
    }
    /// Heartbeat pings answered.
    pub fn pings(&self) -> u64 {
        self.pings.load(Ordering::Relaxed)
    }
    /// The latest connection error, for the report.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }
}

/// Where and how a client connects.
#[derive(Debug, Clone)]
pub struct Dial {
    /// Opens the connection to the server (loopback), plain or TLS.
    pub connector: Connector,
    /// The request path, e.g. `/ws/channel/bench`.
    pub path: String,
    /// Wait for a `subscribed` frame (one per channel of `subscribe`, or one
    /// for the path's channel) before counting the connection ready.
    pub wait_subscribed: bool,
    /// Channels to subscribe to with `subscribe` messages right after the
    /// handshake (with `path` = `/ws/connect`); empty for `/ws/channel/{c}`.
    pub subscribe: Vec<String>,
}

impl Dial {
    /// The channels this connection receives: the path's, or `subscribe`.
    pub fn channels(&self) -> Vec<&str> {
        match self.path.strip_prefix("/ws/channel/") {
            Some(channel) => vec![channel],
            None => self.subscribe.iter().map(String::as_str).collect(),
        }
    }

    /// The masked `subscribe` frames written after the handshake.
    fn subscribe_frames(&self, mask: &mut impl FnMut() -> [u8; 4]) -> Vec<u8> {
        let mut out = Vec::new();
        for channel in &self.subscribe {
            let message = serde_json::json!({"type": "subscribe", "channel": channel}).to_string();
            out.extend(wire::encode_frame(
                wire::OP_TEXT,
                message.as_bytes(),
                Some(mask()),
            ));
        }
        out
    }
}

/// Runs one client: connects, waits until subscribed, releases `permit`, then
/// reads deliveries until the server closes or the runtime shuts down.
pub async fn run_client(
    id: usize,
    dial: Arc<Dial>,
    probe: Arc<Probe>,
    permit: OwnedSemaphorePermit,
) {
    let mut permit = Some(permit);
    let outcome: Result<(), (bool, ClientError)> = async {
        let (stream, buf) = handshake(id, &dial).await.map_err(|e| (false, e))?;
        let mut conn = Conn {
            id,
            stream,
            buf,
            fragment: Vec::new(),
            out: Vec::new(),
            mask_state: (id as u32).wrapping_mul(2_654_435_761) | 1,
            ready: false,
            awaiting_subscribed: dial.subscribe.len().max(1),
        };
        if !dial.subscribe.is_empty() {
            let frames = dial.subscribe_frames(&mut || conn.next_mask());
            conn.stream
                .write_all(&frames)
                .await
                .map_err(|e| (false, e.into()))?;
        }
        if !dial.wait_subscribed {
            conn.set_ready(&probe, &mut permit);
        }
        conn.read_loop(&probe, &mut permit).await
    }
    .await;
    match outcome {
        Err((true, e)) => {
            probe.dropped.fetch_add(1, Ordering::Relaxed);
            probe.note_error(&e);
        }
        Err((false, e)) => {
            probe.failed.fetch_add(1, Ordering::Relaxed);
            probe.note_error(&e);
        }
        Ok(()) => {}
    }
}

async fn handshake(id: usize, dial: &Dial) -> Result<(Stream, BytesMut), ClientError> {
    let mut stream = dial.connector.connect().await?;
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&(id as u64).to_le_bytes());
    nonce[8..].copy_from_slice(b"brainbch");
    let key = base64::engine::general_purpose::STANDARD.encode(nonce);
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        dial.path,
        dial.connector.addr()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = BytesMut::with_capacity(READ_BUF);
    loop {
        if buf.capacity() - buf.len() < 128 {
            buf.reserve(READ_BUF);
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(ClientError::Handshake("closed during handshake".into()));
        }
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buf) {
            Ok(httparse::Status::Partial) => continue,
            Err(e) => return Err(ClientError::Handshake(e.to_string())),
            Ok(httparse::Status::Complete(n)) => {
                if response.code != Some(101) {
                    return Err(ClientError::Handshake(format!(
                        "status {:?}",
                        response.code
                    )));
                }
                let expected = wire::accept_key(&key);
                let accepted = response.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case("sec-websocket-accept")
                        && h.value == expected.as_bytes()
                });
                if !accepted {
                    return Err(ClientError::Handshake("wrong Sec-WebSocket-Accept".into()));
                }
                buf.advance(n);
                return Ok((stream, buf));
            }
        }
    }
}

struct Conn {
    id: usize,
    stream: Stream,
    buf: BytesMut,
    /// A fragmented message being reassembled (rare: no server here fragments).
    fragment: Vec<u8>,
    /// Replies (pongs, close) to write after the frames of one read.
    out: Vec<u8>,
    mask_state: u32,
    ready: bool,
    /// `subscribed` confirmations still to come before the connection is ready.
    awaiting_subscribed: usize,
}

impl Conn {
    fn set_ready(&mut self, probe: &Probe, permit: &mut Option<OwnedSemaphorePermit>) {
        if !self.ready {
            self.ready = true;
            probe.ready.fetch_add(1, Ordering::Relaxed);
            permit.take();
        }
    }

    fn next_mask(&mut self) -> [u8; 4] {
        // xorshift32: servers must not rely on the mask, only unmask with it.
        let mut x = self.mask_state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.mask_state = x;
        x.to_le_bytes()
    }

    async fn read_loop(
        &mut self,
        probe: &Probe,
        permit: &mut Option<OwnedSemaphorePermit>,
    ) -> Result<(), (bool, ClientError)> {
        loop {
            let now = probe.now_ns();
            let closed = self
                .drain_frames(probe, now, permit)
                .map_err(|e| (self.ready, e))?;
            if !self.out.is_empty() {
                let out = std::mem::take(&mut self.out);
                self.stream
                    .write_all(&out)
                    .await
                    .map_err(|e| (self.ready, e.into()))?;
                self.out = out;
                self.out.clear();
            }
            if let Some(code) = closed {
                return Err((self.ready, ClientError::Closed(code)));
            }
            if self.buf.capacity() - self.buf.len() < 256 {
                self.buf.reserve(READ_BUF);
            }
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| (self.ready, e.into()))?;
            if n == 0 {
                return Err((self.ready, ClientError::Closed(None)));
            }
        }
    }

    /// Handles every complete frame in the buffer. Returns `Some(code)` when a
    /// close frame arrived.
    fn drain_frames(
        &mut self,
        probe: &Probe,
        now: u64,
        permit: &mut Option<OwnedSemaphorePermit>,
    ) -> Result<Option<Option<u16>>, ClientError> {
        let mut used = 0;
        let mut closed = None;
        while let Some(h) = wire::parse_frame(&self.buf[used..])? {
            let start = used + h.header_len;
            let end = start + h.payload_len;
            used += h.frame_len();
            match h.opcode {
                wire::OP_TEXT | wire::OP_BINARY if h.fin => {
                    let kind = classify(&self.buf[start..end]);
                    self.on_message(kind, probe, now, permit);
                }
                wire::OP_TEXT | wire::OP_BINARY => {
                    self.fragment.clear();
                    self.fragment.extend_from_slice(&self.buf[start..end]);
                }
                wire::OP_CONTINUATION => {
                    self.fragment.extend_from_slice(&self.buf[start..end]);
                    if h.fin {
                        let kind = classify(&self.fragment);
                        self.on_message(kind, probe, now, permit);
                    }
                }
                wire::OP_PING => {
                    let payload = self.buf[start..end].to_vec();
                    let mask = self.next_mask();
                    self.out
                        .extend(wire::encode_frame(wire::OP_PONG, &payload, Some(mask)));
                }
                wire::OP_CLOSE => {
                    let code = (h.payload_len >= 2)
                        .then(|| u16::from_be_bytes([self.buf[start], self.buf[start + 1]]));
                    let mask = self.next_mask();
                    self.out.extend(wire::encode_frame(
                        wire::OP_CLOSE,
                        &self.buf[start..end.min(start + 2)],
                        Some(mask),
                    ));
                    closed = Some(code);
                    break;
                }
                _ => {}
            }
        }
        self.buf.advance(used);
        Ok(closed)
    }

    fn on_message(
        &mut self,
        kind: Inbound,
        probe: &Probe,
        now: u64,
        permit: &mut Option<OwnedSemaphorePermit>,
    ) {
        match kind {
            Inbound::Bench(seq) => probe.on_bench(self.id, seq, now),
            Inbound::Ping => {
                probe.pings.fetch_add(1, Ordering::Relaxed);
                let mask = self.next_mask();
                self.out.extend(wire::encode_frame(
                    wire::OP_TEXT,
                    br#"{"type":"pong"}"#,
                    Some(mask),
                ));
            }
            Inbound::Subscribed => {
                self.awaiting_subscribed = self.awaiting_subscribed.saturating_sub(1);
                if self.awaiting_subscribed == 0 {
                    self.set_ready(probe, permit);
                }
            }
            Inbound::Other => {}
        }
    }
}
