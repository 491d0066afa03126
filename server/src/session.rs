//! One WebSocket connection's task: reads client messages, answers them,
//! and writes the frames queued for the connection, until one side closes.
//!
//! One task per connection (not a reader and a writer task) keeps an idle
//! connection cheap. Writes drain everything queued and flush once, so a
//! burst of events costs one syscall rather than one per frame. Every path
//! out of the loop runs the same cleanup at the end of `run`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use brain_ws_protocol::{
    ChannelName, ClientMessage, CloseCode, ErrorCode, EventType, decode_client_message,
};
use futures_util::{SinkExt, StreamExt};

use crate::auth::Identity;
use crate::connection::{Connection, Next};
use crate::direct::{DirectSocket, DirectSocketParts};
use crate::frames;
use crate::frames::Frame;
use crate::history::Replay;
use crate::hub::Slot;
use crate::metrics::inc;
use crate::node::Node;
use crate::rate_limit::{Limiter, Verdict};
use crate::user_limit::UserSlot;

/// Most frames written before one flush.
const MAX_BATCH: usize = 64;
/// With batching on axum's path: most messages written before one flush.
const MAX_BATCH_MESSAGES: usize = 256;
/// How long a close frame may take to go out before the socket is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long to wait for the client's answer to our close frame. Short, so a
/// shutdown is not held up by clients that do not read.
const CLOSE_ECHO_TIMEOUT: Duration = Duration::from_millis(250);
/// Client publishes a session holds waiting for the broker. They are
/// published one at a time, in the order received.
const PUBLISH_QUEUE: usize = 64;
/// How long a publish waits for room in a full [`PUBLISH_QUEUE`] (the
/// client's reads pause meanwhile) before it is refused with `rate_limited`.
/// Only a stalled broker keeps the queue full that long. Shorter than the
/// Redis broker's command timeout (2 s): a publish in flight frees its slot
/// by then at the latest, so a wait as long as that timeout would always
/// end with room, and a stalled broker would pause the client's reads for
/// 2 s per publish instead of refusing (`faults::a_full_client_publish_queue_...`).
const PUBLISH_QUEUE_WAIT: Duration = Duration::from_secs(1);

/// Everything a session needs, handed over by the upgrade handler.
pub(crate) struct SessionStart {
    pub(crate) node: Node,
    pub(crate) identity: Identity,
    pub(crate) slot: Slot,
    /// The user's reserved place under `max_connections_per_user`, if limited.
    pub(crate) user_slot: Option<UserSlot>,
    /// For `/ws/channel/{channel}`: subscribe right after the welcome.
    pub(crate) initial_channel: Option<ChannelName>,
    /// With `initial_channel`: its `?rewind=N`.
    pub(crate) initial_replay: Option<Replay>,
    /// `?batch=1`: several messages per frame (docs/protocol.md, Batched frames).
    pub(crate) batch: bool,
}

/// How a session reaches its client.
// Moved once into the session; boxing the large variant would cost an
// allocation per connection for nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Transport {
    /// axum's `WebSocket`: the session task writes every frame.
    Axum(WebSocket),
    /// Our own upgrade: the fan-out writes to the socket directly
    /// (`direct.rs`); the session reads and writes only the backlog.
    Direct(Arc<tokio::net::TcpStream>, DirectSocketParts),
}

/// The session's socket once the connection exists.
enum Socket {
    Axum(WebSocket),
    Direct(DirectSocket),
}

/// A message from the client, whichever transport read it.
enum Inbound {
    Text(String),
    Binary,
    /// A WebSocket ping or pong (tungstenite answers pings itself).
    Control,
    Close,
}

/// Runs a connection to its end.
/// (A plain `fn` returning an `async move` block, not an `async fn`: an
/// `async fn` keeps a second copy of its arguments, the 368-byte
/// `Transport` among them, in its state for the whole connection; the
/// block captures each value once. See docs/benchmarks.md, memory.)
pub(crate) fn run(transport: Transport, start: SessionStart) -> impl Future<Output = ()> + Send {
    let SessionStart {
        node,
        identity,
        slot,
        user_slot,
        initial_channel,
        initial_replay,
        batch,
    } = start;
    async move {
        let heartbeat_interval = node.config().heartbeat_interval.as_secs_f64();
        let conn = node.register(identity.user_id.clone(), |conn| {
            frames::encode(&brain_ws_protocol::ServerMessage::Connected(
                brain_ws_protocol::Connected {
                    connection_id: conn.id,
                    timestamp: brain_ws_protocol::unix_timestamp(),
                    user_id: conn.user_id.as_deref().map(str::to_owned),
                    heartbeat_interval,
                    protocol: brain_ws_protocol::PROTOCOL_VERSION.to_owned(),
                },
            ))
        });
        if batch {
            conn.batch();
        }
        let mut socket = match transport {
            Transport::Axum(socket) => Socket::Axum(socket),
            Transport::Direct(stream, parts) => {
                conn.attach(stream.clone());
                Socket::Direct(parts.into_socket(stream, conn.clone()).await)
            }
        };
        tracing::debug!(connection_id = %conn.id, user = ?conn.user_id, "connected");
        let mut session = Session {
            node: &node,
            conn: &conn,
            limiter: node
                .config()
                .rate_limit
                .map(|limit| Limiter::new(limit, Instant::now())),
            identity,
            subscriptions: HashSet::new(),
            publications: None,
            batch,
        };
        if let Some(channel) = initial_channel {
            session.subscribe(channel, initial_replay, false).await;
        }

        let close = session.pump(&mut socket).await;
        if let Some(code) = close {
            count_close(&node, code);
            let _ =
                tokio::time::timeout(CLOSE_TIMEOUT, say_goodbye(&mut socket, &conn, code)).await;
        }
        conn.finish();
        let subscriptions: Vec<ChannelName> = session.subscriptions.drain().collect();
        node.unregister(&conn, &subscriptions);
        drop(slot);
        drop(user_slot);
        tracing::debug!(connection_id = %conn.id, close = ?close, "disconnected");
    }
}

/// Sends the close frame. On a graceful close (shutdown) what is already
/// queued, such as the `system_shutdown` event, goes out first; a slow or
/// misbehaving client gets the close frame only.
async fn say_goodbye(socket: &mut Socket, conn: &Connection, code: CloseCode) -> Result<(), ()> {
    let reason = code.name().unwrap_or_default();
    match socket {
        Socket::Axum(socket) => {
            if code == CloseCode::GOING_AWAY {
                for frame in conn.take_remaining() {
                    socket
                        .feed(Message::Text(frame.text()))
                        .await
                        .map_err(drop)?;
                }
            }
            let frame = CloseFrame {
                code: code.0,
                reason: reason.into(),
            };
            socket
                .send(Message::Close(Some(frame)))
                .await
                .map_err(drop)?;
        }
        Socket::Direct(socket) => {
            // The backlog is already in the write queue, ahead of the close frame.
            if code != CloseCode::GOING_AWAY {
                conn.discard_backlog();
            }
            let frame = tungstenite::protocol::CloseFrame {
                code: code.0.into(),
                reason: reason.into(),
            };
            socket
                .send(tungstenite::Message::Close(Some(frame)))
                .await
                .map_err(drop)?;
        }
    }
    // Finish the closing handshake: read (and discard) until the client's
    // close arrives. Dropping the socket with the client's frames still
    // unread would make the kernel answer with a reset, which can destroy
    // our close frame before the client reads it (a flooding client).
    let _ = tokio::time::timeout(CLOSE_ECHO_TIMEOUT, async {
        while let Some(Ok(message)) = recv(socket).await {
            if matches!(message, Inbound::Close) {
                break;
            }
        }
    })
    .await;
    Ok(())
}

fn count_close(node: &Node, code: CloseCode) {
    let m = node.metrics();
    match code {
        CloseCode::SLOW_CONSUMER => inc(&m.slow_consumer_disconnects),
        CloseCode::HEARTBEAT_TIMEOUT => inc(&m.heartbeat_timeouts),
        CloseCode::MESSAGE_TOO_BIG => inc(&m.oversize_disconnects),
        CloseCode::PROTOCOL_ERROR | CloseCode::INVALID_PAYLOAD => {
            inc(&m.protocol_error_disconnects);
        }
        CloseCode::POLICY_VIOLATION => inc(&m.policy_violation_disconnects),
        CloseCode::TOKEN_EXPIRED => inc(&m.token_expired_disconnects),
        _ => {}
    }
}

struct Session<'a> {
    node: &'a Node,
    conn: &'a Arc<Connection>,
    identity: Identity,
    subscriptions: HashSet<ChannelName>,
    /// The inbound rate limit's bucket, when the limit is on.
    limiter: Option<Limiter>,
    /// The queue of client publishes, drained in order by one task
    /// ([`publish_in_order`]); started by the first publish. Dropped with the
    /// session, after which the task publishes what is left and ends.
    publications: Option<tokio::sync::mpsc::Sender<Publication>>,
    /// Message batching on axum's path (`write_batch`).
    batch: bool,
}

/// A client publish that passed the checks, waiting for the broker.
struct Publication {
    channel: ChannelName,
    event: EventType,
    data: serde_json::Value,
}

impl Session<'_> {
    /// The connection's loop. Returns the close code to send, or `None` when
    /// the client went away first.
    async fn pump(&mut self, socket: &mut Socket) -> Option<CloseCode> {
        let clock = self.node.clock();
        let conn = self.conn;
        // The token's expiry: one timer per authenticated connection, none
        // for anonymous ones.
        let deadline = self.identity.expires_at.and_then(expiry_instant);
        let expired = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expired);
        loop {
            let direct = matches!(socket, Socket::Direct(_));
            tokio::select! {
                biased;
                // First: on axum's path the next branch is ready for as long
                // as a backlog lasts, and a connection fed steadily kept
                // receiving events after its token expired.
                () = &mut expired => return Some(CloseCode::TOKEN_EXPIRED),
                // Direct mode: write the backlog when the socket takes it.
                done = std::future::poll_fn(|cx| conn.poll_direct(cx)), if direct => {
                    return done.ok();
                }
                next = std::future::poll_fn(|cx| conn.poll_next(cx)), if !direct => {
                    let Socket::Axum(socket) = &mut *socket else { continue };
                    let first = match next {
                        Next::Close(code) => return Some(code),
                        Next::Frame(frame) => frame,
                    };
                    // A close request (slow consumer, shutdown) interrupts a
                    // write that the client is not reading.
                    let written = tokio::select! {
                        r = write_batch(socket, conn, first, self.batch) => r,
                        code = std::future::poll_fn(|cx| conn.poll_close(cx)) => return Some(code),
                    };
                    if written.is_err() {
                        return None;
                    }
                }
                incoming = recv(socket) => {
                    let message = match incoming {
                        None => return None,
                        Some(Ok(message)) => message,
                        Some(Err(code)) => return code,
                    };
                    conn.touch(&clock);
                    // Every data and control frame counts, except the close.
                    if !matches!(message, Inbound::Close) {
                        match self.limiter.as_mut().map_or(Verdict::Allow, |l| l.check(Instant::now())) {
                            Verdict::Allow => {}
                            Verdict::Drop => {
                                inc(&self.node.metrics().rate_limited);
                                self.reply_error(
                                    ErrorCode::RATE_LIMITED,
                                    "too many messages: this one was dropped",
                                    None,
                                );
                                continue;
                            }
                            Verdict::Close => {
                                inc(&self.node.metrics().rate_limited);
                                return Some(CloseCode::POLICY_VIOLATION);
                            }
                        }
                    }
                    match message {
                        Inbound::Text(text) => {
                            inc(&self.node.metrics().messages_in);
                            self.handle_text(&text).await;
                        }
                        Inbound::Binary => self.reply_error(
                            ErrorCode::BINARY_NOT_SUPPORTED,
                            "binary frames are not supported; send JSON text frames",
                            None,
                        ),
                        // tungstenite answers pings itself; both count as activity.
                        Inbound::Control => {}
                        // tungstenite has queued the echo of the client's
                        // close frame; flush it so the client sees a clean close.
                        // Direct mode: tungstenite hands the echo to the
                        // outbox and reports the connection closed without
                        // waiting for it to be written, so wait here, or
                        // the session would end with the echo (and the rest
                        // of a frame partly written) still queued.
                        Inbound::Close => {
                            if direct {
                                conn.client_closed();
                            }
                            let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
                                flush(socket).await;
                                if direct {
                                    let _ = std::future::poll_fn(|cx| conn.poll_flush_direct(cx)).await;
                                }
                            })
                            .await;
                            return None;
                        }
                    }
                }
            }
        }
    }

    async fn handle_text(&mut self, text: &str) {
        match decode_client_message(text) {
            Err(e) => {
                let channel = e.channel().map(str::to_owned);
                self.reply_error(e.code(), e.to_string(), channel.as_deref());
            }
            Ok(ClientMessage::Subscribe {
                channel,
                since,
                presence,
                rewind,
            }) => match crate::rewind::replay(self.node.config(), since, rewind) {
                Ok(replay) => self.subscribe(channel, replay, presence).await,
                Err(message) => {
                    self.reply_error(ErrorCode::INVALID_MESSAGE, message, Some(channel.as_str()));
                }
            },
            Ok(ClientMessage::Unsubscribe { channel }) => self.unsubscribe(channel),
            Ok(ClientMessage::Ping) => {
                self.conn.offer(frames::pong());
            }
            Ok(ClientMessage::Pong) => {}
            Ok(ClientMessage::Publish {
                channel,
                event,
                data,
            }) => self.publish(channel, event, data).await,
        }
    }

    fn reply_error(&self, code: ErrorCode, message: impl Into<String>, channel: Option<&str>) {
        inc(&self.node.metrics().client_errors);
        self.conn.offer(frames::error(code, message, channel));
    }

    async fn subscribe(&mut self, channel: ChannelName, replay: Option<Replay>, presence: bool) {
        let max = self.node.config().max_subscriptions;
        if !self.subscriptions.contains(&channel) && self.subscriptions.len() >= max {
            return self.reply_error(
                ErrorCode::SUBSCRIPTION_LIMIT,
                format!("a connection may hold at most {max} subscriptions"),
                Some(channel.as_str()),
            );
        }
        if let Err(reason) = self.authorize(&channel) {
            return self.reply_error(
                ErrorCode::FORBIDDEN,
                reason.to_string(),
                Some(channel.as_str()),
            );
        }
        self.node
            .subscribe(self.conn, &channel, replay.as_ref(), presence)
            .await;
        self.subscriptions.insert(channel);
    }

    fn unsubscribe(&mut self, channel: ChannelName) {
        if !self.subscriptions.remove(&channel) {
            return self.reply_error(
                ErrorCode::NOT_SUBSCRIBED,
                format!("not subscribed to {channel}"),
                Some(channel.as_str()),
            );
        }
        self.node.unsubscribe(self.conn, &channel);
        self.conn.offer(frames::unsubscribed(&channel));
    }

    async fn publish(&mut self, channel: ChannelName, event: EventType, data: serde_json::Value) {
        if !self.node.config().allows_client_publish(channel.as_str()) {
            return self.reply_error(
                ErrorCode::PUBLISH_NOT_ALLOWED,
                format!("channel {channel} does not accept publishing by clients"),
                Some(channel.as_str()),
            );
        }
        if let Err(reason) = self.authorize(&channel) {
            return self.reply_error(
                ErrorCode::FORBIDDEN,
                reason.to_string(),
                Some(channel.as_str()),
            );
        }
        // Publishing may wait on a remote broker; do it off the session so
        // reads and writes continue, but in one task per session so that
        // publications keep the order the client sent them in. A full queue
        // pauses reading (backpressure) rather than dropping silently.
        let queue = self.publications.get_or_insert_with(|| {
            let (tx, rx) = tokio::sync::mpsc::channel(PUBLISH_QUEUE);
            tokio::spawn(publish_in_order(self.node.clone(), self.conn.clone(), rx));
            tx
        });
        let publication = Publication {
            channel,
            event,
            data,
        };
        let publication = match queue.try_send(publication) {
            Ok(()) => return,
            Err(full_or_closed) => full_or_closed.into_inner(),
        };
        // `reserve` rather than `send`: a timeout must not lose the
        // publication's channel, which the refusal names.
        if let Ok(Ok(permit)) = tokio::time::timeout(PUBLISH_QUEUE_WAIT, queue.reserve()).await {
            return permit.send(publication);
        }
        self.refuse_publish(&publication.channel);
    }

    /// Answers a publish the full queue had no room for.
    fn refuse_publish(&self, channel: &ChannelName) {
        inc(&self.node.metrics().rate_limited);
        self.reply_error(
            ErrorCode::RATE_LIMITED,
            format!(
                "more than {PUBLISH_QUEUE} publishes waiting for the broker: this one was dropped"
            ),
            Some(channel.as_str()),
        );
    }

    /// Channel authorization (`access.rs`): private channels, role rules
    /// and the token's `channels` claim.
    fn authorize(&self, channel: &ChannelName) -> Result<(), crate::access::AccessDenied> {
        let verdict = crate::access::check(self.node.config(), &self.identity, channel);
        if verdict.is_err() {
            inc(&self.node.metrics().forbidden);
        }
        verdict
    }
}

/// Publishes a session's client publishes one at a time, in order. A
/// refusal (Redis unreachable: the event went nowhere) is said to the
/// publisher.
async fn publish_in_order(
    node: Node,
    conn: Arc<Connection>,
    mut queue: tokio::sync::mpsc::Receiver<Publication>,
) {
    while let Some(Publication {
        channel,
        event,
        data,
    }) = queue.recv().await
    {
        if let Err(e) = node.publish(&channel, &event, data).await {
            tracing::warn!(%channel, error = %e, "client publish failed");
            inc(&node.metrics().client_errors);
            conn.offer(frames::error(
                ErrorCode::UNAVAILABLE,
                format!("not published, delivered to no one: {e}"),
                Some(channel.as_str()),
            ));
        }
    }
}

/// The moment a token that stops being accepted at `expires_at` (Unix
/// seconds) ends its connection: now if that is already past, never if it
/// is too far away to represent.
fn expiry_instant(expires_at: u64) -> Option<tokio::time::Instant> {
    let left = crate::auth::time_left(expires_at, SystemTime::now());
    tokio::time::Instant::now().checked_add(left)
}

/// Writes `first` and whatever else is queued (up to [`MAX_BATCH`]), then
/// flushes once.
async fn write_batch(
    socket: &mut WebSocket,
    conn: &Connection,
    first: Frame,
    batch: bool,
) -> Result<(), axum::Error> {
    if batch {
        // Message batching: what is queued goes out in frames of several
        // messages (frames::batch_count). Frames are taken from the outbox
        // only once the socket is ready for them, so a close request that
        // interrupts this write (shutdown) finds them still queued, for
        // `say_goodbye`, rather than lost with this future.
        let mut group = vec![first];
        let mut sent = 0;
        loop {
            std::future::poll_fn(|cx| socket.poll_ready_unpin(cx)).await?;
            conn.try_extend_batch(&mut group);
            if group.is_empty() {
                break;
            }
            sent += group.len();
            let text = match &group[..] {
                [one] => one.text(),
                _ => frames::batch_text(group.iter().map(Frame::as_str)).into(),
            };
            group.clear();
            socket.start_send_unpin(Message::Text(text))?;
            if sent >= MAX_BATCH_MESSAGES {
                break;
            }
        }
        return socket.flush().await;
    }
    socket.feed(Message::Text(first.text())).await?;
    for _ in 1..MAX_BATCH {
        match conn.try_next() {
            Some(frame) => socket.feed(Message::Text(frame.text())).await?,
            None => break,
        }
    }
    socket.flush().await
}

/// The next message from the client. `Err` carries the close code a read
/// error calls for ([`read_error_close`]).
async fn recv(socket: &mut Socket) -> Option<Result<Inbound, Option<CloseCode>>> {
    match socket {
        Socket::Axum(socket) => Some(match socket.recv().await? {
            Ok(Message::Text(text)) => Ok(Inbound::Text(text.as_str().to_owned())),
            Ok(Message::Binary(_)) => Ok(Inbound::Binary),
            Ok(Message::Ping(_) | Message::Pong(_)) => Ok(Inbound::Control),
            Ok(Message::Close(_)) => Ok(Inbound::Close),
            Err(e) => Err(read_error_close(e.into_inner().downcast_ref())),
        }),
        Socket::Direct(socket) => Some(match socket.next().await? {
            Ok(tungstenite::Message::Text(text)) => Ok(Inbound::Text(text.as_str().to_owned())),
            Ok(tungstenite::Message::Binary(_)) => Ok(Inbound::Binary),
            Ok(
                tungstenite::Message::Ping(_)
                | tungstenite::Message::Pong(_)
                | tungstenite::Message::Frame(_),
            ) => Ok(Inbound::Control),
            Ok(tungstenite::Message::Close(_)) => Ok(Inbound::Close),
            Err(e) => Err(read_error_close(Some(&e))),
        }),
    }
}

/// Flushes what tungstenite has queued (the echo of a close frame).
async fn flush(socket: &mut Socket) {
    let _ = match socket {
        Socket::Axum(socket) => socket.flush().await.map_err(drop),
        Socket::Direct(socket) => socket.flush().await.map_err(drop),
    };
}

/// The close code a read error calls for (RFC 6455 section 7.4.1): an
/// oversize frame gets 1009, a text frame that is not UTF-8 1007, any other
/// protocol violation (reserved bits or opcodes, a fragmented or oversize
/// control frame, a continuation without a start, an unmasked frame) 1002.
/// A connection that is already gone (reset, I/O error, closed) gets none:
/// there is no one to send it to.
fn read_error_close(error: Option<&tungstenite::Error>) -> Option<CloseCode> {
    use tungstenite::error::ProtocolError;
    match error? {
        tungstenite::Error::Capacity(_) => Some(CloseCode::MESSAGE_TOO_BIG),
        tungstenite::Error::Utf8(_) => Some(CloseCode::INVALID_PAYLOAD),
        tungstenite::Error::Protocol(
            ProtocolError::ResetWithoutClosingHandshake
            | ProtocolError::ReceivedAfterClosing
            | ProtocolError::SendAfterClosing,
        ) => None,
        tungstenite::Error::Protocol(_) => Some(CloseCode::PROTOCOL_ERROR),
        _ => None,
    }
}
